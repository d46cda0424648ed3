"""the seller centre: a picture per product, and a record of every stock intake and correction

`product_images` names the keys of each product's thumbnails in the picture storage (local disk by
default, SHOPFEST_MEDIA_DIR); `stock_adjustments` keeps what a merchant's staff received or set by a
stock-take, with the reason and who did it.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shopfest.core.db

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'product_images',
        sa.Column('product_id', ID, autoincrement=False, nullable=False),
        sa.Column('card_key', sa.String(length=200), nullable=False),
        sa.Column('page_key', sa.String(length=200), nullable=False),
        sa.Column('uploaded_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['products.id']),
        sa.PrimaryKeyConstraint('product_id'),
    )
    op.create_table(
        'stock_adjustments',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('sku_id', ID, nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('change', sa.BigInteger(), nullable=False),
        sa.Column('on_hand', sa.BigInteger(), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('staff_id', ID, nullable=False),
        sa.Column('made_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['sku_id'], ['skus.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_stock_adjustments_sku', 'stock_adjustments', ['sku_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_stock_adjustments_sku', table_name='stock_adjustments')
    op.drop_table('stock_adjustments')
    op.drop_table('product_images')
