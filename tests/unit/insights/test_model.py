"""Sales from published events, in the reporting currency, and the big screen's fold of them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shopfest.core.money import ExchangeRate, Money
from shopfest.insights.model import Published, SaleKind, sale_of, screen_delta

MIDNIGHT = datetime(2027, 11, 10, 16, 0, tzinfo=UTC)  # 00:00 on the 11th in Shanghai


def event(name: str, *, currency: str = "CNY", reporting: str = "CNY", rate: str = "1", event_id: int = 1,
          at: datetime = MIDNIGHT, lines: list[dict[str, Any]] | None = None, **heading: Any) -> Published:
    line = {"merchant": 7, "product": 70, "brand": 12, "brand_name": "Acme", "category": 3,
            "category_name": "Phones", "luxury": False, "debut": False, "qty": 1, "total": 599900}
    payload = {"at": at.isoformat(), "order_id": 42, "shopper_id": 501, "country": "GB", "source": None,
               "currency": currency, "reporting": reporting, "rate": rate, "lines": lines or [line],
               **heading}
    return Published(event_id, name, payload, at)


def test_a_paid_order_converts_each_line_at_its_recorded_rate_into_the_reporting_minor_units() -> None:
    cny = sale_of(event("OrderPaidCounted"))
    assert cny is not None and cny.kind is SaleKind.PAID and cny.gmv_minor == 599900 and cny.currency == "CNY"
    # 5,999.00 yuan paid in yen at the order's own rate: whole yen, rounded half up
    jpy = sale_of(event("OrderPaidCounted", reporting="JPY", rate="21.3584"))
    assert jpy is not None and jpy.gmv_minor == 128129 and jpy.currency == "JPY"
    usd = sale_of(event("OrderPaidCounted", reporting="USD", rate="0.14114326040931545518701482",
                        lines=[{"merchant": 7, "qty": 3, "total": 1011, "adjustments": [["coupon:9", 300]]}]))
    assert usd is not None and usd.gmv_minor == 143 and usd.lines[0].discount_minor == 42
    assert usd.lines[0].promotions == (("coupon:9", 42),) and usd.lines[0].brand_id is None
    assert sale_of(event("ProductListed")) is None


def test_refunds_give_back_their_cumulative_share_so_parts_add_up_to_the_whole() -> None:
    rate = ExchangeRate("CNY", "USD", Decimal("0.1411"))
    lines = [(0, 337), (337, 674), (674, 1011)]  # a 10.11 yuan line refunded a unit at a time
    parts = [sale_of(event("OrderRefundCounted", reporting="USD", rate="0.1411", event_id=n,
                           lines=[{"merchant": 7, "qty": 1, "before": before, "total": after}]))
             for n, (before, after) in enumerate(lines)]
    each = [p.gmv_minor for p in parts if p is not None]
    assert each == [-48, -47, -48] and sum(each) == -rate.convert(Money(1011, "CNY")).minor
    assert all(p is not None and p.lines[0].qty == -1 for p in parts)


def test_the_screen_folds_seconds_peaks_top_lists_and_the_pavilions() -> None:
    luxe = {"merchant": 8, "product": 80, "brand": 13, "brand_name": "Maison", "category": 3,
            "category_name": "Phones", "luxury": True, "debut": True, "qty": 2, "total": 100000}
    plain = {"merchant": 7, "product": 70, "brand": 12, "brand_name": "Acme", "category": 4,
             "category_name": "Lamps", "luxury": False, "debut": False, "qty": 1, "total": 500}
    sales = [sale_of(e) for e in (
        event("OrderPaidCounted", event_id=1, lines=[luxe, plain], source="live:12"),
        event("OrderPaidCounted", event_id=2, lines=[plain], shopper_id=502, country="CN"),
        event("OrderPaidCounted", event_id=3, lines=[plain], at=MIDNIGHT.replace(second=1)),
        event("OrderRefundCounted", event_id=4, lines=[{**luxe, "qty": 1, "before": 0, "total": 50000}],
              source="live:12"),
        event("InStorePaidCounted", event_id=5, order_id=None,
              lines=[{"merchant": 9, "qty": 1, "total": 4000}]),
        event("VoucherRedeemedCounted", event_id=6, lines=[{"merchant": 9, "qty": 1, "total": 0}]),
    )]
    delta = screen_delta([s for s in sales if s is not None])
    totals = delta.totals
    assert totals["orders"] == 3 and totals["gmv"] == 100500 + 500 + 500 - 50000 + 4000
    assert totals["refunded"] == 50000 and delta.shoppers == {501, 502}
    second = int(MIDNIGHT.timestamp())
    assert delta.seconds == {second: [2, 101000], second + 1: [1, 500]}  # refunds change no past second
    assert delta.breakdowns[("brand", "13")] == ["Maison", 50000, 1]
    assert delta.breakdowns[("brand", "12")] == ["Acme", 1500, 3]
    assert delta.breakdowns[("category", "3")] == ["Phones", 50000, 1]
    assert delta.breakdowns[("country", "GB")] == ["GB", 100500 + 500 - 50000 + 4000, 2]
    assert (totals["luxury_gmv"], totals["luxury_orders"]) == (50000, 1)
    assert (totals["debut_gmv"], totals["debut_units"]) == (50000, 1)
    assert (totals["live_gmv"], totals["live_orders"]) == (100500 - 50000, 1)
    assert (totals["local_gmv"], totals["local_payments"], totals["local_redemptions"]) == (4000, 1, 1)
