"""order and child order ids are handed out in blocks of 100 on PostgreSQL

At the midnight peak a batch of thousands of orders asked its two sequences for one id per row,
a few milliseconds of every batch. With the sequences stepping by 100, each value starts a block of
100 ids that belongs to whoever drew it (`orders.store.ID_BLOCK`), so a batch draws one value per
100 rows. A row inserted with the column's default still takes a fresh value, and so skips the rest
of its block: ids stay unique and ascending, not consecutive. SQLite is unchanged: there a batch
holds the write lock and numbers its rows on from the largest id.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SEQUENCES = ('orders_id_seq', 'merchant_orders_id_seq')
BLOCK = 100  # as `orders.store.ID_BLOCK` was when this was written; a migration does not change


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for sequence in SEQUENCES:
            op.execute(f'ALTER SEQUENCE {sequence} INCREMENT BY {BLOCK}')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for sequence in SEQUENCES:  # the last block drawn may be partly used: start past its end
            op.execute(f'ALTER SEQUENCE {sequence} INCREMENT BY 1')
            op.execute(f'SELECT setval(\'{sequence}\', last_value + {BLOCK - 1}) FROM {sequence}')
