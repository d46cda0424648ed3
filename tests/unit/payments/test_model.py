from __future__ import annotations

import pytest

from shopfest.core.errors import CurrencyMismatch, InvalidAmount, InvalidInput
from shopfest.core.money import Money
from shopfest.payments.model import (
    TRANSITIONS,
    AlreadyPaid,
    IllegalPaymentTransition,
    IntentStatus,
    PaymentDeclined,
    PaymentIntent,
    RefundExceedsPayment,
    can_move,
    refund_plan,
)
from shopfest.problems import status_of

S = IntentStatus


def intent(status: IntentStatus = S.REQUIRES_PAYMENT, *, purpose: str = "full", yuan: int = 1111,
           refunded_minor: int = 0, intent_id: int = 1) -> PaymentIntent:
    return PaymentIntent(intent_id, 42, purpose, Money(yuan * 100, "CNY"), status, "sandbox",
                         f"sbx_pi_{intent_id}", refunded_minor=refunded_minor)


LEGAL = {
    (S.REQUIRES_PAYMENT, S.PROCESSING), (S.REQUIRES_PAYMENT, S.SUCCEEDED), (S.REQUIRES_PAYMENT, S.FAILED),
    (S.PROCESSING, S.SUCCEEDED), (S.PROCESSING, S.FAILED),
    (S.FAILED, S.PROCESSING), (S.FAILED, S.SUCCEEDED),
    (S.SUCCEEDED, S.PARTIALLY_REFUNDED), (S.SUCCEEDED, S.REFUNDED),
    (S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED), (S.PARTIALLY_REFUNDED, S.REFUNDED),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("to", list(S))
def test_a_payment_moves_only_forward_along_the_legal_roads(current: IntentStatus,
                                                            to: IntentStatus) -> None:
    assert can_move(current, to) == ((current, to) in LEGAL)
    if (current, to) in LEGAL:
        assert intent(current).moved_to(to).status is to
    else:
        with pytest.raises(IllegalPaymentTransition) as refused:
            intent(current).moved_to(to)
        assert refused.value.code == "illegal-payment-transition" and status_of(refused.value) == 409


def test_every_status_has_its_roads_written_down() -> None:
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize("status", [S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED])
def test_a_paid_intent_is_not_charged_again(status: IntentStatus) -> None:
    with pytest.raises(AlreadyPaid) as refused:
        intent(status, refunded_minor=111100 if status is S.REFUNDED else 0).check_chargeable()
    assert refused.value.code == "already-paid"


def test_a_charge_in_flight_is_not_started_twice_but_a_declined_one_may_be_retried() -> None:
    with pytest.raises(IllegalPaymentTransition):
        intent(S.PROCESSING).check_chargeable()
    intent(S.FAILED).check_chargeable()
    intent(S.REQUIRES_PAYMENT).check_chargeable()


def test_a_retry_declined_again_stays_failed_and_a_retry_that_succeeds_is_paid() -> None:
    declined = intent(S.FAILED)
    assert declined.attempted(S.FAILED) == declined
    assert declined.attempted(S.SUCCEEDED).status is S.SUCCEEDED


def test_refunds_take_back_part_then_the_rest_of_a_payment() -> None:
    paid = intent(S.SUCCEEDED, yuan=300)
    part = paid.refunded(Money(10000, "CNY"))
    assert (part.status, part.refunded_minor, part.refundable) == (S.PARTIALLY_REFUNDED, 10000,
                                                                  Money(20000, "CNY"))
    rest = part.refunded(Money(20000, "CNY"))
    assert (rest.status, rest.refundable) == (S.REFUNDED, Money(0, "CNY"))


def test_refunding_more_than_is_left_is_refused_and_names_what_is_left() -> None:
    part = intent(S.SUCCEEDED, yuan=300).refunded(Money(25000, "CNY"))
    with pytest.raises(RefundExceedsPayment) as refused:
        part.refunded(Money(5001, "CNY"))
    assert refused.value.code == "refund-exceeds-payment" and status_of(refused.value) == 422
    assert refused.value.data == {"refundable_minor": 5000}


@pytest.mark.parametrize("minor", [0, -100])
def test_a_refund_of_nothing_or_less_is_not_an_amount(minor: int) -> None:
    with pytest.raises(InvalidAmount):
        intent(S.SUCCEEDED).refunded(Money(minor, "CNY"))


def test_a_refund_is_in_the_currency_paid() -> None:
    with pytest.raises(CurrencyMismatch):
        intent(S.SUCCEEDED).refunded(Money(100, "USD"))


def test_an_unpaid_intent_has_nothing_to_refund() -> None:
    with pytest.raises(IllegalPaymentTransition):
        intent(S.FAILED).refunded(Money(100, "CNY"))


def test_an_intent_is_for_a_known_purpose_and_more_than_nothing() -> None:
    with pytest.raises(InvalidInput):
        PaymentIntent(None, 42, "tip", Money(100, "CNY"), S.REQUIRES_PAYMENT, "", None)
    with pytest.raises(InvalidAmount):
        PaymentIntent(None, 42, "full", Money(0, "CNY"), S.REQUIRES_PAYMENT, "", None)


def test_a_presale_refund_gives_back_the_balance_before_the_deposit() -> None:
    deposit = intent(S.SUCCEEDED, purpose="deposit", yuan=100, intent_id=1)
    balance = intent(S.SUCCEEDED, purpose="balance", yuan=899, intent_id=2)
    plan = refund_plan([deposit, balance], Money(95000, "CNY"))
    assert [(i.purpose, m.minor) for i, m in plan] == [("balance", 89900), ("deposit", 5100)]


def test_a_refund_plan_skips_unpaid_and_spent_intents_and_refuses_more_than_all_of_them() -> None:
    deposit = intent(S.SUCCEEDED, purpose="deposit", yuan=100, intent_id=1)
    balance = intent(S.FAILED, purpose="balance", yuan=899, intent_id=2)
    assert [i.purpose for i, _ in refund_plan([deposit, balance], Money(100, "CNY"))] == ["deposit"]
    with pytest.raises(RefundExceedsPayment):
        refund_plan([deposit, balance], Money(10001, "CNY"))


def test_a_declined_payment_answers_402() -> None:
    declined = PaymentDeclined("card declined")
    assert (status_of(declined), declined.code) == (402, "payment-declined")
