"""local pay: in-store QR payments and each shopper's local discount uses per day

A shopper's discount uses of a day are one counter row, which a conditional update takes a use from
(`uses < per_day`), so payments started at once never take more than the day allows.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shopfest.core.db

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('local_discount_uses',
    sa.Column('shopper_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.CheckConstraint('uses >= 0', name='uses_not_negative'),
    sa.PrimaryKeyConstraint('shopper_id', 'day', name=op.f('pk_local_discount_uses'))
    )
    op.create_table('local_payments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shopper_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('discount_minor', sa.BigInteger(), nullable=False),
    sa.Column('to_pay_minor', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('discount_day', sa.Date(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('paid_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount_minor > 0 AND discount_minor >= 0 AND to_pay_minor > 0 AND amount_minor = discount_minor + to_pay_minor', name='payment_adds_up'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_local_payments')),
    sa.UniqueConstraint('shopper_id', 'idempotency_key', name=op.f('uq_local_payments_shopper_id'))
    )
    with op.batch_alter_table('local_payments', schema=None) as batch_op:
        batch_op.create_index('ix_local_payments_merchant_paid', ['merchant_id', 'paid_at'], unique=False)
        batch_op.create_index('ix_local_payments_shopper_status', ['shopper_id', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('local_payments', schema=None) as batch_op:
        batch_op.drop_index('ix_local_payments_shopper_status')
        batch_op.drop_index('ix_local_payments_merchant_paid')

    op.drop_table('local_payments')
    op.drop_table('local_discount_uses')
