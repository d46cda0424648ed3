"""Live use cases: scheduling events, going live and ending, and what a room records for its replay."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.errors import NotFound
from shopfest.core.events import DomainEvent
from shopfest.core.uow import UnitOfWork
from shopfest.live.model import LiveEvent, RoomRole, require_room_role, role_in
from shopfest.live.store import LiveStore

EVENTS_LISTED = 200


@dataclass(frozen=True)
class LiveEventStarted(DomainEvent):
    """The host went live (or the schedule's start came): reminders go out."""

    event_id: int
    title: str


def find_event(uow: UnitOfWork, event_id: int) -> LiveEvent | None:
    with uow:
        return LiveStore(uow.conn).event(event_id)


def get_event(uow: UnitOfWork, event_id: int) -> LiveEvent:
    """Raises NotFound."""
    found = find_event(uow, event_id)
    if found is None:
        raise NotFound(f"no live event {event_id}", event_id=event_id)
    return found


def events_between(uow: UnitOfWork, start: datetime, end: datetime, *,
                   limit: int = EVENTS_LISTED) -> list[LiveEvent]:
    """The events on the schedule that overlap [start, end), earliest first."""
    with uow:
        return LiveStore(uow.conn).events_between(start, end, limit=limit)


def schedule_event(uow: UnitOfWork, actor: Actor | None, event: LiveEvent) -> LiveEvent:
    """An operator puts an event on the schedule. Raises Unauthenticated, Forbidden, InvalidInput."""
    require_role(actor, Role.OPERATOR)
    with uow:
        event_id = LiveStore(uow.conn).add_event(event)
        uow.commit()
    return replace(event, id=event_id)


def _host_moves(uow: UnitOfWork, actor: Actor | None, event_id: int) -> tuple[LiveStore, LiveEvent]:
    """The event, locked, when `actor` is one of its hosts or an operator. Raises Unauthenticated,
    NotFound, NotAllowedHere."""
    store = LiveStore(uow.conn)
    event = store.event(event_id, for_update=True)
    if event is None:
        raise NotFound(f"no live event {event_id}", event_id=event_id)
    if actor is None or not actor.is_operator:
        require_room_role(role_in(event, actor), RoomRole.HOST)
    return store, event


def go_live(uow: UnitOfWork, actor: Actor | None, event_id: int) -> LiveEvent:
    """The host starts the show; replays count offsets from now. Raises NotFound, NotAllowedHere,
    RoomClosed."""
    with uow:
        store, event = _host_moves(uow, actor, event_id)
        live = event.go_live(uow.clock.now())
        if live is not event:
            store.save_event(live)
            record(store, live, "status", {"status": live.status.value}, at=uow.clock.now())
            uow.emit(LiveEventStarted(event_id, live.title))
        uow.commit()
    return live


def end_event(uow: UnitOfWork, actor: Actor | None, event_id: int) -> LiveEvent:
    """The host ends the show: the room closes to chat and buying, and the replay opens.
    Raises NotFound, NotAllowedHere, Conflict."""
    with uow:
        store, event = _host_moves(uow, actor, event_id)
        ended = event.end(uow.clock.now())
        store.save_event(ended)
        record(store, ended, "status", {"status": ended.status.value}, at=uow.clock.now())
        uow.commit()
    return ended


def record(store: LiveStore, event: LiveEvent, kind: str, payload: dict[str, Any], *, at: datetime) -> int:
    """Keep a moment of the room for its replay, at its offset from going live (inside the caller's
    transaction)."""
    assert event.id is not None
    return store.add_moment(event_id=event.id, kind=kind, payload=payload, at=at,
                            offset_ms=event.offset_ms(at))


@dataclass(frozen=True)
class ReplayMessage:
    """A chat message as the replay shows it, at its offset from going live."""

    author_name: str
    text: str
    at: datetime
    offset_ms: int


@dataclass(frozen=True)
class ReplayMoment:
    """Something the room showed at its offset: a pin, a coupon drop, a deal, going live, the end."""

    kind: str
    payload: dict[str, Any]
    offset_ms: int


@dataclass(frozen=True)
class Replay:
    event: LiveEvent
    messages: tuple[ReplayMessage, ...]
    moments: tuple[ReplayMoment, ...]

    @property
    def pins(self) -> tuple[ReplayMoment, ...]:
        """The shoppable timestamps: each moment a product was pinned, in order."""
        return tuple(m for m in self.moments if m.kind == "pin")


REPLAY_MESSAGES = 2000  # a replay's chat, from the start; a longer chat is cut there
REPLAY_MOMENTS = 1000


def replay_of(uow: UnitOfWork, event_id: int) -> Replay:
    """What a replay shows: the event, its chat as posted and not hidden, and its moments, each at its
    offset from going live. Raises NotFound."""
    with uow:
        store = LiveStore(uow.conn)
        event = store.event(event_id)
        if event is None:
            raise NotFound(f"no live event {event_id}", event_id=event_id)
        messages = store.messages(event_id, limit=REPLAY_MESSAGES)
        moments = store.moments(event_id, limit=REPLAY_MOMENTS)
    return Replay(
        event,
        tuple(ReplayMessage(m.author_name, m.text, m.at, m.offset_ms) for m in messages),
        tuple(ReplayMoment(m.kind, dict(m.payload or {}), m.offset_ms) for m in moments))
