"""Checkout prices with the festival's promotions and the shopper's coupons; coupons are held by the
order, spent when it is paid, and come back when it is cancelled or refunded in full."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.core.actor import Role
from shopfest.core.clock import SetClock
from shopfest.demo import HotItem, hot_item
from shopfest.festival import service as festival
from shopfest.runtime import Runtime
from tests.conftest import at
from tests.integration.helpers import bearer, operator_token, token_for
from tests.integration.test_orders_api import order, shopper


@pytest.fixture
def client(runtime: Runtime, clock: SetClock) -> TestClient:
    # An hour into 11.11: promotions belong to a sale, and the window below lies within it.
    clock.set(at("2027-11-11T01:00:00+08:00"))
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    return TestClient(create_app(runtime=runtime))


def staff_of(client: TestClient, runtime: Runtime, item: HotItem, name: str) -> dict[str, str]:
    accounts.create_account_unchecked(runtime.uow(), email=f"{name}@staff.test", password="staff-secret-1",
                                      role=Role.MERCHANT, merchant_id=item.merchant_id)
    return bearer(token_for(client, f"{name}@staff.test", "staff-secret-1"))


def window(runtime: Runtime) -> dict[str, str]:
    now = runtime.clock.now()
    return {"starts_at": (now - timedelta(minutes=30)).isoformat(),
            "ends_at": (now + timedelta(hours=6)).isoformat()}


def put_on(client: TestClient, who: dict[str, str], path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(path, json=body, headers=who)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def cny(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY"}


@pytest.fixture
def festival_cart(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """A phone (5999.00) and a scarf (199.00) of two merchants; the phone's store takes 300.00 off
    5000.00; the platform takes 40.00 off every 300.00; the shopper holds a platform coupon of
    100.00 off 5000.00."""
    phone = hot_item(runtime, stock=5, name="Aster")
    scarf = hot_item(runtime, stock=5, price="199.00", name="Birch")
    ops = bearer(operator_token(client, runtime))
    threshold = put_on(client, staff_of(client, runtime, phone, "aster"), "/api/v1/promotions", {
        "kind": "store_threshold", "currency": "CNY", **window(runtime),
        "rule": {"tiers": [{"spend": "5000.00", "off": "300.00"}]}})
    cross = put_on(client, ops, "/api/v1/promotions", {
        "kind": "cross_store", "currency": "CNY", **window(runtime),
        "rule": {"every": "300.00", "off": "40.00", "exclude_tiers": ["luxury"]}})
    coupon = put_on(client, ops, "/api/v1/coupons", {
        "kind": "platform_coupon", "off": cny("100.00"), "min_spend": cny("5000.00"), "quantity": 100,
        "per_shopper_limit": 1, **window(runtime)})
    ann = shopper(client, runtime, "ann")
    put_on(client, ann, f"/api/v1/coupons/{coupon['id']}/claim", {})
    return {"phone": phone, "scarf": scarf, "ann": ann, "coupon": coupon, "threshold": threshold,
            "cross": cross}


def wallet(client: TestClient, who: dict[str, str]) -> list[tuple[str, int | None]]:
    return [(g["state"], g["order_id"]) for g in client.get("/api/v1/coupons/mine", headers=who).json()]


def test_checkout_stacks_the_promotions_and_the_coupon_in_the_festivals_order(
        client: TestClient, festival_cart: dict[str, Any]) -> None:
    cart, ann = festival_cart, festival_cart["ann"]
    placed = order(client, ann, [{"sku_id": cart["phone"].sku_id, "qty": 1},
                                 {"sku_id": cart["scarf"].sku_id, "qty": 2}], coupons=[cart["coupon"]["id"]])
    assert placed.status_code == 201, placed.text
    body = placed.json()
    # store threshold: phone 5999.00 - 300.00 = 5699.00; cross-store on 5699.00 + 398.00 = 6097.00:
    # 20 x 40.00 = 800.00, in fen 74777.76 / 5222.24 -> 747.78 / 52.22 (the spare fen to the larger
    # remainder); platform coupon on 4951.22 + 345.78 = 5297.00: 100.00, in fen 9347.22 / 652.78
    # -> 93.47 / 6.53
    assert body["total"] == cny("5197.00")
    lines = {line["sku_id"]: line for child in body["children"] for line in child["lines"]}
    phone, scarf = lines[cart["phone"].sku_id], lines[cart["scarf"].sku_id]
    assert phone["total"] == cny("4857.75") and scarf["total"] == cny("339.25")
    assert [(a["source"], a["amount"]["amount"]) for a in phone["adjustments"]] == [
        (f"promotion:{cart['threshold']['id']}", "300.00"), (f"promotion:{cart['cross']['id']}", "747.78"),
        (f"coupon:{cart['coupon']['id']}", "93.47")]
    assert wallet(client, ann) == [("held", body["id"])]


def test_paying_spends_the_coupon_and_a_full_refund_gives_it_back(
        client: TestClient, festival_cart: dict[str, Any]) -> None:
    cart, ann = festival_cart, festival_cart["ann"]
    lines = [{"sku_id": cart["phone"].sku_id, "qty": 1}, {"sku_id": cart["scarf"].sku_id, "qty": 2}]
    placed = order(client, ann, lines, coupons=[cart["coupon"]["id"]]).json()
    paid = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_ok"}, headers=ann)
    assert paid.json()["status"] == "paid"
    assert wallet(client, ann) == [("spent", placed["id"])]
    # one scarf gives back its share of what the two cost after every discount: 339.25 / 2, floored
    one = client.post(f"/api/v1/orders/{placed['id']}/refunds",
                      json={"lines": [{"sku_id": cart["scarf"].sku_id, "qty": 1}]}, headers=ann).json()
    assert one["status"] == "partially_refunded" and wallet(client, ann) == [("spent", placed["id"])]
    assert [line["refunded"] for child in one["children"] for line in child["lines"]
            if line["sku_id"] == cart["scarf"].sku_id] == [cny("169.62")]
    rest = client.post(f"/api/v1/orders/{placed['id']}/refunds", json={}, headers=ann).json()
    assert rest["status"] == "refunded"
    assert wallet(client, ann) == [("claimed", None)]
    refunded = [line["refunded"] for child in rest["children"] for line in child["lines"]]
    assert sorted(r["amount"] for r in refunded) == ["339.25", "4857.75"]


def test_a_cancelled_order_gives_the_coupon_back_and_a_coupon_serves_one_order_at_a_time(
        client: TestClient, festival_cart: dict[str, Any]) -> None:
    cart, ann = festival_cart, festival_cart["ann"]
    lines = [{"sku_id": cart["phone"].sku_id, "qty": 1}, {"sku_id": cart["scarf"].sku_id, "qty": 2}]
    first = order(client, ann, lines, coupons=[cart["coupon"]["id"]]).json()
    second = order(client, ann, lines, coupons=[cart["coupon"]["id"]])
    assert second.status_code == 409 and second.json()["type"].endswith("/coupon-unavailable")
    client.post(f"/api/v1/orders/{first['id']}/cancel", headers=ann)
    assert wallet(client, ann) == [("claimed", None)]
    third = order(client, ann, lines, coupons=[cart["coupon"]["id"]])
    assert third.status_code == 201 and third.json()["total"] == cny("5197.00")
    assert wallet(client, ann) == [("held", third.json()["id"])]
    never_claimed = order(client, ann, lines, coupons=[999_999])
    assert never_claimed.status_code == 409 and never_claimed.json()["type"].endswith("/coupon-unavailable")


def test_a_coupon_that_cannot_be_used_stays_in_the_wallet(
        client: TestClient, festival_cart: dict[str, Any]) -> None:
    cart, ann = festival_cart, festival_cart["ann"]
    # 2 scarves: 398.00, one cross-store step (40.00): 358.00; the coupon needs 5000.00: not usable
    placed = order(client, ann, [{"sku_id": cart["scarf"].sku_id, "qty": 2}],
                   coupons=[cart["coupon"]["id"]]).json()
    assert placed["total"] == cny("358.00")
    assert wallet(client, ann) == [("claimed", None)]


def test_many_orders_at_once_use_one_coupon_only_once(
        client: TestClient, runtime: Runtime, festival_cart: dict[str, Any]) -> None:
    cart, ann = festival_cart, festival_cart["ann"]
    lines = [{"sku_id": cart["phone"].sku_id, "qty": 1}, {"sku_id": cart["scarf"].sku_id, "qty": 1}]
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: order(client, ann, lines, coupons=[cart["coupon"]["id"]]),
                                range(6)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 409, 409, 409, 409, 409]
    [placed] = [a.json() for a in answers if a.status_code == 201]
    assert wallet(client, ann) == [("held", placed["id"])]


def test_staff_promote_only_their_own_store_and_bad_rules_are_refused(
        client: TestClient, runtime: Runtime, festival_cart: dict[str, Any]) -> None:
    staff = staff_of(client, runtime, festival_cart["scarf"], "birch")
    # the rule's merchant is always the staff's own store
    mine = put_on(client, staff, "/api/v1/promotions", {
        "kind": "percent_off", "currency": "CNY", **window(runtime),
        "rule": {"merchant": str(festival_cart["phone"].merchant_id), "percent": 10}})
    assert mine["merchant_id"] == festival_cart["scarf"].merchant_id
    assert mine["rule"]["merchant"] == str(festival_cart["scarf"].merchant_id)
    refused = [
        ({"kind": "cross_store", "rule": {"every": "100.00", "off": "10.00"}}, 403),
        ({"kind": "percent_off", "rule": {"percent": 140}}, 422),
        ({"kind": "store_threshold", "rule": {"tiers": [{"spend": "-5.00", "off": "1.00"}]}}, 422),
        ({"kind": "buy_one_get_one", "rule": {}}, 422),
        ({"kind": "percent_off", "rule": {"percent": 10}, "starts_at": "2031-01-01T00:00:00+00:00",
          "ends_at": "2031-01-02T00:00:00+00:00"}, 422),
    ]
    for body, status in refused:
        answer = client.post("/api/v1/promotions", headers=staff,
                             json={"currency": "CNY", **window(runtime), **body})
        assert answer.status_code == status, (body, answer.text)
    listed = client.get(f"/api/v1/promotions?merchant_id={festival_cart['scarf'].merchant_id}").json()
    assert [p["id"] for p in listed] == [mine["id"]]
