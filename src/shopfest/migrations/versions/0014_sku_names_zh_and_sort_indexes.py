"""an option's Chinese name (skus.name_zh), and indexes for searches sorted by debut or price

A SKU is named by its code ("black", "m"), which Chinese pages showed in English. A SKU may now carry
the option's Chinese name; without one, the code is shown as before. The storefront sorts a search by
newest debut or by price, paging after a (value, id) cursor: (debut_at, id) and (price_minor, id)
serve both.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('skus', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_zh', sa.String(length=64), nullable=True))
    op.create_index('ix_products_debut_sort', 'products', ['debut_at', 'id'], unique=False)
    op.create_index('ix_products_price_sort', 'products', ['price_minor', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_products_price_sort', table_name='products')
    op.drop_index('ix_products_debut_sort', table_name='products')
    with op.batch_alter_table('skus', schema=None) as batch_op:
        batch_op.drop_column('name_zh')
