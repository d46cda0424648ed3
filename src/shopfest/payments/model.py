"""Payment intents: what one order owes for one purpose, and the forward-only road it travels.

An intent is opened for an order's full price, its pre-sale deposit or its balance; a gateway
moves it to succeeded or failed (a failed one may be retried), and refunds take back at most
what was paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from shopfest.core.errors import Conflict, DomainError, InvalidAmount, InvalidInput
from shopfest.core.money import Money


class IntentStatus(StrEnum):
    REQUIRES_PAYMENT = "requires_payment"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


S = IntentStatus
TRANSITIONS: dict[IntentStatus, frozenset[IntentStatus]] = {
    S.REQUIRES_PAYMENT: frozenset({S.PROCESSING, S.SUCCEEDED, S.FAILED}),
    S.PROCESSING: frozenset({S.SUCCEEDED, S.FAILED}),
    S.FAILED: frozenset({S.PROCESSING, S.SUCCEEDED}),  # the shopper tries again
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.REFUNDED: frozenset(),
}
PAID = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED})
REFUNDABLE = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED})

# What an order pays for; refunds take back the last money paid first. "instore" is a payment at a
# local shop's counter (local/instore.py), whose intent's order_id is minus that payment's id, so it
# never meets an order's.
ORDER_PURPOSES = ("full", "deposit", "balance")
PURPOSES = (*ORDER_PURPOSES, "instore")
REFUND_ORDER = ("balance", "deposit", "full")


class IllegalPaymentTransition(Conflict):
    code = "illegal-payment-transition"
    title = "The payment cannot move to that state"


class RefundExceedsPayment(InvalidInput):
    code = "refund-exceeds-payment"
    title = "More than is left to refund"


class AlreadyPaid(Conflict):
    code = "already-paid"
    title = "Paid already"


class PaymentDeclined(DomainError):
    code = "payment-declined"
    title = "The payment was declined"


class AmountChanged(Conflict):
    code = "payment-amount-changed"
    title = "The payment was opened for another amount"


class RefundKeyReused(Conflict):
    code = "refund-key-reused"
    title = "The refund key was used for another refund"


def can_move(current: IntentStatus, to: IntentStatus) -> bool:
    return to in TRANSITIONS[current]


@dataclass(frozen=True, slots=True)
class PaymentIntent:
    """`amount` owed by an order for one `purpose`; `provider` is the gateway that charged it
    (empty until the first charge) and `provider_ref` its id for the payment there."""

    id: int | None
    order_id: int
    purpose: str
    amount: Money
    status: IntentStatus
    provider: str
    provider_ref: str | None
    refunded_minor: int = 0
    method: str | None = None

    def __post_init__(self) -> None:
        if self.purpose not in PURPOSES:
            raise InvalidInput(f"a payment is for one of {', '.join(PURPOSES)}", purpose=self.purpose)
        if self.amount.minor <= 0:
            raise InvalidAmount("a payment is for more than nothing", amount=self.amount.amount)
        if not 0 <= self.refunded_minor <= self.amount.minor:
            raise InvalidAmount("refunds lie between nothing and the amount paid")

    @property
    def refundable(self) -> Money:
        return Money(self.amount.minor - self.refunded_minor, self.amount.currency)

    @property
    def is_paid(self) -> bool:
        return self.status in PAID

    def moved_to(self, status: IntentStatus) -> PaymentIntent:
        """This intent in `status`. Raises IllegalPaymentTransition."""
        if not can_move(self.status, status):
            raise IllegalPaymentTransition(
                f"a payment that is {self.status.value} cannot become {status.value}",
                status=self.status.value, to=status.value)
        return replace(self, status=status)

    def check_chargeable(self) -> None:
        """Raises AlreadyPaid once paid, IllegalPaymentTransition while a charge is in flight."""
        if self.is_paid:
            raise AlreadyPaid(f"payment {self.id} is paid already", intent_id=self.id)
        self.moved_to(S.PROCESSING)

    def attempted(self, outcome: IntentStatus) -> PaymentIntent:
        """This intent after a charge attempt answered `outcome`; a retry declined again stays failed.

        Raises IllegalPaymentTransition.
        """
        if self.status is S.FAILED and outcome is S.FAILED:
            return self
        return self.moved_to(outcome)

    def refunded(self, amount: Money) -> PaymentIntent:
        """This intent after `amount` more is refunded.

        Raises InvalidAmount, CurrencyMismatch, RefundExceedsPayment, IllegalPaymentTransition.
        """
        if amount.minor <= 0:
            raise InvalidAmount("a refund is for more than nothing", amount=amount.amount)
        if amount > self.refundable:
            raise RefundExceedsPayment(f"only {self.refundable} is left to refund",
                                       refundable_minor=self.refundable.minor)
        total = self.refunded_minor + amount.minor
        status = S.REFUNDED if total == self.amount.minor else S.PARTIALLY_REFUNDED
        return replace(self.moved_to(status), refunded_minor=total)


@dataclass(frozen=True, slots=True)
class Refund:
    """One intent's part of a refund, as the gateway paid it back under `refund_ref`."""

    intent_id: int
    refund_key: str
    amount: Money
    refund_ref: str


def refund_plan(intents: Sequence[PaymentIntent], amount: Money) -> list[tuple[PaymentIntent, Money]]:
    """How much of `amount` each paid intent gives back: balance first, then deposit, then full.

    Raises InvalidAmount, RefundExceedsPayment.
    """
    if amount.minor <= 0:
        raise InvalidAmount("a refund is for more than nothing", amount=amount.amount)
    paid = sorted((i for i in intents if i.status in REFUNDABLE and i.amount.currency == amount.currency),
                  key=lambda i: REFUND_ORDER.index(i.purpose))
    left = sum(i.refundable.minor for i in paid)
    if amount.minor > left:
        raise RefundExceedsPayment(f"only {Money(left, amount.currency)} is left to refund",
                                   refundable_minor=left)
    plan: list[tuple[PaymentIntent, Money]] = []
    wanted = amount.minor
    for intent in paid:
        part = min(wanted, intent.refundable.minor)
        if part > 0:
            plan.append((intent, Money(part, amount.currency)))
            wanted -= part
    return plan
