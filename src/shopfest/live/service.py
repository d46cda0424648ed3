"""Live use cases: scheduling events, going live and ending, and what a room records for its replay."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.errors import NotFound, Unauthenticated
from shopfest.core.events import DomainEvent
from shopfest.core.uow import UnitOfWork
from shopfest.live.model import (
    Banned,
    Counter,
    EventStatus,
    LiveEvent,
    NotAllowedHere,
    RoomClosed,
    RoomRole,
    pin,
    require_room_role,
    role_in,
    unpin,
)
from shopfest.live.store import LiveStore, write_pin

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


def pin_product(uow: UnitOfWork, actor: Actor | None, event_id: int, *, product_id: int,
                brand_id: int, card: dict[str, Any]) -> LiveEvent:
    """A host of the event (or an operator) pins one of its products (model.features); the replay
    keeps the moment with the card shown. Raises NotFound, NotAllowedHere, RoomClosed, InvalidInput."""
    with uow:
        store, event = _host_moves(uow, actor, event_id)
        pinned = pin(event, product_id=product_id, brand_id=brand_id)
        write_pin(store, event_id, product_id)
        record(store, pinned, "pin", {"product": card}, at=uow.clock.now())
        uow.commit()
    return pinned


def unpin_product(uow: UnitOfWork, actor: Actor | None, event_id: int) -> LiveEvent:
    """A host of the event (or an operator) takes the pinned product down. Raises NotFound,
    NotAllowedHere, RoomClosed."""
    with uow:
        store, event = _host_moves(uow, actor, event_id)
        unpinned = unpin(event)
        write_pin(store, event_id, None)
        record(store, unpinned, "unpin", {"product_id": event.pinned_product_id}, at=uow.clock.now())
        uow.commit()
    return unpinned


def check_shopping(uow: UnitOfWork, event_id: int, user_id: int) -> None:
    """A viewer may buy in the room while the event has not ended and no moderator banned them.
    Raises NotFound, RoomClosed, Banned."""
    with uow:
        store = LiveStore(uow.conn)
        event = store.event(event_id)
        if event is None:
            raise NotFound(f"no live event {event_id}", event_id=event_id)
        if event.status is EventStatus.ENDED:
            raise RoomClosed("this event has ended: no more buying here", event_id=event_id)
        if "ban" in store.sanctions_on(event_id, user_id, now=uow.clock.now()):
            raise Banned("a moderator banned you from this room")


def source_of(event_id: int) -> str:
    """What orders placed in the event's room say they were placed from."""
    return f"live:{event_id}"


def event_sales(uow: UnitOfWork, actor: Actor | None, event_id: int, *, counter: Counter) -> dict[str, Any]:
    """What the orders placed in the event's room sold, paid and unpaid, for its hosts and operators.
    Raises Unauthenticated, NotFound, NotAllowedHere."""
    if actor is None:
        raise Unauthenticated("sign in first")
    event = get_event(uow, event_id)
    if not (actor.is_operator or actor.user_id in event.host_ids):
        raise NotAllowedHere("only the event's hosts and operators see its sales", event_id=event_id)
    return counter.sales_from(source_of(event_id))
