"""an option's Chinese name: skus.name_zh

A SKU is named by its code ("black", "m"), which Chinese pages showed in English. A SKU may now carry
the option's Chinese name; without one, the code is shown as before.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('skus', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_zh', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('skus', schema=None) as batch_op:
        batch_op.drop_column('name_zh')
