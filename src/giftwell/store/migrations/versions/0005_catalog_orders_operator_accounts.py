"""catalog, orders, operator accounts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 06:25:45.839456
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import giftwell.store.models.base

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('products',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('brand', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('image_url', sa.String(length=2000), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('countries', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('categories', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('denominations', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('discount_bps', sa.Integer(), nullable=False),
    sa.Column('fee', sa.BigInteger(), nullable=False),
    sa.Column('required_fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('expiry_months', sa.Integer(), nullable=True),
    sa.Column('code_format', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('redemption_instructions', sa.Text(), nullable=False),
    sa.Column('supplier', sa.String(length=40), nullable=False),
    sa.Column('issuer_account_id', sa.String(length=40), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['issuer_account_id'], ['accounts.id'], name=op.f('fk_products_issuer_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products'))
    )
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index('ix_products_currency', ['currency', 'active'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('mode', sa.String(length=6), nullable=False),
    sa.Column('test', sa.Boolean(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('card_count', sa.Integer(), nullable=False),
    sa.Column('total_face_value', sa.BigInteger(), nullable=False),
    sa.Column('total_price', sa.BigInteger(), nullable=False),
    sa.Column('charged', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('refunded', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('funding_account_id', sa.String(length=40), nullable=True),
    sa.Column('hold_transfer_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_orders_account_id_accounts')),
    sa.ForeignKeyConstraint(['funding_account_id'], ['ledger_accounts.id'], name=op.f('fk_orders_funding_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['hold_transfer_id'], ['transfers.id'], name=op.f('fk_orders_hold_transfer_id_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('account_id', 'reference', name='uq_orders_account_reference')
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_account_created', ['account_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_orders_open', ['status', 'created_at'], unique=False)

    op.create_table('order_items',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.String(length=80), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('recipient', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sender', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=True),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('delivery', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_items_order_id_orders')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_order_items_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_items'))
    )
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.create_index('ix_order_items_order', ['order_id', 'position'], unique=False)

    op.create_table('order_cards',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=False),
    sa.Column('item_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('supply_key', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('issuer_account_id', sa.String(length=40), nullable=False),
    sa.Column('card_id', sa.String(length=40), nullable=True),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('charge_transfer_id', sa.String(length=40), nullable=True),
    sa.Column('link_token_hash', sa.String(length=64), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('reveal_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_revealed_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('reveal_count >= 0', name=op.f('ck_order_cards_reveal_count_not_negative')),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_order_cards_card_id_cards')),
    sa.ForeignKeyConstraint(['charge_transfer_id'], ['transfers.id'], name=op.f('fk_order_cards_charge_transfer_id_transfers')),
    sa.ForeignKeyConstraint(['issuer_account_id'], ['accounts.id'], name=op.f('fk_order_cards_issuer_account_id_accounts')),
    sa.ForeignKeyConstraint(['item_id'], ['order_items.id'], name=op.f('fk_order_cards_item_id_order_items')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_cards_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_cards')),
    sa.UniqueConstraint('card_id', name=op.f('uq_order_cards_card_id')),
    sa.UniqueConstraint('link_token_hash', name='uq_order_cards_link_token_hash'),
    sa.UniqueConstraint('supply_key', name='uq_order_cards_supply_key')
    )
    with op.batch_alter_table('order_cards', schema=None) as batch_op:
        batch_op.create_index('ix_order_cards_order', ['order_id', 'status', 'position'], unique=False)

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_operator', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('is_operator')

    with op.batch_alter_table('order_cards', schema=None) as batch_op:
        batch_op.drop_index('ix_order_cards_order')

    op.drop_table('order_cards')
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.drop_index('ix_order_items_order')

    op.drop_table('order_items')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_open')
        batch_op.drop_index('ix_orders_account_created')

    op.drop_table('orders')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index('ix_products_currency')

    op.drop_table('products')
