"""Payment use cases: open an intent, charge it, refund an order, apply the gateway's webhooks, and
run a request that moves money once per Idempotency-Key.

Most run inside a transaction the caller opened and commits, so the order a payment belongs to
changes state in that same transaction, through the events emitted here; those given a unit of
work factory (`once`, `take_webhook`, `forget_old_keys`) open and commit their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shopfest.core.errors import DomainError, InvalidInput, NotFound
from shopfest.core.events import DomainEvent
from shopfest.core.ids import new_secret
from shopfest.core.money import Money
from shopfest.core.uow import UnitOfWork
from shopfest.payments.idempotency import ABANDONED_AFTER, IdempotencyKey, KeyInUse, Remembered
from shopfest.payments.model import (
    PAID,
    REFUNDABLE,
    AmountChanged,
    IntentStatus,
    PaymentIntent,
    Refund,
    RefundKeyReused,
    can_move,
    refund_plan,
)
from shopfest.payments.provider import Provider
from shopfest.payments.store import KeyStore, PaymentStore, paid_times, refunds_of_order
from shopfest.payments.webhooks import GatewayEvent, read_event, verify


@dataclass(frozen=True)
class PaymentSucceeded(DomainEvent):
    order_id: int
    intent_id: int
    purpose: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class PaymentFailed(DomainEvent):
    order_id: int
    intent_id: int
    purpose: str
    reason: str


@dataclass(frozen=True)
class RefundPaid(DomainEvent):
    order_id: int
    intent_id: int
    amount_minor: int
    currency: str
    refund_key: str


_STATUS_OF_EVENT = {
    "payment.processing": IntentStatus.PROCESSING,
    "payment.succeeded": IntentStatus.SUCCEEDED,
    "payment.failed": IntentStatus.FAILED,
}


def intent_ref(intent_id: int) -> str:
    """The key a gateway charges an intent under, the same on every attempt."""
    return f"shopfest-pi-{intent_id}"


def open_intent(uow: UnitOfWork, *, order_id: int, purpose: str, amount: Money) -> PaymentIntent:
    """One intent per order and purpose; opening it again answers the same one.

    Raises AmountChanged, InvalidInput.
    """
    store = PaymentStore(uow.conn)
    existing = store.for_purpose(order_id, purpose)
    if existing is None:
        fresh = PaymentIntent(None, order_id, purpose, amount, IntentStatus.REQUIRES_PAYMENT,
                              provider="", provider_ref=None)
        return store.add(fresh, now=uow.clock.now())
    if existing.amount != amount:
        raise AmountChanged(f"the {purpose} payment of order {order_id} is for {existing.amount}",
                            intent_id=existing.id, amount=existing.amount.amount)
    return existing


def charge(uow: UnitOfWork, provider: Provider, *, intent_id: int, method: str) -> PaymentIntent:
    """Charge an intent through `provider` with `method`; a paid intent is never charged again.

    Raises NotFound, AlreadyPaid, IllegalPaymentTransition (a charge in flight), InvalidInput.
    """
    store = PaymentStore(uow.conn)
    intent = _get(store, intent_id)
    intent.check_chargeable()
    outcome = provider.charge(intent_ref=intent_ref(intent_id), amount=intent.amount, method=method)
    attempted = replace(intent, provider=provider.name, provider_ref=outcome.provider_ref,
                        method=method).attempted(outcome.status)
    store.save(attempted, now=uow.clock.now())
    _announce(uow, attempted, outcome.status, reason=outcome.reason)
    return attempted


def _get(store: PaymentStore, intent_id: int) -> PaymentIntent:
    intent = store.get(intent_id, lock=True)
    if intent is None:
        raise NotFound(f"no payment {intent_id}", intent_id=intent_id)
    return intent


def _announce(uow: UnitOfWork, intent: PaymentIntent, status: IntentStatus, *, reason: str | None) -> None:
    assert intent.id is not None
    if status is IntentStatus.SUCCEEDED:
        uow.emit(PaymentSucceeded(intent.order_id, intent.id, intent.purpose, intent.amount.minor,
                                  intent.amount.currency))
    elif status is IntentStatus.FAILED:
        uow.emit(PaymentFailed(intent.order_id, intent.id, intent.purpose,
                               reason or "declined by the gateway"))


def refund(uow: UnitOfWork, provider: Provider, *, order_id: int, amount: Money, refund_key: str) -> int:
    """Pay back `amount` of an order, balance first, then deposit, then full; each refund_key pays once.

    Raises InvalidAmount, RefundExceedsPayment, RefundKeyReused, InvalidInput.
    """
    store = PaymentStore(uow.conn)
    intents = store.of_order(order_id, lock=True)
    done = store.refunds_by_key(refund_key)
    if done:
        return _repeated(done, intents, amount)
    plan = refund_plan(intents, amount)
    for intent, _ in plan:
        if intent.provider != provider.name:
            raise InvalidInput(f"payment {intent.id} was charged through {intent.provider!r}",
                               intent_id=intent.id, provider=intent.provider)
    now = uow.clock.now()
    for intent, part in plan:
        assert intent.id is not None and intent.provider_ref is not None
        refund_ref = provider.refund(provider_ref=intent.provider_ref, amount=part,
                                     refund_key=f"{refund_key}:{intent.id}")
        store.save(intent.refunded(part), now=now)
        store.add_refund(Refund(intent.id, refund_key, part, refund_ref), now=now)
        uow.emit(RefundPaid(order_id, intent.id, part.minor, part.currency, refund_key))
    return amount.minor


def left_to_refund(uow: UnitOfWork, *, order_id: int, currency: str) -> Money:
    """What the order's payments captured in `currency` and have not given back yet."""
    intents = PaymentStore(uow.conn).of_order(order_id, lock=True)
    return Money(sum(i.refundable.minor for i in intents
                     if i.status in REFUNDABLE and i.amount.currency == currency), currency)


def _repeated(done: list[Refund], intents: list[PaymentIntent], amount: Money) -> int:
    ours = {i.id for i in intents}
    paid = Money(sum(r.amount.minor for r in done), done[0].amount.currency)
    if paid != amount or any(r.intent_id not in ours for r in done):
        raise RefundKeyReused(f"refund key {done[0].refund_key!r} paid back {paid} already",
                              refund_key=done[0].refund_key)
    return paid.minor


def refund_intent(uow: UnitOfWork, provider: Provider, *, intent_id: int, refund_key: str) -> int:
    """Pay back all that is left of one paid intent, once per refund_key (asked again, it answers what
    was paid back then); how much. For money captured for an order that could no longer take it.

    Raises NotFound, InvalidInput (charged through another provider).
    """
    store = PaymentStore(uow.conn)
    intent = _get(store, intent_id)
    done = store.refunds_by_key(refund_key)
    if done:
        return sum(r.amount.minor for r in done)
    part = intent.refundable
    if intent.status not in REFUNDABLE or part.minor == 0:
        return 0
    if intent.provider != provider.name or intent.provider_ref is None:
        raise InvalidInput(f"payment {intent_id} was charged through {intent.provider!r}",
                           intent_id=intent_id, provider=intent.provider)
    now = uow.clock.now()
    refund_ref = provider.refund(provider_ref=intent.provider_ref, amount=part, refund_key=refund_key)
    store.save(intent.refunded(part), now=now)
    store.add_refund(Refund(intent_id, refund_key, part, refund_ref), now=now)
    uow.emit(RefundPaid(intent.order_id, intent_id, part.minor, part.currency, refund_key))
    return part.minor


def receive_webhook(uow: UnitOfWork, *, body: bytes, signature: str, secret: str) -> bool:
    """Apply a signed gateway event once (False if seen before); one a later event overtook only records.

    Raises BadSignature, InvalidInput, NotFound (a payment this platform never charged).
    """
    now = uow.clock.now()
    event = read_event(verify(body, signature, secret=secret, now=int(now.timestamp())))
    store = PaymentStore(uow.conn)
    intent = store.by_provider_ref(event.provider_ref, lock=True)
    if intent is None:
        raise NotFound(f"no payment {event.provider_ref!r}", provider_ref=event.provider_ref)
    _check_amount(intent, event)
    assert intent.id is not None
    if not store.record_event(event.id, intent_id=intent.id, event_type=event.type, at=now):
        return False
    status = _STATUS_OF_EVENT.get(event.type)
    if status is not None and can_move(intent.status, status):
        moved = intent.moved_to(status)
        store.save(moved, now=now)
        _announce(uow, moved, status, reason=event.reason)
    return True


def take_webhook(uow: UnitOfWork, *, body: bytes, signature: str, secret: str) -> bool:
    """`receive_webhook` in a transaction of its own, as a delivery from the gateway arrives.

    Raises what receive_webhook raises.
    """
    with uow:
        applied = receive_webhook(uow, body=body, signature=signature, secret=secret)
        uow.commit()
    return applied


def _check_amount(intent: PaymentIntent, event: GatewayEvent) -> None:
    if event.type in _STATUS_OF_EVENT and event.amount != intent.amount:
        raise InvalidInput(f"the event is for {event.amount}, the payment for {intent.amount}",
                           event_id=event.id)


KEYS_PURGED_PER_TRANSACTION = 5000


def forget_old_keys(uow: Callable[[], UnitOfWork]) -> int:
    """Drop the Idempotency-Keys past the time they are kept for, a few thousand per transaction so
    that checkout never waits long for the write lock; how many went."""
    dropped = 0
    while True:
        with uow() as work:
            went = KeyStore(work.conn).purge(now=work.clock.now(), limit=KEYS_PURGED_PER_TRANSACTION)
            work.commit()
        dropped += went
        if went < KEYS_PURGED_PER_TRANSACTION:
            return dropped


def begin(uow: UnitOfWork, keys: Sequence[IdempotencyKey]) -> dict[IdempotencyKey, Remembered | DomainError]:
    """Hold each key, in the caller's transaction, for its request that is about to run. A key that
    ran before is not held: it maps to its first answer, or to why that cannot be given (KeyReused,
    KeyInUse). A key left running past ABANDONED_AFTER lost its process in a crash and is held anew."""
    store, now = KeyStore(uow.conn), uow.clock.now()
    held = store.claim(keys, now=now)
    taken = [k for k in keys if (k.scope, k.key) not in held]
    abandoned = [k for k in taken if store.forget_running_since(k, now - ABANDONED_AFTER)]
    if abandoned:
        held |= store.claim(abandoned, now=now)
    return {k: _first_answer(store, k) for k in taken if (k.scope, k.key) not in held}


def _first_answer(store: KeyStore, key: IdempotencyKey) -> Remembered | DomainError:
    kept = store.kept(key)
    if kept is None:  # let go between the claim and the look-up: the client may retry
        return KeyInUse("the first request with this Idempotency-Key just finished; retry")
    try:
        return kept.first_answer(key.fingerprint)
    except DomainError as refusal:
        return refusal


def finish(uow: UnitOfWork, answers: Sequence[tuple[IdempotencyKey, int, dict[str, Any]]]) -> None:
    """Remember the answer (status code, body) given under each held key, in the caller's transaction:
    from its commit on, a retry with the key gets it."""
    KeyStore(uow.conn).remember(answers)


def forget(uow: UnitOfWork, keys: Sequence[IdempotencyKey]) -> None:
    """Let go of held keys whose request failed, so that the client may retry with them."""
    store = KeyStore(uow.conn)
    for key in keys:
        store.forget(key)


def once(uow: Callable[[], UnitOfWork], *, key: IdempotencyKey | None, run: Callable[[], dict[str, Any]],
         status_code: int = 200) -> Remembered:
    """Run a request that moves money once per key: a retry with the key and the same request gets
    the first answer and runs nothing. `run` opens its own transactions; without a key it just runs.

    Raises KeyReused (the key came with another request), KeyInUse (its first request still runs),
    and what `run` raises, the key then let go so that a corrected retry runs.
    """
    if key is None:
        return Remembered(status_code, run())
    with uow() as work:
        first = begin(work, [key]).get(key)
        work.commit()
    if isinstance(first, DomainError):
        raise first
    if first is not None:
        return first
    try:
        answer = run()
    except BaseException:
        with uow() as work:
            forget(work, [key])
            work.commit()
        raise
    with uow() as work:
        finish(work, [(key, status_code, answer)])
        work.commit()
    return Remembered(status_code, answer)


DEMO_WEBHOOK_SECRET = "demo-webhook"


def demo_webhook_secret(uow: UnitOfWork) -> str:
    """The demo's webhook secret: made at random on the first ask and kept with this database, so
    every demo on it signs and checks with the same one, and no two databases share one."""
    with uow:
        secret = PaymentStore(uow.conn).kept_secret(DEMO_WEBHOOK_SECRET, made=new_secret(),
                                                    now=uow.clock.now())
        uow.commit()
    return secret


def intents_of(uow: UnitOfWork, order_id: int) -> list[PaymentIntent]:
    """An order's payment intents, oldest first."""
    return PaymentStore(uow.conn).of_order(order_id)


def kept_by_order(uow: UnitOfWork) -> dict[int, Money]:
    """Per order, what its payments captured less what they refunded, inside the caller's transaction."""
    return PaymentStore(uow.conn).kept_by_order([s.value for s in PAID])


def refunds_unlike_rows(uow: UnitOfWork) -> list[tuple[int, int, int]]:
    """Intents whose refunded amount differs from the refunds recorded for them:
    (intent, refunded on the intent, sum of its refund rows)."""
    return PaymentStore(uow.conn).refunds_unlike_rows()


@dataclass(frozen=True)
class PaymentRecord:
    """What an order's payments did, as its shopper reads it: each intent, when each purpose was
    paid, and each refund paid back (when, how much)."""

    intents: list[PaymentIntent]
    paid_at: dict[str, datetime]
    refunds: list[tuple[datetime, Money]]

    def latest(self, purpose: str) -> PaymentIntent | None:
        return next((i for i in self.intents if i.purpose == purpose), None)


def payment_record(uow: UnitOfWork, order_id: int) -> PaymentRecord:
    """An order's payments and refunds, inside the caller's transaction."""
    store = PaymentStore(uow.conn)
    return PaymentRecord(store.of_order(order_id), paid_times(uow.conn, order_id),
                         refunds_of_order(uow.conn, order_id))


def paid_times_of(uow: UnitOfWork, order_id: int) -> dict[str, datetime]:
    """When each purpose of an order (full, deposit, balance) was paid, inside the caller's transaction."""
    return paid_times(uow.conn, order_id)
