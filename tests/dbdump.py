"""Every row of every table, for tests that compare a database before and after a request or
search it for secrets."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from giftwell.services.runtime import Runtime
from giftwell.store.models import Base


async def rows(rt: Runtime, *, skip: Collection[str] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's rows (every column), sorted, so two dumps compare equal when nothing changed."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with rt.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in skip:
                continue
            found = [tuple(row) for row in await conn.execute(sa.select(table))]
            out[table.name] = sorted(found, key=repr)
    return out


def as_text(value: Any) -> str:
    """A column value as text: bytes decoded latin-1 (every byte maps to one character)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return str(value) + "\n" + json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


async def text(rt: Runtime) -> str:
    """Every non-null value of every column of every table, one per line."""
    chunks = [
        as_text(value) for found in (await rows(rt)).values() for row in found for value in row if value is not None
    ]
    return "\n".join(chunks)
