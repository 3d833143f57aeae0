"""Key rotation without downtime: secrets written under key A, then A kept as previous with B
current; lookups by code, PINs, reward links, webhook secrets, stored idempotent responses and
tokens keep working before, during (a rotation stopped half way) and after `keys rotate`, and
after A is dropped everything rotated still works. Both databases; the CLI with a key file."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import LargeBinary

from giftwell.app import build_runtime
from giftwell.keys import CODES, Keys
from giftwell.services import rotation
from giftwell.services.access import tokens
from giftwell.services.cards import reads
from giftwell.services.delivery import reward
from giftwell.services.webhooks import endpoints
from giftwell.settings import SettingsError, load_settings, read_key_file
from giftwell.store.models import AuditEvent, Base, Card, KeyRotation
from tests import factories
from tests.servers import cli, giftwell_env

A = "old-secret-key-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
B = "new-secret-key-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"


def test_blobs_carry_their_key_id_and_old_ones_still_open():
    a, ba = Keys(A), Keys(B, [A])
    blob = a.encrypt("CODE-1234", aad="code:x")
    assert a.key_id_of(blob) == a.current_kid
    assert ba.decrypt(blob, aad="code:x") == "CODE-1234"
    assert not ba.is_current(blob)
    assert ba.is_current(ba.encrypt("CODE-1234", aad="code:x"))
    with pytest.raises(InvalidTag):
        Keys(B).decrypt(blob, aad="code:x")  # A not configured
    with pytest.raises(InvalidTag):
        ba.decrypt(blob, aad="code:y")  # bound to its row
    # A ciphertext written before key ids existed: nonce | ciphertext under A's subkey.
    nonce = os.urandom(12)
    legacy = nonce + AESGCM(a.derive(CODES)).encrypt(nonce, b"PIN-9", b"pin:c")
    assert ba.key_id_of(legacy) is None
    assert ba.decrypt(legacy, aad="pin:c") == "PIN-9"
    assert ba.code_hashes("acct", "ABC") == (Keys(B).code_hash("acct", "ABC"), a.code_hash("acct", "ABC"))
    assert ba.kids == (Keys(B).current_kid, a.current_kid)
    # A feature's own credentials: seal and open under a purpose of its own.
    sealed = ba.seal("supplier-credentials", "api-key-123", aad="supplier:s1")
    assert ba.open("supplier-credentials", sealed, aad="supplier:s1") == "api-key-123"
    with pytest.raises(InvalidTag):
        ba.open(CODES, sealed, aad="supplier:s1")


def test_key_file_versions(tmp_path):
    f = tmp_path / "keys"
    f.write_text(f"# giftwell keys\n1 {A}\n\n2 {B}\n")
    assert read_key_file(f) == (B, (A,))
    s = load_settings(data_dir=tmp_path, secret_key_file=f)
    assert (s.secret, s.previous_secrets) == (B, (A,))
    f.write_text("2 short\n")
    with pytest.raises(SettingsError, match="version 2 is shorter"):
        load_settings(data_dir=tmp_path, secret_key_file=f)
    with pytest.raises(SettingsError, match="not both"):
        load_settings(data_dir=tmp_path, secret_key_file=f, secret_key=A)


def _runtime(settings, clock, current: str, *previous: str):
    s = settings.model_copy(update={})
    s.secret_key = type(settings.secret_key)(current)
    s.secret_key_previous = type(settings.secret_key)(",".join(previous)) if previous else None
    return build_runtime(s, clock=clock)


async def test_rotation_keeps_every_lookup_working(settings, clock):
    old = _runtime(settings, clock, A)
    t = await factories.tenant(old)
    made = {}
    for i in range(5):
        code = f"ROT-{i:04d}-CODE-{i:04d}"
        card = await factories.card(old, t.account_id, code=code, pin=f"{i:04d}")
        made[code] = card.card.id
    async with old.uow() as uow:
        link = await reward.ensure_link(uow, card_id=made["ROT-0000-CODE-0000"], account_id=t.account_id)
        hook = await endpoints.create_endpoint(uow, account_id=t.account_id, url="http://127.0.0.1:9/h", events=["*"])
        await uow.commit()
    await old.close()

    both = _runtime(settings, clock, B, A)
    try:
        fresh = await factories.card(both, t.account_id, code="NEW-UNDER-B-0001", pin="4321")
        made["NEW-UNDER-B-0001"] = fresh.card.id

        async def every_lookup_works(rt) -> None:
            async with rt.reader() as uow:
                for code, card_id in made.items():
                    assert (await reads.lookup(uow, account_id=t.account_id, code=code.lower())).id == card_id
                    pin = "4321" if code.startswith("NEW") else code[4:8]
                    found = await reads.lookup_with_pin(uow, account_id=t.account_id, code=code, pin=pin)
                    assert found.id == card_id
                    assert (await reads.reveal_code(uow, account_id=t.account_id, card_id=card_id))[0] == code
                card, _ = await reward._find(uow, link)  # the reward page's lookup
                assert card.id == made["ROT-0000-CODE-0000"]
                assert await reward.token_of(uow, made["ROT-0000-CODE-0000"]) == link
                row = await endpoints._row(uow, account_id=t.account_id, endpoint_id=hook.endpoint.id)
                assert endpoints.live_secrets(uow, row) == [hook.secret]

        await every_lookup_works(both)
        # A rotation stopped half way: two cards rewritten, the rest not.
        cards_target = next(x for x in rotation.TARGETS if x.name == "cards")
        p = await rotation.rotate_batch(both, cards_target, batch=2)
        assert (p.rows_seen, p.done) == (2, False)
        usage = (await rotation.key_usage(both))["cards"]
        assert usage[Keys(B).current_kid] >= 2
        assert usage[Keys(A).current_kid] >= 2
        await every_lookup_works(both)
        # Resumed: it continues after the cursor, then every table.
        for target in rotation.TARGETS:
            while not (await rotation.rotate_batch(both, target, batch=2)).done:
                pass
        await rotation.record_finished(both, [])
        usage = await rotation.key_usage(both)
        assert all(set(c) <= {Keys(B).current_kid} for c in usage.values()), usage
        async with both.reader() as uow:
            prog = (await uow.conn.execute(sa.select(KeyRotation).where(KeyRotation.table_name == "cards"))).one()
            assert (prog.rows_seen, prog.finished_at is not None) == (6, True)
            assert await uow.conn.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "keys.rotated")) == 1
        await every_lookup_works(both)
        # A token made under A still works while A is configured (it is hashed, not encrypted).
        assert (await _auth(both, t.token)).account_id == t.account_id
    finally:
        await both.close()

    only_b = _runtime(settings, clock, B)
    try:
        await every_lookup_works(only_b)
        async with only_b.reader() as uow:
            codes_hashed = (await uow.conn.execute(sa.select(Card.code_hash))).scalars().all()
        assert len(codes_hashed) == 6
        # Bearer tokens hashed under A need A: documented (recreate them, or keep A).
        with pytest.raises(Exception, match="invalid or expired token"):
            await _auth(only_b, t.token)
    finally:
        await only_b.close()


async def _auth(rt, token):
    async with rt.reader() as uow:
        return await tokens.authenticate(uow, token)


@pytest.mark.slow
def test_cli_rotates_with_a_key_file(db_url, tmp_path):
    keyfile = tmp_path / "keys"
    keyfile.write_text(f"1 {A}\n")
    data = tmp_path / "var"

    async def seed() -> None:
        rt = build_runtime(load_settings(database_url=db_url, data_dir=data, secret_key_file=keyfile))
        try:
            t = await factories.tenant(rt, "keyed")
            for i in range(7):
                await factories.card(rt, t.account_id, code=f"CLI-ROTATE-{i:04d}")
        finally:
            await rt.close()

    asyncio.run(seed())
    keyfile.write_text(f"1 {A}\n2 {B}\n")
    env = giftwell_env(db_url, data, "unused-because-the-file-is-set-000000")
    env.pop("GIFTWELL_SECRET_KEY")
    env["GIFTWELL_SECRET_KEY_FILE"] = str(keyfile)
    code, status = cli(env, "keys", "status")
    assert status["tables"]["cards"] == {Keys(A).current_kid: 7}
    code, out = cli(env, "keys", "rotate", "--batch", "3")
    assert code == 0
    assert out["key_id"] == Keys(B).current_kid
    assert out["tables"]["cards"] == {"rows": 7, "rewritten": 7}
    code, again = cli(env, "keys", "rotate")
    assert again["tables"]["cards"]["rewritten"] == 7  # already done: the finished record is kept
    code, status = cli(env, "keys", "status")
    assert status["tables"]["cards"] == {Keys(B).current_kid: 7}
    keyfile.write_text(f"2 {B}\n")
    code, audit_out = cli(env, "audit", "list", "--action", "keys.rotated")
    assert [json.dumps(e["changes"]["key_id"]) for e in audit_out["data"]] == [json.dumps(Keys(B).current_kid)] * 2


def test_every_encrypted_column_is_rotated():
    """Generated from the schema: a feature that adds an encrypted column (a binary one) without
    registering it with `rotation` fails here, before its secrets are stranded under an old key."""
    sealed = {(t.name, s.column) for t in rotation.TARGETS for s in t.sealed}
    binary = {
        (table.name, col.name)
        for table in Base.metadata.tables.values()
        for col in table.columns
        if isinstance(col.type, LargeBinary)
    }
    assert binary - sealed == set()
    assert {
        ("suppliers", "client_secret_enc"),
        ("supplied_cards", "code_enc"),
        ("user_links", "token_encrypted"),
    } <= sealed


def test_supplier_secrets_open_under_a_previous_key():
    old, both = Keys(A), Keys(B, [A])
    blob = old.seal_supplier_secret("s3cret", supplier_id="sup_1", name="client_secret")
    assert both.open_supplier_secret(blob, supplier_id="sup_1", name="client_secret") == "s3cret"
    assert not both.is_current(blob)
    with pytest.raises(InvalidTag):
        both.open_supplier_secret(blob, supplier_id="sup_2", name="client_secret")
