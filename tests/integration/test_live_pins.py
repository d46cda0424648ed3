"""Shopping in a live room, through real WebSocket clients: the host pins a product and every viewer
sees its card; a shopper prices it with their coupons, buys it through the checkout and pays; the room
counts what it sold, and the event's sales read it back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.catalog import service as catalog
from shopfest.core.actor import Actor, Role
from shopfest.demo import hot_item
from shopfest.festival import service as festival
from shopfest.promotions import service as promotions
from shopfest.promotions.offers import CouponIssue, Period
from shopfest.runtime import Runtime
from tests.integration.helpers import operator_token, token_for
from tests.integration.live_helpers import Viewer, an_event, served


@dataclass
class Room:
    address: str
    event_id: int
    product_id: int
    sku_id: int
    host: str  # tokens
    ann: str
    bob: str
    ops: str
    client: TestClient
    coupon_id: int


def _account(client: TestClient, runtime: Runtime, name: str, role: Role = Role.SHOPPER,
             merchant_id: int | None = None) -> tuple[int, str]:
    user = accounts.create_account_unchecked(runtime.uow(), email=f"{name}@live.test",
                                             password="live-secret-1", role=role, merchant_id=merchant_id)
    assert user.id is not None
    return user.id, token_for(client, f"{name}@live.test", "live-secret-1")


def _coupon(runtime: Runtime) -> int:
    """A platform coupon, 30.00 off from 300.00, on for the day."""
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    now = runtime.clock.now()
    coupon = promotions.put_on_coupon(runtime.uow(), Actor(1, Role.OPERATOR), CouponIssue(
        "platform_coupon", None, "CNY", 30000, 3000, 10, 1, Period(now - timedelta(hours=1),
                                                                   now + timedelta(hours=6))))
    assert coupon.id is not None
    return coupon.id


@pytest.fixture
def room(runtime: Runtime) -> Iterator[Room]:
    app = create_app(runtime=runtime)
    item = hot_item(runtime, stock=1)
    sku = catalog.skus_named(runtime.uow(), [item.sku_id])[item.sku_id]
    with TestClient(app) as client:
        ops = operator_token(client, runtime)
        host_id, host = _account(client, runtime, "host", Role.MERCHANT, item.merchant_id)
        ann_id, ann = _account(client, runtime, "ann")
        _, bob = _account(client, runtime, "bob")
        coupon_id = _coupon(runtime)
        promotions.claim_coupon(runtime.uow(), Actor(ann_id, Role.SHOPPER), coupon_id)
        event = an_event(runtime, host_ids=(host_id,), product_ids=(sku.product_id,))
        assert event.id is not None
        with served(app) as address:
            yield Room(address, event.id, sku.product_id, item.sku_id, host, ann, bob, ops, client, coupon_id)


def test_the_host_pins_and_every_viewer_sees_the_card(room: Room) -> None:
    # given three viewers (anonymous, a shopper) and the host
    viewers = [Viewer(room.address, room.event_id), Viewer(room.address, room.event_id, token=room.ann),
               Viewer(room.address, room.event_id, token=room.bob)]
    host = Viewer(room.address, room.event_id, token=room.host)
    assert host.welcome["you"]["role"] == "host"
    # a viewer may not pin, nor a shopper, nor may the host pin a product the event does not feature
    viewers[0].send({"type": "pin", "product_id": room.product_id, "ref": 1})
    assert viewers[0].wait_for("error")["code"] == "not-allowed"
    viewers[1].send({"type": "pin", "product_id": room.product_id})
    assert viewers[1].wait_for("error")["code"] == "not-allowed"
    host.send({"type": "pin", "product_id": "many"})
    assert host.wait_for("error")["code"] == "invalid-input"
    host.send({"type": "pin", "product_id": room.product_id + 999})
    assert host.wait_for("error")["code"] == "not-found"
    # when the host pins the event's product
    host.send({"type": "pin", "product_id": room.product_id})
    # then every viewer gets the card, priced for an anonymous viewer
    for viewer in viewers:
        card = viewer.wait_for("pinned")["product"]
        assert card["id"] == room.product_id and card["sku_id"] == room.sku_id
        assert card["title"] == "Midnight X1 phone" and card["list_price"] == card["price"] == "5999.00"
        assert card["currency"] == "CNY"
    # and a newcomer's welcome shows it
    late = Viewer(room.address, room.event_id)
    assert [f["type"] for f in late.welcome["state"]] == ["pinned"]
    host.send({"type": "unpin"})
    assert late.wait_for("unpinned")["product_id"] == room.product_id
    for viewer in [*viewers, host, late]:
        viewer.close()
