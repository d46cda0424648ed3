"""orders: the units an order placed from somewhere holds, beside its source

A live room tells its viewers, every second while it changes, how many orders and units it has sold:
with the units on the order's source row, that is one read of the source's rows, never of the
orders' lines. Rows written before this migration count no units.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('order_sources') as table:
        table.add_column(sa.Column('units', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('order_sources') as table:
        table.drop_column('units')
