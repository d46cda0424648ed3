"""live: events and segments, reminders, each room's record (chat, moments, sanctions); orders' source
and live coupons' scope

A live event's room records what a replay shows: chat messages (hidden by moderators, or by a ban of
their author) and moments (pins, coupon drops, deals) with their offset from going live. Orders placed
from somewhere (`live:12`: a room) say so in order_sources, for the sales attributed to it; a
coupon may be scoped to some SKUs and to the room it was dropped in.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shopfest.core.db

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('live_events',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('title', sa.String(length=140), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('starts_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('brand_ids', sa.JSON(), nullable=False),
    sa.Column('host_ids', sa.JSON(), nullable=False),
    sa.Column('moderator_ids', sa.JSON(), nullable=False),
    sa.Column('playback_url', sa.String(length=500), nullable=True),
    sa.Column('poster_url', sa.String(length=500), nullable=True),
    sa.Column('went_live_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('slow_mode_seconds', sa.Integer(), nullable=False),
    sa.Column('pinned_product_id', Id, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_events'))
    )
    op.create_index('ix_live_events_starts_at', 'live_events', ['starts_at'], unique=False)
    op.create_table('live_messages',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('event_id', Id, nullable=False),
    sa.Column('author_id', Id, nullable=False),
    sa.Column('author_name', sa.String(length=80), nullable=False),
    sa.Column('text', sa.String(length=400), nullable=False),
    sa.Column('at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('offset_ms', sa.BigInteger(), nullable=False),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['live_events.id'], name=op.f('fk_live_messages_event_id_live_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_messages'))
    )
    op.create_index('ix_live_messages_author', 'live_messages', ['event_id', 'author_id'], unique=False)
    op.create_index('ix_live_messages_event', 'live_messages', ['event_id', 'id'], unique=False)
    op.create_table('live_moments',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('event_id', Id, nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('offset_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['live_events.id'], name=op.f('fk_live_moments_event_id_live_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_moments'))
    )
    op.create_index('ix_live_moments_event', 'live_moments', ['event_id', 'id'], unique=False)
    op.create_table('live_reminders',
    sa.Column('event_id', Id, autoincrement=False, nullable=False),
    sa.Column('shopper_id', Id, autoincrement=False, nullable=False),
    sa.Column('asked_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['live_events.id'], name=op.f('fk_live_reminders_event_id_live_events')),
    sa.PrimaryKeyConstraint('event_id', 'shopper_id', name=op.f('pk_live_reminders'))
    )
    op.create_table('live_sanctions',
    sa.Column('event_id', Id, autoincrement=False, nullable=False),
    sa.Column('user_id', Id, autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=5), nullable=False),
    sa.Column('until', shopfest.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('by_id', Id, nullable=False),
    sa.Column('at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['live_events.id'], name=op.f('fk_live_sanctions_event_id_live_events')),
    sa.PrimaryKeyConstraint('event_id', 'user_id', 'kind', name=op.f('pk_live_sanctions'))
    )
    op.create_table('live_segments',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('event_id', Id, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=140), nullable=False),
    sa.Column('starts_at', shopfest.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('product_ids', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['live_events.id'], name=op.f('fk_live_segments_event_id_live_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_segments'))
    )
    op.create_index('ix_live_segments_event', 'live_segments', ['event_id', 'position'], unique=False)
    op.add_column('coupons', sa.Column('sku_ids', sa.JSON(), nullable=True))
    op.add_column('coupons', sa.Column('live_event_id', Id, nullable=True))
    op.create_table('order_sources',
    sa.Column('order_id', Id, autoincrement=False, nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_order_sources'))
    )
    op.create_index('ix_order_sources_source', 'order_sources', ['source', 'order_id'], unique=False)


def downgrade() -> None:
    op.drop_table('order_sources')
    op.drop_column('coupons', 'live_event_id')
    op.drop_column('coupons', 'sku_ids')
    for table in ('live_segments', 'live_sanctions', 'live_reminders', 'live_moments', 'live_messages',
                  'live_events'):
        op.drop_table(table)
