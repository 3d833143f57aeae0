"""key_rotations: progress of giftwell keys rotate (resumable after an interruption)

Revision ID: 0013_ops_key_rotations
Revises: 0012_ops_audit_events
Create Date: 2026-12-04 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from giftwell.store.models.base import JsonType, UtcDateTime

revision: str = '0013_ops_key_rotations'
down_revision: str | None = '0012_ops_audit_events'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'key_rotations',
        sa.Column('key_id', sa.String(16), nullable=False),
        sa.Column('table_name', sa.String(60), nullable=False),
        sa.Column('cursor', JsonType, nullable=True),
        sa.Column('rows_seen', sa.BigInteger(), nullable=False),
        sa.Column('rows_changed', sa.BigInteger(), nullable=False),
        sa.Column('started_at', UtcDateTime(), nullable=False),
        sa.Column('finished_at', UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('key_id', 'table_name', name=op.f('pk_key_rotations')),
    )


def downgrade() -> None:
    op.drop_table('key_rotations')
