"""Live use cases: scheduling events, going live and ending, and what a room records for its replay."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from shopfest.catalog import service as catalog
from shopfest.catalog.model import SkuForSale
from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.errors import NotFound, Unauthenticated
from shopfest.core.events import DomainEvent
from shopfest.core.uow import UnitOfWork
from shopfest.live.model import (
    SLOW_MODE_MAX_SECONDS,
    Banned,
    EventStatus,
    LiveEvent,
    NotAllowedHere,
    RoomClosed,
    RoomRole,
    check_not_sanctioned,
    check_seconds,
    host_skus,
    may_sanction,
    pin,
    require_room_role,
    role_in,
    unpin,
)
from shopfest.live.store import LiveStore, write_pin
from shopfest.live.store import set_slow_mode as store_slow_mode
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


# --- the room's chat and its moderation ---------------------------------------------------------

RECENT_CHAT = 50  # messages a newcomer's welcome shows


def is_banned(uow: UnitOfWork, event_id: int, user_id: int) -> bool:
    """A moderator banned the account from the event's room: it may not watch, chat nor buy there."""
    with uow:
        return "ban" in LiveStore(uow.conn).sanctions_on(event_id, user_id, now=uow.clock.now())


def chat_frame(row: Any) -> dict[str, Any]:  # noqa: ANN401  # a live_messages row
    """A message as the room shows it (docs/live.md `chat`)."""
    return {"type": "chat", "message_id": row.id,
            "author": {"id": row.author_id, "name": row.author_name,
                       "role": row.author_role or RoomRole.SHOPPER.value},
            "text": row.text, "at": row.at.isoformat().replace("+00:00", "Z"), "offset_ms": row.offset_ms}


def post_message(uow: UnitOfWork, actor: Actor | None, *, event_id: int, name: str,
                 text: str) -> dict[str, Any]:
    """A signed-in viewer's message (cleaned by the caller), kept for the replay at its offset; the
    `chat` frame to publish. Raises Unauthenticated, NotFound, RoomClosed, Muted, Banned."""
    author = require_signed_in(actor)
    with uow:
        store = LiveStore(uow.conn)
        event = _event_in(store, event_id)
        if event.status is EventStatus.ENDED:
            raise RoomClosed("this event has ended: the chat is closed", event_id=event_id)
        now = uow.clock.now()
        check_not_sanctioned(store.sanctions_on(event_id, author.user_id, now=now), now=now)
        message_id = store.add_message(event_id=event_id, author_id=author.user_id, author_name=name,
                                       text=text, at=now, offset_ms=event.offset_ms(now),
                                       author_role=role_in(event, author).value)
        uow.commit()
    return {"type": "chat", "message_id": message_id,
            "author": {"id": author.user_id, "name": name, "role": role_in(event, author).value},
            "text": text, "at": now.isoformat().replace("+00:00", "Z"), "offset_ms": event.offset_ms(now)}


def recent_chat(uow: UnitOfWork, event_id: int, *, limit: int = RECENT_CHAT) -> list[dict[str, Any]]:
    """The newest visible messages of the room, oldest first."""
    with uow:
        return [chat_frame(r) for r in LiveStore(uow.conn).latest_messages(event_id, limit=limit)]


def require_signed_in(actor: Actor | None) -> Actor:
    """Raises Unauthenticated for an anonymous viewer."""
    if actor is None:
        raise Unauthenticated("sign in to chat")
    return actor


def _event_in(store: LiveStore, event_id: int) -> LiveEvent:
    event = store.event(event_id)
    if event is None:
        raise NotFound(f"no live event {event_id}", event_id=event_id)
    return event


def _moderating(store: LiveStore, actor: Actor | None, event_id: int) -> tuple[Actor, LiveEvent, RoomRole]:
    """The moderator (or host, or operator), the event and their room role. Raises Unauthenticated,
    NotFound, NotAllowedHere."""
    moderator = require_signed_in(actor)
    event = _event_in(store, event_id)
    role = role_in(event, moderator)
    require_room_role(role, RoomRole.MODERATOR)
    return moderator, event, role


def hide_message(uow: UnitOfWork, actor: Actor | None, *, event_id: int, message_id: int) -> None:
    """A moderator hides one message of the room. Raises NotAllowedHere, NotFound."""
    with uow:
        store = LiveStore(uow.conn)
        _moderating(store, actor, event_id)
        if not store.hide_message(event_id, message_id):
            raise NotFound(f"no message {message_id} in this room", message_id=message_id)
        uow.commit()


def mute(uow: UnitOfWork, actor: Actor | None, *, event_id: int, target: tuple[Actor, str] | None,
         seconds: int) -> datetime:
    """A moderator mutes a viewer below them for `seconds`; when it ends. Raises NotAllowedHere,
    NotFound."""
    with uow:
        store = LiveStore(uow.conn)
        moderator, user = _sanctioning(store, actor, event_id, target)
        until = uow.clock.now() + timedelta(seconds=seconds)
        store.sanction(event_id=event_id, user_id=user.user_id, kind="mute", until=until,
                       by_id=moderator.user_id, at=uow.clock.now())
        uow.commit()
    return until


def ban(uow: UnitOfWork, actor: Actor | None, *, event_id: int,
        target: tuple[Actor, str] | None) -> list[int]:
    """A moderator bans a viewer below them from the room for the rest of the event and hides every
    message they posted; the ids hidden. Raises NotAllowedHere, NotFound."""
    with uow:
        store = LiveStore(uow.conn)
        moderator, user = _sanctioning(store, actor, event_id, target)
        store.sanction(event_id=event_id, user_id=user.user_id, kind="ban", until=None,
                       by_id=moderator.user_id, at=uow.clock.now())
        hidden = store.hide_messages_of(event_id, user.user_id)
        uow.commit()
    return hidden


def _sanctioning(store: LiveStore, actor: Actor | None, event_id: int,
                 target: tuple[Actor, str] | None) -> tuple[Actor, Actor]:
    moderator, event, role = _moderating(store, actor, event_id)
    if target is None:
        raise NotFound("no such account")
    user = target[0]
    may_sanction(by=role, target=role_in(event, user), target_is_operator=user.is_operator)
    return moderator, user


def set_slow_mode(uow: UnitOfWork, actor: Actor | None, *, event_id: int, seconds: object) -> int:
    """A host or moderator sets the room's slow mode (0: off). Raises NotAllowedHere, NotFound,
    InvalidInput."""
    seconds = check_seconds(seconds, low=0, high=SLOW_MODE_MAX_SECONDS, name="seconds")
    with uow:
        store = LiveStore(uow.conn)
        _moderating(store, actor, event_id)
        store_slow_mode(uow.conn, event_id, seconds)
        uow.commit()
    return seconds


def pin_product(uow: UnitOfWork, actor: Actor | None, event_id: int, *, product_id: int,
                brand_id: int, card: dict[str, Any]) -> LiveEvent:
    """A host of the event (or an operator) pins one of its products (model.features); the replay
    keeps the moment with the card shown. Raises NotFound, NotAllowedHere, RoomClosed,
    NotAnEventProduct."""
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
