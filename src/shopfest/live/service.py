"""Live use cases: scheduling events, going live and ending, and what a room records for its replay."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shopfest.catalog import service as catalog
from shopfest.catalog.model import SkuForSale
from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.errors import NotFound
from shopfest.core.events import DomainEvent
from shopfest.core.uow import UnitOfWork
from shopfest.live.model import (
    Banned,
    LiveEvent,
    NotAllowedHere,
    RoomRole,
    host_skus,
    require_room_role,
    role_in,
)
from shopfest.live.store import LiveStore
from shopfest.promotions import service as promotions
from shopfest.promotions.offers import Grant

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


# --- live coupons and flash deals (drops.py) --------------------------------------------------

@dataclass(frozen=True)
class HostScope:
    """What a host's coupon or deal may cover: the event's products of the host's merchant."""

    event: LiveEvent
    merchant_id: int
    sku_ids: tuple[int, ...]
    skus: dict[int, SkuForSale]  # each SKU's product, price and the merchant's settlement currency

    @property
    def currency(self) -> str:
        """The merchant's settlement currency, which the host's amounts are in."""
        return self.skus[self.sku_ids[0]].settlement_currency


def host_scope(uow: UnitOfWork, actor: Actor | None, event_id: int) -> HostScope:
    """The SKUs a host of the event may drop coupons on or start deals on: their merchant's among the
    event's products. Raises NotFound, NotAllowedHere, RoomClosed."""
    with uow:
        event = LiveStore(uow.conn).event(event_id)
        if event is None:
            raise NotFound(f"no live event {event_id}", event_id=event_id)
        offered = {p.id or 0: (p.merchant_id, [s.id or 0 for s in p.skus])
                   for p in catalog.products_in(uow, event.product_ids)}
        merchant_id, sku_ids = host_skus(event, actor, offered)
        skus = catalog.skus_for_sale(uow, sku_ids)
    sku_ids = tuple(s for s in sku_ids if s in skus)  # a SKU taken off sale meanwhile
    if not sku_ids:
        raise NotAllowedHere("your store sells none of this event's products", role=RoomRole.HOST.value)
    return HostScope(event, merchant_id, sku_ids, skus)


def record_moment(uow: UnitOfWork, event_id: int, kind: str, payload: dict[str, Any]) -> None:
    """Keep a moment of the room (a coupon drop, a deal) for its replay. Raises NotFound."""
    with uow:
        store = LiveStore(uow.conn)
        event = store.event(event_id)
        if event is None:
            raise NotFound(f"no live event {event_id}", event_id=event_id)
        record(store, event, kind, payload, at=uow.clock.now())
        uow.commit()


def claim_live_coupon(uow: UnitOfWork, actor: Actor, *, event_id: int, coupon_id: int) -> Grant:
    """A shopper in the room claims one of the coupons its host dropped: the promotions' claim, whose
    row lock keeps exactly the quantity claimed, one each. Raises Banned, NotFound (no such coupon
    in this room), CouponExpired, CouponsGone, CouponLimitReached."""
    with uow:
        sanctions = LiveStore(uow.conn).sanctions_on(event_id, actor.user_id, now=uow.clock.now())
    if "ban" in sanctions:
        raise Banned("a moderator banned you from this room")
    issue = promotions.coupon(uow, coupon_id)
    if issue.live_event_id != event_id:
        raise NotFound(f"no coupon {coupon_id} in this room", coupon_id=coupon_id)
    return promotions.claim_coupon(uow, actor, coupon_id)


def coupon_left(uow: UnitOfWork, coupon_id: int) -> int:
    """How many of a coupon are still to claim. Raises NotFound."""
    issue = promotions.coupon(uow, coupon_id)
    return issue.quantity - issue.claimed
