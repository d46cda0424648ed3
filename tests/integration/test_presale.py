"""Pre-sale deposits on the two-wave calendar: a deposit holds the unit, the balance is paid in its
window, an unpaid balance forfeits the deposit and frees the unit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfest.app import create_app
from shopfest.core.actor import Actor, Role
from shopfest.core.clock import SetClock, parse_instant
from shopfest.core.errors import InvalidInput
from shopfest.core.money import Money
from shopfest.demo import HotItem, hot_item
from shopfest.festival import service as festival
from shopfest.orders.service import release_lapsed
from shopfest.payments import service as payments
from shopfest.promotions import service as promotions
from shopfest.runtime import Runtime
from tests.integration.helpers import bearer, token_for
from tests.integration.test_orders_api import order, shopper, stock

IN_THE_DEPOSIT_WINDOW = "2027-11-05T20:00:00+08:00"
IN_THE_BALANCE_WINDOW = "2027-11-11T00:30:00+08:00"
AFTER_THE_FESTIVAL = "2027-11-12T00:00:01+08:00"


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


@pytest.fixture
def presale(runtime: Runtime, clock: SetClock) -> HotItem:
    """A 5,999 yuan phone on pre-sale with a 500 yuan deposit, three units, in the wave-2 deposit window."""
    clock.set(parse_instant(IN_THE_DEPOSIT_WINDOW))
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    item = hot_item(runtime, stock=3)
    promotions.offer_presale(runtime.uow(), Actor(0, Role.MERCHANT, item.merchant_id), sku_id=item.sku_id,
                             deposit=Money.parse("500.00", "CNY"))
    return item


def signed_in_again(client: TestClient, name: str) -> dict[str, str]:
    """A fresh token: the festival clock moved past the day a token lives."""
    return bearer(token_for(client, f"{name}@shoppers.test", "shop-secret-1"))


def pay(client: TestClient, who: dict[str, str], order_id: int) -> Any:
    return client.post(f"/api/v1/orders/{order_id}/pay", json={"method": "sandbox_ok"}, headers=who)


def status(client: TestClient, who: dict[str, str], order_id: int) -> str:
    return str(client.get(f"/api/v1/orders/{order_id}", headers=who).json()["status"])


def test_a_deposit_holds_the_unit_and_the_balance_is_paid_in_its_window(
        client: TestClient, runtime: Runtime, clock: SetClock, presale: HotItem) -> None:
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": presale.sku_id, "qty": 1}]).json()
    assert placed["status"] == "awaiting_deposit"
    # the deposit holds the unit past the 15 minutes an unpaid order would
    assert pay(client, ann, placed["id"]).json()["status"] == "deposit_paid"
    clock.set(parse_instant("2027-11-07T20:00:00+08:00"))
    ann = signed_in_again(client, "ann")
    release_lapsed(runtime.uow(), runtime.gate)
    assert status(client, ann, placed["id"]) == "deposit_paid" and stock(runtime, presale.sku_id) == (3, 1, 0)
    # the balance cannot be paid before its window
    early = pay(client, ann, placed["id"])
    assert early.status_code == 409 and early.json()["type"].endswith("/outside-balance-window")
    # in the window the sweeper shows it awaits its balance, and paying sells the unit
    clock.set(parse_instant(IN_THE_BALANCE_WINDOW))
    ann = signed_in_again(client, "ann")
    release_lapsed(runtime.uow(), runtime.gate)
    assert status(client, ann, placed["id"]) == "awaiting_balance"
    assert pay(client, ann, placed["id"]).json()["status"] == "paid"
    assert stock(runtime, presale.sku_id) == (3, 0, 1)


def test_an_unpaid_balance_forfeits_the_deposit_and_frees_the_unit(
        client: TestClient, runtime: Runtime, clock: SetClock, presale: HotItem) -> None:
    bob = shopper(client, runtime, "bob")
    placed = order(client, bob, [{"sku_id": presale.sku_id, "qty": 2}]).json()
    pay(client, bob, placed["id"])
    assert stock(runtime, presale.sku_id) == (3, 2, 0)
    clock.set(parse_instant(AFTER_THE_FESTIVAL))
    bob = signed_in_again(client, "bob")
    release_lapsed(runtime.uow(), runtime.gate)
    assert status(client, bob, placed["id"]) == "deposit_forfeited"
    assert stock(runtime, presale.sku_id) == (3, 0, 0)
    late = pay(client, bob, placed["id"])
    assert late.status_code == 409


def test_a_pre_sale_item_is_ordered_on_its_own_in_a_deposit_window(
        client: TestClient, runtime: Runtime, presale: HotItem) -> None:
    other = hot_item(runtime, stock=3, name="Other")
    cy = shopper(client, runtime, "cy")
    mixed = order(client, cy, [{"sku_id": presale.sku_id, "qty": 1}, {"sku_id": other.sku_id, "qty": 1}])
    assert mixed.status_code == 422
    assert stock(runtime, presale.sku_id) == (3, 0, 0) and stock(runtime, other.sku_id) == (3, 0, 0)


def test_a_deposit_worth_more_than_it_costs_lowers_the_balance(
        client: TestClient, runtime: Runtime, clock: SetClock, presale: HotItem) -> None:
    # given the deposit of 500.00 counts for 1000.00 against the 5999.00 price
    promotions.offer_presale(runtime.uow(), Actor(0, Role.MERCHANT, presale.merchant_id),
                             sku_id=presale.sku_id, deposit=Money.parse("500.00", "CNY"),
                             worth=Money.parse("1000.00", "CNY"))
    dee = shopper(client, runtime, "dee")
    placed = order(client, dee, [{"sku_id": presale.sku_id, "qty": 1}]).json()
    # then the order costs 5999.00 - (1000.00 - 500.00) = 5499.00, the line says why
    assert placed["total"] == {"amount": "5499.00", "currency": "CNY"}
    [line] = placed["children"][0]["lines"]
    assert [(a["source"], a["amount"]["amount"]) for a in line["adjustments"]] == [
        (f"deposit:{presale.sku_id}", "500.00")]
    pay(client, dee, placed["id"])
    clock.set(parse_instant(IN_THE_BALANCE_WINDOW))
    dee = signed_in_again(client, "dee")
    release_lapsed(runtime.uow(), runtime.gate)
    assert pay(client, dee, placed["id"]).json()["status"] == "paid"
    # and the balance paid was 5499.00 - 500.00
    with (uow := runtime.uow(read_only=True)):
        amounts = [i.amount.amount for i in payments.intents_of(uow, placed["id"])]
    assert amounts == ["500.00", "4999.00"]


def test_a_deposit_worth_less_than_it_costs_is_refused(runtime: Runtime, presale: HotItem) -> None:
    with pytest.raises(InvalidInput, match="worth"):
        promotions.offer_presale(runtime.uow(), Actor(0, Role.MERCHANT, presale.merchant_id),
                                 sku_id=presale.sku_id, deposit=Money.parse("500.00", "CNY"),
                                 worth=Money.parse("400.00", "CNY"))


def test_units_held_on_a_deposit_count_against_the_unpaid_cap_until_the_balance_is_paid(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    # given a pre-sale of 20 phones, and ann holding 5 of them on a paid deposit (the cap is 5)
    clock.set(parse_instant(IN_THE_DEPOSIT_WINDOW))
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    item = hot_item(runtime, stock=20)
    promotions.offer_presale(runtime.uow(), Actor(0, Role.MERCHANT, item.merchant_id), sku_id=item.sku_id,
                             deposit=Money.parse("500.00", "CNY"))
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": item.sku_id, "qty": 5}]).json()
    assert pay(client, ann, placed["id"]).json()["status"] == "deposit_paid"

    # then she may hold no more until the balance is paid, and then 5 again
    more = order(client, ann, [{"sku_id": item.sku_id, "qty": 1}])
    assert more.status_code == 409 and more.json()["type"] == "/problems/too-many-unpaid"
    clock.set(parse_instant(IN_THE_BALANCE_WINDOW))
    ann = signed_in_again(client, "ann")
    release_lapsed(runtime.uow(), runtime.gate)
    assert pay(client, ann, placed["id"]).json()["status"] == "paid"
    assert order(client, ann, [{"sku_id": item.sku_id, "qty": 5}]).status_code == 201
