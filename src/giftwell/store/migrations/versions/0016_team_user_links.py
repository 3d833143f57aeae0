"""user_links: one-time links emailed to people (an invitation to join an account, a password
reset), the token kept only as a keyed hash and AES-GCM ciphertext

Revision ID: 0010_team
Revises: wz02_suppliers
Create Date: 2026-12-04 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from giftwell.store.models.base import UtcDateTime

revision: str = '0010_team'
down_revision: str | None = 'wz02_suppliers'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'user_links',
        sa.Column('id', sa.String(40), primary_key=True),
        sa.Column('account_id', sa.String(40), sa.ForeignKey('accounts.id', name='fk_user_links_account_id_accounts'), nullable=False),
        sa.Column('purpose', sa.String(10), nullable=False),
        sa.Column('email', sa.String(320), nullable=False),
        sa.Column('role', sa.String(20), nullable=True),
        sa.Column('user_id', sa.String(40), sa.ForeignKey('users.id', name='fk_user_links_user_id_users', ondelete='CASCADE'), nullable=True),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('token_encrypted', sa.LargeBinary(), nullable=False),
        sa.Column('created_by', sa.String(40), nullable=True),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('expires_at', UtcDateTime(), nullable=False),
        sa.Column('sent_at', UtcDateTime(), nullable=True),
        sa.Column('used_at', UtcDateTime(), nullable=True),
        sa.Column('revoked_at', UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_user_links'),
        sa.UniqueConstraint('token_hash', name='uq_user_links_token_hash'),
    )
    op.create_index('ix_user_links_account', 'user_links', ['account_id', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_user_links_account', table_name='user_links')
    op.drop_table('user_links')
