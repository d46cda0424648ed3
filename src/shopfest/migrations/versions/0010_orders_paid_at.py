"""orders: when each payment of an order succeeded, for the shopper's timeline

The shopper's order page shows when an order (or its deposit, or its balance) was paid; the intent's
updated_at moves on with every refund, so the moment it succeeded is kept in a column of its own.
Intents paid before this migration have none; the page then shows the step without its time.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shopfest.core.db

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paid_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.drop_column('paid_at')
