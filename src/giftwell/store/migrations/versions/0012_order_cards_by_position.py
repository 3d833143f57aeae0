"""order_cards: index by order and position, for the buyer's pages of an order's cards

Revision ID: 0012_order_cards_by_position
Revises: 0011_funding_sources
Create Date: 2026-12-05 12:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0012_order_cards_by_position'
down_revision: str | None = '0011_funding_sources'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_order_cards_order_position', 'order_cards', ['order_id', 'position'])


def downgrade() -> None:
    op.drop_index('ix_order_cards_order_position', table_name='order_cards')
