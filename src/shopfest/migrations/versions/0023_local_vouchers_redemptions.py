"""local-vouchers: redemptions of vouchers in shops, and what each item of a shop's offline upload came to

A voucher has at most one standing redemption (a partial unique index on the code where not undone),
behind the conditional update of its status in the orders context's `vouchers` table.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shopfest.core.db

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('local_redemptions',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('voucher_code', sa.String(length=40), nullable=False),
    sa.Column('merchant_id', ID, nullable=False),
    sa.Column('shop_id', ID, nullable=False),
    sa.Column('staff_id', ID, nullable=False),
    sa.Column('redeemed_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('undone_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_local_redemptions'))
    )
    op.create_index('uq_local_redemptions_standing', 'local_redemptions', ['voucher_code'], unique=True,
                    sqlite_where=sa.text('undone_at IS NULL'), postgresql_where=sa.text('undone_at IS NULL'))
    op.create_index('ix_local_redemptions_merchant_id_redeemed_at', 'local_redemptions',
                    ['merchant_id', 'redeemed_at'], unique=False)
    op.create_table('local_offline_items',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('shop_id', ID, nullable=False),
    sa.Column('client_ref', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.JSON(), nullable=False),
    sa.Column('recorded_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_local_offline_items')),
    sa.UniqueConstraint('shop_id', 'client_ref', name='uq_local_offline_items_shop_id_client_ref')
    )


def downgrade() -> None:
    op.drop_table('local_offline_items')
    op.drop_index('ix_local_redemptions_merchant_id_redeemed_at', table_name='local_redemptions')
    op.drop_index('uq_local_redemptions_standing', table_name='local_redemptions')
    op.drop_table('local_redemptions')
