"""funding sources (prepaid balances and credit lines) and receipts; orders name their source

Every existing prepaid funding account gets its source row, and every existing order the source
of the funding account it reserved from. Receipts start with this revision: transfers posted
before it have none.

Revision ID: 0011_funding_sources
Revises: 0013_order_vendor_data
Create Date: 2026-12-05 09:00:00.000000
"""

import secrets
import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import giftwell.store.models.base

revision: str = '0011_funding_sources'
down_revision: str | None = '0013_order_vendor_data'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _new_id(prefix: str) -> str:
    # The same shape as giftwell.domain.ids.new_id, kept here so the migration never changes.
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def upgrade() -> None:
    op.create_table('funding_sources',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('ledger_account_id', sa.String(length=40), nullable=False),
    sa.Column('credit_limit', sa.BigInteger(), nullable=True),
    sa.Column('is_default', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_funding_sources_account_id_accounts')),
    sa.ForeignKeyConstraint(['ledger_account_id'], ['ledger_accounts.id'], name=op.f('fk_funding_sources_ledger_account_id_ledger_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funding_sources')),
    sa.UniqueConstraint('account_id', 'kind', 'currency', name='uq_funding_sources_account_kind_currency'),
    sa.UniqueConstraint('ledger_account_id', name=op.f('uq_funding_sources_ledger_account_id'))
    )
    op.create_index('uq_funding_sources_default', 'funding_sources', ['account_id', 'currency'], unique=True, sqlite_where=sa.text('is_default'), postgresql_where=sa.text('is_default'))
    op.create_table('receipts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('funding_source_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('transfer_id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('lines', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('created_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_receipts_account_id_accounts')),
    sa.ForeignKeyConstraint(['funding_source_id'], ['funding_sources.id'], name=op.f('fk_receipts_funding_source_id_funding_sources')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_receipts_order_id_orders')),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], name=op.f('fk_receipts_transfer_id_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipts')),
    sa.UniqueConstraint('transfer_id', name=op.f('uq_receipts_transfer_id'))
    )
    op.create_index('ix_receipts_account_created', 'receipts', ['account_id', 'created_at', 'id'])
    op.create_index('ix_receipts_order', 'receipts', ['order_id'])
    fk = 'fk_orders_funding_source_id_funding_sources'
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a column with a reference in place; a batch copy of `orders` would have to
        # drop a table other tables refer to.
        op.execute(
            f'ALTER TABLE orders ADD COLUMN funding_source_id VARCHAR(40) CONSTRAINT {fk} REFERENCES funding_sources (id)'
        )
    else:
        op.add_column('orders', sa.Column('funding_source_id', sa.String(length=40), nullable=True))
        op.create_foreign_key(fk, 'orders', 'funding_sources', ['funding_source_id'], ['id'])
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    ledger = sa.table(
        'ledger_accounts', sa.column('id'), sa.column('account_id'), sa.column('kind'), sa.column('currency'),
        sa.column('created_at'),
    )
    sources = sa.table(
        'funding_sources', sa.column('id'), sa.column('account_id'), sa.column('kind'), sa.column('currency'),
        sa.column('ledger_account_id'), sa.column('credit_limit'), sa.column('is_default'), sa.column('created_at'),
        sa.column('updated_at'),
    )
    rows = conn.execute(
        sa.select(ledger.c.id, ledger.c.account_id, ledger.c.currency, ledger.c.created_at).where(ledger.c.kind == 'funding')
    ).all()
    for r in rows:
        conn.execute(
            sources.insert().values(
                id=_new_id('fs'), account_id=r.account_id, kind='prepaid', currency=r.currency,
                ledger_account_id=r.id, credit_limit=None, is_default=False, created_at=r.created_at,
                updated_at=r.created_at,
            )
        )
    orders = sa.table('orders', sa.column('funding_source_id'), sa.column('funding_account_id'))
    conn.execute(
        orders.update().values(
            funding_source_id=sa.select(sources.c.id)
            .where(sources.c.ledger_account_id == orders.c.funding_account_id)
            .scalar_subquery()
        ).where(orders.c.funding_account_id.is_not(None))
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite cannot drop a column that holds a reference, nor copy `orders` in a batch (other
        # tables refer to it): the column stays, empty, and nothing reads it below 0011.
        op.execute('UPDATE orders SET funding_source_id = NULL')
    else:
        op.drop_constraint('fk_orders_funding_source_id_funding_sources', 'orders', type_='foreignkey')
        op.drop_column('orders', 'funding_source_id')
    op.drop_index('ix_receipts_order', table_name='receipts')
    op.drop_index('ix_receipts_account_created', table_name='receipts')
    op.drop_table('receipts')
    op.drop_index('uq_funding_sources_default', table_name='funding_sources')
    op.drop_table('funding_sources')
