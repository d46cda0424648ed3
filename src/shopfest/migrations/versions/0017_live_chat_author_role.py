"""live: a chat message keeps the room role its author posted it with

A newcomer's welcome shows the recent chat with each author's role (host, moderator, shopper) as the
room showed it when posted; an operator's role cannot be worked out from the event afterwards.
Messages before this migration have none and read as a shopper's.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('live_messages') as batch:
        batch.add_column(sa.Column('author_role', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('live_messages') as batch:
        batch.drop_column('author_role')
