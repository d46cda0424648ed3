from __future__ import annotations

import pytest

from shopfest.core.errors import InvalidInput
from shopfest.inventory.model import Claim, Ledger, LimitExceeded, SoldOut, check_quantity

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
