"""the control room's flash sales on now: an index on when each ends

The festival overview lists the flash sales on now, ending soonest first; without an index on
`ends_at` that is a scan of every flash sale ever scheduled.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_flash_sales_ends', 'flash_sales', ['ends_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_flash_sales_ends', table_name='flash_sales')
