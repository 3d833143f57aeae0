"""`/v1/ping`: check a token. Authenticated, any scope, nothing else: the floor under every API
request (the benchmarks measure the other endpoints against it)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from giftwell.api.v1.schemas.access import PingOut
from giftwell.http.deps import Authenticated
from giftwell.http.tx import json_response

router = APIRouter(prefix="/v1", tags=["access"])


@router.get("/ping", response_model=PingOut, summary="Check a token")
async def ping(p: Authenticated) -> Response:
    return json_response(PingOut(account=p.account_id))
