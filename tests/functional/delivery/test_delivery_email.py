"""Email delivery end to end: a real SMTP server (aiosmtpd on loopback) receives the message;
both MIME parts are checked, the link is followed and the page shows the amount. Scheduled
sending with the injectable clock, transient refusals retried, permanent ones failed. Both
databases."""

from __future__ import annotations

from datetime import timedelta

from tests.functional.delivery_support import LINK, events, http, parts, runtime, send_card, tenant_api, work
from tests.peers import smtp_server


def delivery_app(make_app, smtp_url: str, **extra):
    return make_app(
        smtp_url=smtp_url,
        mail_from="Acme Gifts <gifts@acme.example>",
        public_url="http://testserver",
        job_backoff_base_seconds=5,
        **extra,
    )


async def test_email_is_received_with_both_parts_and_its_link_shows_the_amount(make_app):
    with smtp_server() as (url, smtp):
        app = delivery_app(make_app, url)
        rt = runtime(app)
        api = await tenant_api(app, rt)
        message = 'Happy birthday, <b>Ada</b> & "friends"!'
        card = await send_card(
            api,
            {
                "channel": "email",
                "to": "Ada@Example.com",
                "recipient_name": "Ada",
                "sender_name": "Grace",
                "message": message,
                "image_url": "https://img.example/card.png",
                "locale": "de-DE",
            },
            amount=123456,
        )
        assert card["delivery"]["status"] == "queued"
        assert card["delivery"]["to"] == "ada@example.com"
        assert smtp.messages == []  # nothing leaves before the commit's job runs
        assert await work(app) == 1

        assert len(smtp.messages) == 1
        msg = smtp.messages[0]
        assert smtp.envelopes[0] == ("gifts@acme.example", ["ada@example.com"])
        assert msg["To"] == "Ada <ada@example.com>"
        assert msg["From"] == "Grace via Acme Gifts <gifts@acme.example>"
        assert msg["Message-ID"] == f"<{card['delivery']['id']}@acme.example>"
        assert msg.get_content_type() == "multipart/alternative"
        text, html = parts(msg)
        # Babel, German: thousands with '.', decimals with ',', the symbol after.
        assert "1.234,56\xa0€" in text
        assert "1.234,56\xa0€" in html
        assert message in text  # plain text as written
        assert "Happy birthday, &lt;b&gt;Ada&lt;/b&gt; &amp; &#34;friends&#34;!" in html  # escaped in HTML
        assert "<b>Ada</b>" not in html
        assert card["code"] not in text  # the link, never the code
        assert card["code"] not in html
        assert 'src="https://img.example/card.png"' in html
        links = set(LINK.findall(text))
        assert len(links) == 1
        link = links.pop()
        assert link in html
        token = link.rsplit("/", 1)[1]
        assert len(token) >= 43  # 256 bits, base64url

        async with http(app) as browser:
            page = await browser.get(link.replace("http://testserver", ""))
        assert page.status_code == 200, page.text
        assert "1.234,56\xa0€" in page.text
        assert "Grace" in page.text
        assert "&lt;b&gt;Ada&lt;/b&gt;" in page.text
        assert card["code"] not in page.text  # not before Reveal

        listed = await api.ok("GET", f"/v1/cards/{card['id']}/deliveries")
        [d] = listed["data"]
        assert (d["status"], d["attempts"], d["reason"]) == ("sent", 1, None)
        assert d["sent_at"] is not None
        assert [t for t, _ in await events(rt, "delivery.")] == ["delivery.queued", "delivery.sent"]
        sent = (await events(rt, "delivery.sent"))[0][1]
        assert sent == {
            "delivery": d["id"],
            "card": card["id"],
            "order": None,
            "channel": "email",
            "status": "sent",
            "attempts": 1,
        }
        assert await work(app) == 0  # done: nothing left, nothing sent twice
        assert len(smtp.messages) == 1


async def test_a_scheduled_delivery_is_not_sent_before_its_time(make_app, clock):
    with smtp_server() as (url, smtp):
        app = delivery_app(make_app, url)
        rt = runtime(app)
        api = await tenant_api(app, rt)
        at = clock.now.replace(microsecond=0) + timedelta(hours=2)
        card = await send_card(api, {"channel": "email", "to": "ada@example.com", "scheduled_at": at.isoformat()})
        assert card["delivery"]["status"] == "scheduled"
        assert await work(app) == 0
        clock.advance(hours=1, minutes=59)
        assert await work(app) == 0
        assert smtp.messages == []
        [d] = (await api.ok("GET", f"/v1/cards/{card['id']}/deliveries"))["data"]
        assert d["status"] == "scheduled"
        clock.advance(minutes=1)
        assert await work(app) == 1
        assert len(smtp.messages) == 1
        [d] = (await api.ok("GET", f"/v1/cards/{card['id']}/deliveries"))["data"]
        assert (d["status"], d["attempts"]) == ("sent", 1)


async def test_two_transient_refusals_then_acceptance_send_one_message(make_app, clock):
    refusals = ["451 4.3.0 Mailbox busy, try later", "421 4.7.0 Too many connections"]
    with smtp_server(refusals) as (url, smtp):
        app = delivery_app(make_app, url)
        rt = runtime(app)
        api = await tenant_api(app, rt)
        card = await send_card(api, {"channel": "email", "to": "ada@example.com"})
        assert await work(app) == 1
        [d] = (await api.ok("GET", f"/v1/cards/{card['id']}/deliveries"))["data"]
        assert (d["status"], d["attempts"]) == ("queued", 1)
        assert "451" in d["reason"]
        assert await work(app) == 0  # backing off
        for _ in range(2):
            clock.advance(seconds=11)  # past the backoff ceiling of attempts 1 and 2 (5 s, 10 s)
            assert await work(app) == 1
        assert smtp.attempts == 3
        assert len(smtp.messages) == 1
        [d] = (await api.ok("GET", f"/v1/cards/{card['id']}/deliveries"))["data"]
        assert (d["status"], d["attempts"], d["reason"]) == ("sent", 3, None)
        assert [t for t, _ in await events(rt, "delivery.")] == ["delivery.queued", "delivery.sent"]


async def test_a_permanent_refusal_ends_failed_with_the_reason(make_app, clock):
    with smtp_server(["550 5.1.1 <nobody@example.com>: Recipient address rejected"]) as (url, smtp):
        app = delivery_app(make_app, url)
        rt = runtime(app)
        api = await tenant_api(app, rt)
        card = await send_card(api, {"channel": "email", "to": "nobody@example.com"})
        assert await work(app) == 1
        clock.advance(hours=2)
        assert await work(app) == 0  # not retried
        assert smtp.messages == []
        [d] = (await api.ok("GET", f"/v1/cards/{card['id']}/deliveries"))["data"]
        assert (d["status"], d["attempts"]) == ("failed", 1)
        assert d["reason"].startswith("recipient refused: 550 5.1.1")
        assert d["failed_at"] is not None
        failed = await events(rt, "delivery.failed")
        assert [e["reason"] for _, e in failed] == [d["reason"]]
        # The job itself is done (the delivery's failure is the outcome), not dead.
        from giftwell.services.queue import jobs

        async with rt.uow() as uow:
            assert [j.state for j in await jobs.list_jobs(uow, kind="delivery.send")] == ["done"]


async def test_send_resend_throttle_and_list(make_app, clock):
    with smtp_server() as (url, smtp):
        app = delivery_app(make_app, url)
        rt = runtime(app)
        api = await tenant_api(app, rt)
        card = await api.ok("POST", "/v1/cards", {"currency": "USD", "amount": 2500}, status=201)
        assert card["delivery"] is None
        await api.error(
            "POST",
            f"/v1/cards/{card['id']}/send",
            {"channel": "sms", "to": "12345"},
            status=422,
            code="validation_error",
            param="to",
        )
        assert (await api.ok("GET", f"/v1/cards/{card['id']}/deliveries")) == {"data": []}
        first = await api.ok(
            "POST", f"/v1/cards/{card['id']}/send", {"channel": "email", "to": "ada@example.com"}, status=201
        )
        assert (first["source"], first["status"]) == ("send", "queued")
        await api.error(
            "POST",
            f"/v1/cards/{card['id']}/send",
            {"channel": "email", "to": "ada@example.com"},
            status=409,
            code="delivery_exists",
            param="card",
        )
        r = await api.call("POST", f"/v1/cards/{card['id']}/resend", {})
        assert r.status_code == 429, r.text
        assert r.json()["error"]["code"] == "resend_too_soon"
        assert 1 <= int(r.headers["retry-after"]) <= 30
        clock.advance(seconds=30)
        again = await api.ok("POST", f"/v1/cards/{card['id']}/resend", {"to": "grace@example.com"}, status=201)
        assert (again["source"], again["to"], again["channel"]) == ("resend", "grace@example.com", "email")
        assert await work(app) == 2
        assert sorted(m["To"] for m in smtp.messages) == ["ada@example.com", "grace@example.com"]
        listed = await api.ok("GET", f"/v1/cards/{card['id']}/deliveries")
        assert [d["id"] for d in listed["data"]] == [again["id"], first["id"]]
        assert {d["status"] for d in listed["data"]} == {"sent"}
        await api.error(
            "POST",
            f"/v1/cards/{card['id']}/resend",
            {"channel": "sms"},
            status=422,
            code="validation_error",
            param="to",
        )
        await api.error(
            "POST",
            "/v1/cards",
            {"currency": "EUR", "amount": 1, "notification": {"channel": "sms", "to": "555"}},
            status=422,
            code="validation_error",
            param="notification.to",
        )
        await api.error(
            "POST",
            "/v1/cards",
            {
                "currency": "EUR",
                "amount": 1,
                "notification": {"channel": "email", "to": "a@b.co", "message": "x" * 501},
            },
            status=422,
            code="validation_error",
            param="notification.message",
        )
