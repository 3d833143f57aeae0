"""The caller, as `GET /v1/ping` shows it."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
)


class PingOut(BaseModel):
    ok: Literal[True] = True
    account: str
