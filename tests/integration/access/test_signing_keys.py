"""Signing keys and signed tokens through the services, on both databases: registration, the
key rules, rotation, revocation, a jti used once across two processes, the sweep forgetting used
ids after their window; and the CLI's add-key, list-keys and revoke-key."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from typer.testing import CliRunner

from giftwell.app import build_runtime
from giftwell.cli.main import app
from giftwell.domain.errors import Conflict, NotFound, Unauthenticated, ValidationFailed
from giftwell.services.access import signed_tokens, signing_keys
from giftwell.services.sweep import sweep_once
from tests import factories, signing
from tests.conftest import TEST_SECRET
from tests.signing import KeyPair


def pem_of(private) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize(
    ("pem", "says"),
    [
        (lambda: KeyPair().private_pem, "private key"),
        (lambda: pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "P-256"),
        (lambda: pem_of(ec.generate_private_key(ec.SECP384R1())), "P-256"),
        (lambda: "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n", "readable"),
        (lambda: "", "PEM"),
    ],
    ids=["private", "rsa", "p384", "garbage", "empty"],
)
def test_only_p256_public_keys_are_taken(pem, says):
    with pytest.raises(ValidationFailed) as exc:
        signing_keys.parse_public_key(pem())
    assert exc.value.param == "public_key"
    assert says in exc.value.message


async def test_register_rotate_revoke(rt):
    t = await factories.tenant(rt)
    first = await signing.register(rt, t.account_id)
    uuid.UUID(first.api_client_id)  # an apiClientId looks like the vendor's: a UUID
    second = await signing.register(rt, t.account_id, api_client_id=first.api_client_id)
    with pytest.raises(Conflict) as exc:  # two active keys at most
        await signing.register(rt, t.account_id, api_client_id=first.api_client_id)
    assert exc.value.param == "api_client_id"
    with pytest.raises(Conflict) as dup:  # a kid names one key
        await signing.register(rt, t.account_id, kid=first.kid)
    assert dup.value.param == "kid"

    async with rt.uow() as uow:
        listed = await signing_keys.list_keys(uow, account_id=t.account_id)
        revoked = await signing_keys.revoke_key(uow, kid=first.kid)
        await uow.commit()
    assert {k.kid for k in listed} == {first.kid, second.kid}
    assert all(k.scopes == ("orders:read", "orders:write", "products:read") for k in listed)
    assert revoked.revoked_at is not None
    assert not revoked.active
    third = await signing.register(rt, t.account_id, api_client_id=first.api_client_id)
    now = rt.clock()
    for client in (second, third):  # both active keys of the client sign
        p = await signed_tokens.authenticate(rt, client.token(now))
        assert (p.account_id, p.token_id) == (t.account_id, f"jwt:{first.api_client_id}")
    with pytest.raises(Unauthenticated) as gone:
        await signed_tokens.authenticate(rt, first.token(now))
    assert gone.value.fields["reason"] == "unknown_key"

    other = await factories.tenant(rt)
    with pytest.raises(NotFound):  # another account's client cannot take a key
        await signing.register(rt, other.account_id, api_client_id=first.api_client_id)
    async with rt.uow() as uow:
        with pytest.raises(NotFound):
            await signing_keys.revoke_key(uow, kid=second.kid, account_id=other.account_id)


async def test_scopes_of_a_new_client_and_no_admin(rt):
    t = await factories.tenant(rt)
    c = await signing.register(rt, t.account_id, scopes=["orders:read"])
    p = await signed_tokens.authenticate(rt, c.token(rt.clock()))
    assert p.scopes == frozenset({"orders:read"})
    with pytest.raises(ValidationFailed):
        await signing.register(rt, t.account_id, scopes=["admin"])


async def test_a_jti_is_used_once_across_processes_and_forgotten_after_its_window(rt, settings, clock):
    t = await factories.tenant(rt)
    c = await signing.register(rt, t.account_id)
    token = c.token(clock())
    other_process = build_runtime(settings, clock=clock)
    try:
        await signed_tokens.authenticate(rt, token)
        with pytest.raises(Unauthenticated) as exc:
            await signed_tokens.authenticate(other_process, token)
        assert exc.value.fields["reason"] == "invalid_token"
        assert "jti" in exc.value.message
    finally:
        await other_process.close()
    assert (await sweep_once(rt)).token_ids_purged == 0
    clock.advance(seconds=301)
    assert (await sweep_once(rt)).token_ids_purged == 1
    with pytest.raises(Unauthenticated):  # and the token itself is too old by then
        await signed_tokens.authenticate(rt, token)


def giftwell(env: dict[str, str], *args: str) -> tuple[int, Any]:
    """`giftwell ARGS --json` in-process (the Typer app; a subprocess takes seconds to start)."""
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    return result.exit_code, json.loads(result.stdout or result.stderr)


def test_cli_add_list_revoke(db_url, tmp_path):
    env = {
        "GIFTWELL_DATABASE_URL": db_url,
        "GIFTWELL_DATA_DIR": str(tmp_path / "var"),
        "GIFTWELL_SECRET_KEY": TEST_SECRET,
        "GIFTWELL_LOG_LEVEL": "warning",
    }
    assert giftwell(env, "accounts", "create", "wpay-shop")[0] == 0
    pem = tmp_path / "client.pub.pem"
    pem.write_text(KeyPair().public_pem)
    kid = "ce9fa03a-76d3-4495-bda1-e841e726088f"
    _, made = giftwell(env, "clients", "add-key", "--account", "wpay-shop", "--kid", kid, "--public-key", str(pem))
    assert made["kid"] == kid
    assert made["scopes"] == ["orders:read", "orders:write", "products:read"]
    pem.write_text(KeyPair().public_pem)
    _, rotated = giftwell(
        env,
        "clients",
        "add-key",
        "--account",
        "wpay-shop",
        "--kid",
        "next-key",
        "--public-key",
        str(pem),
        "--api-client-id",
        made["api_client_id"],
    )
    assert rotated["api_client_id"] == made["api_client_id"]
    _, listed = giftwell(env, "clients", "list-keys", "--account", "wpay-shop")
    assert {k["kid"] for k in listed} == {kid, "next-key"}
    _, revoked = giftwell(env, "clients", "revoke-key", kid)
    assert revoked["revoked_at"] is not None
    pem.write_text(KeyPair().private_pem)
    code, err = giftwell(env, "clients", "add-key", "--account", "wpay-shop", "--kid", "k3", "--public-key", str(pem))
    assert code == 1
    assert err["error"]["param"] == "public_key"
