"""merchant insights: each merchant's sales by UTC hour, country, category, promotion and source, each
product's orders by day, and product page views and add-to-cart actions by day

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _tally() -> list[sa.Column]:  # type: ignore[type-arg]  # Alembic's columns
    return [sa.Column('orders', sa.Integer(), server_default='0', nullable=False),
            sa.Column('units', sa.Integer(), server_default='0', nullable=False),
            sa.Column('gmv_minor', ID, server_default='0', nullable=False),
            sa.Column('refunds_minor', ID, server_default='0', nullable=False),
            sa.Column('discount_minor', ID, server_default='0', nullable=False)]


def upgrade() -> None:
    op.create_table('merchant_sales',
    sa.Column('merchant_id', ID, autoincrement=False, nullable=False),
    sa.Column('hour', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('category_id', ID, autoincrement=False, nullable=False),
    sa.Column('category', sa.String(length=200), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('merchant_orders', sa.Integer(), server_default='0', nullable=False),
    *_tally(),
    sa.PrimaryKeyConstraint('merchant_id', 'hour', 'country', 'category_id', name=op.f('pk_merchant_sales'))
    )
    op.create_table('merchant_promotion_sales',
    sa.Column('merchant_id', ID, autoincrement=False, nullable=False),
    sa.Column('hour', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('promotion', sa.String(length=120), nullable=False),
    *_tally(),
    sa.PrimaryKeyConstraint('merchant_id', 'hour', 'promotion', name=op.f('pk_merchant_promotion_sales'))
    )
    op.create_table('merchant_source_sales',
    sa.Column('merchant_id', ID, autoincrement=False, nullable=False),
    sa.Column('hour', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('source', sa.String(length=80), nullable=False),
    *_tally(),
    sa.PrimaryKeyConstraint('merchant_id', 'hour', 'source', name=op.f('pk_merchant_source_sales'))
    )
    op.create_table('merchant_product_sales',
    sa.Column('merchant_id', ID, autoincrement=False, nullable=False),
    sa.Column('day', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('product_id', ID, autoincrement=False, nullable=False),
    *_tally(),
    sa.PrimaryKeyConstraint('merchant_id', 'day', 'product_id', name=op.f('pk_merchant_product_sales'))
    )
    op.create_table('merchant_visits',
    sa.Column('merchant_id', ID, autoincrement=False, nullable=False),
    sa.Column('day', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('product_id', ID, autoincrement=False, nullable=False),
    sa.Column('views', sa.Integer(), server_default='0', nullable=False),
    sa.Column('carts', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('merchant_id', 'day', 'product_id', name=op.f('pk_merchant_visits'))
    )


def downgrade() -> None:
    for table in ('merchant_visits', 'merchant_product_sales', 'merchant_source_sales',
                  'merchant_promotion_sales', 'merchant_sales'):
        op.drop_table(table)
