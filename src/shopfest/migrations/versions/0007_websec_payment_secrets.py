"""secrets kept with the database: the demo's webhook secret

`serve` no longer has a webhook secret written in the source; `demo` makes one at random for each
database and keeps it here, so a demo started again on the same database still checks the webhooks
its sandbox signed before.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shopfest.core.db import UtcDateTime

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'payment_secrets',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('secret', sa.String(length=200), nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('payment_secrets')
