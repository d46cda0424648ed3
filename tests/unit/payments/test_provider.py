from __future__ import annotations

import json
import threading

import pytest

from shopfest.core.clock import SetClock, parse_instant
from shopfest.core.errors import InvalidInput
from shopfest.core.money import Money
from shopfest.payments.model import IntentStatus
from shopfest.payments.provider import Deliver, SandboxProvider
from shopfest.payments.webhooks import verify

SECRET = "whsec_sandbox"
EVE = parse_instant("2027-11-10T23:55:00+08:00")
NOW = int(EVE.timestamp())
PRICE = Money(111100, "CNY")


def sandbox(deliver: Deliver | None = None, delay_seconds: float = 0.2) -> SandboxProvider:
    return SandboxProvider(SECRET, deliver, delay_seconds, clock=SetClock(EVE, speed=0))


def types_sent(provider: SandboxProvider) -> list[str]:
    return [verify(body, header, secret=SECRET, now=NOW)["type"] for body, header in provider.sent]


def test_sandbox_ok_captures_at_once_and_says_so_in_a_signed_webhook() -> None:
    delivered: list[tuple[bytes, str]] = []
    provider = sandbox(deliver=lambda body, header: delivered.append((body, header)))
    outcome = provider.charge(intent_ref="pi-1", amount=PRICE, method="sandbox_ok")
    assert outcome.status is IntentStatus.SUCCEEDED and outcome.reason is None
    assert delivered == provider.sent and types_sent(provider) == ["payment.succeeded"]
    data = json.loads(provider.sent[0][0])["data"]
    assert data == {"provider_ref": outcome.provider_ref, "amount_minor": 111100, "currency": "CNY"}


def test_charging_the_same_intent_twice_is_one_charge() -> None:
    provider = sandbox()
    first = provider.charge(intent_ref="pi-1", amount=PRICE, method="sandbox_ok")
    again = provider.charge(intent_ref="pi-1", amount=PRICE, method="sandbox_ok")
    assert again == first and len(provider.sent) == 1
    other = provider.charge(intent_ref="pi-2", amount=PRICE, method="sandbox_ok")
    assert other.provider_ref != first.provider_ref


def test_sandbox_fail_declines_and_a_retry_is_a_new_attempt_at_the_same_payment() -> None:
    provider = sandbox()
    declined = provider.charge(intent_ref="pi-1", amount=PRICE, method="sandbox_fail")
    assert declined.status is IntentStatus.FAILED and declined.reason
    retried = provider.charge(intent_ref="pi-1", amount=PRICE, method="sandbox_ok")
    assert (retried.status, retried.provider_ref) == (IntentStatus.SUCCEEDED, declined.provider_ref)
    assert types_sent(provider) == ["payment.failed", "payment.succeeded"]


def test_sandbox_delay_is_processing_now_and_succeeds_later() -> None:
    settled = threading.Event()

    def deliver(body: bytes, header: str) -> None:
        if json.loads(body)["type"] == "payment.succeeded":
            settled.set()

    provider = sandbox(deliver=deliver, delay_seconds=0.01)
    outcome = provider.charge(intent_ref="pi-1", amount=PRICE, method="sandbox_delay")
    assert outcome.status is IntentStatus.PROCESSING
    assert settled.wait(timeout=10)
    assert types_sent(provider) == ["payment.processing", "payment.succeeded"]
    later = provider.charge(intent_ref="pi-1", amount=PRICE, method="sandbox_delay")
    assert later.status is IntentStatus.SUCCEEDED and len(provider.sent) == 2


def test_the_sandbox_knows_only_its_own_methods() -> None:
    with pytest.raises(InvalidInput):
        sandbox().charge(intent_ref="pi-1", amount=PRICE, method="visa")


def test_a_refund_pays_once_per_key_and_never_more_than_was_captured() -> None:
    provider = sandbox()
    ref = provider.charge(intent_ref="pi-1", amount=PRICE, method="sandbox_ok").provider_ref
    first = provider.refund(provider_ref=ref, amount=Money(100000, "CNY"), refund_key="rf-1")
    assert provider.refund(provider_ref=ref, amount=Money(100000, "CNY"), refund_key="rf-1") == first
    assert types_sent(provider) == ["payment.succeeded", "refund.succeeded"]
    assert json.loads(provider.sent[1][0])["data"]["refund_ref"] == first
    with pytest.raises(InvalidInput):
        provider.refund(provider_ref=ref, amount=Money(11101, "CNY"), refund_key="rf-2")


def test_a_webhook_endpoint_that_fails_does_not_undo_the_charge() -> None:
    def broken(body: bytes, header: str) -> None:
        raise ConnectionError("endpoint down")

    provider = sandbox(deliver=broken)
    outcome = provider.charge(intent_ref="pi-1", amount=PRICE, method="sandbox_ok")
    assert outcome.status is IntentStatus.SUCCEEDED
    assert len(provider.sent) == 1


def test_a_delayed_charge_without_a_delay_waits_until_the_gateway_is_told_to_settle() -> None:
    provider = SandboxProvider(SECRET, None, None, clock=SetClock(EVE, speed=0))
    provider.charge(intent_ref="pi-9", amount=PRICE, method="sandbox_delay")
    assert types_sent(provider) == ["payment.processing"]
    assert provider.settle_pending() == 1 and provider.settle_pending() == 0
    assert types_sent(provider) == ["payment.processing", "payment.succeeded"]
