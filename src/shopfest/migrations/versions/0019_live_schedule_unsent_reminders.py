"""live: an index on each event's reminders by whether they were sent

The sweeper asks every few seconds whether an event on now has reminders still to send; with this
index that is one look per event, not a walk over the (perhaps millions of) reminders already sent.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_live_reminders_unsent', 'live_reminders', ['event_id', 'sent_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_live_reminders_unsent', table_name='live_reminders')
