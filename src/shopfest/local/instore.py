"""In-store QR pay: a shopper scans the static code on a shop's counter, types the amount, and pays
through the payments capability, with the festival's local discount where it applies.

A payment's intent is opened for purpose "instore" under order id minus the payment's id, so no
order ever sees it; its PaymentSucceeded and PaymentFailed events move the payment (see
`record_paid`, `record_failed`), at once for the sandbox's instant answers, or when a webhook comes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from shopfest.catalog import service as catalog
from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.clock import local
from shopfest.core.errors import NotFound
from shopfest.core.money import Money
from shopfest.core.uow import UnitOfWork
from shopfest.festival import service as festival
from shopfest.local.model import Shop
from shopfest.local.pay_rules import (
    LOCAL_DISCOUNT,
    OPEN,
    SMALL_KINDS,
    InStorePayment,
    PaymentClosed,
    PayOffer,
    PayStatus,
    pay_amount,
)
from shopfest.local.pay_store import PayStore, paid_after
from shopfest.local.store import LocalStore
from shopfest.payments import service as payments
from shopfest.payments.idempotency import KeyReused, check_key, fingerprint
from shopfest.payments.model import PaymentDeclined
from shopfest.payments.provider import Provider
from shopfest.payments.service import PaymentFailed, PaymentSucceeded

PURPOSE = "instore"
# A payment started and never charged gives its discount use back after this long.
ABANDONED_AFTER = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class _Counter:
    """A shop's counter as a payment reads it: the shop, and the currency its merchant settles in."""

    shop: Shop
    shop_id: int
    currency: str


def _counter(uow: UnitOfWork, pay_token: str) -> _Counter:
    shop = LocalStore(uow.conn).shop_by_pay_token(pay_token)
    currency = catalog.settlement_currency_of(uow, shop.merchant_id) if shop is not None else None
    if shop is None or shop.id is None or currency is None:
        raise NotFound("no shop takes payments with this code")
    return _Counter(shop, shop.id, currency)


def _discount_day(counter: _Counter, now: datetime) -> date:
    return local(now, counter.shop.zone).date()


def counter_currency(uow: UnitOfWork, pay_token: str) -> str:
    """The currency a counter's code takes amounts in (its merchant's settlement currency), to read
    a typed amount in. Raises NotFound (an unknown code)."""
    with uow:
        return _counter(uow, pay_token).currency


def pay_offer(uow: UnitOfWork, *, pay_token: str, shopper_id: int | None, amount: Money | None,
              now: datetime) -> PayOffer:
    """The shop behind a counter's code, and for `amount` the local discount that applies for the
    shopper today and what is left to pay.

    Raises NotFound (an unknown code), BadPayAmount."""
    with uow:
        counter = _counter(uow, pay_token)
        uses = PayStore(uow.conn).uses(shopper_id, _discount_day(counter, now)) if shopper_id else 0
        sale_open = festival.sale_open_at(uow, now)
    checked = pay_amount(amount, counter.currency) if amount is not None else None
    discount = (LOCAL_DISCOUNT.off(checked, kind=counter.shop.kind, uses_today=uses, sale_open=sale_open)
                if checked is not None else Money.zero(counter.currency))
    shop = counter.shop
    offered = sale_open and shop.kind in SMALL_KINDS and counter.currency == LOCAL_DISCOUNT.spend.currency
    return PayOffer(shop_id=counter.shop_id, shop_name=shop.name, merchant_id=shop.merchant_id,
                    kind=shop.kind, currency=counter.currency, amount=checked, discount=discount,
                    to_pay=checked - discount if checked is not None else None,
                    discount_uses_left=max(0, LOCAL_DISCOUNT.per_day - uses), sale_open=sale_open,
                    rule=LOCAL_DISCOUNT if offered else None)


def start_payment(uow: UnitOfWork, provider: Provider, actor: Actor | None, *, pay_token: str, amount: Money,
                  key: str, now: datetime) -> InStorePayment:
    """A signed-in shopper starts paying `amount` at a shop's counter; the local discount, when it
    applies, is reserved for this payment (never a 4th use of the day, however many start at once).
    The same Idempotency-Key answers the same payment.

    Raises Unauthenticated, Forbidden, NotFound, BadPayAmount, KeyReused, InvalidInput (a bad key)."""
    shopper = require_role(actor, Role.SHOPPER)
    asked = fingerprint("local-pay", pay_token, amount.minor, amount.currency)
    check_key(key)
    try:
        return _start(uow, shopper, pay_token=pay_token, amount=amount, key=key, asked=asked, now=now)
    except IntegrityError:  # the same key, started at the same moment by a twin request: it won
        return _start(uow, shopper, pay_token=pay_token, amount=amount, key=key, asked=asked, now=now)


def _start(uow: UnitOfWork, shopper: Actor, *, pay_token: str, amount: Money, key: str, asked: str,
           now: datetime) -> InStorePayment:
    with uow:
        store = PayStore(uow.conn)
        known = store.by_key(shopper.user_id, key)
        if known is not None:
            if known[1] != asked:
                raise KeyReused("this Idempotency-Key was first used with a different payment")
            return known[0]
        counter = _counter(uow, pay_token)
        amount = pay_amount(amount, counter.currency)
        _abandon_stale(uow, shopper.user_id, now=now)
        day = _discount_day(counter, now)
        discount = LOCAL_DISCOUNT.off(amount, kind=counter.shop.kind, uses_today=0,
                                      sale_open=festival.sale_open_at(uow, now))
        if discount.minor and not store.take_use(shopper.user_id, day, per_day=LOCAL_DISCOUNT.per_day):
            discount = Money.zero(amount.currency)
        payment = store.add({
            "shop_id": counter.shop_id, "merchant_id": counter.shop.merchant_id,
            "shopper_id": shopper.user_id,
            "currency": amount.currency, "amount_minor": amount.minor, "discount_minor": discount.minor,
            "to_pay_minor": (amount - discount).minor, "status": PayStatus.STARTED.value,
            "discount_day": day if discount.minor else None, "idempotency_key": key, "fingerprint": asked,
            "created_at": now})
        uow.commit()
    return payment


def _abandon_stale(uow: UnitOfWork, shopper_id: int, *, now: datetime) -> None:
    """Payments the shopper started and never charged in time give their discount uses back."""
    store = PayStore(uow.conn)
    for payment_id in store.stale(shopper_id, started_before=now - ABANDONED_AFTER):
        _close(store, payment_id, shopper_id, frozenset({PayStatus.STARTED}), PayStatus.ABANDONED)


def _close(store: PayStore, payment_id: int, shopper_id: int, before: frozenset[PayStatus],
           to: PayStatus) -> None:
    if store.move(payment_id, before=before, to=to):
        day = store.discount_day(payment_id)
        if day is not None:
            store.give_use_back(shopper_id, day)


def pay(uow: UnitOfWork, provider: Provider, actor: Actor | None, *, payment_id: int,
        method: str) -> InStorePayment:
    """The shopper pays their started payment through the payments capability; a paid or processing
    one is answered as it is, never charged twice. Declined, it fails and gives its discount back.

    Raises Unauthenticated, Forbidden, NotFound, PaymentClosed (failed or abandoned: start again),
    PaymentDeclined, InvalidInput (a method the provider does not take)."""
    shopper = require_role(actor, Role.SHOPPER)
    with uow:
        store = PayStore(uow.conn)
        payment = store.get(payment_id, lock=True)
        if payment is None or payment.shopper_id != shopper.user_id:
            raise NotFound(f"no payment {payment_id}", payment_id=payment_id)
        if payment.status is not PayStatus.STARTED:
            if payment.status in OPEN or payment.status is PayStatus.PAID:
                return payment
            raise PaymentClosed(f"payment {payment_id} is {payment.status.value}; start a new one",
                                payment_id=payment_id, status=payment.status.value)
        if payment.created_at < uow.clock.now() - ABANDONED_AFTER:
            _close(store, payment_id, shopper.user_id, frozenset({PayStatus.STARTED}), PayStatus.ABANDONED)
            uow.commit()
            raise PaymentClosed(f"payment {payment_id} waited too long; start a new one",
                                payment_id=payment_id)
        intent = payments.open_intent(uow, order_id=-payment_id, purpose=PURPOSE, amount=payment.to_pay)
        assert intent.id is not None
        store.move(payment_id, before=frozenset({PayStatus.STARTED}), to=PayStatus.PROCESSING)
        payments.charge(uow, provider, intent_id=intent.id, method=method)
        uow.commit()  # the charge's event moved the payment on (record_paid, record_failed)
    after = _read(uow, payment_id)
    if after.status is PayStatus.FAILED:
        raise PaymentDeclined(f"the payment {payment_id} was declined; start a new one",
                              payment_id=payment_id)
    return after


def _read(uow: UnitOfWork, payment_id: int) -> InStorePayment:
    with uow:
        payment = PayStore(uow.conn).get(payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}", payment_id=payment_id)
    return payment


def payment(uow: UnitOfWork, actor: Actor | None, *, payment_id: int) -> InStorePayment:
    """An in-store payment, for its shopper, the shop's merchant staff and operators; to anyone else
    it does not exist.

    Raises Unauthenticated, NotFound."""
    viewer = require_role(actor, Role.SHOPPER, Role.MERCHANT, Role.OPERATOR)
    found = _read(uow, payment_id)
    if not (viewer.is_operator or (viewer.role is Role.SHOPPER and viewer.user_id == found.shopper_id)
            or (viewer.role is Role.MERCHANT and viewer.merchant_id == found.merchant_id)):
        raise NotFound(f"no payment {payment_id}", payment_id=payment_id)
    return found


def record_paid(uow: UnitOfWork, event: PaymentSucceeded, *, provider: Provider) -> None:
    """An in-store payment's intent succeeded: the payment is paid (inside the event's transaction).
    Money a gateway captured after it said the payment failed goes back in full through `provider`,
    once whatever repeats the news: the shopper was told to start again."""
    if event.purpose != PURPOSE:
        return
    store = PayStore(uow.conn)
    if store.move(-event.order_id, before=OPEN, to=PayStatus.PAID, paid_at=uow.clock.now()):
        return
    found = store.get(-event.order_id)
    if found is not None and found.status is not PayStatus.PAID:
        payments.refund_intent(uow, provider, intent_id=event.intent_id,
                               refund_key=f"auto:instore:{event.intent_id}")


def record_failed(uow: UnitOfWork, event: PaymentFailed) -> None:
    """An in-store payment's intent was declined: the payment failed and gives its discount use back."""
    if event.purpose != PURPOSE:
        return
    store = PayStore(uow.conn)
    found = store.get(-event.order_id)
    if found is not None:
        _close(store, found.id, found.shopper_id, OPEN, PayStatus.FAILED)



def payment_in(uow: UnitOfWork, payment_id: int) -> InStorePayment | None:
    """An in-store payment, inside the caller's transaction."""
    return PayStore(uow.conn).get(payment_id)


def paid_payments(uow: UnitOfWork, *, after_id: int, limit: int) -> list[InStorePayment]:
    """The paid in-store payments after `after_id`, by id, inside the caller's transaction."""
    return paid_after(uow.conn, after_id, limit=limit)
