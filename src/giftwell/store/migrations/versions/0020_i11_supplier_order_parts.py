"""upstream orders in parts: a supplier's largest order (`suppliers.max_quantity`), and an order
item bought in several upstream orders (`supplier_orders.part` of `part_size` cards each, unique
per item and part instead of per item)

Revision ID: i11_supplier_order_parts
Revises: 0013_ops_key_rotations
Create Date: 2026-12-05 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'i11_supplier_order_parts'
down_revision: str | None = '0013_ops_key_rotations'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('suppliers') as batch:
        batch.add_column(sa.Column('max_quantity', sa.Integer(), server_default='25', nullable=False))
    # Purchases made before: one part covering the whole item (an item has at most 10,000 cards).
    with op.batch_alter_table('supplier_orders') as batch:
        batch.add_column(sa.Column('part', sa.Integer(), server_default='1', nullable=False))
        batch.add_column(sa.Column('part_size', sa.Integer(), server_default='10000', nullable=False))
        batch.drop_constraint('uq_supplier_orders_item_id', type_='unique')
        batch.create_unique_constraint('uq_supplier_orders_item_part', ['item_id', 'part'])


def downgrade() -> None:
    with op.batch_alter_table('supplier_orders') as batch:
        batch.drop_constraint('uq_supplier_orders_item_part', type_='unique')
        batch.create_unique_constraint('uq_supplier_orders_item_id', ['item_id'])
        batch.drop_column('part_size')
        batch.drop_column('part')
    with op.batch_alter_table('suppliers') as batch:
        batch.drop_column('max_quantity')
