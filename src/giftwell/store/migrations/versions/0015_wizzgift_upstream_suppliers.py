"""upstream suppliers: suppliers (encrypted credentials), supplier_orders (one purchase per order
item), supplied_cards (what an upstream made, codes encrypted), products.supplier_product

Revision ID: wz02_suppliers
Revises: wz01_disclosure
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import giftwell.store.models.base

revision: str = 'wz02_suppliers'
down_revision: str | None = 'wz01_disclosure'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, giftwell.store.models.base.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        'suppliers',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('base_url', sa.String(length=2000), nullable=False),
        sa.Column('client_id', sa.String(length=200), nullable=False),
        sa.Column('client_secret_enc', sa.LargeBinary(), nullable=False),
        sa.Column('refresh_token_enc', sa.LargeBinary(), nullable=True),
        sa.Column('access_token_enc', sa.LargeBinary(), nullable=True),
        _at('access_expires_at', nullable=True),
        sa.Column('token_version', sa.Integer(), server_default='0', nullable=False),
        sa.Column('webhook_secret_enc', sa.LargeBinary(), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('paused_reason', sa.String(length=500), nullable=True),
        _at('created_at'),
        _at('updated_at'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_suppliers')),
        sa.UniqueConstraint('name', name=op.f('uq_suppliers_name')),
    )
    op.create_table(
        'supplier_orders',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('supplier_id', sa.String(length=40), nullable=False),
        sa.Column('order_id', sa.String(length=40), nullable=False),
        sa.Column('item_id', sa.String(length=40), nullable=False),
        sa.Column('reference', sa.String(length=200), nullable=False),
        sa.Column('upstream_id', sa.String(length=200), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.Column('polls', sa.Integer(), server_default='0', nullable=False),
        _at('created_at'),
        _at('updated_at'),
        _at('completed_at', nullable=True),
        sa.ForeignKeyConstraint(['item_id'], ['order_items.id'], name=op.f('fk_supplier_orders_item_id_order_items')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_supplier_orders_order_id_orders')),
        sa.ForeignKeyConstraint(
            ['supplier_id'], ['suppliers.id'], name=op.f('fk_supplier_orders_supplier_id_suppliers')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supplier_orders')),
        sa.UniqueConstraint('item_id', name=op.f('uq_supplier_orders_item_id')),
        sa.UniqueConstraint('supplier_id', 'reference', name='uq_supplier_orders_reference'),
    )
    op.create_index('ix_supplier_orders_order', 'supplier_orders', ['order_id'], unique=False)
    op.create_table(
        'supplied_cards',
        sa.Column('order_card_id', sa.String(length=40), nullable=False),
        sa.Column('supplier_order_id', sa.String(length=40), nullable=False),
        sa.Column('code_enc', sa.LargeBinary(), nullable=True),
        sa.Column('pin_enc', sa.LargeBinary(), nullable=True),
        sa.Column('serial', sa.String(length=200), nullable=True),
        sa.Column('link', sa.String(length=2000), nullable=True),
        sa.Column('reward_id', sa.String(length=200), nullable=True),
        sa.Column('transaction_id', sa.String(length=200), nullable=True),
        sa.Column('expires_on', sa.Date(), nullable=True),
        sa.Column('instruction', sa.Text(), nullable=True),
        _at('created_at'),
        sa.ForeignKeyConstraint(
            ['order_card_id'], ['order_cards.id'], name=op.f('fk_supplied_cards_order_card_id_order_cards')
        ),
        sa.ForeignKeyConstraint(
            ['supplier_order_id'],
            ['supplier_orders.id'],
            name=op.f('fk_supplied_cards_supplier_order_id_supplier_orders'),
        ),
        sa.PrimaryKeyConstraint('order_card_id', name=op.f('pk_supplied_cards')),
    )
    with op.batch_alter_table('products') as batch:
        batch.add_column(sa.Column('supplier_product', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('products') as batch:
        batch.drop_column('supplier_product')
    op.drop_table('supplied_cards')
    op.drop_index('ix_supplier_orders_order', table_name='supplier_orders')
    op.drop_table('supplier_orders')
    op.drop_table('suppliers')
