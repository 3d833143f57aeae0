"""`Tx`: one request's use case in one transaction, with its `Idempotency-Key` record.

With an `Idempotency-Key` header the response is stored in the same transaction as the change it
describes and replayed for a retry with the same key and body; a failure the caller caused (a
domain error) is stored too, rendered by the surface's own error envelope, so the retry gets the
same answer. A crash leaves both or neither.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response

from giftwell.domain.access import Principal
from giftwell.domain.errors import DatabaseUnavailable, GiftwellError
from giftwell.http.request import get_runtime
from giftwell.services.access import idempotency
from giftwell.store.uow import UnitOfWork

T = TypeVar("T")
ErrorRenderer = Callable[[Request, GiftwellError], Response]


# What a use case's rendering is: a response model, or on a hot path the plain dict its JSON is
# (built without models: see api/v1/schemas/cards.py `card_json`).
Rendered = BaseModel | dict[str, Any]


def json_response(model: Rendered, status: int = 200) -> Response:
    if isinstance(model, dict):
        body = orjson.dumps(model, option=orjson.OPT_UTC_Z)  # datetimes as pydantic writes them
    else:
        body = orjson.dumps(model.model_dump(mode="json"))
    return Response(body, status_code=status, media_type="application/json")


class Tx:
    """Runs one use case in one transaction and answers with its rendering. `render_error` is the
    surface's error envelope, used for the failures an idempotency key stores."""

    def __init__(self, request: Request, render_error: ErrorRenderer) -> None:
        self.request = request
        self.rt = get_runtime(request)
        self.render_error = render_error

    async def run(
        self,
        principal: Principal,
        use_case: Callable[[UnitOfWork], Awaitable[T]],
        render: Callable[[T], Rendered],
        *,
        status: int | Callable[[T], int] = 200,
        key: str | None = None,
    ) -> Response:
        """`status` may depend on the result (an order answers 202 while it is still pending).
        `key` is an idempotency key the surface read elsewhere than the `Idempotency-Key` header
        (a vendor's body field); it takes precedence over the header."""
        key = key if key is not None else self.request.headers.get("idempotency-key")
        if key is None:
            async with self.rt.uow() as uow:
                result = await use_case(uow)
                response = json_response(render(result), _status(status, result))
                await uow.commit()
            return response
        return await self._idempotent(principal.account_id, idempotency.check_key(key), use_case, render, status)

    async def run_alone_first(
        self,
        principal: Principal,
        alone: Callable[[UnitOfWork], Awaitable[T | None]],
        use_case: Callable[[UnitOfWork], Awaitable[T]],
        render: Callable[[T], Rendered],
    ) -> Response:
        """`run`, tried first as one statement committing on its own (`alone`, in autocommit: no
        BEGIN, no COMMIT) when no `Idempotency-Key` asks for a stored response; `alone` answers
        None when it did nothing, and `use_case` runs in a transaction as usual."""
        if self.request.headers.get("idempotency-key") is None:
            async with self.rt.reader() as uow:
                result = await alone(uow)
            if result is not None:
                return json_response(render(result))
        return await self.run(principal, use_case, render)

    async def _idempotent(
        self,
        account_id: str,
        key: str,
        use_case: Callable[[UnitOfWork], Awaitable[T]],
        render: Callable[[T], Rendered],
        status: int | Callable[[T], int],
    ) -> Response:
        body = await self.request.body()
        fingerprint = idempotency.request_hash(self.request.method, self.request.url.path, body)
        stored = await idempotency.claim(self.rt, account_id=account_id, key=key, fingerprint=fingerprint)
        if stored is not None:
            return Response(
                stored.body,
                status_code=stored.status,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        try:
            async with self.rt.uow() as uow:
                result = await use_case(uow)
                response = json_response(render(result), _status(status, result))
                await idempotency.complete(
                    uow, account_id=account_id, key=key, status=response.status_code, body=bytes(response.body)
                )
                await uow.commit()
            return response
        except DatabaseUnavailable:
            # Not the caller's failure: nothing is stored, and the key is handed back if the
            # database answers (else its lease lets a retry take it over).
            with contextlib.suppress(Exception):
                await idempotency.release(self.rt, account_id=account_id, key=key)
            raise
        except GiftwellError as exc:
            failed = self.render_error(self.request, exc)
            async with self.rt.uow() as uow:
                await idempotency.complete(
                    uow, account_id=account_id, key=key, status=failed.status_code, body=bytes(failed.body)
                )
                await uow.commit()
            # Re-raised, not returned: the surface's one error handler renders it (the same body
            # as stored), and wrappers such as the guessing guard still see the failure.
            raise
        except BaseException:
            await idempotency.release(self.rt, account_id=account_id, key=key)
            raise


def _status(status: int | Callable[[T], int], result: T) -> int:
    return status(result) if callable(status) else status
