"""Merchant insights' arithmetic: buckets, phases, the baseline and its lift, a promotion's effect."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from shopfest.core.clock import parse_instant
from shopfest.festival.model import eleven_eleven
from shopfest.insights.merchant import (
    BASELINE,
    Calendar,
    Period,
    Tally,
    baseline_for,
    daily_rows,
    fold,
    hour_of,
    lift_pct,
    phase_of,
    phase_sales,
    promotion_effect,
)
from shopfest.insights.model import Sale, SaleKind, SaleLine

FESTIVAL = Calendar(1, "11.11", tuple(Period(p.key, p.name, p.starts_at, p.ends_at)
                                      for p in eleven_eleven(2027).phases))
ELEVEN = parse_instant("2027-11-11T00:30:00+08:00")  # 16:30 UTC on Nov 10


def line(merchant_id: int = 7, *, category: str = "shoes", qty: int = 1, gmv: int = 10_000,
         promotions: tuple[tuple[str, int], ...] = ()) -> SaleLine:
    return SaleLine(merchant_id, 100 + len(category), 3, "Acme", len(category), category, False, False, qty,
                    gmv, sum(d for _, d in promotions), promotions)


def sale(event_id: int, *lines: SaleLine, kind: SaleKind = SaleKind.PAID, at: str = "",
         country: str = "FR", source: str | None = None) -> Sale:
    when = parse_instant(at) if at else ELEVEN
    return Sale(event_id, kind, when, "CNY", event_id, 1, country, source, lines)


def test_sales_fold_into_hourly_buckets_counting_each_order_once_and_refunds_subtracting() -> None:
    folded = fold([
        sale(1, line(category="shoes", qty=2, gmv=20_000), line(category="bags", gmv=5_000), line(9)),
        sale(2, line(category="shoes", qty=-1, gmv=-10_000), kind=SaleKind.REFUND),
        sale(3, line(category="shoes", qty=1, gmv=0), kind=SaleKind.REDEEMED),  # counted when paid
    ])
    hour = hour_of(ELEVEN)
    shoes, bags = folded.sales[(7, hour, "FR", 5)], folded.sales[(7, hour, "FR", 4)]
    assert (shoes.tally.orders, shoes.tally.units) == (1, 1)
    assert (shoes.tally.gmv, shoes.tally.refunds) == (10_000, 10_000)
    assert (bags.tally.orders, bags.tally.gmv) == (1, 5_000)
    # the order is one order of merchant 7 however many categories it holds, and one of merchant 9
    assert shoes.merchant_orders + bags.merchant_orders == 1
    assert folded.sales[(9, hour, "FR", 5)].merchant_orders == 1


def test_an_hour_belongs_to_the_phase_it_falls_in_and_the_fortnight_before_is_the_baseline() -> None:
    sale_phase = FESTIVAL.periods[-1]
    assert phase_of(FESTIVAL, hour_of(ELEVEN)) == "wave2-sale"
    assert phase_of(FESTIVAL, hour_of(sale_phase.ends_at)) == ""
    assert phase_of(FESTIVAL, hour_of(FESTIVAL.starts_at - timedelta(hours=1))) == BASELINE
    assert phase_of(FESTIVAL, hour_of(FESTIVAL.starts_at - timedelta(days=15))) == ""


def test_the_baseline_is_a_daily_average_scaled_to_each_phase_and_the_lift_is_against_it() -> None:
    # 14 baseline days selling 1,400.00 in all: 100.00 a day; the one-day 11.11 sale sells 300.00
    before = hour_of(FESTIVAL.starts_at - timedelta(days=3))
    hourly = {before: Tally(orders=14, gmv=140_000), hour_of(ELEVEN): Tally(orders=3, gmv=30_000)}
    baseline, phases = phase_sales(FESTIVAL, hourly)
    eleven = next(p for p in phases if p.key == "wave2-sale")
    wave1 = next(p for p in phases if p.key == "wave1-sale")
    assert baseline == 140_000
    assert (eleven.baseline_gmv, eleven.tally.gmv, eleven.lift) == (10_000, 30_000, Decimal("200.0"))
    assert (wave1.baseline_gmv, wave1.lift) == (30_000, Decimal("-100.0"))  # three days, nothing sold
    assert baseline_for(100, 86_400 / 3) == 2  # 7.14… / 3 rounded to the minor unit
    assert lift_pct(5, 0) is None


def test_a_promotion_counts_its_own_discount_against_the_lines_that_carried_it() -> None:
    folded = fold([sale(1, line(gmv=9_000, promotions=(("coupon:5", 1_000), ("store:2", 500))),
                        line(category="bags", gmv=4_000, promotions=(("coupon:5", 200),)), line(gmv=1))])
    coupon = folded.promotions[(7, hour_of(ELEVEN), "coupon:5")]
    assert (coupon.orders, coupon.gmv, coupon.discount) == (1, 13_000, 1_200)
    # over two days it sold 26,000.00 against a baseline of 1,000.00 a day (14,000.00 a fortnight)
    effect = promotion_effect("coupon:5", Tally(orders=2, gmv=26_000, discount=2_400), days=2,
                              baseline_total=14_000)
    assert (effect.discount_pct, effect.daily_vs_baseline_pct) == (Decimal("9.2"), Decimal("1300.0"))


def test_daily_rows_split_a_utc_day_between_the_phases_it_holds() -> None:
    start = FESTIVAL.periods[-1].starts_at  # 16:00 UTC on Nov 10
    hourly = [(hour_of(start - timedelta(hours=3)), "FR", "shoes", Tally(orders=1, gmv=100)),
              (hour_of(start), "FR", "shoes", Tally(orders=2, gmv=200)),
              (hour_of(start + timedelta(hours=2)), "FR", "shoes", Tally(orders=1, gmv=50))]
    rows = daily_rows(FESTIVAL, hourly)
    assert [(r.day.isoformat(), r.phase, r.tally.orders, r.tally.gmv) for r in rows] == [
        ("2027-11-10", "wave2-deposit", 1, 100), ("2027-11-10", "wave2-sale", 3, 250)]
