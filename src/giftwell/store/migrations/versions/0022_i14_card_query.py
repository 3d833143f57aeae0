"""card query: cards.disabled_at, card_metadata (one row per key and value), and the indexes the
card query's filters and sorts use

Revision ID: i14_card_query
Revises: i16_cards_test_index
Create Date: 2026-12-05 07:30:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from giftwell.store.models.base import UtcDateTime

revision: str = 'i14_card_query'
down_revision: str | None = 'i16_cards_test_index'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CARD_INDEXES = {
    'ix_cards_q_last4': ['account_id', 'code_last4', 'id'],
    'ix_cards_q_status': ['account_id', 'status', 'id'],
    'ix_cards_q_currency': ['account_id', 'currency', 'id'],
    'ix_cards_q_initial': ['account_id', 'initial_amount', 'id'],
    'ix_cards_q_updated': ['account_id', 'updated_at', 'id'],
    'ix_cards_q_expires': ['account_id', 'expires_at', 'id'],
    'ix_cards_q_disabled': ['account_id', 'disabled_at', 'id'],
    'ix_cards_q_source': ['account_id', 'source', 'id'],
    'ix_cards_q_id': ['account_id', 'id'],
}
NAME_INDEXES = {
    'ix_cards_q_recipient_name': ('cards', 'account_id', 'recipient_name'),
    'ix_cards_q_sender_name': ('cards', 'account_id', 'sender_name'),
    'ix_deliveries_q_recipient_name': ('deliveries', 'card_account_id', 'recipient_name'),
    'ix_deliveries_q_sender_name': ('deliveries', 'card_account_id', 'sender_name'),
}


def upgrade() -> None:
    with op.batch_alter_table('cards') as batch:
        batch.add_column(sa.Column('disabled_at', UtcDateTime(), nullable=True))
    op.execute("UPDATE cards SET disabled_at = updated_at WHERE status = 'disabled'")
    op.create_table(
        'card_metadata',
        sa.Column('card_id', sa.String(length=40), nullable=False),
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('account_id', sa.String(length=40), nullable=False),
        sa.Column('value', sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_card_metadata_account_id_accounts')),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_card_metadata_card_id_cards')),
        sa.PrimaryKeyConstraint('card_id', 'key', name=op.f('pk_card_metadata')),
    )
    op.create_index('ix_card_metadata_lookup', 'card_metadata', ['account_id', 'key', 'value', 'card_id'])
    _backfill_metadata()
    # if_not_exists: on a large PostgreSQL database, build them first with CREATE INDEX
    # CONCURRENTLY under the same names (docs/operations.md, Upgrades) and this skips them.
    for name, cols in CARD_INDEXES.items():
        op.create_index(name, 'cards', cols, if_not_exists=True)
    for name, (table, account, column) in NAME_INDEXES.items():
        op.create_index(name, table, [account, sa.text(f'lower({column})')], if_not_exists=True)
    op.create_index(
        'ix_ledger_accounts_q_balance', 'ledger_accounts', ['account_id', 'kind', 'balance'], if_not_exists=True
    )


def _backfill_metadata() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, account_id, metadata FROM cards WHERE metadata IS NOT NULL")).all()
    out = []
    for card_id, account_id, raw in rows:
        meta = json.loads(raw) if isinstance(raw, str) else raw
        for key, value in (meta or {}).items():
            text = value if isinstance(value, str) else json.dumps(value, separators=(',', ':'))
            if 1 <= len(key) <= 40 and len(text) <= 500:
                out.append({'card_id': card_id, 'key': key, 'account_id': account_id, 'value': text})
    if out:
        conn.execute(
            sa.text(
                "INSERT INTO card_metadata (card_id, key, account_id, value) VALUES (:card_id, :key, :account_id, :value)"
            ),
            out,
        )


def downgrade() -> None:
    op.drop_index('ix_ledger_accounts_q_balance', table_name='ledger_accounts')
    for name, (table, _, _) in NAME_INDEXES.items():
        op.drop_index(name, table_name=table)
    for name in CARD_INDEXES:
        op.drop_index(name, table_name='cards')
    op.drop_index('ix_card_metadata_lookup', table_name='card_metadata')
    op.drop_table('card_metadata')
    # Not a batch (SQLite would copy the table, which the foreign keys to cards refuse): SQLite
    # 3.35+ and PostgreSQL both drop an unindexed column in place.
    op.execute('ALTER TABLE cards DROP COLUMN disabled_at')
