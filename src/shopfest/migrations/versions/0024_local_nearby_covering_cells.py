"""local: the cells' indexes cover the nearby search's read

A nearby search reads (id, lat, lng) of the shops in a few dozen cells, filtered by kind, festival
deal and category. With those columns in the cells' indexes the database answers from the index
alone, reading each cell's shops side by side instead of one table row at a time, and seeks straight
to a kind (`shopfest bench nearby`, benchmarks/README.md).

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

COVERED = ['kind', 'festival_deal', 'category_id', 'lat', 'lng', 'id']


def upgrade() -> None:
    with op.batch_alter_table('local_shops', schema=None) as batch_op:
        batch_op.drop_index('ix_local_shops_cell8')
        batch_op.drop_index('ix_local_shops_cell6')
        batch_op.create_index('ix_local_shops_cell8', ['cell8', *COVERED], unique=False)
        batch_op.create_index('ix_local_shops_cell6', ['cell6', *COVERED], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('local_shops', schema=None) as batch_op:
        batch_op.drop_index('ix_local_shops_cell6')
        batch_op.drop_index('ix_local_shops_cell8')
        batch_op.create_index('ix_local_shops_cell6', ['cell6'], unique=False)
        batch_op.create_index('ix_local_shops_cell8', ['cell8'], unique=False)
