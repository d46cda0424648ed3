"""Live tables: events and their segments, shoppers' reminders, and each room's record (chat messages,
moments such as pins, coupon drops and deals, and moderators' sanctions), which replays read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)

from shopfest.core.db import Id, UtcDateTime, metadata
from shopfest.live.model import EventStatus, LiveEvent, Segment, SegmentKind

live_events = Table(
    "live_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("title", String(140), nullable=False),
    Column("language", String(5), nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("status", String(10), nullable=False),
    Column("brand_ids", JSON, nullable=False),
    Column("host_ids", JSON, nullable=False),
    Column("moderator_ids", JSON, nullable=False),
    Column("playback_url", String(500), nullable=True),
    Column("poster_url", String(500), nullable=True),
    Column("went_live_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("slow_mode_seconds", Integer, nullable=False, default=0),
    Column("pinned_product_id", Id, nullable=True),
    Index("ix_live_events_starts_at", "starts_at"),
)

live_segments = Table(
    "live_segments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", Id, ForeignKey("live_events.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("title", String(140), nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("product_ids", JSON, nullable=False),
    Index("ix_live_segments_event", "event_id", "position"),
)

live_reminders = Table(
    "live_reminders",
    metadata,
    Column("event_id", Id, ForeignKey("live_events.id"), primary_key=True, autoincrement=False),
    Column("shopper_id", Id, primary_key=True, autoincrement=False),
    Column("asked_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Index("ix_live_reminders_unsent", "event_id", "sent_at"),  # the sweeper's look: any still unsent?
)

# Chat, as posted; `hidden` by a moderator (or by a ban of its author). Replays read it by offset.
live_messages = Table(
    "live_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", Id, ForeignKey("live_events.id"), nullable=False),
    Column("author_id", Id, nullable=False),
    Column("author_name", String(80), nullable=False),
    Column("text", String(400), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("offset_ms", BigInteger, nullable=False),
    Column("hidden", Boolean, nullable=False, default=False),
    Column("author_role", String(10), nullable=True),  # the room role it was posted with (0017)
    Index("ix_live_messages_event", "event_id", "id"),
    Index("ix_live_messages_author", "event_id", "author_id"),
)

# Everything else a replay shows at its moment: pins and unpins, coupon drops, deals, going live, the end.
live_moments = Table(
    "live_moments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", Id, ForeignKey("live_events.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("offset_ms", BigInteger, nullable=False),
    Index("ix_live_moments_event", "event_id", "id"),
)

# A moderator's mute (until a time) or ban (for the rest of the event: `until` is None).
live_sanctions = Table(
    "live_sanctions",
    metadata,
    Column("event_id", Id, ForeignKey("live_events.id"), primary_key=True, autoincrement=False),
    Column("user_id", Id, primary_key=True, autoincrement=False),
    Column("kind", String(5), primary_key=True),
    Column("until", UtcDateTime, nullable=True),
    Column("by_id", Id, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)


def _event(r: Any, segments: Sequence[Segment]) -> LiveEvent:
    return LiveEvent(
        r.title, r.language, r.starts_at, r.ends_at, tuple(r.brand_ids), tuple(r.host_ids),
        tuple(r.moderator_ids), tuple(segments), r.playback_url, r.poster_url, EventStatus(r.status),
        r.went_live_at, r.ended_at, r.slow_mode_seconds, r.pinned_product_id, r.id)


def _segment(r: Any) -> Segment:
    return Segment(SegmentKind(r.kind), r.title, r.starts_at, tuple(r.product_ids))


def _event_row(e: LiveEvent) -> dict[str, Any]:
    return {"title": e.title, "language": e.language, "starts_at": e.starts_at, "ends_at": e.ends_at,
            "status": e.status.value, "brand_ids": list(e.brand_ids), "host_ids": list(e.host_ids),
            "moderator_ids": list(e.moderator_ids), "playback_url": e.playback_url,
            "poster_url": e.poster_url, "went_live_at": e.went_live_at, "ended_at": e.ended_at,
            "slow_mode_seconds": e.slow_mode_seconds, "pinned_product_id": e.pinned_product_id}


class LiveStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- events ---

    def add_event(self, event: LiveEvent) -> int:
        added = self.conn.execute(insert(live_events).values(**_event_row(event)))
        event_id = int(added.inserted_primary_key[0])  # type: ignore[index]  # set by every INSERT
        self._put_segments(event_id, event.segments)
        return event_id

    def save_event(self, event: LiveEvent) -> None:
        """Write the event back, its segments too."""
        assert event.id is not None
        self.conn.execute(update(live_events).where(live_events.c.id == event.id).values(**_event_row(event)))
        self.conn.execute(delete(live_segments).where(live_segments.c.event_id == event.id))
        self._put_segments(event.id, event.segments)

    def _put_segments(self, event_id: int, segments: Sequence[Segment]) -> None:
        if segments:
            self.conn.execute(insert(live_segments), [
                {"event_id": event_id, "position": n, "kind": s.kind.value, "title": s.title,
                 "starts_at": s.starts_at, "product_ids": list(s.product_ids)}
                for n, s in enumerate(segments)])

    def event(self, event_id: int, *, for_update: bool = False) -> LiveEvent | None:
        query = select(live_events).where(live_events.c.id == event_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            return None
        return _event(row, self._segments([event_id]).get(event_id, []))

    def events_between(self, start: datetime, end: datetime, *, limit: int) -> list[LiveEvent]:
        """Events that overlap [start, end), earliest first."""
        rows = self.conn.execute(select(live_events).where(
            live_events.c.starts_at < end, live_events.c.ends_at > start)
            .order_by(live_events.c.starts_at, live_events.c.id).limit(limit)).all()
        segments = self._segments([r.id for r in rows])
        return [_event(r, segments.get(r.id, [])) for r in rows]

    def _segments(self, event_ids: Sequence[int]) -> dict[int, list[Segment]]:
        found: dict[int, list[Segment]] = {}
        if not event_ids:
            return found
        rows = self.conn.execute(select(live_segments).where(live_segments.c.event_id.in_(event_ids))
                                 .order_by(live_segments.c.event_id, live_segments.c.position))
        for r in rows:
            found.setdefault(r.event_id, []).append(_segment(r))
        return found

    def due_to_start(self, now: datetime, *, limit: int) -> list[int]:
        """Scheduled events whose start has come."""
        return list(self.conn.execute(select(live_events.c.id).where(
            live_events.c.status == EventStatus.SCHEDULED.value, live_events.c.starts_at <= now)
            .order_by(live_events.c.starts_at).limit(limit)).scalars())

    # --- reminders ---

    def remind(self, event_id: int, shopper_id: int, *, now: datetime) -> bool:
        """Ask for a reminder once; False when already asked."""
        if self.reminded(event_id, shopper_id):
            return False
        self.conn.execute(insert(live_reminders).values(event_id=event_id, shopper_id=shopper_id,
                                                        asked_at=now))
        return True

    def forget_reminder(self, event_id: int, shopper_id: int) -> None:
        self.conn.execute(delete(live_reminders).where(
            live_reminders.c.event_id == event_id, live_reminders.c.shopper_id == shopper_id))

    def reminded(self, event_id: int, shopper_id: int) -> bool:
        asked = self.conn.execute(select(live_reminders.c.event_id).where(
            live_reminders.c.event_id == event_id, live_reminders.c.shopper_id == shopper_id)).first()
        return asked is not None

    def take_unsent_reminders(self, event_id: int, *, now: datetime) -> list[int]:
        """The shoppers still to remind of the event, marked sent in the same transaction."""
        unsent = and_(live_reminders.c.event_id == event_id, live_reminders.c.sent_at.is_(None))
        shoppers = list(self.conn.execute(select(live_reminders.c.shopper_id).where(unsent)).scalars())
        self.conn.execute(update(live_reminders).where(unsent).values(sent_at=now))
        return shoppers

    # --- the room's record ---

    def add_message(self, *, event_id: int, author_id: int, author_name: str, text: str, at: datetime,
                    offset_ms: int, author_role: str | None = None) -> int:
        return int(self.conn.execute(insert(live_messages).values(
            event_id=event_id, author_id=author_id, author_name=author_name, text=text, at=at,
            offset_ms=offset_ms, hidden=False, author_role=author_role,
        )).inserted_primary_key[0])  # type: ignore[index]  # as above

    def hide_message(self, event_id: int, message_id: int) -> bool:
        """False when the event holds no such message."""
        done = self.conn.execute(update(live_messages).where(
            live_messages.c.event_id == event_id, live_messages.c.id == message_id).values(hidden=True))
        return bool(done.rowcount)

    def hide_messages_of(self, event_id: int, author_id: int) -> list[int]:
        """Hide every message of one author in the event; the ids hidden."""
        mine = and_(live_messages.c.event_id == event_id, live_messages.c.author_id == author_id,
                    live_messages.c.hidden.is_(False))
        ids = list(self.conn.execute(select(live_messages.c.id).where(mine)).scalars())
        self.conn.execute(update(live_messages).where(mine).values(hidden=True))
        return ids

    def messages(self, event_id: int, *, after_id: int = 0, limit: int = 100,
                 visible_only: bool = True) -> list[Any]:
        query = select(live_messages).where(live_messages.c.event_id == event_id,
                                            live_messages.c.id > after_id)
        if visible_only:
            query = query.where(live_messages.c.hidden.is_(False))
        return list(self.conn.execute(query.order_by(live_messages.c.id).limit(limit)))

    def latest_messages(self, event_id: int, *, limit: int) -> list[Any]:
        """The newest visible messages, oldest first."""
        rows = self.conn.execute(select(live_messages).where(
            live_messages.c.event_id == event_id, live_messages.c.hidden.is_(False))
            .order_by(live_messages.c.id.desc()).limit(limit)).all()
        return list(rows[::-1])

    def add_moment(self, *, event_id: int, kind: str, payload: dict[str, Any], at: datetime,
                   offset_ms: int) -> int:
        added = self.conn.execute(insert(live_moments).values(
            event_id=event_id, kind=kind, payload=payload, at=at, offset_ms=offset_ms))
        return int(added.inserted_primary_key[0])  # type: ignore[index]  # set by every INSERT

    def moments(self, event_id: int, *, kinds: Sequence[str] | None = None, limit: int = 1000) -> list[Any]:
        query = select(live_moments).where(live_moments.c.event_id == event_id)
        if kinds:
            query = query.where(live_moments.c.kind.in_(kinds))
        return list(self.conn.execute(query.order_by(live_moments.c.id).limit(limit)))

    # --- sanctions ---

    def sanction(self, *, event_id: int, user_id: int, kind: str, until: datetime | None, by_id: int,
                 at: datetime) -> None:
        self.conn.execute(delete(live_sanctions).where(
            live_sanctions.c.event_id == event_id, live_sanctions.c.user_id == user_id,
            live_sanctions.c.kind == kind))
        self.conn.execute(insert(live_sanctions).values(event_id=event_id, user_id=user_id, kind=kind,
                                                        until=until, by_id=by_id, at=at))

    def lift(self, *, event_id: int, user_id: int, kind: str) -> None:
        self.conn.execute(delete(live_sanctions).where(
            live_sanctions.c.event_id == event_id, live_sanctions.c.user_id == user_id,
            live_sanctions.c.kind == kind))

    def sanctions_on(self, event_id: int, user_id: int, *, now: datetime) -> dict[str, datetime | None]:
        """The sanctions in force on one user in the event: kind → until (None: for good)."""
        rows = self.conn.execute(select(live_sanctions.c.kind, live_sanctions.c.until).where(
            live_sanctions.c.event_id == event_id, live_sanctions.c.user_id == user_id,
            or_(live_sanctions.c.until.is_(None), live_sanctions.c.until > now)))
        return {r.kind: r.until for r in rows}

    # --- the schedule, paged ---

    def schedule(self, start: datetime, end: datetime, *, status: EventStatus | None = None,
                 after: tuple[datetime, int] | None = None, limit: int) -> list[LiveEvent]:
        """Events that overlap [start, end), by start then id; after the (start, id) of a page's last."""
        query = select(live_events).where(live_events.c.starts_at < end, live_events.c.ends_at > start)
        if status is not None:
            query = query.where(live_events.c.status == status.value)
        if after is not None:
            query = query.where(or_(live_events.c.starts_at > after[0],
                                    and_(live_events.c.starts_at == after[0], live_events.c.id > after[1])))
        rows = self.conn.execute(query.order_by(live_events.c.starts_at, live_events.c.id).limit(limit)).all()
        segments = self._segments([r.id for r in rows])
        return [_event(r, segments.get(r.id, [])) for r in rows]

    def reminders_due(self, now: datetime, *, limit: int) -> list[tuple[int, str]]:
        """(id, title) of events on now (their start come, their end not) with reminders still unsent:
        an event over, or ended early, tells nobody it is live."""
        unsent = select(live_reminders.c.event_id).where(
            live_reminders.c.event_id == live_events.c.id, live_reminders.c.sent_at.is_(None))
        return [(r.id, r.title) for r in self.conn.execute(
            select(live_events.c.id, live_events.c.title).where(
                live_events.c.starts_at <= now, live_events.c.ends_at > now,
                live_events.c.status != EventStatus.ENDED.value, unsent.exists())
            .order_by(live_events.c.starts_at).limit(limit))]

    def reminded_of(self, shopper_id: int, event_ids: Sequence[int]) -> set[int]:
        """Which of `event_ids` the shopper asked to be reminded of."""
        if not event_ids:
            return set()
        return set(self.conn.execute(select(live_reminders.c.event_id).where(
            live_reminders.c.shopper_id == shopper_id, live_reminders.c.event_id.in_(event_ids))).scalars())


def set_slow_mode(conn: Connection, event_id: int, seconds: int) -> None:
    """The room's slow mode, alone (the event's other columns and its segments untouched)."""
    conn.execute(update(live_events).where(live_events.c.id == event_id).values(slow_mode_seconds=seconds))


def write_pin(store: LiveStore, event_id: int, product_id: int | None) -> None:
    """The event's pinned product (None: nothing pinned), its segments left as they are."""
    store.conn.execute(update(live_events).where(live_events.c.id == event_id)
                       .values(pinned_product_id=product_id))
