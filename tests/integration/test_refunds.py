"""Refunds over HTTP on SQLite and PostgreSQL: money in another currency adds up, payments and orders
agree on every refund, and merchant staff read only their own part's money."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.core.actor import Role
from shopfest.demo import hot_item
from shopfest.payments.model import IntentStatus
from shopfest.payments.store import payment_intents, payment_refunds
from shopfest.runtime import Runtime
from tests.integration.helpers import bearer, token_for
from tests.integration.test_orders_api import intents, order, shopper, stock


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


def refunds_paid(runtime: Runtime, order_id: int) -> list[str]:
    """Each refund payments paid back for the order, oldest first."""
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(payment_refunds.c.amount_minor).join(
            payment_intents, payment_intents.c.id == payment_refunds.c.intent_id).where(
            payment_intents.c.order_id == order_id).order_by(payment_refunds.c.id))
        return [f"{minor / 100:.2f}" for minor in rows.scalars()]


def paid_order(client: TestClient, who: dict[str, str], sku_id: int, qty: int, **extra: Any) -> Any:
    placed = order(client, who, [{"sku_id": sku_id, "qty": qty}], **extra)
    assert placed.status_code == 201, placed.text
    paid = client.post(f"/api/v1/orders/{placed.json()['id']}/pay", json={"method": "sandbox_ok"},
                       headers=who)
    assert paid.status_code == 200 and paid.json()["status"] == "paid", paid.text
    return paid.json()


def refund_one(client: TestClient, who: dict[str, str], order_id: int, sku_id: int,
               key: str | None = None) -> Any:
    headers = {**who, **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/api/v1/orders/{order_id}/refunds",
                       json={"lines": [{"sku_id": sku_id, "qty": 1}]}, headers=headers)


def test_units_paid_in_dollars_refund_one_by_one_to_exactly_what_was_paid(
        client: TestClient, runtime: Runtime) -> None:
    # given 3 units of 3.37 CNY paid as 1.43 USD
    charm = hot_item(runtime, stock=5, price="3.37", name="Charm")
    ann = shopper(client, runtime, "ann")
    paid = paid_order(client, ann, charm.sku_id, 3, currency="USD")
    assert paid["to_pay"] == {"amount": "1.43", "currency": "USD"}
    # when each unit is refunded on its own
    answers = [refund_one(client, ann, paid["id"], charm.sku_id, key=f"unit-{n}") for n in range(3)]
    # then none is refused and together they give back exactly the 1.43 paid
    assert [a.status_code for a in answers] == [200, 200, 200], answers[-1].text
    assert answers[-1].json()["status"] == "refunded"
    assert refunds_paid(runtime, paid["id"]) == ["0.48", "0.47", "0.48"]
    (intent,) = intents(runtime, paid["id"])
    assert intent.status is IntentStatus.REFUNDED and intent.refunded_minor == 143
    assert stock(runtime, charm.sku_id) == (5, 0, 0)


def test_two_refunds_in_the_same_instant_without_keys_are_two_refunds_everywhere(
        client: TestClient, runtime: Runtime) -> None:
    # given a paid order of 3 units of 100.00 (the test clock stands still)
    phone = hot_item(runtime, stock=5, price="100.00")
    ann = shopper(client, runtime, "ann")
    paid = paid_order(client, ann, phone.sku_id, 3)
    # when one unit is refunded twice in the same instant, without an Idempotency-Key
    first, second = (refund_one(client, ann, paid["id"], phone.sku_id) for _ in range(2))
    # then payments and the order both count two refunds, and the money adds up
    assert first.status_code == second.status_code == 200, second.text
    (line,) = second.json()["children"][0]["lines"]
    assert line["refunded_qty"] == 2 and line["refunded"] == {"amount": "200.00", "currency": "CNY"}
    assert refunds_paid(runtime, paid["id"]) == ["100.00", "100.00"]
    assert intents(runtime, paid["id"])[0].refunded_minor == 20000
    assert stock(runtime, phone.sku_id) == (5, 0, 1)


def test_a_refund_retried_with_its_key_is_one_refund(client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5, price="100.00")
    ann, bob = shopper(client, runtime, "ann"), shopper(client, runtime, "bob")
    paid = paid_order(client, ann, phone.sku_id, 3)
    first, again = (refund_one(client, ann, paid["id"], phone.sku_id, key="r-1") for _ in range(2))
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert refunds_paid(runtime, paid["id"]) == ["100.00"]
    assert first.json()["children"][0]["lines"][0]["refunded_qty"] == 1
    # another shopper's key of the same name is theirs: it refunds their own order
    bobs = paid_order(client, bob, phone.sku_id, 1)
    assert refund_one(client, bob, bobs["id"], phone.sku_id, key="r-1").status_code == 200
    assert refunds_paid(runtime, bobs["id"]) == ["100.00"]
    assert stock(runtime, phone.sku_id) == (5, 0, 2)


def test_merchant_staff_read_the_money_of_their_own_part_only(client: TestClient, runtime: Runtime) -> None:
    # given one order of a 5999.00 phone from Aster and a 199.00 scarf from Birch, paid in dollars
    phone = hot_item(runtime, stock=5, name="Aster")
    scarf = hot_item(runtime, stock=5, price="199.00", name="Birch")
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}, {"sku_id": scarf.sku_id, "qty": 1}],
                   currency="USD").json()
    assert placed["total"]["amount"] == "6198.00"
    accounts.create_account_unchecked(runtime.uow(), email="staff@birch.test", password="staff-secret-1",
                                      role=Role.MERCHANT, merchant_id=scarf.merchant_id)
    birch = bearer(token_for(client, "staff@birch.test", "staff-secret-1"))
    # when Birch's staff read it, one by one and in their list
    seen = client.get(f"/api/v1/orders/{placed['id']}", headers=birch).json()
    (listed,) = client.get("/api/v1/orders", headers=birch).json()["data"]
    # then they see Birch's part: 199.00 CNY, 28.09 USD at the order's rate
    for view in (seen, listed):
        assert view["total"] == {"amount": "199.00", "currency": "CNY"}
        assert view["to_pay"] == {"amount": "28.09", "currency": "USD"}
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=ann).json()["total"]["amount"] == "6198.00"
