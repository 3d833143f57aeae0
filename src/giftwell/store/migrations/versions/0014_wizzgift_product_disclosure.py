"""products.disclosure: the legal text a product's buyers see (the WizzGift product's `disclosure`)

Revision ID: wz01_disclosure
Revises: 0012_order_cards_by_position
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'wz01_disclosure'
down_revision: str | None = '0012_order_cards_by_position'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('products') as batch:
        batch.add_column(sa.Column('disclosure', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('products') as batch:
        batch.drop_column('disclosure')
