"""In-store QR pay over HTTP and through its use cases: the festival's local discount (from 30, three
times a local day, small shops, sale periods only, never a 4th use however many pay at once), paying
through the sandbox once, who may see and pay what, and a merchant's settlement and its CSV."""

from __future__ import annotations

import csv
import io
import json
import threading
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.audit.service import audit
from shopfest.catalog.model import Fulfilment
from shopfest.core.actor import Actor, Role
from shopfest.core.money import Money
from shopfest.demo import hot_item
from shopfest.festival import service as festival
from shopfest.local import instore
from shopfest.local.model import Point, Shop, ShopKind
from shopfest.local.store import LocalStore
from shopfest.payments import service as payments
from shopfest.payments.provider import SandboxProvider
from shopfest.payments.webhooks import event_body, sign
from shopfest.runtime import Runtime
from tests.conftest import at
from tests.integration.helpers import bearer, operator_token, token_for

SALE_EVENING = at("2027-11-01T23:00:00+08:00")  # wave 1's sale, late on its first day in Shanghai
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class Counter:
    client: TestClient
    runtime: Runtime
    merchant_id: int
    other_merchant_id: int
    sku_id: int  # merchant's service voucher
    ann_id: int
    ann: dict[str, str]  # headers
    bob: dict[str, str]
    staff: dict[str, str]
    other_staff: dict[str, str]
    ops: dict[str, str]


def _account(client: TestClient, runtime: Runtime, name: str, role: Role = Role.SHOPPER,
             merchant_id: int | None = None) -> tuple[int, dict[str, str]]:
    user = accounts.create_account_unchecked(runtime.uow(), email=f"{name}@pay.test", password="pay-secret-1",
                                             role=role, merchant_id=merchant_id)
    assert user.id is not None
    return user.id, bearer(token_for(client, f"{name}@pay.test", "pay-secret-1"))


def _shop(runtime: Runtime, merchant_id: int, kind: ShopKind, token: str) -> None:
    with runtime.uow() as uow:
        LocalStore(uow.conn).add_shop(Shop(merchant_id, f"{kind.value} on Nanjing Road", kind, 1796236,
                                           Point(31.235, 121.475), "Asia/Shanghai", pay_token=token),
                                      at=runtime.clock.now())
        uow.commit()


@pytest.fixture
def counter(runtime: Runtime) -> Counter:
    runtime.clock.set(SALE_EVENING)  # type: ignore[attr-defined]  # the suite's SetClock
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    item = hot_item(runtime, stock=20, price="60.00", fulfilment=Fulfilment.SERVICE_VOUCHER, name="Noodle")
    other = hot_item(runtime, stock=1, name="Other")
    _shop(runtime, item.merchant_id, ShopKind.GROCERY, "grocery-nanjing-road")
    _shop(runtime, item.merchant_id, ShopKind.CAR_DEALER, "cars-nanjing-road")
    client = TestClient(create_app(runtime=runtime))
    ann_id, ann = _account(client, runtime, "ann")
    _, bob = _account(client, runtime, "bob")
    _, staff = _account(client, runtime, "staff", Role.MERCHANT, item.merchant_id)
    _, other_staff = _account(client, runtime, "other", Role.MERCHANT, other.merchant_id)
    ops = bearer(operator_token(client, runtime))
    return Counter(client, runtime, item.merchant_id, other.merchant_id, item.sku_id, ann_id, ann, bob, staff,
                   other_staff, ops)


def _offer(c: Counter, amount: str, who: dict[str, str] | None = None,
           token: str = "grocery-nanjing-road") -> Any:
    answer = c.client.get(f"/api/v1/local/pay/{token}", params={"amount": amount}, headers=who or c.ann)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _start(c: Counter, amount: str, key: str, who: dict[str, str] | None = None,
           token: str = "grocery-nanjing-road") -> Any:
    return c.client.post(f"/api/v1/local/pay/{token}", json={"amount": amount},
                         headers={**(who or c.ann), "Idempotency-Key": key})


def _pay(c: Counter, payment_id: int, method: str = "sandbox_ok", who: dict[str, str] | None = None) -> Any:
    return c.client.post(f"/api/v1/local/payments/{payment_id}/pay", json={"method": method},
                         headers=who or c.ann)


@SQLITE
def test_spend_30_save_5_three_times_a_local_day_at_small_shops_while_a_sale_is_on(counter: Counter) -> None:
    c = counter
    assert _offer(c, "29.99")["discount"] == {"amount": "0.00", "currency": "CNY"}
    offer = _offer(c, "30")
    assert offer["discount"]["amount"] == "5.00" and offer["to_pay"]["amount"] == "25.00"
    assert offer["discount_uses_left"] == 3 and offer["local_discount"]["per_day"] == 3
    assert offer["local_discount"]["funded_by"] == "platform" and offer["shop"]["kind"] == "grocery"
    cars = _offer(c, "300", token="cars-nanjing-road")
    assert cars["discount"]["amount"] == "0.00" and cars["local_discount"] is None

    discounts = [_start(c, "30.00", f"k{i}").json()["discount"]["amount"] for i in range(4)]
    assert discounts == ["5.00", "5.00", "5.00", "0.00"]
    assert _offer(c, "30")["discount"]["amount"] == "0.00" and _offer(c, "30")["discount_uses_left"] == 0
    assert _offer(c, "30", who=c.bob)["discount"]["amount"] == "5.00"  # another shopper's own three

    # Past midnight in Shanghai (the same UTC day): a new local day, three uses again.
    c.runtime.clock.set(at("2027-11-02T00:10:00+08:00"))  # type: ignore[attr-defined]
    declined = _start(c, "30", "declined").json()
    assert _pay(c, declined["id"], "sandbox_fail").status_code == 402
    assert _get(c, declined["id"])["status"] == "failed" and _offer(c, "30")["discount_uses_left"] == 3
    left = _start(c, "30", "left").json()
    assert left["discount"]["amount"] == "5.00" and _offer(c, "30")["discount_uses_left"] == 2
    c.runtime.clock.set(at("2027-11-02T00:30:00+08:00"))  # type: ignore[attr-defined]
    assert _pay(c, left["id"]).json()["type"] == "/problems/in-store-payment-closed"  # waited too long
    assert _offer(c, "30")["discount_uses_left"] == 3  # the abandoned payment gave its use back

    # Between the sales (the sign-in tokens expired by then: the use cases themselves).
    between, ann = at("2027-11-05T12:00:00+08:00"), Actor(c.ann_id, Role.SHOPPER)
    closed = instore.pay_offer(c.runtime.uow(read_only=True), pay_token="grocery-nanjing-road",
                               shopper_id=c.ann_id, amount=Money(3000, "CNY"), now=between)
    assert closed.sale_open is False and closed.rule is None and closed.discount == Money(0, "CNY")
    assert instore.start_payment(c.runtime.uow(), c.runtime.provider, ann, pay_token="grocery-nanjing-road",
                                 amount=Money(3000, "CNY"), key="between", now=between).discount.minor == 0


def _get(c: Counter, payment_id: int, who: dict[str, str] | None = None) -> Any:
    answer = c.client.get(f"/api/v1/local/payments/{payment_id}", headers=who or c.ann)
    return answer.json() if answer.status_code == 200 else answer.status_code


@SQLITE
def test_a_payment_starts_once_per_key_is_paid_through_the_gateway_once_and_only_by_its_shopper(
        counter: Counter) -> None:
    c = counter
    first = _start(c, "48.50", "lunch")
    assert first.status_code == 201, first.text
    started = first.json()
    assert started["amount"]["amount"] == "48.50" and started["to_pay"]["amount"] == "43.50"
    assert started["status"] == "started" and started["merchant_id"] == c.merchant_id
    assert _start(c, "48.50", "lunch").json() == started  # a retry: the same payment, one discount
    assert _offer(c, "30")["discount_uses_left"] == 2
    assert _start(c, "50.00", "lunch").status_code == 422  # the key came with another amount

    # Nobody but Ann pays or sees it; her shop's staff and operators see it.
    assert _pay(c, started["id"], who=c.bob).status_code == 404
    assert _get(c, started["id"], c.bob) == 404 and _get(c, started["id"], c.other_staff) == 404
    assert _get(c, started["id"], c.staff)["id"] == started["id"] == _get(c, started["id"], c.ops)["id"]

    paid = _pay(c, started["id"])
    assert paid.status_code == 200 and paid.json()["status"] == "paid" and paid.json()["paid_at"]
    again = _pay(c, started["id"])
    assert again.json() == paid.json()
    with c.runtime.uow(read_only=True) as uow:
        intents = payments.intents_of(uow, -started["id"])
    assert [(i.purpose, i.amount, i.status.value) for i in intents] == [
        ("instore", Money(4350, "CNY"), "succeeded")]

    # Bad input is a problem, never a 500, and starts nothing.
    for amount in ("0", "-5", "abc", "30.001", "100000.01", "1" * 24):
        assert _start(c, amount, f"bad-{amount}").status_code == 422
    assert _start(c, "30", "no-shop", token="no-such-token").status_code == 404
    assert c.client.get("/api/v1/local/pay/x" + "y" * 300).status_code == 404
    assert c.client.post("/api/v1/local/pay/grocery-nanjing-road", json={"amount": "30"},
                         headers=c.ann).status_code == 422  # no Idempotency-Key
    assert _start(c, "30", "staff", who=c.staff).status_code == 403
    assert c.client.post("/api/v1/local/pay/grocery-nanjing-road", json={"amount": "30"},
                         headers={"Idempotency-Key": "anon"}).status_code == 401
    unpaid = _start(c, "31", "bitcoin").json()
    assert _pay(c, unpaid["id"], "bitcoin").status_code == 422
    assert _get(c, unpaid["id"])["status"] == "started"
    assert _pay(c, 10**12).status_code == 404 and _get(c, 0) == 422
    assert _offer(c, "30")["discount_uses_left"] == 1
    _decided_later(c)


def _webhook(c: Counter, body: bytes) -> Any:
    now = int(c.runtime.clock.now().timestamp())
    signature = sign(body, secret=c.runtime.settings.webhook_secret, at=now)
    return c.client.post("/api/v1/payments/webhooks/sandbox", content=body,
                         headers={"Shopfest-Signature": signature, "Content-Type": "application/json"})


def _decided_later(c: Counter) -> None:
    """Bob pays with a method the gateway decides later: its webhook pays, or gives back."""
    bob = c.bob
    gateway = c.runtime.provider
    assert isinstance(gateway, SandboxProvider)
    gateway.delay_seconds, gateway.deliver = None, None  # the test settles and delivers its webhooks
    later = _start(c, "30", "later", bob).json()
    assert _pay(c, later["id"], "sandbox_delay", bob).json()["status"] == "processing"
    gateway.settle_pending()
    assert _webhook(c, gateway.sent[-1][0]).json() == {"applied": True}
    assert _get(c, later["id"], bob)["status"] == "paid"

    # The gateway says declined (the discount use comes back), then captures after all: it goes back.
    odd = _start(c, "30", "odd", bob).json()
    _pay(c, odd["id"], "sandbox_delay", bob)
    with c.runtime.uow(read_only=True) as uow:
        (intent,) = payments.intents_of(uow, -odd["id"])
    failed = event_body("payment.failed", provider_ref=intent.provider_ref or "", amount=intent.amount,
                        created=int(c.runtime.clock.now().timestamp()), reason="card declined")
    assert _webhook(c, failed).json() == {"applied": True}
    assert _get(c, odd["id"], bob)["status"] == "failed" and _offer(c, "30", bob)["discount_uses_left"] == 2
    gateway.settle_pending()
    assert _webhook(c, gateway.sent[-1][0]).json() == {"applied": True}
    with c.runtime.uow(read_only=True) as uow:
        (intent,) = payments.intents_of(uow, -odd["id"])
    assert intent.status.value == "refunded" and _get(c, odd["id"], bob)["status"] == "failed"
    assert [json.loads(body)["type"] for body, _ in gateway.sent[-2:]] == [
        "payment.succeeded", "refund.succeeded"]


def _settlement(c: Counter, who: dict[str, str], suffix: str = "", **params: Any) -> Any:
    query = {"merchant_id": c.merchant_id, "start": "2027-11-01", "end": "2027-11-02", **params}
    return c.client.get(f"/api/v1/local/settlement{suffix}", params=query, headers=who)


@SQLITE
def test_a_merchants_settlement_adds_up_per_day_for_its_staff_and_its_csv_reads_back(
        counter: Counter) -> None:
    c = counter
    placed = c.client.post("/api/v1/orders", json={"lines": [{"sku_id": c.sku_id, "qty": 2}]},
                           headers={**c.ann, "Idempotency-Key": "vouchers"})
    assert placed.status_code == 201, placed.text
    assert c.client.post(f"/api/v1/orders/{placed.json()['id']}/pay", json={"method": "sandbox_ok"},
                         headers=c.ann).status_code == 200
    for key, amount in (("a", "30.00"), ("b", "12.34"), ("c", "99.99")):
        payment = _start(c, amount, key).json()
        if key != "c":  # c is started, never paid: not settled
            assert _pay(c, payment["id"]).json()["status"] == "paid"

    answer = _settlement(c, c.staff)
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["days"]
    assert first["day"] == "2027-11-01" and second["qr_payments"] == 0  # 23:00 in Shanghai is 15:00 UTC
    assert first["vouchers_sold"] == 2 and first["vouchers_sold_amount"]["amount"] == "120.00"
    assert first["qr_payments"] == 2 and first["qr_gross"]["amount"] == "42.34"
    assert first["platform_discounts"]["amount"] == "5.00"
    assert first["qr_paid_by_shoppers"]["amount"] == "37.34"
    # Fees, 0.6 % half-even per payment: 120.00 -> 0.72, 25.00 -> 0.15, 12.34 -> 0.07 (0.07404)
    assert first["fees"]["amount"] == "0.94"
    assert first["net_payout"]["amount"] == "161.40"  # 120.00 + 42.34 - 0.94
    assert first["vouchers_redeemed"] == 0  # until local-vouchers' redemptions are wired

    rows = list(csv.DictReader(io.StringIO(_settlement(c, c.ops, ".csv").text)))
    assert [r["day"] for r in rows] == ["2027-11-01", "2027-11-02"]
    assert {k: rows[0][k] for k in ("qr_gross", "fees", "net_payout", "vouchers_sold")} == {
        "qr_gross": "42.34", "fees": "0.94", "net_payout": "161.40", "vouchers_sold": "2"}

    assert audit(c.runtime.uow(snapshot=True)) == []  # in-store payments are no order's: no breach
    assert _settlement(c, c.other_staff).status_code == 403
    assert _settlement(c, c.ann).status_code == 403
    assert _settlement(c, c.ops, merchant_id=10**9).status_code == 404
    for bad in ({"start": "2027-13-01"}, {"end": "2027-10-01"}, {"end": "2028-11-01"}, {"merchant_id": "x"}):
        assert _settlement(c, c.ops, **bad).status_code == 422


def test_six_payments_at_once_from_one_shopper_take_exactly_three_discounts(counter: Counter) -> None:
    c = counter
    ann = Actor(c.ann_id, Role.SHOPPER)
    keys = [f"rush-{i}" for i in range(6)] + ["rush-0", "rush-0"]  # and a twin retried twice at once
    started: list[tuple[str, int, int]] = []
    gate = threading.Barrier(len(keys))

    def start(key: str) -> None:
        gate.wait(timeout=5)
        payment = instore.start_payment(c.runtime.uow(), c.runtime.provider, ann,
                                        pay_token="grocery-nanjing-road", amount=Money(3000, "CNY"),
                                        key=key, now=c.runtime.clock.now())
        started.append((key, payment.id, payment.discount.minor))

    threads = [threading.Thread(target=start, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(started) == 8 and len({(key, pid) for key, pid, _ in started}) == 6
    assert sorted(off for pid, off in {(pid, off) for _, pid, off in started}) == [0, 0, 0, 500, 500, 500]
    offer = instore.pay_offer(c.runtime.uow(read_only=True), pay_token="grocery-nanjing-road",
                              shopper_id=c.ann_id, amount=Money(3000, "CNY"), now=c.runtime.clock.now())
    assert offer.discount_uses_left == 0 and offer.discount == Money(0, "CNY")
