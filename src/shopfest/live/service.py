"""Live use cases: scheduling events, going live and ending, and what a room records for its replay."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from shopfest.catalog import service as catalog
from shopfest.catalog.model import SkuForSale
from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.clock import instant_text
from shopfest.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from shopfest.core.events import DomainEvent
from shopfest.core.uow import UnitOfWork
from shopfest.live.model import (
    SLOW_MODE_MAX_SECONDS,
    Banned,
    Counter,
    EventStatus,
    LiveEvent,
    NotAllowedHere,
    RoomClosed,
    RoomRole,
    check_not_sanctioned,
    check_plan,
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
            "text": row.text, "at": instant_text(row.at), "offset_ms": row.offset_ms}


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
            "text": text, "at": instant_text(now), "offset_ms": event.offset_ms(now)}


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


# --- the schedule, as operators plan it -------------------------------------------------------

# Who an account is (role, merchant), for checking an event's hosts; None: no such account. The
# composition root plugs accounts in (runtime.Ports.account_actor): live does not depend on it.
AccountOf = Callable[[UnitOfWork, int], Actor | None]


def plan_event(uow: UnitOfWork, actor: Actor | None, event: LiveEvent, *, account_of: AccountOf) -> LiveEvent:
    """An operator puts an event on the schedule: its brands exist, its hosts are operators or staff
    of a merchant that sells one of its brands, its products are of its brands. Raises
    Unauthenticated, Forbidden, InvalidInput."""
    require_role(actor, Role.OPERATOR)
    check_cast(uow, event, account_of=account_of)
    with uow:
        event_id = LiveStore(uow.conn).add_event(event)
        uow.commit()
    return replace(event, id=event_id)


def change_event(uow: UnitOfWork, actor: Actor | None, event_id: int, changes: Mapping[str, Any], *,
                 account_of: AccountOf) -> LiveEvent:
    """An operator changes an event still on the schedule (not yet live), checked as when planned.
    Raises Unauthenticated, Forbidden, NotFound, Conflict, InvalidInput."""
    require_role(actor, Role.OPERATOR)
    before = get_event(uow, event_id)
    if before.status is not EventStatus.SCHEDULED:
        raise Conflict(f"the event is {before.status.value}: only a scheduled event changes",
                       event_id=event_id)
    after = replace(before, **changes)
    check_cast(uow, after, account_of=account_of)
    with uow:
        store = LiveStore(uow.conn)
        if store.event(event_id, for_update=True) != before:  # went live, or changed, meanwhile
            raise Conflict("the event changed meanwhile; read it again", event_id=event_id)
        store.save_event(after)
        uow.commit()
    return after


def check_cast(uow: UnitOfWork, event: LiveEvent, *, account_of: AccountOf) -> None:
    """The event's brands, products, hosts and moderators exist and belong together. Raises InvalidInput."""
    check_plan(event)
    known = {b.id for b in catalog.brands_by_ids(uow, event.brand_ids)}
    missing = [b for b in event.brand_ids if b not in known]
    if missing:
        raise InvalidInput(f"no brand {missing[0]}", field="brand_ids", brand_id=missing[0])
    products = catalog.products_by_ids(uow, event.product_ids)
    for product_id in event.product_ids:
        product = products.get(product_id)
        if product is None or product.brand_id not in event.brand_ids:
            raise InvalidInput(f"product {product_id} is not one of the event's brands' products",
                               field="segments", product_id=product_id)
    _check_hosts(uow, event, account_of=account_of)


def _check_hosts(uow: UnitOfWork, event: LiveEvent, *, account_of: AccountOf) -> None:
    staff: dict[int, int] = {}  # host → merchant
    for user_id in event.host_ids:
        account = account_of(uow, user_id)
        if account is not None and account.role is Role.MERCHANT and account.merchant_id is not None:
            staff[user_id] = account.merchant_id
        elif account is None or account.role is not Role.OPERATOR:
            raise InvalidInput(f"host {user_id} is neither an operator nor a merchant's staff",
                               field="host_ids", user_id=user_id)
    merchants = catalog.merchants_by_id(uow, sorted(set(staff.values()))) if staff else {}
    for user_id, merchant_id in staff.items():
        merchant = merchants.get(merchant_id)
        if merchant is None or not merchant.brand_ids & set(event.brand_ids):
            raise InvalidInput(f"host {user_id} works for no merchant that sells the event's brands",
                               field="host_ids", user_id=user_id)
    for user_id in event.moderator_ids:
        if account_of(uow, user_id) is None:
            raise InvalidInput(f"no account {user_id} to moderate", field="moderator_ids", user_id=user_id)


def schedule_page(uow: UnitOfWork, *, start: datetime, end: datetime, status: EventStatus | None = None,
                  after_id: int | None = None, limit: int = 20) -> list[LiveEvent]:
    """The events overlapping [start, end), by start; after the event `after_id` (a page's last).
    Raises InvalidInput for an `after_id` that names no event."""
    with uow:
        store = LiveStore(uow.conn)
        after = None
        if after_id is not None:
            last = store.event(after_id)
            if last is None:
                raise InvalidInput("the cursor names no event; start again from the first page")
            after = (last.starts_at, after_id)
        return store.schedule(start, end, status=status, after=after, limit=limit)


# --- reminders --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RemindersDue(DomainEvent):
    """An event began: these shoppers asked to be told (each once)."""

    event_id: int
    title: str
    shopper_ids: tuple[int, ...]


def ask_reminder(uow: UnitOfWork, actor: Actor | None, event_id: int) -> bool:
    """A shopper asks to be told when a scheduled event begins; asking again changes nothing (False).
    Raises Unauthenticated, Forbidden, NotFound, Conflict (the event is live or over)."""
    shopper = require_role(actor, Role.SHOPPER)
    try:
        with uow:
            store = LiveStore(uow.conn)
            event = store.event(event_id)
            if event is None:
                raise NotFound(f"no live event {event_id}", event_id=event_id)
            if store.reminded(event_id, shopper.user_id):
                return False
            if event.status is not EventStatus.SCHEDULED or uow.clock.now() >= event.ends_at:
                state = event.status.value if event.status is not EventStatus.SCHEDULED else "over"
                raise Conflict(f"the event is {state}: nothing to remind of", event_id=event_id)
            store.remind(event_id, shopper.user_id, now=uow.clock.now())
            uow.commit()
    except IntegrityError:  # the same shopper's other request asked at the same moment
        return False
    return True


def forget_reminder(uow: UnitOfWork, actor: Actor | None, event_id: int) -> None:
    """A shopper no longer wants to be told; idempotent. Raises Unauthenticated, Forbidden, NotFound."""
    shopper = require_role(actor, Role.SHOPPER)
    with uow:
        store = LiveStore(uow.conn)
        if store.event(event_id) is None:
            raise NotFound(f"no live event {event_id}", event_id=event_id)
        store.forget_reminder(event_id, shopper.user_id)
        uow.commit()


def reminded_of(uow: UnitOfWork, actor: Actor | None, event_ids: Sequence[int]) -> set[int]:
    """Which of the events the signed-in shopper asked to be reminded of (none for anyone else)."""
    if actor is None or actor.role is not Role.SHOPPER:
        return set()
    with uow:
        return LiveStore(uow.conn).reminded_of(actor.user_id, event_ids)


def remind_on_start(uow: UnitOfWork, started: LiveEventStarted) -> None:
    """The host went live: the shoppers who asked are told, inside the same transaction."""
    _remind(uow, LiveStore(uow.conn), started.event_id, started.title)


REMINDED_A_ROUND = 100  # events a sweeper round reminds of; the next round takes the rest


def remind_due(uow: Callable[..., UnitOfWork]) -> int:
    """The sweeper's round: events whose scheduled start has come, whether or not their host went
    live, tell the shoppers who asked and were not yet told. The room is not started. Looks first
    without the write lock, which a round with nothing due never takes. How many events."""
    with uow(read_only=True) as look:
        if not LiveStore(look.conn).reminders_due(look.clock.now(), limit=1):
            return 0
    with uow() as work:
        store = LiveStore(work.conn)
        due = store.reminders_due(work.clock.now(), limit=REMINDED_A_ROUND)
        for event_id, title in due:
            _remind(work, store, event_id, title)
        work.commit()
    return len(due)


def _remind(uow: UnitOfWork, store: LiveStore, event_id: int, title: str) -> None:
    shoppers = store.take_unsent_reminders(event_id, now=uow.clock.now())  # marked sent here: told once
    if shoppers:
        uow.emit(RemindersDue(event_id, title, tuple(shoppers)))


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
    if get_event(uow, event_id).status is EventStatus.ENDED:
        raise RoomClosed("this event has ended: no more buying here", event_id=event_id)
    if is_banned(uow, event_id, user_id):
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


# --- replays ------------------------------------------------------------------------------------

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
