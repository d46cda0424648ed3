"""How order lines are written into their child order's row, and read back."""

from __future__ import annotations

from shopfest.core.money import Money
from shopfest.orders.model import OrderLine
from shopfest.orders.store import _line, _line_json

PHONE = OrderLine(sku_id=11, product_id=7, title="Midnight X1 phone", fulfilment="shipped", qty=2,
                  unit_price=Money(599900, "CNY"), total=Money(1_149_800, "CNY"))


def test_a_line_at_its_defaults_is_written_without_them_and_read_back_whole() -> None:
    written = _line_json(PHONE)
    assert set(written) == {"sku_id", "product_id", "title", "fulfilment", "qty", "unit_minor", "total_minor"}
    assert _line(written, "CNY") == PHONE


def test_a_refunded_flash_line_with_discounts_is_read_back_whole() -> None:
    line = OrderLine(sku_id=11, product_id=7, title="Midnight X1 phone", fulfilment="shipped", qty=2,
                     unit_price=Money(299950, "CNY"), total=Money(549_900, "CNY"), flash_sale_id=3,
                     refunded_qty=1, refunded=Money(274_950, "CNY"),
                     adjustments=(("platform-cross-store", -30000), ("coupon-9", -20000)))
    assert _line(_line_json(line), "CNY") == line


def test_a_line_written_with_every_field_before_they_were_left_out_reads_back_the_same() -> None:
    older = {"sku_id": 11, "product_id": 7, "title": "Midnight X1 phone", "fulfilment": "shipped", "qty": 2,
             "unit_minor": 599900, "total_minor": 1_149_800, "flash_sale_id": None, "refunded_qty": 0,
             "refunded_minor": None, "adjustments": []}
    assert _line(older, "CNY") == PHONE
