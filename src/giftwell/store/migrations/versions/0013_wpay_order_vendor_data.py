"""orders and order_items: vendor_data (a dialect's own fields, JSON); orders.request_fingerprint
(a second submit of a reference is a replay only with the same request)

Revision ID: 0013_order_vendor_data
Revises: 0012_product_designs
Create Date: 2026-12-05 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0013_order_vendor_data'
down_revision: str | None = '0012_product_designs'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('vendor_data', JSON, nullable=True))
        batch.add_column(sa.Column('request_fingerprint', sa.String(length=64), nullable=True))
    with op.batch_alter_table('order_items') as batch:
        batch.add_column(sa.Column('vendor_data', JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('order_items') as batch:
        batch.drop_column('vendor_data')
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('request_fingerprint')
        batch.drop_column('vendor_data')
