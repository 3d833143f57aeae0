"""choice reward links and their picks; choice order items; per-object ledger accounts

Revision ID: i12_choice_links
Revises: i14_card_search
Create Date: 2026-12-05 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from giftwell.store.models.base import JsonType, UtcDateTime

revision: str = 'i12_choice_links'
down_revision: str | None = 'i14_card_search'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "kind NOT IN ('card')"
NEW = "kind NOT IN ('card', 'choice_link')"


def _system_index(where: str) -> None:
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.create_index(
            'uq_ledger_accounts_system',
            ['account_id', 'kind', 'currency'],
            unique=True,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


def upgrade() -> None:
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_accounts_system', sqlite_where=sa.text(OLD), postgresql_where=sa.text(OLD))
    _system_index(NEW)
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.alter_column('product_id', existing_type=sa.String(80), nullable=True)
        batch_op.add_column(sa.Column('choice', JsonType, nullable=True))
    op.create_table(
        'choice_links',
        sa.Column('id', sa.String(40), nullable=False),
        sa.Column('account_id', sa.String(40), nullable=False),
        sa.Column('order_id', sa.String(40), nullable=False),
        sa.Column('item_id', sa.String(40), nullable=False),
        sa.Column('unit_id', sa.String(40), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('ledger_account_id', sa.String(40), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('country', sa.String(2), nullable=True),
        sa.Column('initial_balance', sa.BigInteger(), nullable=False),
        sa.Column('products', JsonType, nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('status', sa.String(10), nullable=False),
        sa.Column('test', sa.Boolean(), nullable=False),
        sa.Column('expires_at', UtcDateTime(), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('first_opened_at', UtcDateTime(), nullable=True),
        sa.Column('last_opened_at', UtcDateTime(), nullable=True),
        sa.Column('open_count', sa.Integer(), server_default='0', nullable=False),
        sa.Column('expired_at', UtcDateTime(), nullable=True),
        sa.CheckConstraint('open_count >= 0', name=op.f('ck_choice_links_open_count_not_negative')),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_choice_links_account_id_accounts')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_choice_links_order_id_orders')),
        sa.ForeignKeyConstraint(['item_id'], ['order_items.id'], name=op.f('fk_choice_links_item_id_order_items')),
        sa.ForeignKeyConstraint(['unit_id'], ['order_cards.id'], name=op.f('fk_choice_links_unit_id_order_cards')),
        sa.ForeignKeyConstraint(
            ['ledger_account_id'], ['ledger_accounts.id'], name=op.f('fk_choice_links_ledger_account_id_ledger_accounts')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_choice_links')),
        sa.UniqueConstraint('unit_id', name=op.f('uq_choice_links_unit_id')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_choice_links_token_hash')),
    )
    op.create_index('ix_choice_links_order', 'choice_links', ['order_id', 'position'])
    op.create_index('ix_choice_links_due', 'choice_links', ['status', 'expires_at'])
    op.create_table(
        'choice_picks',
        sa.Column('id', sa.String(40), nullable=False),
        sa.Column('link_id', sa.String(40), nullable=False),
        sa.Column('pick_key', sa.String(40), nullable=False),
        sa.Column('product_id', sa.String(80), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('card_id', sa.String(40), nullable=False),
        sa.Column('transfer_id', sa.String(40), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['link_id'], ['choice_links.id'], name=op.f('fk_choice_picks_link_id_choice_links')),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_choice_picks_product_id_products')),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_choice_picks_card_id_cards')),
        sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], name=op.f('fk_choice_picks_transfer_id_transfers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_choice_picks')),
        sa.UniqueConstraint('link_id', 'pick_key', name='uq_choice_picks_link_key'),
        sa.UniqueConstraint('card_id', name=op.f('uq_choice_picks_card_id')),
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.alter_column('card_id', existing_type=sa.String(40), nullable=True)
        batch_op.add_column(sa.Column('choice_link_id', sa.String(40), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_deliveries_choice_link_id_choice_links'), 'choice_links', ['choice_link_id'], ['id']
        )
        batch_op.create_index('ix_deliveries_choice_link', ['choice_link_id', 'created_at'], unique=False)
    _name_indexes()


def _name_indexes() -> None:
    """SQLite rebuilds the table in a batch and cannot reflect expression indexes, so the card
    query's name indexes of the deliveries (i14_card_query) are made again if they were lost."""
    for column in ('recipient_name', 'sender_name'):
        op.create_index(
            f'ix_deliveries_q_{column}',
            'deliveries',
            ['card_account_id', sa.text(f'lower({column})')],
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_choice_link')
        batch_op.drop_constraint(batch_op.f('fk_deliveries_choice_link_id_choice_links'), type_='foreignkey')
        batch_op.drop_column('choice_link_id')
        batch_op.alter_column('card_id', existing_type=sa.String(40), nullable=False)
    _name_indexes()
    op.drop_table('choice_picks')
    op.drop_index('ix_choice_links_due', table_name='choice_links')
    op.drop_index('ix_choice_links_order', table_name='choice_links')
    op.drop_table('choice_links')
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.drop_column('choice')
        batch_op.alter_column('product_id', existing_type=sa.String(80), nullable=False)
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_accounts_system', sqlite_where=sa.text(NEW), postgresql_where=sa.text(NEW))
    _system_index(OLD)
