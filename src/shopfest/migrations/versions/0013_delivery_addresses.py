"""delivery addresses: the shopper's address book, and the copy of one an order keeps

A shopper keeps delivery addresses (name, phone, country, city, street lines, postcode) and chooses
one at checkout for shipped goods. The order keeps a copy of the address as it was then, in a table
of its own, so that the order rows the checkout writes by the thousand stay as they were.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'delivery_addresses',
        sa.Column('id', _id(), autoincrement=True, nullable=False),
        sa.Column('shopper_id', _id(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('phone', sa.String(length=16), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('city', sa.String(length=80), nullable=False),
        sa.Column('line1', sa.String(length=120), nullable=False),
        sa.Column('line2', sa.String(length=120), nullable=False),
        sa.Column('postcode', sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_delivery_addresses_shopper_id', 'delivery_addresses', ['shopper_id'], unique=False)
    op.create_table(
        'order_deliveries',
        sa.Column('order_id', _id(), autoincrement=False, nullable=False),
        sa.Column('address', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('order_id'),
    )


def downgrade() -> None:
    op.drop_table('order_deliveries')
    op.drop_index('ix_delivery_addresses_shopper_id', table_name='delivery_addresses')
    op.drop_table('delivery_addresses')
