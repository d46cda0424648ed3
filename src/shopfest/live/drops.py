"""The room's live coupons and flash deals: the host drops coupons that shoppers claim into their
wallets, and starts a flash deal on the checkout's own flash-sale slots; tickers tell the room how
many coupons and units are left while the counts change (docs/live.md)."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import orjson
from anyio import to_thread

from shopfest.core.actor import Role
from shopfest.core.clock import instant_text, parse_instant
from shopfest.core.errors import InvalidInput, NotFound, Unauthenticated
from shopfest.core.money import Money
from shopfest.inventory import service as inventory
from shopfest.inventory.model import FlashSale
from shopfest.live import service as live
from shopfest.live.model import (
    DEAL_COUNTDOWN,
    DEAL_MINUTES,
    DEAL_PER_SHOPPER,
    DEAL_QUANTITY,
    DROP_QUANTITY,
    DROP_SECONDS,
    NotAllowedHere,
    RoomRole,
    amount_in,
    count_in,
    require_room_role,
)
from shopfest.live.room import STICKY, TICKERS, WATCHERS, Connection, Room, command
from shopfest.promotions import service as promotions

# The latest drop and deal are what a newcomer's welcome shows, with the counts left last told.
STICKY.update({"coupon_dropped": "coupon", "coupon_left": "coupon_left", "deal": "deal",
               "deal_stock": "deal_stock"})
# A count is still told this long after its window closes: claims and orders of its last moment.
COUNTS_LINGER = timedelta(seconds=5)
ID_MAX = 2**62


def _id_in(frame: dict[str, Any], name: str) -> int:
    value = frame.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < ID_MAX:
        raise InvalidInput(f"{name} is an id", field=name)
    return value


def _ref(frame: dict[str, Any]) -> dict[str, Any]:
    ref = frame.get("ref")
    return {"ref": ref} if isinstance(ref, str | int) else {}


# --- live coupons ------------------------------------------------------------------------------

@command("drop_coupon")
async def drop_coupon(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    """The host drops `quantity` coupons on the event's products of their store, claimable for
    `seconds`, one per shopper: everyone sees `coupon_dropped`."""
    require_room_role(viewer.role, RoomRole.HOST)
    quantity = count_in(frame, "quantity", within=DROP_QUANTITY)
    seconds = count_in(frame, "seconds", within=DROP_SECONDS)
    runtime = room.rooms.runtime
    scope = await to_thread.run_sync(live.host_scope, runtime.uow(read_only=True), viewer.actor,
                                     room.event_id)
    off = amount_in(frame, "off", scope.currency, above_zero=True)
    min_spend = Money.zero(off.currency)
    if "min_spend" in frame:
        min_spend = amount_in(frame, "min_spend", scope.currency)
    coupon = await to_thread.run_sync(partial(
        promotions.drop_live_coupon, runtime.uow(), viewer.actor, event_id=room.event_id,
        merchant_id=scope.merchant_id, sku_ids=scope.sku_ids, off=off, min_spend=min_spend, quantity=quantity,
        seconds=seconds, use_until=scope.event.ends_at))
    dropped = {"coupon_id": coupon.id, "off": off.amount, "min_spend": min_spend.amount,
               "currency": off.currency, "quantity": quantity,
               "ends_at": instant_text(coupon.claimable_until),
               "use_until": instant_text(coupon.window.ends_at),
               "sku_ids": list(coupon.sku_ids or ())}
    await to_thread.run_sync(live.record_moment, runtime.uow(), room.event_id, "coupon", dropped)
    await room.publish({"type": "coupon_dropped", **dropped})


@command("claim")
async def claim(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    """A signed-in shopper claims one of the room's live coupons into their wallet."""
    if viewer.actor is None:
        raise Unauthenticated("sign in to claim a coupon")
    if viewer.actor.role is not Role.SHOPPER:
        raise NotAllowedHere("coupons go to shoppers' wallets", role=viewer.role.value)
    coupon_id = _id_in(frame, "coupon_id")
    runtime = room.rooms.runtime
    grant = await to_thread.run_sync(partial(live.claim_live_coupon, runtime.uow(), viewer.actor,
                                             event_id=room.event_id, coupon_id=coupon_id))
    viewer.tell({"type": "claimed", "coupon_id": coupon_id, "grant_id": grant.id, **_ref(frame)})


# --- live flash deals --------------------------------------------------------------------------

@command("start_deal")
async def start_deal(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    """The host starts a flash deal on a SKU of the event's products of their store: a flash sale of
    the checkout (its stock gates and per-shopper limit apply), opening after `countdown` seconds
    for `minutes`. Everyone sees `deal`."""
    require_room_role(viewer.role, RoomRole.HOST)
    sku_id = _id_in(frame, "sku_id")
    quantity = count_in(frame, "quantity", within=DEAL_QUANTITY)
    limit = count_in(frame, "per_shopper_limit", within=DEAL_PER_SHOPPER, default=1)
    countdown = count_in(frame, "countdown", within=DEAL_COUNTDOWN, default=0)
    minutes = count_in(frame, "minutes", within=DEAL_MINUTES)
    runtime = room.rooms.runtime
    scope = await to_thread.run_sync(live.host_scope, runtime.uow(read_only=True), viewer.actor,
                                     room.event_id)
    sku = scope.skus.get(sku_id)
    if sku is None:
        raise NotFound(f"SKU {sku_id} is not one of this event's products of your store", sku_id=sku_id)
    price = amount_in(frame, "price", sku.price.currency, above_zero=True)
    if price >= sku.price:
        raise InvalidInput(f"a deal sells below the SKU's price, {sku.price.amount} {sku.price.currency}",
                           field="price")
    opens = runtime.clock.now() + timedelta(seconds=countdown)
    sale = await to_thread.run_sync(inventory.schedule_flash_sale, runtime.uow(), viewer.actor, FlashSale(
        sku_id=sku_id, price=price, quantity=quantity, starts_at=opens,
        ends_at=opens + timedelta(minutes=minutes), per_shopper_limit=limit))
    stock = await to_thread.run_sync(inventory.flash_sale_left, runtime.uow(read_only=True), sale.id or 0)
    deal = {"flash_sale_id": sale.id, "sku_id": sku_id, "product_id": sku.product_id,
            "price": price.amount, "currency": price.currency, "starts_at": instant_text(sale.starts_at),
            "ends_at": instant_text(sale.ends_at), "stock": stock or 0, "per_shopper_limit": limit}
    await to_thread.run_sync(live.record_moment, runtime.uow(), room.event_id, "deal", deal)
    await room.publish({"type": "deal", **deal})


# --- the counts left, told at most once a tick while they change ---------------------------------

def _latest(room: Room, slot: str) -> dict[str, Any] | None:
    text = room.sticky.get(slot)
    return None if text is None else orjson.loads(text)


def _heard(room: Room, frame: dict[str, Any]) -> None:
    """A count told in the room (by any process): the one to compare the next reading with."""
    kind = frame.get("type")
    if kind == "coupon_left":
        room.state[f"coupon_left:{frame.get('coupon_id')}"] = frame.get("left")
    elif kind == "deal_stock":
        room.state[f"deal_stock:{frame.get('flash_sale_id')}"] = frame.get("left")


def _last_told(room: Room, kind: str, key: str, of: int, *, first: object) -> object:
    """The count of `of` last told in the room: heard here, else in the history, else `first`."""
    if f"{kind}:{of}" in room.state:
        return room.state[f"{kind}:{of}"]
    told = _latest(room, kind)
    return told["left"] if told is not None and told.get(key) == of else first


async def _tell_count(room: Room, kind: str, key: str, of: int, left: int, told: object) -> None:
    if left != told:
        room.state[f"{kind}:{of}"] = left  # not told again before the frame comes back
        await room.publish({"type": kind, key: of, "left": left})


async def tell_coupons_left(room: Room) -> None:
    """While the latest drop can be claimed, `coupon_left` each tick the count changed."""
    dropped = _latest(room, "coupon")
    runtime = room.rooms.runtime
    if dropped is None or runtime.clock.now() > parse_instant(dropped["ends_at"]) + COUNTS_LINGER:
        return
    coupon_id = dropped["coupon_id"]
    told = _last_told(room, "coupon_left", "coupon_id", coupon_id, first=dropped["quantity"])
    if told == 0:
        return  # every one claimed: a claimed coupon never comes back to claim
    left = await to_thread.run_sync(live.coupon_left, runtime.uow(read_only=True), coupon_id)
    await _tell_count(room, "coupon_left", "coupon_id", coupon_id, left, told)


async def tell_deal_stock(room: Room) -> None:
    """While the latest deal runs, `deal_stock` each tick its units left changed (orders take them;
    an unpaid order that lapses gives them back)."""
    deal = _latest(room, "deal")
    runtime = room.rooms.runtime
    if deal is None or runtime.clock.now() > parse_instant(deal["ends_at"]) + COUNTS_LINGER:
        return
    sale_id = deal["flash_sale_id"]
    told = _last_told(room, "deal_stock", "flash_sale_id", sale_id, first=deal["stock"])
    left = await to_thread.run_sync(inventory.flash_sale_left, runtime.uow(read_only=True), sale_id)
    if left is not None:
        await _tell_count(room, "deal_stock", "flash_sale_id", sale_id, left, told)


WATCHERS.append(_heard)
TICKERS.extend([tell_coupons_left, tell_deal_stock])
