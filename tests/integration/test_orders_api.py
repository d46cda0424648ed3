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
from shopfest.inventory.store import InventoryStore
from shopfest.orders.lane import lane_command
from shopfest.payments import service as payments
from shopfest.payments.webhooks import event_body, sign
from shopfest.runtime import Runtime
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

    from shopfest.orders.service import release_lapsed

    phone = hot_item(runtime, stock=5)
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).json()
    runtime.clock.set(runtime.clock.now() + timedelta(minutes=16))  # type: ignore[attr-defined]
    pay = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_ok"}, headers=ann)
    assert pay.status_code == 409 and pay.json()["type"].endswith("/order-expired")
    assert release_lapsed(runtime.uow(), runtime.gate) == 1
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


def intents(runtime: Runtime, order_id: int) -> list[Any]:
    with runtime.uow() as uow:
        return payments.intents_of(uow, order_id)


def webhook(client: TestClient, runtime: Runtime, body: bytes, *, secret: str | None = None) -> Any:
    signature = sign(body, secret=secret or runtime.settings.webhook_secret,
                     at=int(runtime.clock.now().timestamp()))
    return client.post("/api/v1/payments/webhooks/sandbox", content=body,
                       headers={"Shopfest-Signature": signature, "Content-Type": "application/json"})


def test_a_delayed_payment_is_paid_by_its_webhook_once_however_often_it_arrives(
        client: TestClient, runtime: Runtime) -> None:
    # given an order paid with a method the gateway settles later
    phone = hot_item(runtime, stock=5)
    ann = shopper(client, runtime, "ann")
    runtime.provider.delay_seconds = 3600  # type: ignore[attr-defined]  # the test delivers it
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).json()
    pending = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_delay"}, headers=ann)
    assert pending.status_code == 200 and pending.json()["status"] == "awaiting_payment"
    assert stock(runtime, phone.sku_id) == (5, 1, 0)
    (intent,) = intents(runtime, placed["id"])
    success = event_body("payment.succeeded", provider_ref=intent.provider_ref or "", amount=intent.amount,
                         created=2)
    late_processing = event_body("payment.processing", provider_ref=intent.provider_ref or "",
                                 amount=intent.amount, created=1)
    # when its success arrives twice, and an older "processing" event after it
    assert webhook(client, runtime, success).json() == {"applied": True}
    assert webhook(client, runtime, success).json() == {"applied": False}
    assert webhook(client, runtime, late_processing).status_code == 200
    # then the order is paid once: one unit sold, nothing else moved
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=ann).json()["status"] == "paid"
    assert stock(runtime, phone.sku_id) == (5, 0, 1)


def test_a_webhook_with_a_bad_signature_changes_nothing(client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    ann = shopper(client, runtime, "ann")
    runtime.provider.delay_seconds = 3600  # type: ignore[attr-defined]
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).json()
    client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_delay"}, headers=ann)
    (intent,) = intents(runtime, placed["id"])
    forged = event_body("payment.succeeded", provider_ref=intent.provider_ref or "", amount=intent.amount,
                        created=2)
    refused = webhook(client, runtime, forged, secret="not-the-secret")
    assert refused.status_code == 401 and refused.json()["type"].endswith("/bad-signature")
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=ann).json()["status"] == "awaiting_payment"
    assert stock(runtime, phone.sku_id) == (5, 1, 0)


def test_a_declined_payment_leaves_the_order_unpaid_and_a_retry_can_pay(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).json()
    declined = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_fail"}, headers=ann)
    assert declined.status_code == 402 and declined.json()["type"].endswith("/payment-declined")
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=ann).json()["status"] == "awaiting_payment"
    assert stock(runtime, phone.sku_id) == (5, 1, 0)
    retry = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_ok"}, headers=ann)
    assert retry.json()["status"] == "paid"
    assert stock(runtime, phone.sku_id) == (5, 0, 1)


def test_paying_with_an_idempotency_key_twice_pays_once(client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).json()
    headers = {**ann, "Idempotency-Key": "pay-1"}
    first = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_ok"}, headers=headers)
    again = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_ok"}, headers=headers)
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    other = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_fail"},
                        headers=headers)
    assert other.status_code == 422
    assert len(intents(runtime, placed["id"])) == 1
    assert stock(runtime, phone.sku_id) == (5, 0, 1)


def test_bad_lines_are_refused_and_move_nothing(client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    dollars = hot_item(runtime, stock=5, name="Yankee")
    sku_in_usd(runtime, dollars.sku_id)
    ann = shopper(client, runtime, "ann")
    for lines in ([{"sku_id": phone.sku_id, "qty": 0}], [{"sku_id": phone.sku_id, "qty": 10**9}],
                  [{"sku_id": 999_999, "qty": 1}],
                  [{"sku_id": phone.sku_id, "qty": 1}, {"sku_id": dollars.sku_id, "qty": 1}]):
        refused = order(client, ann, lines)
        assert refused.status_code == 422, (lines, refused.text)
    assert order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}], currency="XYZ").status_code == 422
    assert stock(runtime, phone.sku_id) == (5, 0, 0) and stock(runtime, dollars.sku_id) == (5, 0, 0)
    assert client.get("/api/v1/orders", headers=ann).json()["data"] == []


def sku_in_usd(runtime: Runtime, sku_id: int) -> None:
    from sqlalchemy import update

    from shopfest.catalog.store import skus

    with runtime.engine.begin() as conn:
        conn.execute(update(skus).where(skus.c.id == sku_id).values(currency="USD"))


def test_merchant_staff_see_only_their_own_part_and_stock(client: TestClient, runtime: Runtime) -> None:
    from shopfest.accounts import service as accounts

    phone = hot_item(runtime, stock=5, name="Aster")
    scarf = hot_item(runtime, stock=5, price="199.00", name="Birch")
    ann = shopper(client, runtime, "ann")
    both = [{"sku_id": phone.sku_id, "qty": 1}, {"sku_id": scarf.sku_id, "qty": 1}]
    placed = order(client, ann, both).json()
    accounts.create_account_unchecked(runtime.uow(), email="staff@aster.test", password="staff-secret-1",
                                      role=Role.MERCHANT, merchant_id=phone.merchant_id)
    aster = bearer(token_for(client, "staff@aster.test", "staff-secret-1"))
    seen = client.get(f"/api/v1/orders/{placed['id']}", headers=aster).json()
    assert [c["merchant_id"] for c in seen["children"]] == [phone.merchant_id]
    assert client.get(f"/api/v1/skus/{phone.sku_id}/stock", headers=aster).json()["reserved"] == 1
    assert client.get(f"/api/v1/skus/{scarf.sku_id}/stock", headers=aster).status_code == 404
    assert client.post(f"/api/v1/orders/{placed['id']}/cancel", headers=aster).status_code == 403
    assert stock(runtime, scarf.sku_id) == (5, 1, 0)


def raw_headers(who: dict[str, str], content_type: str = "application/json") -> list[tuple[bytes, bytes]]:
    return [(b"authorization", who["Authorization"].encode()), (b"content-type", content_type.encode())]


def test_only_a_shopper_signed_in_a_moment_ago_with_a_good_body_takes_the_checkout_lane(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    ann = shopper(client, runtime, "ann")
    body = b'{"lines": [{"sku_id": %d, "qty": 2}]}' % phone.sku_id
    assert lane_command(runtime, raw_headers(ann), body) is None  # not seen yet: the full route looks her up
    assert order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).status_code == 201
    taken = lane_command(runtime, [*raw_headers(ann), (b"idempotency-key", b"k-9")], body)
    assert taken is not None and taken.lines == ((phone.sku_id, 2),)
    assert taken.idempotency is not None and taken.idempotency.key == "k-9"
    assert lane_command(runtime, raw_headers(ann, "text/plain"), body) is None
    assert lane_command(runtime, raw_headers(ann), b'{"lines": []}') is None
    unknown_currency = b'{"lines": [{"sku_id": 1, "qty": 1}], "currency": "XYZ"}'
    assert lane_command(runtime, raw_headers(ann), unknown_currency) is None
    accounts.create_account_unchecked(runtime.uow(), email="staff@aster.test", password="staff-secret-1",
                                      role=Role.MERCHANT, merchant_id=phone.merchant_id)
    staff = bearer(token_for(client, "staff@aster.test", "staff-secret-1"))
    assert order(client, staff, [{"sku_id": phone.sku_id, "qty": 1}]).status_code == 403
    assert lane_command(runtime, raw_headers(staff), body) is None


def test_the_checkout_lane_answers_as_the_full_route_does(client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=2)
    ann, bob = shopper(client, runtime, "ann"), shopper(client, runtime, "bob")
    one = [{"sku_id": phone.sku_id, "qty": 1}]
    routed, laned = order(client, ann, one), order(client, ann, one)  # her first order looks her up
    assert routed.status_code == laned.status_code == 201
    assert routed.headers["content-type"] == laned.headers["content-type"] == "application/json"
    assert without_ids(routed.json()) == without_ids(laned.json())
    sold_out_routed, sold_out_laned = order(client, bob, one), order(client, ann, one)
    assert sold_out_routed.status_code == sold_out_laned.status_code == 409
    assert sold_out_routed.headers["content-type"] == sold_out_laned.headers["content-type"]
    assert sold_out_routed.json() == sold_out_laned.json()
    assert order(client, ann, one, currency="XYZ").json()["type"].endswith("/unknown-currency")
    assert stock(runtime, phone.sku_id) == (2, 2, 0)


def without_ids(receipt: dict[str, Any]) -> dict[str, Any]:
    children = [{k: v for k, v in child.items() if k != "id"} for child in receipt["children"]]
    return {**{k: v for k, v in receipt.items() if k != "id"}, "children": children}
