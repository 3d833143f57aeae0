"""orders and order_items: metadata (string keys and values), and order_metadata, one row per key
and value, for exact searches by key and value

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 17:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('orders', 'order_items'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column(
                    'metadata',
                    sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                    server_default='{}',
                    nullable=False,
                )
            )
    op.create_table(
        'order_metadata',
        sa.Column('order_id', sa.String(length=40), nullable=False),
        sa.Column('item_id', sa.String(length=40), nullable=False),
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('account_id', sa.String(length=40), nullable=False),
        sa.Column('value', sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id']),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id']),
        sa.PrimaryKeyConstraint('order_id', 'item_id', 'key'),
    )
    op.create_index('ix_order_metadata_lookup', 'order_metadata', ['account_id', 'key', 'value', 'order_id'])


def downgrade() -> None:
    op.drop_index('ix_order_metadata_lookup', table_name='order_metadata')
    op.drop_table('order_metadata')
    for table in ('order_items', 'orders'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('metadata')
