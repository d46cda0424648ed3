from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopfest.core.errors import InvalidInput
from shopfest.core.money import Money
from shopfest.inventory.model import (
    AccountNotVerified,
    AccountTooNew,
    Buyer,
    Claim,
    FlashSale,
    Ledger,
    LimitExceeded,
    SoldOut,
    TooManyUnpaid,
    check_quantity,
    shortfall,
)

PHONE, SCARF, SALE = 11, 12, 7


def test_an_order_takes_all_its_units_or_none() -> None:
    ledger = Ledger({PHONE: 1, SCARF: 5})
    with pytest.raises(SoldOut):
        ledger.claim([Claim(SCARF, 2, shopper_id=1), Claim(PHONE, 2, shopper_id=1)])
    assert ledger.available == {PHONE: 1, SCARF: 5}
    ledger.claim([Claim(SCARF, 2, shopper_id=1), Claim(PHONE, 1, shopper_id=1)])
    assert ledger.available == {PHONE: 0, SCARF: 3}


def test_two_lines_of_one_sku_count_together() -> None:
    ledger = Ledger({PHONE: 3})
    with pytest.raises(SoldOut):
        ledger.claim([Claim(PHONE, 2, shopper_id=1), Claim(PHONE, 2, shopper_id=1)])


def test_a_flash_sale_sells_its_quantity_and_no_shopper_more_than_the_limit() -> None:
    ledger = Ledger({PHONE: 100}, flash_left={SALE: 3}, flash_limit={SALE: 2})
    ledger.claim([Claim(PHONE, 2, shopper_id=1, flash_sale_id=SALE)])
    with pytest.raises(LimitExceeded):
        ledger.claim([Claim(PHONE, 1, shopper_id=1, flash_sale_id=SALE)])
    with pytest.raises(SoldOut):
        ledger.claim([Claim(PHONE, 2, shopper_id=2, flash_sale_id=SALE)])
    ledger.claim([Claim(PHONE, 1, shopper_id=2, flash_sale_id=SALE)])
    assert ledger.flash_left == {SALE: 0} and ledger.bought == {(SALE, 1): 2, (SALE, 2): 1}
    assert ledger.exhausted([Claim(PHONE, 1, shopper_id=3, flash_sale_id=SALE)]) == {PHONE}


@pytest.mark.parametrize("qty", [0, -1, 1000, 10**9])
def test_a_line_orders_between_one_and_999_units(qty: int) -> None:
    with pytest.raises(InvalidInput):
        check_quantity(qty)


def test_orders_claiming_alike_take_what_is_left_in_turn() -> None:
    ledger = Ledger({PHONE: 7, SCARF: 100})
    cart = [Claim(PHONE, 2, shopper_id=1), Claim(SCARF, 1, shopper_id=1)]
    assert ledger.claim_alike(cart, 5) == 3
    assert ledger.available == {PHONE: 1, SCARF: 97}
    with pytest.raises(SoldOut):  # the fourth is refused, and `claim` says why
        ledger.claim(cart)


def test_a_shopper_claiming_a_flash_sale_again_and_again_stops_at_the_limit() -> None:
    ledger = Ledger({PHONE: 100}, flash_left={SALE: 10}, flash_limit={SALE: 3}, bought={(SALE, 1): 1})
    assert ledger.claim_alike([Claim(PHONE, 1, shopper_id=1, flash_sale_id=SALE)], 4) == 2
    assert ledger.bought == {(SALE, 1): 3} and ledger.flash_left == {SALE: 8}
    assert ledger.available == {PHONE: 98}
    with pytest.raises(LimitExceeded):
        ledger.claim([Claim(PHONE, 1, shopper_id=1, flash_sale_id=SALE)])


claims_of_one_shopper = st.lists(
    st.builds(Claim, sku_id=st.sampled_from([PHONE, SCARF]), qty=st.integers(1, 4), shopper_id=st.just(1),
              flash_sale_id=st.sampled_from([None, SALE])),
    min_size=1, max_size=3,
).map(lambda claims: [c if c.sku_id == PHONE else Claim(c.sku_id, c.qty, 1)  # SALE is PHONE's
                      for c in claims])


@given(claims=claims_of_one_shopper, count=st.integers(0, 8), phones=st.integers(-2, 12),
       scarves=st.integers(0, 12), flash=st.integers(-2, 6), limit=st.integers(1, 5), held=st.integers(0, 7))
def test_claiming_alike_is_claiming_one_after_another(
        claims: list[Claim], count: int, phones: int, scarves: int, flash: int, limit: int,
        held: int) -> None:
    def ledger() -> Ledger:
        return Ledger({PHONE: phones, SCARF: scarves}, flash_left={SALE: flash}, flash_limit={SALE: limit},
                      bought={(SALE, 1): held})

    one_by_one, at_once = ledger(), ledger()
    taken = 0
    for _ in range(count):
        try:
            one_by_one.claim(claims)
        except (SoldOut, LimitExceeded):
            break
        taken += 1

    assert at_once.claim_alike(claims, count) == taken
    assert (at_once.available, at_once.flash_left, at_once.bought) == (
        one_by_one.available, one_by_one.flash_left, one_by_one.bought)


def test_claiming_alike_a_sku_without_stock_or_below_zero_grants_nothing() -> None:
    ledger = Ledger({PHONE: -3})
    assert ledger.claim_alike([Claim(SCARF, 1, shopper_id=1)], 4) == 0
    assert ledger.claim_alike([Claim(PHONE, 1, shopper_id=1)], 4) == 0
    assert ledger.claim_alike([Claim(PHONE, 1, shopper_id=1), Claim(SCARF, 1, shopper_id=1)], 4) == 0
    assert ledger.available == {PHONE: -3}


@given(available=st.integers(0, 6), flash_left=st.integers(0, 6), limit=st.integers(1, 4),
       held=st.integers(0, 4), qty=st.integers(1, 8), flash=st.booleans())
def test_a_shortfall_is_exactly_what_the_ledger_refuses_and_the_most_it_grants(
        available: int, flash_left: int, limit: int, held: int, qty: int, flash: bool) -> None:
    # The cart and the product page read `shortfall`; checkout's gate decides by the ledger: one rule.
    def ledger() -> Ledger:
        return Ledger({PHONE: available}, {SALE: flash_left}, {SALE: limit}, {(SALE, 1): held})

    def fits(units: int) -> bool:
        try:
            ledger().claim([Claim(PHONE, units, 1, SALE if flash else None)])
        except (SoldOut, LimitExceeded):
            return False
        return True

    short = shortfall(ledger(), Claim(PHONE, qty, shopper_id=1, flash_sale_id=SALE if flash else None))
    assert (short is None) == fits(qty)
    if short is not None:  # the most it names is the most the ledger grants
        assert short.most < qty and (short.most == 0 or fits(short.most)) and not fits(short.most + 1)
        assert short.reason in ({"sold-out", "flash-sold-out", "limit-exceeded"} if flash else {"sold-out"})


def test_a_shopper_holds_at_most_the_cap_of_unpaid_units_of_one_sku() -> None:
    ledger = Ledger({PHONE: 100, SCARF: 100}, unpaid={(1, PHONE): 3}, max_unpaid=5)
    with pytest.raises(TooManyUnpaid) as refused:  # the whole order, its scarf too
        ledger.claim([Claim(SCARF, 1, shopper_id=1), Claim(PHONE, 3, shopper_id=1)])
    assert refused.value.data == {"sku_id": PHONE, "limit": 5, "held": 3}
    assert ledger.claim_alike([Claim(PHONE, 1, shopper_id=1)], 4) == 2
    ledger.claim([Claim(PHONE, 5, shopper_id=2)])
    assert ledger.unpaid == {(1, PHONE): 5, (2, PHONE): 5}
    assert ledger.available == {PHONE: 93, SCARF: 100}


def test_sold_out_is_said_before_too_many_unpaid() -> None:
    ledger = Ledger({PHONE: 2}, unpaid={(1, PHONE): 5}, max_unpaid=5)
    with pytest.raises(SoldOut):
        ledger.claim([Claim(PHONE, 3, shopper_id=1)])
    with pytest.raises(TooManyUnpaid):
        ledger.claim([Claim(PHONE, 1, shopper_id=1)])


def test_many_shoppers_placing_one_cart_are_each_held_to_their_own_cap() -> None:
    # given 3 phones left, shopper 1 holding 4 unpaid of at most 5
    ledger = Ledger({PHONE: 3}, unpaid={(1, PHONE): 4}, max_unpaid=5)
    # when five orders of one phone come, by shoppers 1, 2, 1, 3 and 4 (the claims' shopper stands for any)
    told = ledger.claim_for_each([Claim(PHONE, 1, shopper_id=1)], [1, 2, 1, 3, 4])
    # then the second of shopper 1 is over the cap, the last finds none left
    assert [None if t is None else t.code for t in told] == [
        None, None, TooManyUnpaid.code, None, SoldOut.code]
    assert ledger.unpaid == {(1, PHONE): 5, (2, PHONE): 1, (3, PHONE): 1}
    assert ledger.available == {PHONE: 0}


@given(claims=claims_of_one_shopper, count=st.integers(0, 8), phones=st.integers(-2, 12),
       scarves=st.integers(0, 12), held=st.integers(0, 7), cap=st.integers(1, 6))
def test_claiming_alike_under_the_cap_is_claiming_one_after_another(
        claims: list[Claim], count: int, phones: int, scarves: int, held: int, cap: int) -> None:
    def ledger() -> Ledger:
        return Ledger({PHONE: phones, SCARF: scarves}, flash_left={SALE: 100}, flash_limit={SALE: 100},
                      unpaid={(1, PHONE): held}, max_unpaid=cap)

    one_by_one, at_once = ledger(), ledger()
    taken = 0
    for _ in range(count):
        try:
            one_by_one.claim(claims)
        except (SoldOut, TooManyUnpaid):
            break
        taken += 1

    assert at_once.claim_alike(claims, count) == taken
    assert (at_once.available, at_once.unpaid) == (one_by_one.available, one_by_one.unpaid)


def flash(**terms: Any) -> FlashSale:
    return FlashSale(sku_id=PHONE, price=Money.parse("2999.50", "CNY"), quantity=10,
                     starts_at=NOON - timedelta(hours=1), ends_at=NOON + timedelta(hours=1),
                     per_shopper_limit=1, **terms)


NOON = datetime(2027, 11, 11, 4, 0, tzinfo=UTC)


def test_a_flash_sale_may_sell_to_verified_and_older_accounts_only() -> None:
    fresh, old = Buyer(True, NOON - timedelta(hours=2)), Buyer(True, NOON - timedelta(days=3))
    flash().check_buyer(None, at=NOON)  # asks nothing: anyone buys
    with pytest.raises(AccountNotVerified):
        flash(requires_verified=True).check_buyer(Buyer(False, NOON - timedelta(days=30)), at=NOON)
    with pytest.raises(AccountNotVerified):
        flash(requires_verified=True).check_buyer(None, at=NOON)
    with pytest.raises(AccountTooNew):
        flash(min_account_age_hours=24).check_buyer(fresh, at=NOON)
    flash(requires_verified=True, min_account_age_hours=24).check_buyer(old, at=NOON)
    with pytest.raises(InvalidInput):
        flash(min_account_age_hours=-1)
