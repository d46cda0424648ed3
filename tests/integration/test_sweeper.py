"""Unpaid orders let go of their units, flash-sale ones included, and one that cannot never holds up
the others: on SQLite, PostgreSQL, and PostgreSQL with Redis counters."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from shopfest.app import create_app
from shopfest.core.clock import SetClock
from shopfest.demo import HotItem, hot_item
from shopfest.inventory.store import InventoryStore, stock_levels
from shopfest.orders.service import release_lapsed
from shopfest.orders.store import merchant_orders
from shopfest.runtime import Runtime
from tests.integration.test_orders_api import order, shopper, stock

FLASH_PRICE = "2999.50"  # half the phone's 5999.00


@pytest.fixture
def client(hot_runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=hot_runtime))


def flash_phone(runtime: Runtime) -> HotItem:
    """A phone with 5 units, 2 of them in a flash sale at most 1 per shopper."""
    return hot_item(runtime, stock=5, flash_quantity=2, per_shopper_limit=1, name="Comet")


def flash_taken(runtime: Runtime, phone: HotItem) -> tuple[int, dict[int, int]]:
    """The flash sale's units taken, and each shopper's."""
    with runtime.engine.connect() as conn:
        store = InventoryStore(conn)
        (sale,) = store.flash_sales_of([phone.sku_id])
        return sale.taken, store.buyers_of(phone.flash_sale_id or 0)


def status_of(client: TestClient, who: dict[str, str], order_id: int) -> str:
    return str(client.get(f"/api/v1/orders/{order_id}", headers=who).json()["status"])


def later(runtime: Runtime, minutes: int) -> None:
    clock = runtime.clock
    assert isinstance(clock, SetClock)
    clock.set(clock.now() + timedelta(minutes=minutes))


def test_a_lapsed_flash_order_is_released_beside_ordinary_ones_and_its_buyer_buys_again(
        client: TestClient, hot_runtime: Runtime) -> None:
    # given ann holding a flash unit and bob two scarves, both unpaid
    phone = flash_phone(hot_runtime)
    scarf = hot_item(hot_runtime, stock=5, price="199.00", name="Birch")
    ann, bob = shopper(client, hot_runtime, "ann"), shopper(client, hot_runtime, "bob")
    flash = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).json()
    assert flash["total"]["amount"] == FLASH_PRICE
    scarves = order(client, bob, [{"sku_id": scarf.sku_id, "qty": 2}]).json()

    # when both reservations lapse and the sweeper runs
    later(hot_runtime, 16)
    assert release_lapsed(hot_runtime.uow(), hot_runtime.gate) == 2

    # then both are cancelled and every unit and flash count is back
    assert status_of(client, ann, flash["id"]) == status_of(client, bob, scarves["id"]) == "cancelled"
    assert stock(hot_runtime, phone.sku_id) == (5, 0, 0) and stock(hot_runtime, scarf.sku_id) == (5, 0, 0)
    taken, buyers = flash_taken(hot_runtime, phone)
    assert taken == 0 and list(buyers.values()) == [0]
    # and ann may take a flash unit again
    again = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}])
    assert again.status_code == 201, again.text
    assert again.json()["total"]["amount"] == FLASH_PRICE
    assert flash_taken(hot_runtime, phone)[0] == 1


def test_cancelling_an_unpaid_flash_order_frees_its_units_for_a_flash_price_again(
        client: TestClient, hot_runtime: Runtime) -> None:
    phone = flash_phone(hot_runtime)
    ann = shopper(client, hot_runtime, "ann")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).json()

    cancelled = client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=ann)

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert stock(hot_runtime, phone.sku_id) == (5, 0, 0)
    assert flash_taken(hot_runtime, phone)[0] == 0
    again = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}])
    assert again.status_code == 201 and again.json()["total"]["amount"] == FLASH_PRICE


def test_orders_the_sweeper_cannot_move_hold_up_no_other(
        client: TestClient, hot_runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    # given two unpaid orders that cannot be released, lapsing first: one whose stock row the
    # database refuses to take the units back into, and one whose children are gone
    tampered = hot_item(hot_runtime, stock=5, price="59.00", name="Dune")
    lost = hot_item(hot_runtime, stock=5, price="9.00", name="Elm")
    cy = shopper(client, hot_runtime, "cy")
    refused = order(client, cy, [{"sku_id": tampered.sku_id, "qty": 1}]).json()
    childless = order(client, cy, [{"sku_id": lost.sku_id, "qty": 1}]).json()
    with hot_runtime.engine.begin() as conn:
        conn.execute(update(stock_levels).where(stock_levels.c.sku_id == tampered.sku_id).values(reserved=0))
        conn.execute(delete(merchant_orders).where(merchant_orders.c.order_id == childless["id"]))
    # and, a minute younger, a flash order and an ordinary one
    later(hot_runtime, 1)
    phone = flash_phone(hot_runtime)
    scarf = hot_item(hot_runtime, stock=5, price="199.00", name="Birch")
    ann, bob = shopper(client, hot_runtime, "ann"), shopper(client, hot_runtime, "bob")
    flash = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).json()
    scarves = order(client, bob, [{"sku_id": scarf.sku_id, "qty": 2}]).json()

    # when all four lapse and the sweeper reads them one at a time
    later(hot_runtime, 16)
    with caplog.at_level(logging.ERROR, logger="shopfest"):
        released = release_lapsed(hot_runtime.uow(), hot_runtime.gate, limit=1)

    # then the two it could release are released, and the others stay as they were, logged
    assert released == 2
    assert status_of(client, ann, flash["id"]) == status_of(client, bob, scarves["id"]) == "cancelled"
    assert stock(hot_runtime, phone.sku_id) == stock(hot_runtime, scarf.sku_id) == (5, 0, 0)
    assert flash_taken(hot_runtime, phone)[0] == 0
    assert status_of(client, cy, refused["id"]) == "awaiting_payment"
    assert stock(hot_runtime, tampered.sku_id) == (5, 0, 0)  # as the tampering left it
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"order {refused['id']}" in logged and f"order {childless['id']}" in logged
    # and the next sweep, finding only them, moves nothing and fails no more
    assert release_lapsed(hot_runtime.uow(), hot_runtime.gate) == 0
