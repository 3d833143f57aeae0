"""The native API's own dependencies: `TxDep`, the per-request transaction whose stored failures
use the native error envelope, and the list rendering."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel

from giftwell.api.errors import domain_error_response
from giftwell.http.tx import Tx


async def _tx(request: Request) -> Tx:
    return Tx(request, domain_error_response)


TxDep = Annotated[Tx, Depends(_tx)]


def page_out(page: Any, render: Callable[[Any], BaseModel]) -> dict[str, Any]:
    return {"data": [render(x) for x in page.data], "has_more": page.has_more, "next_cursor": page.next_cursor}
