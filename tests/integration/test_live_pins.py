"""Shopping in a live room, through real WebSocket clients: the host pins a product and every viewer
sees its card; a shopper prices it with their coupons, buys it through the checkout and pays; the room
counts what it sold, and the event's sales read it back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.app import create_app, make_runtime
from shopfest.catalog import service as catalog
from shopfest.core.actor import Actor, Role
from shopfest.core.money import Money
from shopfest.demo import hot_item
from shopfest.festival import service as festival
from shopfest.live.store import LiveStore
from shopfest.orders import service as orders
from shopfest.orders.api import OrderIn, order_command
from shopfest.orders.drafting import PlaceOrder
from shopfest.payments import idempotency as keys
from shopfest.promotions import service as promotions
from shopfest.promotions.offers import CouponIssue, Period
from shopfest.runtime import Runtime
from tests.integration.helpers import bearer, operator_token, token_for
from tests.integration.live_helpers import WAIT_S, Viewer, an_event, served

# The room's rules do not depend on the database: checkout and coupons are raced on PostgreSQL elsewhere.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class Room:
    address: str
    event_id: int
    product_id: int
    sku_id: int
    host: str  # tokens
    ann: str
    bob: str
    bob_id: int
    ops: str
    client: httpx.Client  # over HTTP to the served app
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
    tokens = TestClient(app)  # without its lifespan: the served app runs the one
    ops = operator_token(tokens, runtime)
    host_id, host = _account(tokens, runtime, "host", Role.MERCHANT, item.merchant_id)
    ann_id, ann = _account(tokens, runtime, "ann")
    bob_id, bob = _account(tokens, runtime, "bob")
    coupon_id = _coupon(runtime)
    promotions.claim_coupon(runtime.uow(), Actor(ann_id, Role.SHOPPER), coupon_id)
    event = an_event(runtime, host_ids=(host_id,), product_ids=(sku.product_id,))
    assert event.id is not None
    with served(app) as address, httpx.Client(base_url=f"http://{address}", timeout=WAIT_S) as client:
        yield Room(address, event.id, sku.product_id, item.sku_id, host, ann, bob, bob_id, ops, client,
                   coupon_id)


def test_the_host_pins_and_every_viewer_sees_the_card(room: Room, runtime: Runtime) -> None:
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
    # and a process that opens the room afresh, its history empty, shows the event's pin again
    fresh = make_runtime(runtime.settings, clock=runtime.clock)
    with served(create_app(runtime=fresh)) as elsewhere:
        afresh = Viewer(elsewhere, room.event_id)
        shown = [f["product"]["id"] for f in afresh.welcome["state"] if f["type"] == "pinned"]
        assert shown == [room.product_id]
        afresh.close()
    fresh.engine.dispose()
    host.send({"type": "unpin"})
    assert late.wait_for("unpinned")["product_id"] == room.product_id
    for viewer in [*viewers, host, late]:
        viewer.close()


def test_a_shopper_prices_buys_and_pays_in_the_room_and_the_room_counts_it(room: Room,
                                                                           runtime: Runtime) -> None:
    http, sku, event = room.client, room.sku_id, f"/api/v1/live/events/{room.event_id}"
    assert http.post(f"{event}/start", headers=bearer(room.host)).status_code == 200
    anyone = Viewer(room.address, room.event_id)
    ann, bob = (Viewer(room.address, room.event_id, token=token) for token in (room.ann, room.bob))
    # an anonymous viewer neither prices nor buys
    anyone.send({"type": "buy", "sku_id": sku, "qty": 1, "key": "k-0"})
    assert anyone.wait_for("error")["code"] == "unauthenticated"
    # ann's price takes the coupon in her wallet off
    ann.send({"type": "price", "sku_id": sku, "ref": "p"})
    priced = ann.wait_for("price")
    assert (priced["ref"], priced["list_price"], priced["price"], priced["currency"]) == (
        "p", "5999.00", "5969.00", "CNY")
    assert [(s["source"], s["amount"]) for s in priced["savings"]] == [(f"coupon:{room.coupon_id}", "30.00")]
    # she buys the last unit with it; her retry with the same key is the same order
    buy = {"type": "buy", "sku_id": sku, "qty": 1, "key": "k-1", "coupons": [room.coupon_id], "ref": "b"}
    ann.send(buy)
    ordered = ann.wait_for("ordered")
    assert ordered["ref"] == "b" and ordered["status"] == "awaiting_payment"
    assert ordered["total"] == {"amount": "5969.00", "currency": "CNY"}
    assert ordered["pay_url"] == f"/account/orders/{ordered['order_id']}/pay"
    ann.send(buy)
    assert ann.wait_for("ordered")["order_id"] == ordered["order_id"]
    read = http.get(f"/api/v1/orders/{ordered['order_id']}", headers=bearer(room.ann)).json()
    assert read["source"] == f"live:{room.event_id}"
    # bob, another key, finds it sold out; the room counts the one order
    bob.send({"type": "buy", "sku_id": sku, "qty": 1, "key": "k-2"})
    assert bob.wait_for("error")["code"] == "sold-out"
    assert anyone.wait_for("sold")["orders"] == 1
    # paying: declined, then paid
    ann.send({"type": "pay", "order_id": ordered["order_id"], "method": "sandbox_fail", "key": "pay-1"})
    assert ann.wait_for("error")["code"] == "payment-declined"
    ann.send({"type": "pay", "order_id": ordered["order_id"], "method": "sandbox_ok", "key": "pay-2"})
    assert ann.wait_for("paid")["status"] == "paid"
    # the event's sales: its host and operators see them, a shopper does not
    sales = f"{event}/sales"
    seen = http.get(sales, headers=bearer(room.host)).json()
    assert seen["paid"] == {"orders": 1, "units": 1, "totals": [{"amount": "5969.00", "currency": "CNY"}]}
    assert seen["unpaid"]["orders"] == 0
    assert http.get(sales, headers=bearer(room.ops)).status_code == 200
    assert http.get(sales, headers=bearer(room.bob)).status_code == 403
    assert http.get(f"{event}99/sales", headers=bearer(room.ops)).status_code == 404
    # an order over the API may name the room, not anything else
    for source, status in ((f"live:{room.event_id + 99}", 422), ("shop:1", 422)):
        told = http.post("/api/v1/orders", headers=bearer(room.bob),
                         json={"lines": [{"sku_id": sku, "qty": 1}], "source": source})
        assert told.status_code == status, told.text
    # a viewer banned meanwhile (on another process, say) does not buy
    with runtime.engine.begin() as conn:
        LiveStore(conn).sanction(event_id=room.event_id, user_id=room.bob_id, kind="ban", until=None, by_id=1,
                                 at=runtime.clock.now())
    bob.send({"type": "buy", "sku_id": sku, "qty": 1, "key": "k-4"})
    assert bob.wait_for("error")["code"] == "banned"
    with runtime.engine.begin() as conn:
        LiveStore(conn).lift(event_id=room.event_id, user_id=room.bob_id, kind="ban")
    # once the event has ended, nobody buys here
    assert http.post(f"{event}/end", headers=bearer(room.host)).status_code == 200
    bob.send({"type": "buy", "sku_id": sku, "qty": 1, "key": "k-3"})
    assert bob.wait_for("error")["code"] == "room-closed"
    for viewer in (anyone, ann, bob):
        viewer.close()


def test_alike_orders_from_several_sources_keep_each_its_own(runtime: Runtime) -> None:
    # given the same cart placed at once from two rooms and from the store, in one batch or a few
    item = hot_item(runtime, stock=10)
    placing = [runtime.checkout.place(PlaceOrder(shopper, ((item.sku_id, 2),), source=source))
               for shopper, source in ((1, "live:7"), (2, None), (3, "live:8"), (4, "live:7"))]
    receipts = [future.result(timeout=WAIT_S).receipt for future in placing]
    # then each order says where it came from, read back too, and each room counts its own
    assert [r["source"] for r in receipts] == ["live:7", None, "live:8", "live:7"]
    assert orders.get_order(runtime.uow(), Actor(3, Role.SHOPPER), receipts[2]["id"])["source"] == "live:8"
    assert orders.placed_from(runtime.uow(), "live:7") == (2, 4)
    assert orders.sales_from(runtime.uow(), "live:8").unpaid.totals == {"CNY": Money.parse("11998.00", "CNY")}
    # and an Idempotency-Key's fingerprint covers the source, while an order without one reads as before
    ann = Actor(1, Role.SHOPPER)
    lines = [{"sku_id": item.sku_id, "qty": 1}]
    keyed = [order_command(ann, OrderIn.model_validate({"lines": lines, **source}), "k").idempotency
             for source in ({}, {"source": "live:7"}, {"source": "live:8"})]
    assert len({key.fingerprint for key in keyed if key is not None}) == 3
    before = {"lines": lines, "currency": None, "coupons": []}  # the body as it read before sources
    assert keyed[0] == keys.key_of("user:1", "k", "POST /orders", before)
