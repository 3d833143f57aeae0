"""`/v1/webhook-endpoints` and `/v1/events` end to end: the secret shown once, validation, changes,
rotation, the events list, the attempt log after a real delivery, replay with the same
webhook-id, recovery of failed deliveries in a time range, and the SSRF guard. Both databases."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from giftwell.services.webhooks import sending as webhook_sending
from tests.functional.limits_helpers import client
from tests.functional.support import Api
from tests.integration.webhook_support import drive
from tests.receivers import Receiver, Reply

BASE = "/v1/webhook-endpoints"


@pytest.fixture
def receiver():
    rx = Receiver({"/fails": [Reply(500)] * 100}).start()
    yield rx
    rx.stop()


async def test_create_shows_the_secret_once(api: Api):
    made = await api.post(BASE, {"url": "https://hooks.example.com/gw", "events": ["card.created"]}, status=201)
    assert made["object"] == "webhook_endpoint"
    assert made["secret"].startswith("whsec_")
    assert len(base64.b64decode(made["secret"][6:])) == 32
    assert (made["format"], made["enabled"], made["events"]) == ("native", True, ["card.created"])
    got = await api.get(f"{BASE}/{made['id']}")
    assert "secret" not in got
    assert {k: v for k, v in made.items() if k != "secret"} == got
    listed = await api.get(BASE)
    assert [e["id"] for e in listed["data"]] == [made["id"]]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"url": "https://hooks.example.com/", "events": ["card.nope"]}, "events[0]"),
        ({"url": "https://hooks.example.com/", "events": ["card.created"], "format": "wizzgift"}, "events[0]"),
        ({"url": "https://hooks.example.com/", "events": ["*", "card.created"]}, "events"),
        ({"url": "https://a:b@hooks.example.com/", "events": ["*"]}, "url"),
        ({"url": "not a url", "events": ["*"]}, "url"),
    ],
)
async def test_create_is_checked(api: Api, body, param):
    await api.error("POST", BASE, body, status=422, code="validation_error", param=param)


async def test_private_destinations_are_refused_unless_allowed(make_app, api: Api):
    app = make_app(webhooks_allow_private=False)
    async with client(app) as http:
        strict = Api(http, api.tenant)
        for url in ("http://hooks.example.com/", "https://127.0.0.1/", "https://10.0.0.8/", "https://[fe80::1]/"):
            await strict.error(
                "POST", BASE, {"url": url, "events": ["*"]}, status=422, code="validation_error", param="url"
            )
        await strict.post(BASE, {"url": "https://hooks.example.com/", "events": ["*"]}, status=201)


async def test_change_rotate_delete(api: Api, clock):
    made = await api.post(BASE, {"url": "https://hooks.example.com/a", "events": ["*"]}, status=201)
    path = f"{BASE}/{made['id']}"
    changed = await api.ok(
        "PATCH", path, {"url": "https://hooks.example.com/b", "events": ["order.completed"], "format": "wizzgift"}
    )
    assert (changed["url"], changed["events"], changed["format"]) == (
        "https://hooks.example.com/b",
        ["order.completed"],
        "wizzgift",
    )
    await api.error("PATCH", path, {"events": ["card.created"]}, status=422, code="validation_error", param="events[0]")
    off = await api.ok("PATCH", path, {"enabled": False})
    assert (off["enabled"], off["disabled_reason"]) == (False, "disabled by the account")
    on = await api.ok("PATCH", path, {"enabled": True})
    assert (on["enabled"], on["disabled_reason"]) == (True, None)

    rotated = await api.post(f"{path}/rotate-secret", {"overlap_seconds": 600})
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != made["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    clock.advance(seconds=601)
    assert (await api.get(path))["previous_secret_expires_at"] is None
    again = await api.post(f"{path}/rotate-secret", {"overlap_seconds": 0})
    assert again["previous_secret_expires_at"] is None

    gone = await api.ok("DELETE", path)
    assert gone["deleted"] is True
    await api.error("GET", path, status=404, code="not_found", param="endpoint")
    assert (await api.get(BASE))["data"] == []


async def test_events_attempts_replay_and_recover(api: Api, rt, clock, receiver):
    ok = await api.post(BASE, {"url": receiver.url("/ok"), "events": ["card.created"]}, status=201)
    fails = await api.post(BASE, {"url": receiver.url("/fails"), "events": ["card.created"]}, status=201)
    start = clock.now
    card = await api.new_card()

    page = await api.get("/v1/events")
    assert [e["type"] for e in page["data"]] == ["card.activated", "card.created"]  # newest first
    created = await api.get("/v1/events", params={"type": "card.created"})
    (event,) = created["data"]
    assert event["data"]["card"] == card["id"]
    assert await api.get(f"/v1/events/{event['id']}") == event
    await api.error(
        "GET", "/v1/events", params={"type": "order.created"}, status=422, code="validation_error", param="type"
    )

    await drive(rt, clock)
    (sent,) = receiver.by_path("/ok")
    assert sent.headers["webhook-id"] == event["id"]
    assert sent.json() == {
        "id": event["id"],
        "type": "card.created",
        "created_at": event["created_at"],
        "data": event["data"],
    }
    log = await api.get(f"{BASE}/{ok['id']}/attempts")
    (a,) = log["data"]
    assert (a["status"], a["response_status"], a["event"], a["attempt"], a["response_body"]) == (
        "succeeded",
        200,
        event["id"],
        1,
        "ok",
    )
    assert a["duration_ms"] >= 0
    failed = await api.get(f"{BASE}/{fails['id']}/attempts", params={"limit": 100})
    assert len(failed["data"]) == 10
    assert {x["status"] for x in failed["data"]} == {"failed"}
    only_ok = await api.get(f"{BASE}/{fails['id']}/attempts", params={"status": "succeeded"})
    assert only_ok["data"] == []

    # Replay one event to one endpoint: the same webhook-id again.
    replayed = await api.post(f"/v1/events/{event['id']}/replay", {"endpoint": ok["id"]})
    assert [(d["endpoint"], d["status"], d["generation"]) for d in replayed["data"]] == [(ok["id"], "pending", 1)]
    await drive(rt, clock)
    assert [r.headers["webhook-id"] for r in receiver.by_path("/ok")] == [event["id"]] * 2

    # Recover the failed one once the receiver is mended: every failed delivery in the range.
    receiver.plan["/fails"] = []
    await api.error(
        "POST",
        f"{BASE}/{fails['id']}/recover",
        {"since": (clock.now + timedelta(days=1)).isoformat()},
        status=422,
        code="validation_error",
        param="since",
    )
    empty = await api.post(
        f"{BASE}/{fails['id']}/recover",
        {"since": (start - timedelta(days=2)).isoformat(), "until": (start - timedelta(days=1)).isoformat()},
    )
    assert empty == {"replayed": 0, "has_more": False}
    recovered = await api.post(f"{BASE}/{fails['id']}/recover", {"since": (start - timedelta(minutes=1)).isoformat()})
    assert recovered == {"replayed": 1, "has_more": False}
    await drive(rt, clock)
    got = [r for r in receiver.by_path("/fails") if r.headers["webhook-id"] == event["id"]]
    assert len(got) == 11
    latest = (await api.get(f"{BASE}/{fails['id']}/attempts", params={"limit": 1}))["data"][0]
    assert (latest["status"], latest["generation"], latest["attempt"]) == ("succeeded", 1, 1)


async def test_a_disabled_endpoint_keeps_failed_deliveries_to_recover(api: Api, rt, clock, receiver):
    ep = await api.post(BASE, {"url": receiver.url("/later"), "events": ["card.created"], "enabled": False}, status=201)
    start = clock.now
    await api.new_card()
    await drive(rt, clock)
    assert receiver.by_path("/later") == []
    await api.error(
        "POST",
        f"{BASE}/{ep['id']}/recover",
        {"since": (start - timedelta(seconds=1)).isoformat()},
        status=409,
        code="invalid_state",
        param="endpoint",
    )
    await api.ok("PATCH", f"{BASE}/{ep['id']}", {"enabled": True})
    assert await api.post(f"{BASE}/{ep['id']}/recover", {"since": (start - timedelta(seconds=1)).isoformat()}) == {
        "replayed": 1,
        "has_more": False,
    }
    await drive(rt, clock)
    assert len(receiver.by_path("/later")) == 1


async def test_deliveries_to_private_addresses_are_refused_at_send_time(make_app, api: Api, rt, clock, receiver):
    # Registered while allowed; the host resolves to loopback when a strict worker sends.
    made = await api.post(BASE, {"url": f"https://localhost:{receiver.port}/x", "events": ["card.created"]}, status=201)
    strict = make_app(webhooks_allow_private=False).state.runtime
    await api.new_card()
    await drive(strict, clock)
    assert receiver.received == []
    log = await api.get(f"{BASE}/{made['id']}/attempts")
    assert log["data"][0]["error"].startswith("localhost resolves to a private, loopback or link-local address")
    with pytest.raises(webhook_sending.Refused):
        await webhook_sending.destination("http://169.254.169.254/latest", allow_private=False)
    with pytest.raises(webhook_sending.Refused):
        await webhook_sending.destination("https://[::ffff:10.0.0.1]/", allow_private=False)
    target, headers, ext = await webhook_sending.destination("https://93.184.216.34:8443/p?q=1", allow_private=False)
    assert (target, headers, ext) == (
        "https://93.184.216.34:8443/p?q=1",
        {"Host": "93.184.216.34:8443"},
        {"sni_hostname": "93.184.216.34"},
    )
