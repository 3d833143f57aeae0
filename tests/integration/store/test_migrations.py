"""The migrations produce exactly the schema the models describe, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
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


async def test_every_modelled_index_exists_after_the_migrations(rt):
    """By name, expression indexes included: SQLite cannot reflect those, so the comparison above
    skips them, and a later migration that rebuilds a table in a batch could drop them unseen."""

    def names(conn):
        return {i["name"] for table in sa.inspect(conn).get_table_names() for i in sa.inspect(conn).get_indexes(table)}

    async with rt.engine.connect() as conn:
        found = await conn.run_sync(names)
        if conn.dialect.name == "sqlite":
            rows = await conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'index'"))
            found |= {r[0] for r in rows}
    modelled = {i.name for table in Base.metadata.tables.values() for i in table.indexes}
    assert modelled - found == set()
