"""The migrations produce exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from giftwell.store import migrate
from giftwell.store.models import Base

# The card text search's trigram index lives outside the models (one per database: pg_trgm's GIN
# index, SQLite's FTS5 table with its shadow tables; migration i14_card_search).
SEARCH_INDEX = ("ix_card_search_trgm", "card_search_fts")


def _modelled(name, type_, parent_names):
    return not (name or "").startswith(SEARCH_INDEX)


async def test_migrated_schema_matches_models(rt):
    def diff(conn):
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": _modelled})
        return compare_metadata(ctx, Base.metadata)

    async with rt.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []
    assert await migrate.current_revision(rt.engine) == migrate.head_revision()
