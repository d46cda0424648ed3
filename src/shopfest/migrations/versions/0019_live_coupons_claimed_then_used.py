"""promotions: a coupon claimed until one time and used until another

A live coupon is claimed in the seconds its host gives it, then used at checkout until the show is
over: `claim_until` holds the first (None for every other coupon: claimed while its window lasts),
the window the second.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shopfest.core.db

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('coupons', sa.Column('claim_until', shopfest.core.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('coupons') as batch:
        batch.drop_column('claim_until')
