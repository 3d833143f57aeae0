"""schemathesis over the OpenAPI description of the native API and of each dialect (each serves
its own): whatever it sends, no answer is a 5xx, and every 4xx is in that surface's error shape.
SQLite (the surfaces are the same on both databases; their errors are tested on both elsewhere)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from giftwell.app import create_app
from giftwell.settings import load_settings
from tests import factories, signing
from tests.conftest import TEST_SECRET

pytestmark = pytest.mark.slow

EXAMPLES = 4


@pytest.fixture(scope="module")
def fuzz_app(sqlite_template, tmp_path_factory):
    import shutil

    path = tmp_path_factory.mktemp("fuzz") / "giftwell.db"
    shutil.copyfile(sqlite_template, path)
    app = create_app(
        load_settings(database_url=f"sqlite:///{path}", data_dir=path.parent / "var", secret_key=TEST_SECRET)
    )
    return app


@pytest.fixture(scope="module")
def credentials(fuzz_app) -> tuple[str, signing.SigningClient]:
    """A personal token of the account, and a Wpay signing client of the same account."""

    async def make() -> tuple[str, signing.SigningClient]:
        rt = fuzz_app.state.runtime
        t = await factories.tenant(rt, "fuzz")
        client = await signing.register(rt, t.account_id)
        await rt.engine.dispose()  # the app's own loop opens its connections afresh
        return t.token, client

    return asyncio.run(make())


@pytest.fixture(scope="module")
def token(credentials) -> str:
    return credentials[0]


@pytest.fixture(scope="module")
def native_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


@pytest.fixture(scope="module")
def sanctum_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/api/giftcards/openapi.json", fuzz_app)


@pytest.fixture(scope="module")
def wizzgift_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/api/b2b/openapi.json", fuzz_app)


@pytest.fixture(scope="module")
def wpay_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/gifting/gco/client/api/v1/openapi.json", fuzz_app)


# The dialects have a handful of operations each: more cases of each.
DIALECT_EXAMPLES = 25


def fuzz(schema, check, examples: int = EXAMPLES) -> int:
    """Run `check` on `examples` generated cases of every operation; returns how many operations."""
    n = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def run(case) -> None:
            check(case)

        run()
        n += 1
    return n


def test_native_api(native_schema, token):
    seen: list[int] = []

    def check(case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        seen.append(response.status_code)
        assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:500])
        if response.status_code >= 400 and case.path.startswith("/v1/"):
            body = response.json()
            assert set(body) == {"error"}, body
            assert {"type", "code", "message", "param", "request_id"} <= set(body["error"]), body

    assert fuzz(native_schema, check) > 40
    # The token works: some generated requests succeed, most are refused for their input.
    assert any(200 <= s < 300 for s in seen)
    assert any(s == 422 for s in seen)


def test_sanctum_dialect(sanctum_schema, token):
    def check(case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:500])
        if response.status_code >= 400:
            body = response.json()
            assert isinstance(body.get("message"), str), body
            assert set(body) <= {"message", "errors", "giftcard", "balance"}, body

    assert fuzz(sanctum_schema, check, DIALECT_EXAMPLES) >= 5


def test_wizzgift_dialect(wizzgift_schema, token):
    seen: list[int] = []

    def check(case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        seen.append(response.status_code)
        assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:500])
        if response.status_code >= 400:
            body = response.json()
            assert body["success"] is False, body
            assert isinstance(body["message"], str), body
            assert set(body) <= {"success", "message", "error"}, body

    assert fuzz(wizzgift_schema, check, DIALECT_EXAMPLES) == 4  # the token endpoint too
    assert any(s == 200 for s in seen)  # the token works: the products at least
    assert any(s in (400, 422) for s in seen)


def test_wpay_dialect(wpay_schema, credentials):
    _, client = credentials
    seen: list[int] = []

    def check(case) -> None:
        # A fresh signed JWT for every call (each carries its own jti, which may not be replayed).
        response = case.call(headers=client.bearer(datetime.now(UTC)))
        seen.append(response.status_code)
        assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:500])
        if ".." in str(case.path_parameters):
            return  # dot segments the client resolves may lead out of the mount: not Wpay's URL then
        if response.status_code >= 400:
            body = response.json()
            assert set(body) == {"errorCode", "errorMessage", "correlationId", "field", "details"}, body
            assert isinstance(body["errorCode"], str), body
            assert isinstance(body["errorMessage"], str), body

    assert fuzz(wpay_schema, check, DIALECT_EXAMPLES) == 3
    assert not any(s == 401 for s in seen)  # the signature is accepted: refusals are for the input
    assert any(400 <= s < 500 for s in seen)
