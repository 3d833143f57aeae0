"""worker_beats: each job worker's registration and heartbeat (giftwell jobs workers, /readyz)

Revision ID: 0011_ops_worker_beats
Revises: 0010
Create Date: 2026-12-04 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from giftwell.store.models.base import UtcDateTime

revision: str = '0011_ops_worker_beats'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'worker_beats',
        sa.Column('id', sa.String(100), nullable=False),
        sa.Column('role', sa.String(12), nullable=False),
        sa.Column('hostname', sa.String(255), nullable=False),
        sa.Column('pid', sa.BigInteger(), nullable=False),
        sa.Column('concurrency', sa.BigInteger(), nullable=False),
        sa.Column('started_at', UtcDateTime(), nullable=False),
        sa.Column('heartbeat_at', UtcDateTime(), nullable=False),
        sa.Column('stopped_at', UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_worker_beats')),
    )
    op.create_index(op.f('ix_worker_beats_heartbeat_at'), 'worker_beats', ['heartbeat_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_worker_beats_heartbeat_at'), table_name='worker_beats')
    op.drop_table('worker_beats')
