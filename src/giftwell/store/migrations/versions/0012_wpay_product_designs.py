"""product designs: products.designs ({id, name, image_url} each), order_items.design_id

Revision ID: 0012_product_designs
Revises: 0011_signing_keys
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0012_product_designs'
down_revision: str | None = '0011_signing_keys'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('products') as batch:
        batch.add_column(
            sa.Column(
                'designs',
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                server_default='[]',
                nullable=False,
            )
        )
    with op.batch_alter_table('order_items') as batch:
        batch.add_column(sa.Column('design_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('order_items') as batch:
        batch.drop_column('design_id')
    with op.batch_alter_table('products') as batch:
        batch.drop_column('designs')
