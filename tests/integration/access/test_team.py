"""The team of an account through the services, on both databases: an invitation is emailed by a
job (to the mail folder, the embedded default's transport) with a one-time link that creates the
user with the invited role; a link works once; a password reset sets the new password and ends
the user's sessions; who may do what; removal."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser

import pytest

from giftwell.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from giftwell.domain.users import LockoutPolicy
from giftwell.jobs.worker import Worker
from giftwell.services.access import team, users
from giftwell.services.runtime import Runtime
from tests import factories

NEW_PASSWORD = "a brand new long password"


async def run(rt: Runtime, fn):
    async with rt.uow() as uow:
        out = await fn(uow)
        await uow.commit()
    return out


async def mailed_link(rt: Runtime, to: str) -> str:
    """Run the queue, then read the link from the last email to `to` in the mail folder."""
    await Worker(rt, periodic=(), worker_id="team-test").run_once()
    found = []
    for path in sorted(rt.settings.mail_dir.glob("*.eml")):
        msg = BytesParser(policy=policy.default).parse(path.open("rb"))
        if msg["To"] == to:
            found.append(msg.get_content())
    assert found, f"no email to {to}"
    (token,) = re.findall(r"/(?:invite|reset)/([A-Za-z0-9_-]{40,})", found[-1])
    return token


async def test_invitation_creates_the_user_with_its_role_once(rt: Runtime):
    t = await factories.tenant(rt, name="Acme Team")
    owner = await factories.user(rt, t.account_id, role="owner")
    await run(rt, lambda uow: team.invite(uow, actor=owner, email="Newbie@Acme.example", role="viewer"))
    async with rt.reader() as uow:
        (waiting,) = await team.pending(uow, account_id=t.account_id)
    assert (waiting.email, waiting.role, waiting.sent_at) == ("newbie@acme.example", "viewer", None)

    token = await mailed_link(rt, "newbie@acme.example")
    async with rt.reader() as uow:
        link = await team.access_link(uow, token)
        assert (await team.pending(uow, account_id=t.account_id))[0].sent_at is not None
    assert (link.purpose, link.email, link.role, link.account_name) == (
        "invite",
        "newbie@acme.example",
        "viewer",
        "Acme Team",
    )
    with pytest.raises(ValidationFailed):
        await run(rt, lambda uow: team.accept(uow, token=token, password="short"))
    made = await run(rt, lambda uow: team.accept(uow, token=token, password=NEW_PASSWORD))
    assert (made.email, made.role, made.account_id) == ("newbie@acme.example", "viewer", t.account_id)
    async with rt.uow() as uow:
        assert await users.sign_in(uow, email=made.email, password=NEW_PASSWORD, policy=LockoutPolicy()) is not None
    for again in (token, token + "x", "nonsense"):
        with pytest.raises(NotFound):
            await run(rt, lambda uow, tok=again: team.accept(uow, token=tok, password=NEW_PASSWORD))
    # The token was never stored in the clear.
    async with rt.reader() as uow:
        assert token not in str((await uow.conn.exec_driver_sql("SELECT * FROM user_links")).all())


async def test_a_newer_invitation_revokes_the_older_and_existing_users_are_refused(rt: Runtime):
    t = await factories.tenant(rt)
    owner = await factories.user(rt, t.account_id, role="owner")
    await run(rt, lambda uow: team.invite(uow, actor=owner, email="x@acme.example", role="admin"))
    first = await mailed_link(rt, "x@acme.example")
    await run(rt, lambda uow: team.invite(uow, actor=owner, email="x@acme.example", role="viewer"))
    with pytest.raises(NotFound):
        await run(rt, lambda uow: team.accept(uow, token=first, password=NEW_PASSWORD))
    with pytest.raises(Conflict):
        await run(rt, lambda uow: team.invite(uow, actor=owner, email=owner.email, role="viewer"))


async def test_who_may_do_what(rt: Runtime):
    t = await factories.tenant(rt)
    owner = await factories.user(rt, t.account_id, role="owner")
    admin = await factories.user(rt, t.account_id, role="admin")
    viewer = await factories.user(rt, t.account_id, role="viewer")
    stranger = await factories.user(rt, (await factories.tenant(rt)).account_id, role="owner")
    with pytest.raises(Forbidden):
        await run(rt, lambda uow: team.invite(uow, actor=viewer, email="v@acme.example", role="viewer"))
    with pytest.raises(Forbidden):
        await run(rt, lambda uow: team.invite(uow, actor=admin, email="o@acme.example", role="owner"))
    with pytest.raises(Forbidden):
        await run(rt, lambda uow: team.remove(uow, actor=admin, user_id=owner.id))
    with pytest.raises(Forbidden):
        await run(rt, lambda uow: team.change_role(uow, actor=admin, user_id=viewer.id, role="owner"))
    with pytest.raises(ValidationFailed):
        await run(rt, lambda uow: team.remove(uow, actor=owner, user_id=owner.id))
    with pytest.raises(NotFound):  # another account's user does not exist here
        await run(rt, lambda uow: team.remove(uow, actor=owner, user_id=stranger.id))
    await run(rt, lambda uow: team.change_role(uow, actor=admin, user_id=viewer.id, role="admin"))
    await run(rt, lambda uow: team.invite(uow, actor=admin, email="v2@acme.example", role="viewer"))
    async with rt.reader() as uow:
        roles = {m.email: m.role for m in await team.members(uow, account_id=t.account_id)}
    assert roles[viewer.email] == "admin"


async def test_reset_sets_the_password_and_ends_sessions_and_removal_signs_out(rt: Runtime):
    t = await factories.tenant(rt)
    owner = await factories.user(rt, t.account_id, role="owner")
    bob = await factories.user(rt, t.account_id, role="admin")
    session = await run(rt, lambda uow: users.start_session(uow, user=bob, ttl_seconds=3600))
    await run(rt, lambda uow: team.reset_password(uow, actor=owner, user_id=bob.id))
    token = await mailed_link(rt, bob.email)
    async with rt.reader() as uow:
        assert (await team.access_link(uow, token)).purpose == "reset"
    await run(rt, lambda uow: team.accept(uow, token=token, password=NEW_PASSWORD))
    async with rt.uow() as uow:
        assert await users.access_session(uow, session.cookie) is None
        assert await users.sign_in(uow, email=bob.email, password=factories.PASSWORD, policy=LockoutPolicy()) is None
        assert await users.sign_in(uow, email=bob.email, password=NEW_PASSWORD, policy=LockoutPolicy()) is not None
        await uow.commit()
    again = await run(rt, lambda uow: users.start_session(uow, user=bob, ttl_seconds=3600))
    await run(rt, lambda uow: team.remove(uow, actor=owner, user_id=bob.id))
    async with rt.reader() as uow:
        assert await users.access_session(uow, again.cookie) is None
        assert [m.email for m in await team.members(uow, account_id=t.account_id)] == [owner.email]


async def test_every_team_action_is_in_the_audit_log_without_a_secret(rt: Runtime):
    from giftwell.services.audit import records

    t = await factories.tenant(rt)
    owner = await factories.user(rt, t.account_id, role="owner")
    bob = await factories.user(rt, t.account_id, role="admin")
    await run(rt, lambda uow: team.invite(uow, actor=owner, email="cat@shop.example", role="viewer"))
    invite = await mailed_link(rt, "cat@shop.example")
    cat = await run(rt, lambda uow: team.accept(uow, token=invite, password=NEW_PASSWORD))
    await run(rt, lambda uow: team.change_role(uow, actor=owner, user_id=cat.id, role="admin"))
    await run(rt, lambda uow: team.change_role(uow, actor=owner, user_id=cat.id, role="admin"))  # no change
    await run(rt, lambda uow: team.reset_password(uow, actor=owner, user_id=bob.id))
    reset = await mailed_link(rt, bob.email)
    await run(rt, lambda uow: team.accept(uow, token=reset, password=NEW_PASSWORD))
    await run(rt, lambda uow: team.remove(uow, actor=owner, user_id=cat.id))
    async with rt.reader() as uow:
        log = (await records.list_events(uow, account_id=t.account_id, action="user.*", limit=50)).data
    made_by_the_test = {("user.created", owner.id), ("user.created", bob.id)}
    seen = [
        (e.action, e.target_id, e.changes) for e in reversed(log) if (e.action, e.target_id) not in made_by_the_test
    ]
    assert [(a, c) for a, _, c in seen] == [
        ("user.invited", {"email": "cat@shop.example", "role": "viewer"}),
        ("user.created", {"email": "cat@shop.example", "role": "viewer"}),
        ("user.role_changed", {"role": ["viewer", "admin"]}),
        ("user.password_reset_sent", {"email": bob.email}),
        ("user.password_reset", {}),
        ("user.removed", {"email": "cat@shop.example", "role": "admin"}),
    ]
    assert [tid for a, tid, _ in seen if a != "user.invited"] == [cat.id, cat.id, bob.id, bob.id, cat.id]
    text = repr([e.as_dict() for e in log])
    assert invite not in text
    assert reset not in text
    assert NEW_PASSWORD not in text
