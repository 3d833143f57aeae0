"""deliveries: index by the card's account and address, so a card search by recipient email finds
cards whose recipient was set by a later /send or /resend

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_deliveries_recipient', 'deliveries', ['card_account_id', 'to_address'])


def downgrade() -> None:
    op.drop_index('ix_deliveries_recipient', table_name='deliveries')
