"""Scalpers and hoarders refused: a cap on the unpaid units a shopper holds of one SKU, shorter
reservations in a flash sale, and flash sales for verified and older accounts only; on SQLite,
PostgreSQL and PostgreSQL with Redis."""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shopfest.accounts import service as accounts
from shopfest.app import create_app, make_runtime
from shopfest.core.actor import Actor, Role
from shopfest.core.clock import SetClock
from shopfest.core.money import Money
from shopfest.demo import HotItem, hot_item
from shopfest.inventory import service as inventory
from shopfest.inventory.model import AccountTooNew, FlashSale, TooManyUnpaid
from shopfest.inventory.store import InventoryStore, unpaid_units
from shopfest.orders.checkout import Checkout
from shopfest.orders.drafting import PlaceOrder
from shopfest.orders.service import release_lapsed
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.conftest import FESTIVAL_EVE
from tests.integration.helpers import bearer, operator_token, token_for
from tests.integration.test_hot_path import place


@pytest.fixture
def client(hot_runtime: Runtime) -> Iterator[TestClient]:
    yield TestClient(create_app(runtime=hot_runtime))


def shopper(client: TestClient, runtime: Runtime, name: str, *, verified: bool = False) -> dict[str, str]:
    accounts.create_account_unchecked(runtime.uow(), email=f"{name}@shoppers.test", password="shop-secret-1",
                                      role=Role.SHOPPER, verified=verified)
    return bearer(token_for(client, f"{name}@shoppers.test", "shop-secret-1"))


def order(client: TestClient, who: dict[str, str], sku_id: int, qty: int = 1) -> Any:
    return client.post("/api/v1/orders", json={"lines": [{"sku_id": sku_id, "qty": qty}]}, headers=who)


def reserved(runtime: Runtime, sku_id: int) -> int:
    with runtime.engine.connect() as conn:
        return InventoryStore(conn).levels([sku_id])[sku_id].reserved


def held_unpaid(runtime: Runtime, sku_id: int) -> dict[int, int]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(unpaid_units.c.shopper_id, unpaid_units.c.qty)
                            .where(unpaid_units.c.sku_id == sku_id))
        return {r.shopper_id: r.qty for r in rows}  # a shopper holding none has no row


def test_one_unpaid_order_cannot_take_a_skus_whole_stock(client: TestClient, hot_runtime: Runtime) -> None:
    # given 20 phones and shoppers who may each hold 5 unpaid (the default)
    phone = hot_item(hot_runtime, stock=20).sku_id
    ann, bob = shopper(client, hot_runtime, "ann"), shopper(client, hot_runtime, "bob")

    # when ann orders all 20, then 3 and 2, then one more
    hoard = order(client, ann, phone, 20)
    three, two = order(client, ann, phone, 3), order(client, ann, phone, 2)
    one_more = order(client, ann, phone, 1)

    # then the hoard and the sixth unit are refused with their own problem, and bob still buys
    for refused in (hoard, one_more):
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"] == "/problems/too-many-unpaid"
    assert one_more.json()["limit"] == 5
    assert three.status_code == two.status_code == 201
    assert order(client, bob, phone, 5).status_code == 201
    assert reserved(hot_runtime, phone) == 10


def test_paying_cancelling_or_lapsing_frees_the_cap(client: TestClient, hot_runtime: Runtime) -> None:
    # given ann holding 5 unpaid phones in three orders
    phone = hot_item(hot_runtime, stock=50).sku_id
    ann = shopper(client, hot_runtime, "ann")
    paid, cancelled, _ = (order(client, ann, phone, qty).json() for qty in (2, 2, 1))
    assert order(client, ann, phone, 1).json()["type"] == "/problems/too-many-unpaid"

    # when she pays one order and cancels another, she may hold 4 more unpaid, and no more
    assert client.post(f"/api/v1/orders/{paid['id']}/pay", json={"method": "sandbox_ok"},
                       headers=ann).status_code == 200
    assert client.post(f"/api/v1/orders/{cancelled['id']}/cancel", headers=ann).status_code == 200
    assert list(held_unpaid(hot_runtime, phone).values()) == [1]
    assert order(client, ann, phone, 4).status_code == 201
    assert order(client, ann, phone, 1).json()["type"] == "/problems/too-many-unpaid"

    # and when every unpaid order lapses, the sweeper frees them all: she may order 5 again
    hot_runtime.clock.set(hot_runtime.clock.now() + timedelta(minutes=16))  # type: ignore[attr-defined]
    assert release_lapsed(hot_runtime.uow(), hot_runtime.gate) == 2
    assert held_unpaid(hot_runtime, phone) == {}
    assert order(client, ann, phone, 5).status_code == 201
    assert reserved(hot_runtime, phone) == 5


def test_parallel_orders_of_one_shopper_hold_no_more_than_the_cap(
        hot_runtime: Runtime, clock: SetClock) -> None:
    # given two checkout lanes (where the database has two writers) taking the next batch whenever
    # the first is busy, and 40 orders of one unit each by shopper 7 on 16 threads, among orders of
    # 40 other shoppers
    runtime = hot_runtime
    runtime.checkout.close()
    lanes = 2 if runtime.engine.dialect.name == "postgresql" else 1
    runtime.checkout = Checkout(uow=runtime.uow, gate=runtime.gate, minutes=15, lanes=lanes, crowd=1)
    phone = hot_item(runtime, stock=1000).sku_id
    shoppers = [7 if n % 2 else 100 + n for n in range(80)]
    with ThreadPoolExecutor(16) as pool:
        told = list(pool.map(lambda s: (s, place(runtime, s, phone)), shoppers))

    # then shopper 7 took exactly 5 units, and each of the others their one
    assert sorted(code for s, code in told if s == 7) == ["ok"] * 5 + [TooManyUnpaid.code] * 35
    assert all(code == "ok" for s, code in told if s != 7)
    assert held_unpaid(runtime, phone)[7] == 5
    assert reserved(runtime, phone) == 45


def _one_shoppers_burst(settings: Settings, sku_id: int, attempts: int) -> list[str]:
    # The test's festival clock, standing still, in every process.
    runtime = make_runtime(replace(settings, clock=FESTIVAL_EVE.isoformat(), clock_speed=0))
    try:
        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(lambda _: place(runtime, 7, sku_id), range(attempts)))
    finally:
        runtime.checkout.close()
        runtime.engine.dispose()


def test_processes_racing_for_one_shopper_hold_no_more_than_the_cap(
        hot_runtime: Runtime, store_settings: Settings) -> None:
    # given 100 phones, and three server processes in which shopper 7 orders one 60 times in all
    phone = hot_item(hot_runtime, stock=100).sku_id
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        results = [pool.apply_async(_one_shoppers_burst, (store_settings, phone, 20)) for _ in range(3)]
        told = [code for r in results for code in r.get(timeout=120)]
    # then exactly 5 were placed, and the rows hold 5
    assert sorted(told) == ["ok"] * 5 + [TooManyUnpaid.code] * 55
    assert held_unpaid(hot_runtime, phone) == {7: 5} and reserved(hot_runtime, phone) == 5


def flash_sale(runtime: Runtime, item: HotItem, *, requires_verified: bool = False,
               min_account_age_hours: int = 0) -> int:
    """A flash sale of 10 units of `item` at half its price, on from an hour ago for two days."""
    now = runtime.clock.now()
    sale = inventory.schedule_flash_sale(runtime.uow(), Actor(0, Role.MERCHANT, item.merchant_id), FlashSale(
        sku_id=item.sku_id, price=Money.parse("2999.50", "CNY"), quantity=10, per_shopper_limit=1,
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=2),
        requires_verified=requires_verified, min_account_age_hours=min_account_age_hours))
    assert sale.id is not None
    return sale.id


def test_an_order_with_a_flash_line_holds_its_units_for_a_shorter_time(runtime: Runtime) -> None:
    # given a phone in a flash sale and a scarf at list price
    phone = hot_item(runtime, stock=10, flash_quantity=5)
    scarf = hot_item(runtime, stock=10, name="Scarf")
    now = runtime.clock.now()

    # when a shopper orders each, and both together
    def expires(*lines: tuple[int, int]) -> datetime:
        receipt = runtime.checkout.place(PlaceOrder(7, lines)).result(timeout=30).receipt
        return datetime.fromisoformat(receipt["expires_at"])

    # then an order with a flash unit lapses after 5 minutes (the setting), one without after 15
    assert expires((scarf.sku_id, 1)) == now + timedelta(minutes=15)
    assert expires((phone.sku_id, 1)) == now + timedelta(minutes=5)
    assert expires((scarf.sku_id, 1), (hot_item(runtime, stock=5, flash_quantity=5, name="Lamp").sku_id, 1)) \
        == now + timedelta(minutes=5)


def verification_token(client: TestClient, ops: dict[str, str], email: str) -> str:
    mails = client.get("/api/v1/mail/outbox", params={"to": email}, headers=ops)
    assert mails.status_code == 200, mails.text
    assert [m["subject"] for m in mails.json()] == ["Verify your ShopFest email"]
    found = re.search(r'"token": "([^"]+)"', mails.json()[0]["body"])
    assert found is not None
    return found.group(1)


def register(client: TestClient, email: str) -> dict[str, str]:
    registered = client.post("/api/v1/auth/register", json={"email": email, "password": "shop-secret-1"})
    assert registered.status_code == 201 and registered.json()["verified"] is False
    return bearer(token_for(client, email, "shop-secret-1"))


def test_a_flash_sale_for_verified_accounts_sells_once_the_email_is_verified(
        client: TestClient, hot_runtime: Runtime) -> None:
    # given a flash sale for verified accounts only, and a shopper just registered
    item = hot_item(hot_runtime, stock=20)
    flash_sale(hot_runtime, item, requires_verified=True)
    ops = bearer(operator_token(client, hot_runtime))
    mei = register(client, "mei@shoppers.test")

    # when she orders before verifying her email, then with the link the outbox holds
    before = order(client, mei, item.sku_id)
    token = verification_token(client, ops, "mei@shoppers.test")
    verified = client.post("/api/v1/auth/verify-email", json={"token": token})
    after = order(client, mei, item.sku_id)

    # then the first is refused with its own problem, and the second buys a flash unit
    assert before.status_code == 403 and before.json()["type"] == "/problems/account-not-verified"
    assert verified.status_code == 200 and verified.json()["verified"] is True
    assert client.get("/api/v1/me", headers=mei).json()["verified"] is True
    assert after.status_code == 201, after.text
    assert after.json()["total"]["amount"] == "2999.50"
    assert reserved(hot_runtime, item.sku_id) == 1
    # and the link works once only
    again = client.post("/api/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 422 and again.json()["type"] == "/problems/verification-failed"


def test_an_operator_verified_phone_qualifies_too(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime=runtime))
    item = hot_item(runtime, stock=20)
    flash_sale(runtime, item, requires_verified=True)
    ops = bearer(operator_token(client, runtime))
    mei = register(client, "mei@shoppers.test")
    me = client.get("/api/v1/me", headers=mei).json()

    # a shopper may neither verify a phone nor read the outbox; a bad number is refused
    path = f"/api/v1/users/{me['id']}/phone-verification"
    assert client.post(path, json={"phone": "+8613800138000"}, headers=mei).status_code == 403
    assert client.get("/api/v1/mail/outbox", headers=mei).status_code == 403
    assert client.post(path, json={"phone": "call me"}, headers=ops).status_code == 422
    assert client.post("/api/v1/users/999999/phone-verification", json={"phone": "+8613800138000"},
                       headers=ops).status_code == 404
    assert order(client, mei, item.sku_id).json()["type"] == "/problems/account-not-verified"

    # an operator who checked her phone marks it verified: she buys
    marked = client.post(path, json={"phone": "+86 138 0013 8000"}, headers=ops)
    assert marked.status_code == 200 and marked.json()["verified"] is True
    assert order(client, mei, item.sku_id).status_code == 201


def test_a_flash_sale_for_older_accounts_refuses_one_opened_today(client: TestClient,
                                                                  hot_runtime: Runtime) -> None:
    # given a flash sale for accounts at least a day old, and a verified account opened now
    item = hot_item(hot_runtime, stock=20)
    flash_sale(hot_runtime, item, min_account_age_hours=24)
    ann = shopper(client, hot_runtime, "ann", verified=True)

    # when she orders now, then 25 hours later (signed in again: a token lasts a day)
    today = order(client, ann, item.sku_id)
    hot_runtime.clock.set(hot_runtime.clock.now() + timedelta(hours=25))  # type: ignore[attr-defined]
    tomorrow = order(client, bearer(token_for(client, "ann@shoppers.test", "shop-secret-1")), item.sku_id)

    # then the first is refused with its own problem, and the second buys
    assert today.status_code == 403 and today.json()["type"] == "/problems/account-too-new"
    assert tomorrow.status_code == 201, tomorrow.text
    # and an order placed without account facts (in process, unknown) is refused too
    with pytest.raises(AccountTooNew):
        hot_runtime.checkout.place(PlaceOrder(12345, ((item.sku_id, 1),))).result(timeout=30)


def test_a_flash_sale_may_be_scheduled_for_verified_and_older_accounts(
        client: TestClient, hot_runtime: Runtime) -> None:
    item = hot_item(hot_runtime, stock=20)
    ops = operator_token(client, hot_runtime)
    merchant = client.post(f"/api/v1/merchants/{item.merchant_id}/staff", headers=bearer(ops),
                           json={"email": "staff@merchant.test", "password": "staff-secret-1"})
    assert merchant.status_code == 201, merchant.text
    staff = bearer(token_for(client, "staff@merchant.test", "staff-secret-1"))
    now = hot_runtime.clock.now()
    body = {"sku_id": item.sku_id, "price": {"amount": "2999.50", "currency": "CNY"}, "quantity": 10,
            "starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat(),
            "requires_verified": True, "min_account_age_hours": 72}
    created = client.post("/api/v1/flash-sales", json=body, headers=staff)
    assert created.status_code == 201, created.text
    assert created.json()["requires_verified"] is True and created.json()["min_account_age_hours"] == 72
    too_old = client.post("/api/v1/flash-sales", json={**body, "min_account_age_hours": 10**6}, headers=staff)
    assert too_old.status_code == 422
