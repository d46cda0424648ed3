"""insights: the events counted once each, and the big screen's running figures

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('insights_counted',
    sa.Column('consumer', sa.String(length=20), nullable=False),
    sa.Column('event_id', ID, autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'event_id', name=op.f('pk_insights_counted'))
    )
    op.create_table('insights_totals',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_insights_totals'))
    )
    op.create_table('insights_seconds',
    sa.Column('second', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('orders', sa.BigInteger(), nullable=False),
    sa.Column('gmv_minor', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('second', name=op.f('pk_insights_seconds'))
    )
    op.create_table('insights_breakdowns',
    sa.Column('dimension', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('gmv_minor', sa.BigInteger(), nullable=False),
    sa.Column('orders', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('dimension', 'key', name=op.f('pk_insights_breakdowns'))
    )
    op.create_index('ix_insights_breakdowns_top', 'insights_breakdowns', ['dimension', 'gmv_minor'], unique=False)
    op.create_table('insights_shoppers',
    sa.Column('shopper_id', ID, autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('shopper_id', name=op.f('pk_insights_shoppers'))
    )


def downgrade() -> None:
    op.drop_table('insights_shoppers')
    op.drop_index('ix_insights_breakdowns_top', table_name='insights_breakdowns')
    op.drop_table('insights_breakdowns')
    op.drop_table('insights_seconds')
    op.drop_table('insights_totals')
    op.drop_table('insights_counted')
