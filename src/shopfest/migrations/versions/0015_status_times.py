"""orders: when each part moved to a state, and the parts the sweeper completes

The shopper's timeline shows when a part was cancelled, completed, refunded or forfeited its deposit:
the services that move a part after checkout write a row to status_changes (checkout writes none; a
part is placed with its order). A table rather than a column per state: a part may be partly refunded
again and again, and the rows placed at the peak stay as narrow as they were. Parts moved before this
migration have no rows; the page then shows the state without its time.

A partial index holds the parts shipped and not yet completed or refunded, which the sweeper completes
SHOPFEST_AUTO_COMPLETE_DAYS after shipping; a part placed at the peak is not in it.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shopfest.core.db

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
RECEIVABLE = "status IN ('fulfilled', 'partially_refunded')"


def upgrade() -> None:
    op.create_table('status_changes',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('merchant_order_id', Id, nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merchant_order_id'], ['merchant_orders.id'],
                            name=op.f('fk_status_changes_merchant_order_id_merchant_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_changes'))
    )
    with op.batch_alter_table('status_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_changes_merchant_order_id'), ['merchant_order_id'],
                              unique=False)
    op.create_index('ix_merchant_orders_receivable', 'merchant_orders', ['id'], unique=False,
                    sqlite_where=sa.text(RECEIVABLE), postgresql_where=sa.text(RECEIVABLE))


def downgrade() -> None:
    op.drop_index('ix_merchant_orders_receivable', table_name='merchant_orders')
    with op.batch_alter_table('status_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_status_changes_merchant_order_id'))
    op.drop_table('status_changes')
