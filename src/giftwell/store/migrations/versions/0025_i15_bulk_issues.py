"""bulk_issues: progress of giftwell cards issue-bulk (resumable after a crash)

Revision ID: i15_bulk_issues
Revises: i12_choice_links
Create Date: 2026-12-05 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from giftwell.store.models.base import UtcDateTime

revision: str = 'i15_bulk_issues'
down_revision: str | None = 'i12_choice_links'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'bulk_issues',
        sa.Column('id', sa.String(40), nullable=False),
        sa.Column('account_id', sa.String(40), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('issued', sa.BigInteger(), nullable=False),
        sa.Column('product_id', sa.String(100), nullable=True),
        sa.Column('expires_at', UtcDateTime(), nullable=True),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.Column('finished_at', UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_bulk_issues_account_id_accounts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bulk_issues')),
    )


def downgrade() -> None:
    op.drop_table('bulk_issues')
