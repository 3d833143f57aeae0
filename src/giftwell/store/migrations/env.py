"""Alembic environment. Run through `giftwell db upgrade` (which shares its connection), or plain
`alembic` with `-x url=...` for autogenerate during development."""

from __future__ import annotations

import asyncio
import warnings

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SAWarning

from giftwell.store.engine import create_engine
from giftwell.store.models import Base

# SQLite cannot reflect expression indexes (the card query's lower(name) ones); a batch migration
# reflects the table and says so each time. The migration that rebuilds such a table makes them
# again, and tests/integration/store/test_migrations.py checks every index by name.
warnings.filterwarnings(
    "ignore", message="Skipped unsupported reflection of expression-based index", category=SAWarning
)

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass -x url=sqlite:///path or set sqlalchemy.url")
    asyncio.run(_run_async(url))
