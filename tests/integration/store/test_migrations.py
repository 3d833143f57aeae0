"""The migrations produce exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from giftwell.store import migrate
from giftwell.store.models import Base


async def test_migrated_schema_matches_models(rt):
    def diff(conn):
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)

    async with rt.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []
    assert await migrate.current_revision(rt.engine) == migrate.head_revision()
