"""card_search: each card's searchable text (names, emails, code suffix, metadata values, those of
its email deliveries), with a trigram index: pg_trgm's GIN on PostgreSQL, an FTS5 table with the
trigram tokenizer (kept in step by triggers) on SQLite

Revision ID: i14_card_search
Revises: i14_card_query
Create Date: 2026-12-05 07:45:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from giftwell.domain.card_query import search_body

revision: str = 'i14_card_search'
down_revision: str | None = 'i14_card_query'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_FTS = (
    "CREATE VIRTUAL TABLE card_search_fts USING fts5("
    "body, content='card_search', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER card_search_ai AFTER INSERT ON card_search BEGIN "
    "INSERT INTO card_search_fts(rowid, body) VALUES (new.rowid, new.body); END",
    "CREATE TRIGGER card_search_ad AFTER DELETE ON card_search BEGIN "
    "INSERT INTO card_search_fts(card_search_fts, rowid, body) VALUES ('delete', old.rowid, old.body); END",
    "CREATE TRIGGER card_search_au AFTER UPDATE ON card_search BEGIN "
    "INSERT INTO card_search_fts(card_search_fts, rowid, body) VALUES ('delete', old.rowid, old.body); "
    "INSERT INTO card_search_fts(rowid, body) VALUES (new.rowid, new.body); END",
)


def upgrade() -> None:
    op.create_table(
        'card_search',
        sa.Column('card_id', sa.String(length=40), nullable=False),
        sa.Column('account_id', sa.String(length=40), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_card_search_account_id_accounts')),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_card_search_card_id_cards')),
        sa.PrimaryKeyConstraint('card_id', name=op.f('pk_card_search')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute('CREATE INDEX IF NOT EXISTS ix_card_search_trgm ON card_search USING gin (body gin_trgm_ops)')
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    cards = conn.execute(
        sa.text(
            "SELECT id, account_id, code_last4, sender_name, sender_email, recipient_name, recipient_email, metadata "
            "FROM cards"
        )
    ).all()
    sent: dict[str, list[str]] = {}
    for card_id, to, recipient, sender in conn.execute(
        sa.text("SELECT card_id, to_address, recipient_name, sender_name FROM deliveries WHERE channel = 'email'")
    ):
        sent.setdefault(card_id, []).extend(x for x in (to, recipient, sender) if x)
    rows = []
    for c in cards:
        meta = json.loads(c.metadata) if isinstance(c.metadata, str) else (c.metadata or {})
        values = [v if isinstance(v, str) else json.dumps(v) for v in meta.values()]
        terms = [c.recipient_name, c.recipient_email, c.sender_name, c.sender_email, c.code_last4, *values]
        rows.append({'card_id': c.id, 'account_id': c.account_id, 'body': search_body(None, [*terms, *sent.get(c.id, [])])})
    if rows:
        conn.execute(
            sa.text('INSERT INTO card_search (card_id, account_id, body) VALUES (:card_id, :account_id, :body)'), rows
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX ix_card_search_trgm')
    else:
        for name in ('card_search_au', 'card_search_ad', 'card_search_ai'):
            op.execute(f'DROP TRIGGER {name}')
        op.execute('DROP TABLE card_search_fts')
    op.drop_table('card_search')
