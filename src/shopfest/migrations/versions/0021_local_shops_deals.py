"""local: merchants' shops with their H3 cells, and the deals they sell online as vouchers

A nearby search reads shops by the H3 cell of their place at two resolutions (cell8, cell6), each an
ordinary indexed integer column, the same on SQLite and PostgreSQL (see shopfest/local/cells.py).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shopfest.core.db

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('local_deals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('product_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sku_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('valid_days', sa.Integer(), nullable=False),
    sa.Column('valid_until', shopfest.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('face_value', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('festival', sa.Boolean(), nullable=False),
    sa.Column('created_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_local_deals')),
    sa.UniqueConstraint('sku_id', name=op.f('uq_local_deals_sku_id'))
    )
    with op.batch_alter_table('local_deals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_local_deals_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('local_shops',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('name_zh', sa.String(length=80), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lng', sa.Float(), nullable=False),
    sa.Column('cell8', sa.BigInteger(), nullable=False),
    sa.Column('cell6', sa.BigInteger(), nullable=False),
    sa.Column('zone', sa.String(length=40), nullable=False),
    sa.Column('hours', sa.JSON(), nullable=True),
    sa.Column('category_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('festival_deal', sa.Boolean(), nullable=False),
    sa.Column('pay_token', sa.String(length=40), nullable=True),
    sa.Column('created_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_local_shops')),
    sa.UniqueConstraint('pay_token', name=op.f('uq_local_shops_pay_token'))
    )
    with op.batch_alter_table('local_shops', schema=None) as batch_op:
        batch_op.create_index('ix_local_shops_cell6', ['cell6'], unique=False)
        batch_op.create_index('ix_local_shops_cell8', ['cell8'], unique=False)
        batch_op.create_index('ix_local_shops_merchant_id', ['merchant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('local_shops', schema=None) as batch_op:
        batch_op.drop_index('ix_local_shops_merchant_id')
        batch_op.drop_index('ix_local_shops_cell8')
        batch_op.drop_index('ix_local_shops_cell6')

    op.drop_table('local_shops')
    with op.batch_alter_table('local_deals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_local_deals_merchant_id'))

    op.drop_table('local_deals')
