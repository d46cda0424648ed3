"""A payment still with the gateway: its order is not cancelled under it, and money captured for an
order that could no longer take it goes back in full, once. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shopfest.app import create_app
from shopfest.core.clock import SetClock, parse_instant
from shopfest.demo import HotItem, hot_item
from shopfest.orders.service import release_lapsed
from shopfest.payments import service as payments
from shopfest.payments.model import IntentStatus, PaymentIntent
from shopfest.payments.provider import SandboxProvider
from shopfest.payments.store import payment_refunds
from shopfest.payments.webhooks import event_body
from shopfest.runtime import Runtime
from tests.integration.test_orders_api import order, shopper, stock, webhook
from tests.integration.test_presale import (
    AFTER_THE_FESTIVAL,
    IN_THE_BALANCE_WINDOW,
    pay,
    signed_in_again,
    status,
)
from tests.integration.test_presale import presale as presale  # noqa: F401  # the fixture, by its name


class HeldWebhooks:
    """The runtime's sandbox gateway with its webhooks held here, for the test to deliver."""

    def __init__(self, runtime: Runtime) -> None:
        self.bodies: list[bytes] = []
        self.settled = threading.Event()
        provider = runtime.provider
        assert isinstance(provider, SandboxProvider)
        provider.deliver, provider.delay_seconds = self.hold, 0.05

    def hold(self, body: bytes, _signature: str) -> None:
        self.bodies.append(body)
        if json.loads(body)["type"] == "payment.succeeded":
            self.settled.set()

    def of_type(self, event_type: str) -> list[bytes]:
        return [b for b in self.bodies if json.loads(b)["type"] == event_type]


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


@pytest.fixture
def gateway(runtime: Runtime) -> HeldWebhooks:
    return HeldWebhooks(runtime)


def intent_of(runtime: Runtime, order_id: int) -> PaymentIntent:
    with runtime.uow() as uow:
        (intent,) = payments.intents_of(uow, order_id)
    return intent


def refunds_of(runtime: Runtime, intent_id: int) -> list[Any]:
    with runtime.engine.connect() as conn:
        return list(conn.execute(select(payment_refunds).where(payment_refunds.c.intent_id == intent_id)))


def status_of(client: TestClient, who: dict[str, str], order_id: int) -> str:
    return str(client.get(f"/api/v1/orders/{order_id}", headers=who).json()["status"])


def paid_late(client: TestClient, runtime: Runtime, gateway: HeldWebhooks,
              who: dict[str, str]) -> tuple[int, int]:
    """A phone (5 in stock) ordered and paid with `sandbox_delay`: the gateway has captured the money
    and its webhooks wait in `gateway`. The phone's SKU and the order."""
    phone = hot_item(runtime, stock=5)
    placed = order(client, who, [{"sku_id": phone.sku_id, "qty": 1}]).json()
    paying = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_delay"}, headers=who)
    assert paying.status_code == 200 and paying.json()["status"] == "awaiting_payment"
    assert gateway.settled.wait(timeout=30)
    return phone.sku_id, int(placed["id"])


def test_an_order_whose_payment_is_in_flight_cannot_be_cancelled(
        client: TestClient, runtime: Runtime, gateway: HeldWebhooks) -> None:
    # given an order whose payment the gateway is still processing
    ann = shopper(client, runtime, "ann")
    sku_id, order_id = paid_late(client, runtime, gateway, ann)

    # when its shopper cancels it
    refused = client.post(f"/api/v1/orders/{order_id}/cancel", headers=ann)

    # then it is refused with its own problem, and nothing moved
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/payment-in-flight")
    assert status_of(client, ann, order_id) == "awaiting_payment"
    assert stock(runtime, sku_id) == (5, 1, 0)
    assert intent_of(runtime, order_id).status is IntentStatus.PROCESSING
    # and once the gateway's news arrives, the order is paid as usual
    for body in gateway.bodies:
        assert webhook(client, runtime, body).json() == {"applied": True}
    assert status_of(client, ann, order_id) == "paid"
    assert stock(runtime, sku_id) == (5, 0, 1)
    assert gateway.of_type("refund.succeeded") == []


def test_a_payment_captured_after_its_order_lapsed_goes_back_in_full_once(
        client: TestClient, runtime: Runtime, gateway: HeldWebhooks) -> None:
    # given a payment the gateway captured while the order's reservation lapsed and was swept
    ann = shopper(client, runtime, "ann")
    sku_id, order_id = paid_late(client, runtime, gateway, ann)
    clock = runtime.clock
    assert isinstance(clock, SetClock)
    clock.set(clock.now() + timedelta(minutes=16))
    assert release_lapsed(runtime.uow(), runtime.gate) == 1
    news = list(gateway.bodies)  # payment.processing, then payment.succeeded

    # when the gateway's webhooks arrive
    for body in news:
        assert webhook(client, runtime, body).json() == {"applied": True}

    # then the whole payment went back, once, recorded as a refund, and the order stays cancelled
    intent = intent_of(runtime, order_id)
    assert intent.status is IntentStatus.REFUNDED and intent.refunded_minor == intent.amount.minor == 599900
    (refund,) = refunds_of(runtime, intent.id or 0)
    assert refund.refund_key == f"auto:intent:{intent.id}"
    assert (refund.amount_minor, refund.currency) == (intent.amount.minor, intent.amount.currency)
    (refunded,) = gateway.of_type("refund.succeeded")
    assert json.loads(refunded)["data"]["amount_minor"] == 599900
    assert status_of(client, ann, order_id) == "cancelled"
    assert stock(runtime, sku_id) == (5, 0, 0)

    # and the success delivered again, or told again under another event id, pays back nothing more
    assert webhook(client, runtime, news[-1]).json() == {"applied": False}
    told_again = event_body("payment.succeeded", provider_ref=intent.provider_ref or "",
                            amount=intent.amount, created=int(clock.now().timestamp()))
    assert webhook(client, runtime, told_again).status_code == 200
    assert len(refunds_of(runtime, intent.id or 0)) == 1
    assert len(gateway.of_type("refund.succeeded")) == 1
    assert intent_of(runtime, order_id) == intent


def test_refunding_an_unwanted_payment_again_pays_back_nothing_more(
        client: TestClient, runtime: Runtime, gateway: HeldWebhooks) -> None:
    # given a captured payment, already paid back under its key
    ann = shopper(client, runtime, "ann")
    _, order_id = paid_late(client, runtime, gateway, ann)
    for body in gateway.bodies:
        webhook(client, runtime, body)
    intent = intent_of(runtime, order_id)
    for _ in range(2):
        with runtime.uow() as uow:
            paid_back = payments.refund_intent(uow, runtime.provider, intent_id=intent.id or 0,
                                               refund_key="auto:intent:test")
            uow.commit()
        # then asking again answers the same amount and pays nothing more
        assert paid_back == intent.amount.minor
    assert len(refunds_of(runtime, intent.id or 0)) == 1
    assert len(gateway.of_type("refund.succeeded")) == 1


def test_a_balance_captured_after_the_deposit_was_forfeited_goes_back_and_the_deposit_stays(
        client: TestClient, runtime: Runtime, clock: SetClock, presale: HotItem,
        gateway: HeldWebhooks) -> None:
    # given a pre-sale whose deposit is paid and whose balance the gateway is still processing
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": presale.sku_id, "qty": 1}]).json()
    assert pay(client, ann, placed["id"]).json()["status"] == "deposit_paid"
    # (the deposit's own news comes a moment later: wait for it, so that only the balance's is held)
    assert gateway.settled.wait(timeout=30)
    gateway.bodies.clear()
    gateway.settled.clear()
    clock.set(parse_instant(IN_THE_BALANCE_WINDOW))
    ann = signed_in_again(client, "ann")
    release_lapsed(runtime.uow(), runtime.gate)
    paying = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_delay"}, headers=ann)
    assert paying.json()["status"] == "awaiting_balance"
    assert gateway.settled.wait(timeout=30)
    # and the balance window closes before the gateway's news arrives: the deposit is forfeited
    clock.set(parse_instant(AFTER_THE_FESTIVAL))
    ann = signed_in_again(client, "ann")
    assert release_lapsed(runtime.uow(), runtime.gate) == 1

    # when it arrives
    for body in list(gateway.bodies):
        assert webhook(client, runtime, body).json() == {"applied": True}

    # then the balance went back in full, and the forfeited deposit was kept
    with runtime.uow() as uow:
        deposit, balance = payments.intents_of(uow, placed["id"])
    assert (deposit.purpose, deposit.status, deposit.refunded_minor) == ("deposit", IntentStatus.SUCCEEDED, 0)
    assert (balance.purpose, balance.status) == ("balance", IntentStatus.REFUNDED)
    assert balance.refunded_minor == balance.amount.minor == 549900
    assert [(r.refund_key, r.amount_minor) for r in refunds_of(runtime, balance.id or 0)] == [
        (f"auto:intent:{balance.id}", 549900)]
    assert status(client, ann, placed["id"]) == "deposit_forfeited"
    assert stock(runtime, presale.sku_id) == (3, 0, 0)
