"""signing clients and keys (client-signed ES256 JWTs, the Wpay dialect), and used token ids

Revision ID: 0011_signing_keys
Revises: 0010
Create Date: 2026-12-05 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import giftwell.store.models.base

revision: str = '0011_signing_keys'
down_revision: str | None = '0011_ops_worker_beats'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = giftwell.store.models.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('signing_clients',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scopes', sa.String(length=1000), nullable=False),
    sa.Column('created_at', UTC_TIME, nullable=False),
    sa.Column('revoked_at', UTC_TIME, nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_signing_clients_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_clients'))
    )
    op.create_index('ix_signing_clients_account', 'signing_clients', ['account_id', 'created_at'])
    op.create_table('signing_keys',
    sa.Column('kid', sa.String(length=100), nullable=False),
    sa.Column('api_client_id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('thumbprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTC_TIME, nullable=False),
    sa.Column('revoked_at', UTC_TIME, nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_signing_keys_account_id_accounts')),
    sa.ForeignKeyConstraint(['api_client_id'], ['signing_clients.id'], name=op.f('fk_signing_keys_api_client_id_signing_clients')),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_signing_keys'))
    )
    op.create_index('ix_signing_keys_client', 'signing_keys', ['api_client_id', 'created_at'])
    op.create_table('used_token_ids',
    sa.Column('api_client_id', sa.String(length=40), nullable=False),
    sa.Column('jti', sa.String(length=200), nullable=False),
    sa.Column('keep_until', UTC_TIME, nullable=False),
    sa.PrimaryKeyConstraint('api_client_id', 'jti', name=op.f('pk_used_token_ids'))
    )
    op.create_index('ix_used_token_ids_keep_until', 'used_token_ids', ['keep_until'])


def downgrade() -> None:
    op.drop_index('ix_used_token_ids_keep_until', table_name='used_token_ids')
    op.drop_table('used_token_ids')
    op.drop_index('ix_signing_keys_client', table_name='signing_keys')
    op.drop_table('signing_keys')
    op.drop_index('ix_signing_clients_account', table_name='signing_clients')
    op.drop_table('signing_clients')
