"""Payments against the real SQLite and PostgreSQL: intents, charges, webhooks applied once, refunds."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Table, func, select

from shopfest.core.clock import SetClock
from shopfest.core.db import metadata
from shopfest.core.errors import NotFound
from shopfest.core.events import DomainEvent
from shopfest.core.money import Money
from shopfest.core.uow import UnitOfWork
from shopfest.payments import service as payments
from shopfest.payments.idempotency import (
    ABANDONED_AFTER,
    IdempotencyKey,
    KeyInUse,
    KeyReused,
    Remembered,
    fingerprint,
)
from shopfest.payments.model import (
    AlreadyPaid,
    AmountChanged,
    IntentStatus,
    PaymentIntent,
    RefundExceedsPayment,
    RefundKeyReused,
)
from shopfest.payments.provider import SandboxProvider
from shopfest.payments.service import PaymentFailed, PaymentSucceeded, RefundPaid
from shopfest.payments.store import (
    KeyStore,
    idempotency_keys,
    payment_events,
    payment_intents,
    payment_refunds,
)
from shopfest.payments.webhooks import BadSignature, event_body, sign
from shopfest.problems import status_of
from shopfest.runtime import Runtime

SECRET = "whsec_festival-eve"
ORDER = 1111
S = IntentStatus


@pytest.fixture(autouse=True)
def payment_tables(runtime: Runtime) -> None:
    # Until the payments migration is in every template, the tables are made here (a no-op after).
    metadata.create_all(runtime.engine, tables=[payment_intents, payment_events, payment_refunds])


@pytest.fixture
def seen(runtime: Runtime) -> list[DomainEvent]:
    """Every payment event committed, in order."""
    events: list[DomainEvent] = []

    def record(_uow: UnitOfWork, event: DomainEvent) -> None:
        events.append(event)

    for event_type in (PaymentSucceeded, PaymentFailed, RefundPaid):
        runtime.bus.subscribe(event_type, record)
    return events


@pytest.fixture
def sandbox(runtime: Runtime) -> SandboxProvider:
    return SandboxProvider(SECRET, clock=runtime.clock)


def pay(runtime: Runtime, provider: SandboxProvider, *, purpose: str = "full", yuan: int = 1111,
        method: str = "sandbox_ok") -> PaymentIntent:
    with runtime.uow() as uow:
        intent = payments.open_intent(uow, order_id=ORDER, purpose=purpose, amount=Money(yuan * 100, "CNY"))
        assert intent.id is not None
        charged = payments.charge(uow, provider, intent_id=intent.id, method=method)
        uow.commit()
    return charged


def receive(runtime: Runtime, webhook: tuple[bytes, str]) -> bool:
    body, signature = webhook
    with runtime.uow() as uow:
        applied = payments.receive_webhook(uow, body=body, signature=signature, secret=SECRET)
        uow.commit()
    return applied


def intents(runtime: Runtime) -> list[PaymentIntent]:
    with runtime.uow(read_only=True) as uow:
        return payments.intents_of(uow, ORDER)


def rows_in(runtime: Runtime, table: Table) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def of_type(events: list[DomainEvent], event_type: type[DomainEvent]) -> list[DomainEvent]:
    return [e for e in events if isinstance(e, event_type)]


def test_opening_an_intent_again_answers_the_same_one_unless_the_amount_changed(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        first = payments.open_intent(uow, order_id=ORDER, purpose="deposit", amount=Money(10000, "CNY"))
        again = payments.open_intent(uow, order_id=ORDER, purpose="deposit", amount=Money(10000, "CNY"))
        assert again == first and first.status is S.REQUIRES_PAYMENT
        with pytest.raises(AmountChanged):
            payments.open_intent(uow, order_id=ORDER, purpose="deposit", amount=Money(20000, "CNY"))


def test_sandbox_ok_pays_once_and_its_webhook_replayed_twice_changes_nothing(
        runtime: Runtime, sandbox: SandboxProvider, seen: list[DomainEvent]) -> None:
    # given an intent paid at once
    paid = pay(runtime, sandbox)
    assert paid.status is S.SUCCEEDED and paid.provider_ref and paid.method == "sandbox_ok"
    assert seen == [PaymentSucceeded(ORDER, paid.id or 0, "full", 111100, "CNY")]
    # when the gateway's webhook for it arrives, twice
    assert receive(runtime, sandbox.sent[0]) is True
    assert receive(runtime, sandbox.sent[0]) is False
    # then the payment was announced once, and each event id is kept once
    assert intents(runtime) == [paid] and len(seen) == 1
    assert rows_in(runtime, payment_events) == 1


def test_a_paid_intent_is_not_charged_again(runtime: Runtime, sandbox: SandboxProvider) -> None:
    paid = pay(runtime, sandbox)
    with runtime.uow() as uow, pytest.raises(AlreadyPaid):
        payments.charge(uow, sandbox, intent_id=paid.id or 0, method="sandbox_ok")
    assert len(sandbox.sent) == 1


def test_a_declined_charge_is_announced_once_and_a_retry_pays(
        runtime: Runtime, sandbox: SandboxProvider, seen: list[DomainEvent]) -> None:
    declined = pay(runtime, sandbox, method="sandbox_fail")
    assert declined.status is S.FAILED
    assert receive(runtime, sandbox.sent[0]) is True  # the gateway's payment.failed
    assert [type(e) for e in seen] == [PaymentFailed]
    retried = pay(runtime, sandbox, method="sandbox_ok")
    assert (retried.status, retried.provider_ref) == (S.SUCCEEDED, declined.provider_ref)
    assert [type(e) for e in seen] == [PaymentFailed, PaymentSucceeded]


def test_sandbox_delay_succeeds_later_through_deliver_and_is_applied_once(
        runtime: Runtime, seen: list[DomainEvent]) -> None:
    delivered: list[tuple[bytes, str]] = []
    settled = threading.Event()

    def deliver(body: bytes, signature: str) -> None:
        delivered.append((body, signature))
        if json.loads(body)["type"] == "payment.succeeded":
            settled.set()

    gateway = SandboxProvider(SECRET, deliver, delay_seconds=0.05, clock=runtime.clock)
    # given a charge the gateway is still processing
    processing = pay(runtime, gateway, method="sandbox_delay")
    assert processing.status is S.PROCESSING and seen == []
    # when its success is delivered later, and every webhook is applied in the order sent
    assert settled.wait(timeout=30)
    assert [receive(runtime, w) for w in delivered] == [True, True]
    # then the intent is paid and announced once
    assert [i.status for i in intents(runtime)] == [S.SUCCEEDED]
    assert seen == [PaymentSucceeded(ORDER, processing.id or 0, "full", 111100, "CNY")]


def test_processing_arriving_after_succeeded_is_recorded_and_changes_nothing(
        runtime: Runtime, seen: list[DomainEvent]) -> None:
    settled = threading.Event()
    gateway = SandboxProvider(SECRET, lambda body, _: settled.set() if b"succeeded" in body else None,
                              delay_seconds=0.05, clock=runtime.clock)
    pay(runtime, gateway, method="sandbox_delay")
    assert settled.wait(timeout=30)
    processing_event, succeeded_event = gateway.sent
    # given the success overtook the processing notice
    assert receive(runtime, succeeded_event) is True
    paid = intents(runtime)
    # when the processing notice arrives late
    assert receive(runtime, processing_event) is True
    # then it is kept, and nothing moved backwards
    assert intents(runtime) == paid and paid[0].status is S.SUCCEEDED
    assert len(seen) == 1 and rows_in(runtime, payment_events) == 2


def test_a_webhook_with_a_bad_signature_or_too_old_changes_nothing(
        runtime: Runtime, sandbox: SandboxProvider) -> None:
    pay(runtime, sandbox)
    body, signature = sandbox.sent[0]
    now = int(runtime.clock.now().timestamp())
    for forged in [(body.replace(b"111100", b"1"), signature),
                   (body, sign(body, secret="whsec_guessed", at=now)),
                   (body, sign(body, secret=SECRET, at=now - 600))]:
        with pytest.raises(BadSignature):
            receive(runtime, forged)
    assert rows_in(runtime, payment_events) == 0


def test_a_webhook_for_a_payment_never_charged_here_is_not_found(runtime: Runtime) -> None:
    now = int(runtime.clock.now().timestamp())
    body = event_body("payment.succeeded", provider_ref="sbx_pi_elsewhere", amount=Money(100, "CNY"),
                      created=now)
    with pytest.raises(NotFound):
        receive(runtime, (body, sign(body, secret=SECRET, at=now)))


def test_a_presale_refund_takes_the_balance_first_and_pays_once_per_key(
        runtime: Runtime, sandbox: SandboxProvider, seen: list[DomainEvent]) -> None:
    # given a deposit of 100 yuan and a balance of 899 yuan, both paid
    deposit = pay(runtime, sandbox, purpose="deposit", yuan=100)
    balance = pay(runtime, sandbox, purpose="balance", yuan=899)
    seen.clear()
    # when 950 yuan is refunded, and the same request is retried
    for _ in range(2):
        with runtime.uow() as uow:
            refunded = payments.refund(uow, sandbox, order_id=ORDER, amount=Money(95000, "CNY"),
                                       refund_key="rf-1111")
            uow.commit()
        assert refunded == 95000
    # then the balance is refunded in full, the deposit in part, each once
    assert [(i.purpose, i.status, i.refunded_minor) for i in intents(runtime)] == [
        ("deposit", S.PARTIALLY_REFUNDED, 5100), ("balance", S.REFUNDED, 89900)]
    assert seen == [RefundPaid(ORDER, balance.id or 0, 89900, "CNY", "rf-1111"),
                    RefundPaid(ORDER, deposit.id or 0, 5100, "CNY", "rf-1111")]
    assert rows_in(runtime, payment_refunds) == 2
    assert [json.loads(b)["type"] for b, _ in sandbox.sent].count("refund.succeeded") == 2


def test_refunding_more_than_was_paid_is_refused_and_changes_nothing(
        runtime: Runtime, sandbox: SandboxProvider, seen: list[DomainEvent]) -> None:
    pay(runtime, sandbox, yuan=300)
    before, sent = intents(runtime), len(sandbox.sent)
    with runtime.uow() as uow, pytest.raises(RefundExceedsPayment):
        payments.refund(uow, sandbox, order_id=ORDER, amount=Money(30001, "CNY"), refund_key="rf-greedy")
    assert intents(runtime) == before and len(sandbox.sent) == sent
    assert rows_in(runtime, payment_refunds) == 0 and of_type(seen, RefundPaid) == []


def test_a_refund_key_cannot_be_reused_for_another_amount(runtime: Runtime, sandbox: SandboxProvider) -> None:
    pay(runtime, sandbox, yuan=300)
    with runtime.uow() as uow:
        payments.refund(uow, sandbox, order_id=ORDER, amount=Money(10000, "CNY"), refund_key="rf-1")
        uow.commit()
    with runtime.uow() as uow, pytest.raises(RefundKeyReused):
        payments.refund(uow, sandbox, order_id=ORDER, amount=Money(20000, "CNY"), refund_key="rf-1")


def test_a_refund_webhook_is_only_recorded(runtime: Runtime, sandbox: SandboxProvider) -> None:
    pay(runtime, sandbox, yuan=300)
    with runtime.uow() as uow:
        payments.refund(uow, sandbox, order_id=ORDER, amount=Money(10000, "CNY"), refund_key="rf-1")
        uow.commit()
    after_refund = intents(runtime)
    assert receive(runtime, sandbox.sent[-1]) is True
    assert intents(runtime) == after_refund and rows_in(runtime, payment_events) == 1


def test_keys_are_kept_a_day_and_then_forgotten(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payments, "KEYS_PURGED_PER_TRANSACTION", 1)  # one key per transaction
    now = runtime.clock.now()
    with runtime.engine.begin() as conn:
        keys = KeyStore(conn)
        keys.claim([IdempotencyKey("user:1", "two-days-old", "f")], now=now - timedelta(hours=48))
        keys.claim([IdempotencyKey("user:1", "a-day-old", "f")], now=now - timedelta(hours=24, seconds=1))
        keys.claim([IdempotencyKey("user:1", "an-hour-old", "f")], now=now - timedelta(hours=1))
    assert payments.forget_old_keys(runtime.uow) == 2
    with runtime.engine.connect() as conn:
        kept = conn.scalars(select(idempotency_keys.c.key)).all()
    assert kept == ["an-hour-old"]


def test_a_request_runs_once_per_idempotency_key(runtime: Runtime) -> None:
    ran: list[str] = []

    def pay(method: str) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            ran.append(method)
            return {"paid_with": method, "time": len(ran)}
        return run

    key = IdempotencyKey("user:7", "pay-once", fingerprint("pay", 11, "sandbox_ok"))
    first = payments.once(runtime.uow, key=key, run=pay("sandbox_ok"), status_code=201)
    again = payments.once(runtime.uow, key=key, run=pay("sandbox_ok"), status_code=201)
    assert first == again == Remembered(201, {"paid_with": "sandbox_ok", "time": 1})
    assert ran == ["sandbox_ok"]  # the retry got the first answer and ran nothing

    other_body = IdempotencyKey("user:7", "pay-once", fingerprint("pay", 11, "sandbox_fail"))
    with pytest.raises(KeyReused) as reused:
        payments.once(runtime.uow, key=other_body, run=pay("sandbox_fail"))
    assert reused.value.code == "idempotency-key-reused" and status_of(reused.value) == 422
    assert ran == ["sandbox_ok"]
    someone_else = IdempotencyKey("user:8", "pay-once", other_body.fingerprint)  # keys are per caller
    assert payments.once(runtime.uow, key=someone_else, run=pay("theirs")).response["paid_with"] == "theirs"


def test_a_request_that_failed_leaves_its_key_free_for_a_retry(runtime: Runtime) -> None:
    key = IdempotencyKey("user:7", "declined-then-paid", fingerprint("pay", 12))

    def declined() -> dict[str, Any]:
        raise NotFound("no order 12", order_id=12)

    with pytest.raises(NotFound):
        payments.once(runtime.uow, key=key, run=declined)
    with runtime.engine.connect() as conn:
        assert KeyStore(conn).kept(key) is None
    assert payments.once(runtime.uow, key=key, run=lambda: {"paid": True}) == Remembered(200, {"paid": True})


def test_a_key_still_running_is_refused_until_it_is_abandoned(runtime: Runtime, clock: SetClock) -> None:
    key = IdempotencyKey("user:7", "slow", fingerprint("pay", 13))
    with runtime.uow() as uow:
        assert payments.begin(uow, [key]) == {}  # held for its request
        uow.commit()
    with pytest.raises(KeyInUse):
        payments.once(runtime.uow, key=key, run=lambda: {"paid": "twice"})
    clock.set(clock.now() + ABANDONED_AFTER + timedelta(seconds=1))  # its process died with it running
    assert payments.once(runtime.uow, key=key, run=lambda: {"paid": "once"}).response == {"paid": "once"}


def test_a_batch_holds_its_new_keys_and_answers_the_others(runtime: Runtime) -> None:
    done = IdempotencyKey("user:1", "done", "f-done")
    fresh = IdempotencyKey("user:2", "fresh", "f-fresh")
    with runtime.uow() as uow:
        payments.begin(uow, [done])
        payments.finish(uow, [(done, 201, {"id": 1})])
        uow.commit()
    reused = IdempotencyKey("user:1", "done", "f-other")
    with runtime.uow() as uow:
        taken = payments.begin(uow, [done, fresh])
        assert taken == {done: Remembered(201, {"id": 1})}
        payments.forget(uow, [fresh])
        uow.commit()
    with runtime.uow() as uow:
        [(key, refusal)] = payments.begin(uow, [reused]).items()
        assert key == reused and isinstance(refusal, KeyReused)
        assert payments.begin(uow, [fresh]) == {}  # forgotten: free again
