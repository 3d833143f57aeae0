"""expiry policies: the shortest lifetime a card may be issued with, and the rule it comes from,
per account and per product (both optional)

Revision ID: 0011_expiry
Revises: 0010_team
Create Date: 2026-12-04 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_expiry'
down_revision: str | None = '0010_team'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('accounts', 'products'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('expiry_min_days', sa.Integer(), nullable=True))
            batch.add_column(sa.Column('expiry_rule', sa.String(200), nullable=True))


def downgrade() -> None:
    for table in ('accounts', 'products'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('expiry_rule')
            batch.drop_column('expiry_min_days')
