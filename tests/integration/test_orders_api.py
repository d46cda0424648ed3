"""Checkout over HTTP: split orders, idempotency keys, paying, cancelling, refunding, who may touch what."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.core.actor import Role
from shopfest.demo import hot_item
from shopfest.deps import Runtime
from shopfest.inventory.store import InventoryStore
from tests.integration.helpers import bearer, token_for


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


def shopper(client: TestClient, runtime: Runtime, name: str) -> dict[str, str]:
    accounts.create_account_unchecked(runtime.uow(), email=f"{name}@shoppers.test",
                                      password="shop-secret-1", role=Role.SHOPPER)
    return bearer(token_for(client, f"{name}@shoppers.test", "shop-secret-1"))


def stock(runtime: Runtime, sku_id: int) -> tuple[int, int, int]:
    with runtime.engine.connect() as conn:
        level = InventoryStore(conn).levels([sku_id])[sku_id]
    return level.on_hand, level.reserved, level.sold


def order(client: TestClient, who: dict[str, str], lines: list[dict[str, int]], key: str | None = None,
          **extra: Any) -> Any:
    headers = {**who, **({"Idempotency-Key": key} if key else {})}
    return client.post("/api/v1/orders", json={"lines": lines, **extra}, headers=headers)


def test_one_checkout_makes_one_order_with_a_child_per_merchant(client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5, name="Aster")
    scarf = hot_item(runtime, stock=5, price="199.00", name="Birch")
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}, {"sku_id": scarf.sku_id, "qty": 2}])
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert body["status"] == "awaiting_payment" and body["total"] == {"amount": "6397.00", "currency": "CNY"}
    assert sorted(c["merchant_id"] for c in body["children"]) == sorted(
        [phone.merchant_id, scarf.merchant_id])
    assert body["expires_at"] is not None
    assert stock(runtime, scarf.sku_id) == (5, 2, 0)


def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    ann = shopper(client, runtime, "ann")
    first = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}], key="k-1")
    again = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}], key="k-1")
    other = order(client, ann, [{"sku_id": phone.sku_id, "qty": 2}], key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
    assert stock(runtime, phone.sku_id) == (5, 1, 0)
    # the key belongs to its caller: another shopper may use the same one
    bob = shopper(client, runtime, "bob")
    repeat = order(client, bob, [{"sku_id": phone.sku_id, "qty": 1}], key="k-1")
    assert repeat.json()["id"] != first.json()["id"]


def test_a_repeat_while_the_first_is_running_is_409(client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    ann = shopper(client, runtime, "ann")
    gate = threading.Event()
    original = runtime.checkout._apply  # hold the first batch open while the repeat arrives

    def held(batch: Any) -> Any:
        gate.wait(10)
        return original(batch)

    runtime.checkout._batches._apply = held
    answers: list[Any] = []
    first = threading.Thread(target=lambda: answers.append(
        order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}], key="slow")))
    first.start()
    while not runtime.checkout._running:
        threading.Event().wait(0.01)
    repeat = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}], key="slow")
    gate.set()
    first.join()
    assert repeat.status_code == 409 and repeat.json()["type"].endswith("/idempotency-key-in-use")
    assert answers[0].status_code == 201


def test_sold_out_and_limit_exceeded_have_their_own_problem_types(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=3, flash_quantity=2, per_shopper_limit=1)
    ann, bob, cy = (shopper(client, runtime, n) for n in ("ann", "bob", "cy"))
    assert order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).status_code == 201
    over = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}])
    assert over.status_code == 409 and over.json()["type"].endswith("/limit-exceeded")
    flash = order(client, bob, [{"sku_id": phone.sku_id, "qty": 1}]).json()
    assert flash["total"]["amount"] == "2999.50"
    gone = order(client, cy, [{"sku_id": phone.sku_id, "qty": 1}])
    assert gone.status_code == 409 and gone.json()["type"].endswith("/sold-out")
    assert stock(runtime, phone.sku_id) == (3, 2, 0)


def test_paying_sells_the_units_and_paying_twice_moves_nothing(client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 2}]).json()
    paid = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_ok"}, headers=ann)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert stock(runtime, phone.sku_id) == (5, 0, 2)
    twice = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_ok"}, headers=ann)
    assert twice.status_code == 409
    assert stock(runtime, phone.sku_id) == (5, 0, 2)


def test_cancelling_releases_and_a_cancelled_order_cannot_be_paid(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 2}]).json()
    cancelled = client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=ann)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert stock(runtime, phone.sku_id) == (5, 0, 0)
    pay = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_ok"}, headers=ann)
    assert pay.status_code == 409 and pay.json()["type"].endswith("/illegal-transition")
    assert stock(runtime, phone.sku_id) == (5, 0, 0)


def test_an_order_past_its_expiry_is_swept_and_cannot_be_paid(client: TestClient, runtime: Runtime) -> None:
    from datetime import timedelta

    from shopfest.orders.service import release_expired

    phone = hot_item(runtime, stock=5)
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).json()
    runtime.clock.set(runtime.clock.now() + timedelta(minutes=16))  # type: ignore[attr-defined]
    pay = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_ok"}, headers=ann)
    assert pay.status_code == 409 and pay.json()["type"].endswith("/order-expired")
    assert release_expired(runtime.uow(), runtime.gate) == 1
    assert stock(runtime, phone.sku_id) == (5, 0, 0)
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=ann).json()["status"] == "cancelled"


def test_refunds_return_what_was_paid_and_no_more(client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5, price="100.00")
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 3}]).json()
    client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_ok"}, headers=ann)
    one = client.post(f"/api/v1/orders/{placed['id']}/refunds",
                      json={"lines": [{"sku_id": phone.sku_id, "qty": 1}]}, headers=ann)
    assert one.status_code == 200, one.text
    assert one.json()["status"] == "partially_refunded"
    assert stock(runtime, phone.sku_id) == (5, 0, 2)
    too_many = client.post(f"/api/v1/orders/{placed['id']}/refunds",
                           json={"lines": [{"sku_id": phone.sku_id, "qty": 3}]}, headers=ann)
    assert too_many.status_code == 422
    rest = client.post(f"/api/v1/orders/{placed['id']}/refunds", json={}, headers=ann)
    assert rest.json()["status"] == "refunded"
    assert stock(runtime, phone.sku_id) == (5, 0, 0)


def test_nobody_touches_another_shoppers_order(client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    ann, bob = shopper(client, runtime, "ann"), shopper(client, runtime, "bob")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).json()
    for path in ("", "/pay", "/cancel", "/refunds"):
        call = client.get if path == "" else client.post
        kwargs: dict[str, Any] = {"headers": bob}
        if path:
            kwargs["json"] = {}
        answer = call(f"/api/v1/orders/{placed['id']}{path}", **kwargs)
        assert answer.status_code == 404, (path, answer.text)
    assert stock(runtime, phone.sku_id) == (5, 1, 0)
    assert client.get("/api/v1/orders", headers=bob).json()["data"] == []
    assert [o["id"] for o in client.get("/api/v1/orders", headers=ann).json()["data"]] == [placed["id"]]
