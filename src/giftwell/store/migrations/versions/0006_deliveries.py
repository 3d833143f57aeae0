"""deliveries and reward links

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:31:59.701122
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import giftwell.store.models.base

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reward_links',
    sa.Column('card_id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('token_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('created_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('first_opened_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_opened_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('open_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('first_revealed_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_revealed_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('reveal_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_sent_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('open_count >= 0 AND reveal_count >= 0', name=op.f('ck_reward_links_counts_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_reward_links_account_id_accounts')),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_reward_links_card_id_cards')),
    sa.PrimaryKeyConstraint('card_id', name=op.f('pk_reward_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_reward_links_token_hash'))
    )
    op.create_table('deliveries',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('card_account_id', sa.String(length=40), nullable=False),
    sa.Column('card_id', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.String(length=40), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('channel', sa.String(length=5), nullable=False),
    sa.Column('to_address', sa.String(length=320), nullable=False),
    sa.Column('recipient_name', sa.String(length=200), nullable=True),
    sa.Column('sender_name', sa.String(length=200), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('image_url', sa.String(length=2000), nullable=True),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=True),
    sa.Column('provider_id', sa.String(length=200), nullable=True),
    sa.Column('job_id', sa.String(length=40), nullable=True),
    sa.Column('scheduled_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('failed_at', giftwell.store.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_deliveries_attempts_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_deliveries_account_id_accounts')),
    sa.ForeignKeyConstraint(['card_account_id'], ['accounts.id'], name=op.f('fk_deliveries_card_account_id_accounts')),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_deliveries_card_id_cards')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_deliveries_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_card', ['card_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_deliveries_status', ['status', 'scheduled_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_status')
        batch_op.drop_index('ix_deliveries_card')

    op.drop_table('deliveries')
    op.drop_table('reward_links')
