"""The room's shopping: the host pins a product and every viewer sees its card, priced by the promotion
engine; a shopper asks its price for them, buys through the same checkout as `POST /api/v1/orders`
and pays, without leaving the room; and the room hears how much it has sold. Protocol: docs/live.md."""

from __future__ import annotations

from functools import partial
from typing import Any

from anyio import to_thread

from shopfest.catalog import service as catalog
from shopfest.core.actor import Actor
from shopfest.core.errors import DomainError, InvalidInput
from shopfest.core.money import Money
from shopfest.core.uow import UnitOfWork
from shopfest.live import service
from shopfest.live.api import WELCOME_PARTS
from shopfest.live.model import LiveEvent, NotAllowedHere, RoomRole
from shopfest.live.room import STICKY, Connection, Room, command
from shopfest.orders import service as orders

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


def _hosting(viewer: Connection) -> Actor:
    """The host (or an operator) sending a host's command. Raises NotAllowedHere."""
    if viewer.actor is None or not (viewer.role is RoomRole.HOST or viewer.actor.is_operator):
        raise NotAllowedHere("only the event's hosts may do that", role=viewer.role.value, needs="host")
    return viewer.actor


# --- the card -----------------------------------------------------------------------------------

def _price_of_one(uow: UnitOfWork, sku_id: int, shopper_id: int | None) -> Money | None:
    """One unit as checkout would price it now (promotions on, a flash price; a shopper's coupons);
    None when it is not for sale."""
    try:
        quote = orders.quote_cart(uow, [(sku_id, 1)], shopper_id=shopper_id)
    except DomainError:
        return None
    return Money(quote.priced.total, quote.priced.currency)


def product_card(runtime: Any, product_id: int) -> tuple[dict[str, Any], int]:  # noqa: ANN401  # Runtime
    """The pinned card of a product, priced for an anonymous viewer now, and the product's brand.
    Raises NotFound."""
    product = catalog.get_product(runtime.uow(read_only=True), product_id)
    first = product.skus[0]
    assert first.id is not None
    picture = catalog.product_images(runtime.uow(read_only=True), [product_id]).get(product_id)
    price = _price_of_one(runtime.uow(read_only=True), first.id, None) or first.price
    card: dict[str, Any] = {
        "id": product_id, "title": product.title, "title_zh": product.title_zh, "sku_id": first.id,
        "picture": f"/media/{picture.card_key}" if picture is not None else None,
        "list_price": first.price.amount, "price": price.amount, "currency": first.price.currency}
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
