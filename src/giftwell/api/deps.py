"""The native API's own dependency: `TxDep`, the per-request transaction whose stored failures
use the native error envelope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from giftwell.api.errors import domain_error_response
from giftwell.http.tx import Tx


async def _tx(request: Request) -> Tx:
    return Tx(request, domain_error_response)


TxDep = Annotated[Tx, Depends(_tx)]
