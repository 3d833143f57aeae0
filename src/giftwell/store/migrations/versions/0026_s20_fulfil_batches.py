"""cards: drop ix_cards_last4, which ix_cards_q_last4 (account, last 4, id) covers as its prefix

One index fewer to update for every card issued (a fulfilment batch, a bulk issue).

Revision ID: s20_fulfil_batches
Revises: i15_bulk_issues
Create Date: 2026-12-05 12:05:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = 's20_fulfil_batches'
down_revision: str | None = 'i15_bulk_issues'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_cards_last4', table_name='cards')


def downgrade() -> None:
    op.create_index('ix_cards_last4', 'cards', ['account_id', 'code_last4'], unique=False)
