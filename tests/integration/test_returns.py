"""Returns over HTTP on SQLite and PostgreSQL: after shipping, a shopper asks, the merchant's staff
accept (with or without the goods back) or reject, and money moves once, on acceptance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.core.actor import Role
from shopfest.demo import hot_item
from shopfest.runtime import Runtime
from tests.integration.helpers import bearer, token_for
from tests.integration.test_orders_api import order, shopper, stock
from tests.integration.test_refunds import refunds_paid


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


def staff_of(client: TestClient, runtime: Runtime, merchant_id: int, name: str) -> dict[str, str]:
    accounts.create_account_unchecked(runtime.uow(), email=f"staff@{name}.test", password="staff-secret-1",
                                      role=Role.MERCHANT, merchant_id=merchant_id)
    return bearer(token_for(client, f"staff@{name}.test", "staff-secret-1"))


@dataclass
class Shipped:
    """Ann's paid order of 3 Aster phones (100.00 each) and 1 Birch scarf (50.00); Aster shipped."""

    order_id: int
    phone: int
    scarf: int
    ann: dict[str, str]
    bob: dict[str, str]
    aster: dict[str, str]
    birch: dict[str, str]


@pytest.fixture
def shipped(client: TestClient, runtime: Runtime) -> Shipped:
    phone = hot_item(runtime, stock=5, price="100.00", name="Aster")
    scarf = hot_item(runtime, stock=5, price="50.00", name="Birch")
    ann, bob = shopper(client, runtime, "ann"), shopper(client, runtime, "bob")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 3}, {"sku_id": scarf.sku_id, "qty": 1}])
    order_id = placed.json()["id"]
    paid = client.post(f"/api/v1/orders/{order_id}/pay", json={"method": "sandbox_ok"}, headers=ann)
    assert paid.json()["status"] == "paid", paid.text
    aster = staff_of(client, runtime, phone.merchant_id, "aster")
    sent = client.post(f"/api/v1/orders/{order_id}/shipments",
                       json={"carrier": "SF Express", "tracking": "SF1"}, headers=aster)
    assert sent.status_code == 200, sent.text
    return Shipped(order_id, phone.sku_id, scarf.sku_id, ann, bob, aster,
                   staff_of(client, runtime, scarf.merchant_id, "birch"))


def ask(client: TestClient, s: Shipped, qty: int, *, sku_id: int | None = None,
        who: dict[str, str] | None = None, reason: str = "too big for my pocket") -> Any:
    return client.post(f"/api/v1/orders/{s.order_id}/returns", headers=who or s.ann,
                       json={"lines": [{"sku_id": sku_id or s.phone, "qty": qty}], "reason": reason})


def decide(client: TestClient, s: Shipped, return_id: int, verb: str, body: dict[str, Any], *,
           who: dict[str, str] | None = None, key: str | None = None) -> Any:
    headers = {**(who or s.aster), **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/api/v1/orders/{s.order_id}/returns/{return_id}/{verb}", json=body, headers=headers)


def returns_in(receipt: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for child in receipt["children"] for r in child["returns"]]


def phone_line(receipt: dict[str, Any], s: Shipped) -> dict[str, Any]:
    return next(line for c in receipt["children"] for line in c["lines"] if line["sku_id"] == s.phone)


def test_a_shopper_alone_refunds_only_what_was_not_shipped(
        client: TestClient, runtime: Runtime, shipped: Shipped) -> None:
    s = shipped
    one_phone = {"lines": [{"sku_id": s.phone, "qty": 1}], "back_on_shelf": True}
    refused = client.post(f"/api/v1/orders/{s.order_id}/refunds", json=one_phone, headers=s.ann)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("/shipped-goods-come-back-by-return")
    everything = client.post(f"/api/v1/orders/{s.order_id}/refunds", json={}, headers=s.ann)
    assert everything.status_code == 409
    assert stock(runtime, s.phone) == (5, 0, 3) and refunds_paid(runtime, s.order_id) == []
    # the scarf Birch has not shipped yet is refunded at once, back on sale
    scarf = client.post(f"/api/v1/orders/{s.order_id}/refunds",
                        json={"lines": [{"sku_id": s.scarf, "qty": 1}]}, headers=s.ann)
    assert scarf.status_code == 200, scarf.text
    assert stock(runtime, s.scarf) == (5, 0, 0) and refunds_paid(runtime, s.order_id) == ["50.00"]


def test_an_accepted_return_with_the_goods_back_pays_once_and_puts_them_on_sale(
        client: TestClient, runtime: Runtime, shipped: Shipped) -> None:
    s = shipped
    # given Ann asks to send two phones back: nothing moves yet
    asked = ask(client, s, 2)
    assert asked.status_code == 201, asked.text
    (request,) = returns_in(asked.json())
    assert request["status"] == "requested" and request["lines"] == [{"sku_id": s.phone, "qty": 2}]
    assert request["reason"] == "too big for my pocket" and request["refunded"] is None
    assert stock(runtime, s.phone) == (5, 0, 3) and refunds_paid(runtime, s.order_id) == []
    # when Aster's staff accept it with the goods back, and the call is retried with its key
    accepted = decide(client, s, request["id"], "accept", {"goods_back": True}, key="acc-1")
    again = decide(client, s, request["id"], "accept", {"goods_back": True}, key="acc-1")
    twice = decide(client, s, request["id"], "accept", {"goods_back": True}, key="acc-2")
    # then the money for two phones went back once, and the two are on sale again
    assert accepted.status_code == again.status_code == 200, accepted.text
    assert again.json() == accepted.json()
    assert twice.status_code == 409 and twice.json()["type"].endswith("/return-decided")
    (done,) = returns_in(accepted.json())
    assert done["status"] == "accepted" and done["goods_back"] is True
    assert done["refunded"] == {"amount": "200.00", "currency": "CNY"}
    assert phone_line(accepted.json(), s)["refunded_qty"] == 2
    assert refunds_paid(runtime, s.order_id) == ["200.00"]
    assert stock(runtime, s.phone) == (5, 0, 1)
    seen = client.get(f"/api/v1/orders/{s.order_id}", headers=s.ann).json()
    assert returns_in(seen) == [done]


def test_a_return_accepted_without_the_goods_refunds_and_writes_them_off(
        client: TestClient, runtime: Runtime, shipped: Shipped) -> None:
    s = shipped
    (request,) = returns_in(ask(client, s, 1, reason="arrived broken").json())
    accepted = decide(client, s, request["id"], "accept", {"goods_back": False})
    assert accepted.status_code == 200, accepted.text
    assert returns_in(accepted.json())[0]["goods_back"] is False
    assert refunds_paid(runtime, s.order_id) == ["100.00"]
    assert stock(runtime, s.phone) == (4, 0, 2)  # never on sale again


def test_a_rejected_return_moves_nothing_and_stays_rejected(
        client: TestClient, runtime: Runtime, shipped: Shipped) -> None:
    s = shipped
    (request,) = returns_in(ask(client, s, 3).json())
    rejected = decide(client, s, request["id"], "reject", {"reason": "worn, tags removed"})
    assert rejected.status_code == 200, rejected.text
    (done,) = returns_in(rejected.json())
    assert done["status"] == "rejected" and done["rejection"] == "worn, tags removed"
    late = decide(client, s, request["id"], "accept", {"goods_back": True})
    assert late.status_code == 409 and late.json()["type"].endswith("/return-decided")
    assert decide(client, s, request["id"], "reject", {"reason": "again"}).status_code == 409
    assert refunds_paid(runtime, s.order_id) == [] and stock(runtime, s.phone) == (5, 0, 3)
    # the units are free to be asked back again
    assert ask(client, s, 3).status_code == 201


def test_only_the_shopper_asks_and_only_the_parts_merchant_decides(
        client: TestClient, runtime: Runtime, shipped: Shipped) -> None:
    s = shipped
    (request,) = returns_in(ask(client, s, 1).json())
    cedar = staff_of(client, runtime, hot_item(runtime, stock=1, name="Cedar").merchant_id, "cedar")
    assert ask(client, s, 1, who=s.bob).status_code == 404  # another shopper's order does not exist
    assert ask(client, s, 1, who=s.aster).status_code == 403
    for who, status in ((s.ann, 403), (s.bob, 403), (s.birch, 404), (cedar, 404)):
        answer = decide(client, s, request["id"], "accept", {"goods_back": True}, who=who)
        assert answer.status_code == status, (who, answer.text)
        assert decide(client, s, request["id"], "reject", {"reason": "no"}, who=who).status_code == status
    assert decide(client, s, request["id"] + 1, "accept", {"goods_back": True}).status_code == 404
    birchs = client.get(f"/api/v1/orders/{s.order_id}", headers=s.birch).json()
    assert returns_in(birchs) == []  # Birch reads its own part, without Aster's return
    asters = client.get(f"/api/v1/orders/{s.order_id}", headers=s.aster).json()
    assert [r["id"] for r in returns_in(asters)] == [request["id"]]
    assert refunds_paid(runtime, s.order_id) == [] and stock(runtime, s.phone) == (5, 0, 3)


def test_a_return_asks_at_most_the_units_shipped_and_not_refunded_or_asked_yet(
        client: TestClient, runtime: Runtime, shipped: Shipped) -> None:
    s = shipped
    assert ask(client, s, 4).status_code == 422
    assert ask(client, s, 2).status_code == 201
    too_many = ask(client, s, 2)  # one phone is left to ask for
    assert too_many.status_code == 422 and too_many.json()["type"].endswith("/return-too-large")
    not_shipped = ask(client, s, 1, sku_id=s.scarf)
    assert not_shipped.status_code == 409 and not_shipped.json()["type"].endswith("/return-not-shipped")
    assert ask(client, s, 1, sku_id=999_999).status_code == 422
    # Aster refunds the last phone itself: nothing is left to ask for
    own = client.post(f"/api/v1/orders/{s.order_id}/refunds", headers=s.aster,
                      json={"lines": [{"sku_id": s.phone, "qty": 1}], "back_on_shelf": False})
    assert own.status_code == 200, own.text
    assert ask(client, s, 1).status_code == 422
    assert len(returns_in(client.get(f"/api/v1/orders/{s.order_id}", headers=s.ann).json())) == 1


def test_bad_return_bodies_are_refused_and_change_nothing(
        client: TestClient, runtime: Runtime, shipped: Shipped) -> None:
    s = shipped
    path = f"/api/v1/orders/{s.order_id}/returns"
    line = {"sku_id": s.phone, "qty": 1}
    for body in ({"lines": [line], "reason": ""}, {"lines": [line], "reason": "nul\x00"},
                 {"lines": [], "reason": "why"}, {"lines": [line]}, {"lines": [line], "reason": "a", "x": 1},
                 {"lines": [{"sku_id": str(s.phone), "qty": 1}], "reason": "a"},
                 {"lines": [{"sku_id": 2**63, "qty": 1}], "reason": "a"}):
        answer = client.post(path, json=body, headers=s.ann)
        assert answer.status_code == 422, (body, answer.text)
    (request,) = returns_in(ask(client, s, 1).json())
    for body in ({"goods_back": 1}, {"goods_back": "true"}, {}, {"goods_back": True, "extra": 1}):
        assert decide(client, s, request["id"], "accept", body).status_code == 422, body
    assert decide(client, s, request["id"], "reject", {"reason": ""}).status_code == 422
    assert decide(client, s, 2**63, "accept", {"goods_back": True}).status_code == 422
    assert refunds_paid(runtime, s.order_id) == [] and stock(runtime, s.phone) == (5, 0, 3)
    seen = client.get(path.removesuffix("/returns"), headers=s.ann).json()
    assert [r["status"] for r in returns_in(seen)] == ["requested"]
