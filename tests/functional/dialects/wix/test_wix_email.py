"""The Wix dialect's gift-card emails, received by a real SMTP server (aiosmtpd on loopback):
immediate sending at creation (`notificationInfo` with an empty `notificationDate`), scheduled
sending (not before its date), deferred sending by `send-email`, the 500-character personal
message, and `notificationInfo` shown back on the card. Both databases."""

from __future__ import annotations

from datetime import timedelta

from tests import factories
from tests.functional.delivery.test_delivery_email import delivery_app
from tests.functional.delivery_support import LINK, http, parts, runtime, work
from tests.functional.dialects.wix.support import CARDS, Wix, app_error, field_error
from tests.peers import smtp_server

MESSAGE = ("Happy birthday! " * 40)[:500]


async def wix_on(app) -> Wix:
    return Wix(http(app), await factories.tenant(runtime(app)))


async def test_created_with_notification_info_is_emailed_now_with_its_500_char_message(make_app) -> None:
    with smtp_server() as (url, smtp):
        app = delivery_app(make_app, url)
        wix = await wix_on(app)
        info = {
            "recipientInfo": {"email": "Ada@Example.com", "name": "Ada"},
            "senderInfo": {"email": "grace@example.com", "name": "Grace"},
            "personalMessage": MESSAGE,
            "image": {"url": "https://img.example/card.png"},
            "notificationDate": "",
        }
        created = await wix.create(notificationInfo=info, initialValue={"amount": "75.00"})
        assert created["notificationInfo"]["recipientInfo"] == {"email": "ada@example.com", "name": "Ada"}
        assert created["notificationInfo"]["senderInfo"] == {"email": "grace@example.com", "name": "Grace"}
        assert created["notificationInfo"]["personalMessage"] == MESSAGE
        assert created["notificationInfo"]["image"] == {"url": "https://img.example/card.png"}
        assert created["notificationInfo"]["notificationDate"] == created["createdDate"]
        assert smtp.messages == []  # the job runs after the commit
        assert await work(app) == 1
        (msg,) = smtp.messages
        assert smtp.envelopes[0] == ("gifts@acme.example", ["ada@example.com"])
        assert msg["To"] == "Ada <ada@example.com>"
        assert msg["From"] == "Grace via Acme Gifts <gifts@acme.example>"
        text, html = parts(msg)
        assert created["code"] not in html
        assert 'src="https://img.example/card.png"' in html  # the custom image
        assert MESSAGE in text
        assert created["code"] not in text  # the reward link, never the code
        assert len(LINK.findall(text)) == 1
        got = (await wix.ok("GET", f"{CARDS}/{created['id']}"))["giftCard"]
        assert got["notificationInfo"] == created["notificationInfo"]


async def test_a_scheduled_email_waits_for_its_notification_date(make_app, clock) -> None:
    with smtp_server() as (url, smtp):
        app = delivery_app(make_app, url)
        wix = await wix_on(app)
        at = clock.now.replace(microsecond=0) + timedelta(hours=2)
        info = {"recipientInfo": {"email": "bob@example.com"}, "notificationDate": at.isoformat()}
        created = await wix.create(notificationInfo=info)
        assert created["notificationInfo"]["notificationDate"] == at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        assert await work(app) == 0
        clock.advance(hours=1, minutes=59)
        assert await work(app) == 0
        assert smtp.messages == []
        clock.advance(minutes=1)
        assert await work(app) == 1
        assert smtp.envelopes[0][1] == ["bob@example.com"]


async def test_send_email_later_and_again(make_app, clock) -> None:
    with smtp_server() as (url, smtp):
        app = delivery_app(make_app, url)
        wix = await wix_on(app)
        created = await wix.create()
        assert "notificationInfo" not in created
        body = {
            "recipientInfo": {"email": "cy@example.com", "name": "Cy"},
            "senderInfo": {"name": "Dee"},
            "personalMessage": MESSAGE,
            "notificationDate": None,
        }
        assert await wix.ok("POST", f"{CARDS}/{created['id']}/send-email", body) == {}
        assert await work(app) == 1
        (msg,) = smtp.messages
        assert msg["To"] == "Cy <cy@example.com>"
        assert MESSAGE in parts(msg)[0]
        got = (await wix.ok("GET", f"{CARDS}/{created['id']}"))["giftCard"]
        assert got["notificationInfo"]["recipientInfo"] == {"email": "cy@example.com", "name": "Cy"}
        assert got["notificationInfo"]["senderInfo"] == {"name": "Dee"}
        # Again at once: the 30-second interval; then to another address.
        again = {"recipientInfo": {"email": "dot@example.com"}}
        r = await wix.call("POST", f"{CARDS}/{created['id']}/send-email", again)
        app_error(r, 429, "TOO_MANY_REQUESTS")
        assert int(r.headers["Retry-After"]) > 0
        clock.advance(seconds=31)
        assert await wix.ok("POST", f"{CARDS}/{created['id']}/send-email", again) == {}
        assert await work(app) == 1
        assert smtp.envelopes[1][1] == ["dot@example.com"]
        got = (await wix.ok("GET", f"{CARDS}/{created['id']}"))["giftCard"]
        assert got["notificationInfo"]["recipientInfo"] == {"email": "dot@example.com"}
        listed = await wix.ok("GET", CARDS, params={"email": "cy@example.com"})
        assert [c["id"] for c in listed["giftCards"]] == [created["id"]]


async def test_notification_fields_are_checked(make_app) -> None:
    with smtp_server() as (url, smtp):
        app = delivery_app(make_app, url)
        wix = await wix_on(app)
        created = await wix.create()
        path = f"{CARDS}/{created['id']}/send-email"
        r = await wix.call("POST", path, {"recipientInfo": {"email": "a@x.com"}, "personalMessage": "x" * 501})
        field_error(r, "personalMessage", "MAX_LENGTH")
        field_error(await wix.call("POST", path, {"recipientInfo": {}}), "recipientInfo.email", "REQUIRED_FIELD")
        field_error(await wix.call("POST", path, {"recipientInfo": {"email": "nope"}}), "recipientInfo.email")
        r = await wix.call("POST", path, {"recipientInfo": {"email": "a@x.com"}, "image": {"url": "ftp://x/y.png"}})
        field_error(r, "image.url")
        r = await wix.call("POST", path, {"recipientInfo": {"email": "a@x.com"}, "notificationDate": "tomorrow"})
        field_error(r, "notificationDate")
        body = {
            "giftCard": {
                "initialValue": {"amount": "5.00"},
                "currency": "USD",
                "source": "MANUAL",
                "notificationInfo": {"recipientInfo": {"email": "bad"}},
            }
        }
        field_error(await wix.call("POST", CARDS, body), "giftCard.notificationInfo.recipientInfo.email")
        await wix.ok("POST", f"{CARDS}/{created['id']}/disable", {})
        r = await wix.call("POST", path, {"recipientInfo": {"email": "a@x.com"}})
        assert r.status_code == 428, r.text
        assert await work(app) == 0
        assert smtp.messages == []
