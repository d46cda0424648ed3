"""a flash sale's buyer rows carry its per-shopper limit, and refuse to hold more

With Redis deciding the checkout, the stock and flash sale rows refused any oversold unit whatever
Redis said, but a shopper's units of a flash sale were kept under the limit by Redis alone. Counters
loaded again from the rows (a restarted Redis, `shopfest stock recount`) miss a batch decided but
not yet written, and could then let its shopper past the limit. Each buyer row now copies the
sale's limit when it is first written, and a CHECK keeps its units within it. Rows already past
their limit keep what they hold as theirs.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('flash_buyers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('per_shopper_limit', sa.BigInteger(), nullable=True))
    op.execute(
        'UPDATE flash_buyers SET per_shopper_limit = (SELECT CASE WHEN flash_buyers.qty > s.per_shopper_limit '
        'THEN flash_buyers.qty ELSE s.per_shopper_limit END FROM flash_sales s WHERE s.id = flash_buyers.flash_sale_id)')
    with op.batch_alter_table('flash_buyers', schema=None) as batch_op:
        batch_op.alter_column('per_shopper_limit', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_check_constraint('flash_buyer_within_limit', 'qty <= per_shopper_limit')


def downgrade() -> None:
    with op.batch_alter_table('flash_buyers', schema=None) as batch_op:
        batch_op.drop_constraint('flash_buyer_within_limit', type_='check')
        batch_op.drop_column('per_shopper_limit')
