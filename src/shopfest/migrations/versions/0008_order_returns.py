"""order returns: shipped units a shopper asks to send back, and the merchant's answer

After shipping, a refund is a return: the shopper asks for units of a shipped part with a reason,
the merchant's staff accept it (money goes back; the units go on sale again only if the goods came
back) or reject it with a reason.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shopfest.core.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('order_returns',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('order_id', Id, nullable=False),
    sa.Column('merchant_order_id', Id, nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('requested_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('goods_back', sa.Boolean(), nullable=True),
    sa.Column('rejection', sa.String(length=500), nullable=True),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=True),
    sa.Column('refunded_currency', sa.String(length=3), nullable=True),
    sa.ForeignKeyConstraint(['merchant_order_id'], ['merchant_orders.id'],
                            name=op.f('fk_order_returns_merchant_order_id_merchant_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_returns'))
    )
    with op.batch_alter_table('order_returns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_returns_merchant_order_id'), ['merchant_order_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_order_returns_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('order_returns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_returns_order_id'))
        batch_op.drop_index(batch_op.f('ix_order_returns_merchant_order_id'))
    op.drop_table('order_returns')
