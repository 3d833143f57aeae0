"""audit_events: the append-only log of administrative actions (UPDATE and DELETE refused by
triggers on both databases)

Revision ID: 0012_ops_audit_events
Revises: 0011_expiry
Create Date: 2026-12-04 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from giftwell.store.models.base import JsonType, UtcDateTime

revision: str = '0012_ops_audit_events'
down_revision: str | None = '0011_expiry'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL = 'audit_events is append-only'


def upgrade() -> None:
    op.create_table(
        'audit_events',
        sa.Column('id', sa.String(40), nullable=False),
        sa.Column('occurred_at', UtcDateTime(), nullable=False),
        sa.Column('account_id', sa.String(40), nullable=True),
        sa.Column('action', sa.String(60), nullable=False),
        sa.Column('target_type', sa.String(40), nullable=False),
        sa.Column('target_id', sa.String(100), nullable=True),
        sa.Column('actor_type', sa.String(12), nullable=False),
        sa.Column('actor_id', sa.String(200), nullable=True),
        sa.Column('actor_account_id', sa.String(40), nullable=True),
        sa.Column('ip', sa.String(64), nullable=True),
        sa.Column('request_id', sa.String(200), nullable=True),
        sa.Column('changes', JsonType, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    )
    op.create_index('ix_audit_events_account_at', 'audit_events', ['account_id', 'occurred_at', 'id'])
    op.create_index('ix_audit_events_at', 'audit_events', ['occurred_at', 'id'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )
    else:
        for verb in ('UPDATE', 'DELETE'):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER audit_events_append_only ON audit_events')
        op.execute('DROP FUNCTION audit_events_append_only()')
    op.drop_index('ix_audit_events_at', table_name='audit_events')
    op.drop_index('ix_audit_events_account_at', table_name='audit_events')
    op.drop_table('audit_events')
