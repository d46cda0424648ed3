"""screen: the big screen's shared read-only links

A row per link an operator made: the SHA-256 of its key, who made it, when it expires, when it was
revoked.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shopfest.core.db

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('screen_links',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('key_digest', sa.String(length=64), nullable=False),
    sa.Column('made_by', ID, nullable=False),
    sa.Column('made_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screen_links')),
    sa.UniqueConstraint('key_digest', name=op.f('uq_screen_links_key_digest'))
    )


def downgrade() -> None:
    op.drop_table('screen_links')
