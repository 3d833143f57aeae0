"""cards: a partial index of the test cards (the reports leave them out without a scan)

Revision ID: i16_cards_test_index
Revises: i11_supplier_order_parts
Create Date: 2026-12-05 07:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'i16_cards_test_index'
down_revision: str | None = 'i11_supplier_order_parts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only test cards are in it: a live card's insert has nothing to maintain.
    op.create_index(
        'ix_cards_test',
        'cards',
        ['account_id'],
        unique=False,
        sqlite_where=sa.text('test IS 1'),
        postgresql_where=sa.text('test IS true'),
    )


def downgrade() -> None:
    op.drop_index('ix_cards_test', table_name='cards')
