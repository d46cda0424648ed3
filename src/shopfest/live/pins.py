"""The room's shopping: the host pins a product and every viewer sees its card, priced by the promotion
engine; a shopper asks its price for them, buys through the same checkout as `POST /api/v1/orders`
and pays, without leaving the room; and the room hears how much it has sold. Protocol: docs/live.md."""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson
from anyio import to_thread

from shopfest.catalog import service as catalog
from shopfest.core.actor import Actor, Role
from shopfest.core.errors import DomainError, InvalidInput, NotFound, Unauthenticated
from shopfest.live import service
from shopfest.live.api import WELCOME_PARTS
from shopfest.live.model import Counter, LiveEvent, NotAllowedHere, RoomRole
from shopfest.live.room import STICKY, TICKERS, WATCHERS, Connection, Room, command

MAX_ID = 2**63 - 1

# The pinned card is what the room shows now: a newcomer's welcome carries the latest of the two.
STICKY["pinned"] = "pinned"
STICKY["unpinned"] = "pinned"


def _id(frame: dict[str, Any], name: str) -> int:
    """A positive id field of a command. Raises InvalidInput."""
    value = frame.get(name)
    if type(value) is not int or not 0 < value <= MAX_ID:
        raise InvalidInput(f"`{name}` is a positive integer id", field=name)
    return value


def _runtime(room: Room) -> Any:  # noqa: ANN401  # the process's Runtime (room.py says why it is Any)
    return room.rooms.runtime


def _counter(runtime: Any) -> Counter:  # noqa: ANN401  # the Runtime
    counter: Counter | None = runtime.ports.live_counter
    if counter is None:
        raise RuntimeError("this runtime has no live counter; app.make_runtime plugs it in")
    return counter


def _hosting(viewer: Connection) -> Actor:
    """The host (or an operator) sending a host's command. Raises NotAllowedHere."""
    if viewer.actor is None or not (viewer.role is RoomRole.HOST or viewer.actor.is_operator):
        raise NotAllowedHere("only the event's hosts may do that", role=viewer.role.value, needs="host")
    return viewer.actor


# --- the card -----------------------------------------------------------------------------------

def product_card(runtime: Any, product_id: int) -> tuple[dict[str, Any], int]:  # noqa: ANN401  # Runtime
    """The pinned card of a product, priced for an anonymous viewer now, and the product's brand.
    Raises NotFound."""
    product = catalog.get_product(runtime.uow(read_only=True), product_id)
    first = product.skus[0]
    assert first.id is not None
    picture = catalog.product_images(runtime.uow(read_only=True), [product_id]).get(product_id)
    priced = _counter(runtime).price(first.id, shopper=None)
    price = priced["price"] if priced is not None else first.price.amount  # not for sale now: as listed
    card: dict[str, Any] = {
        "id": product_id, "title": product.title, "title_zh": product.title_zh, "sku_id": first.id,
        "picture": f"/media/{picture.card_key}" if picture is not None else None,
        "list_price": first.price.amount, "price": price, "currency": first.price.currency}
    if len(product.skus) > 1:
        card["skus"] = [{"id": s.id, "option": s.code, "option_zh": s.name_zh, "list_price": s.price.amount}
                        for s in product.skus]
    return card, product.brand_id


def _pin(runtime: Any, actor: Actor, event_id: int,  # noqa: ANN401  # Runtime
         product_id: int) -> tuple[dict[str, Any], LiveEvent]:
    card, brand_id = product_card(runtime, product_id)
    return card, service.pin_product(runtime.uow(), actor, event_id, product_id=product_id,
                                     brand_id=brand_id, card=card)


@command("pin")
async def pin(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    """The host pins one of the event's products: every viewer sees its card at once."""
    actor = _hosting(viewer)
    product_id = _id(frame, "product_id")
    card, room.event = await to_thread.run_sync(_pin, _runtime(room), actor, room.event_id, product_id)
    await room.publish({"type": "pinned", "product": card})


@command("unpin")
async def unpin(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    """The host takes the pinned card down."""
    actor = _hosting(viewer)
    runtime = _runtime(room)
    event = await to_thread.run_sync(partial(service.unpin_product, runtime.uow(), actor, room.event_id))
    pinned = room.event.pinned_product_id
    room.event = event
    await room.publish({"type": "unpinned", "product_id": pinned})


async def pinned_again(room: Room, viewer: Connection) -> dict[str, Any]:
    """A room opened in this process whose history no longer holds its pin (a restart, a history
    trimmed past it) shows the event's pinned product again: the card is rebuilt and published."""
    product_id = room.event.pinned_product_id
    if product_id is None or "pinned" in room.sticky or room.state.get("pins.rebuilding"):
        return {}
    room.state["pins.rebuilding"] = True
    try:
        card, _ = await to_thread.run_sync(product_card, _runtime(room), product_id)
    except DomainError:  # the product is gone from the catalog: nothing to show
        return {}
    finally:
        room.state["pins.rebuilding"] = False
    if "pinned" not in room.sticky:
        await room.publish({"type": "pinned", "product": card})
    return {}


WELCOME_PARTS.append(pinned_again)


# --- pricing, buying, paying ----------------------------------------------------------------------

MAX_KEY = 255  # as the Idempotency-Key header
METHOD_MAX = 40


def _shopper(viewer: Connection) -> Actor:
    """The signed-in shopper sending a shopper's command. Raises Unauthenticated, NotAllowedHere."""
    if viewer.actor is None:
        raise Unauthenticated("sign in to shop in the room")
    if viewer.actor.role is not Role.SHOPPER:
        raise NotAllowedHere("only shoppers buy", role=viewer.role.value, needs="shopper")
    return viewer.actor


def _ref(frame: dict[str, Any]) -> dict[str, Any]:
    """The command's `ref` for its reply, when it is one (a string or an integer)."""
    ref = frame.get("ref")
    return {"ref": ref} if isinstance(ref, str | int) else {}


def _text(frame: dict[str, Any], name: str, most: int) -> str:
    """A required text field of a command. Raises InvalidInput."""
    value = frame.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= most:
        raise InvalidInput(f"`{name}` is text of 1 to {most} characters", field=name)
    return value


@command("price")
async def price(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    """One unit of a SKU priced for this shopper now: their currency, the coupons in their wallet."""
    if viewer.actor is None:
        raise Unauthenticated("sign in to see your price")
    sku_id = _id(frame, "sku_id")
    priced = await to_thread.run_sync(partial(_counter(_runtime(room)).price, sku_id, shopper=viewer.actor))
    if priced is None:
        raise NotFound(f"SKU {sku_id} is not for sale", sku_id=sku_id)
    viewer.tell({"type": "price", **_ref(frame), **priced})


@command("buy")
async def buy(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    """Check out one SKU from the room, as POST /api/v1/orders would, the order attributed to the
    event; a retry with the same `key` gets the same order."""
    shopper = _shopper(viewer)
    key = _text(frame, "key", MAX_KEY)
    order = {"lines": [{"sku_id": frame.get("sku_id"), "qty": frame.get("qty")}],
             "coupons": frame.get("coupons") or [], "address_id": frame.get("address_id")}
    runtime = _runtime(room)
    await to_thread.run_sync(service.check_shopping, runtime.uow(read_only=True), room.event_id,
                             shopper.user_id)
    receipt = await _counter(runtime).buy(shopper, order, key=key, source=service.source_of(room.event_id))
    viewer.tell({"type": "ordered", **_ref(frame), "order_id": receipt["id"],
                 "total": receipt["total"], "to_pay": receipt["to_pay"], "status": receipt["status"],
                 "pay_url": f"/account/orders/{receipt['id']}/pay"})


@command("pay")
async def pay(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    """Pay one of the shopper's orders, as POST /api/v1/orders/{id}/pay would, once per `key`."""
    shopper = _shopper(viewer)
    order_id, key = _id(frame, "order_id"), _text(frame, "key", MAX_KEY)
    method = _text(frame, "method", METHOD_MAX)
    receipt = await to_thread.run_sync(partial(_counter(_runtime(room)).pay, shopper, order_id=order_id,
                                               method=method, key=key))
    viewer.tell({"type": "paid", **_ref(frame), "order_id": receipt["id"],
                 "status": receipt["status"]})


# --- what the room sold -------------------------------------------------------------------------

STICKY["sold"] = "sold"  # a newcomer sees the count at once


def _heard_sold(room: Room, frame: dict[str, Any]) -> None:
    """The last count the room said (from any process): the next is said only when it differs."""
    if frame.get("type") == "sold":
        room.state["pins.sold"] = (frame.get("orders"), frame.get("units"))


async def tell_sold(room: Room) -> None:
    """Once a tick, the orders and units placed from the room, when they changed since last said."""
    if "pins.sold" not in room.state:  # opened here: what the history said last, if anything
        said = orjson.loads(room.sticky["sold"]) if "sold" in room.sticky else {}
        room.state["pins.sold"] = (said.get("orders", 0), said.get("units", 0))
    counter = _counter(_runtime(room))
    orders, units = await to_thread.run_sync(counter.placed_from, service.source_of(room.event_id))
    if (orders, units) != room.state["pins.sold"]:
        room.state["pins.sold"] = (orders, units)
        await room.publish({"type": "sold", "orders": orders, "units": units})


WATCHERS.append(_heard_sold)
TICKERS.append(tell_sold)
