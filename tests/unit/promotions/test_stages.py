"""The eight stages by hand-worked carts: every figure below was worked out on paper."""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from shopfest.core.money import Money
from shopfest.promotions.ledger import percent_of, spread
from shopfest.promotions.model import (
    Coupon,
    CrossStore,
    Deposit,
    FlashPrice,
    Hint,
    ItemDiscount,
    PlatformCoupon,
    Priced,
    PriceLine,
    PriceRequest,
    Promotion,
    RedEnvelope,
    StoreCoupon,
    StoreThreshold,
    Tier,
    TooManyCoupons,
    Window,
)
from shopfest.promotions.stages import price

HALF_PAST_MIDNIGHT = datetime(2026, 11, 10, 16, 30, tzinfo=UTC)  # 00:30 on 11.11 in Shanghai
PACKAGE = Path(__file__).resolve().parents[3] / "src" / "shopfest" / "promotions"


def yuan(text: str) -> int:
    return Money.parse(text, "CNY").minor


def shown(minor: int) -> str:
    return Money(minor, "CNY").amount


def a_line(id: str, unit_price: str, *, merchant: str = "m1", qty: int = 1, sku: str = "",
           category: str = "apparel", tier: str = "regular") -> PriceLine:
    return PriceLine(id, sku or f"sku-{id}", merchant, yuan(unit_price), qty, category=category, tier=tier)


def priced(lines: Sequence[PriceLine], promotions: Sequence[Promotion] = (), coupons: Sequence[Coupon] = (),
           deposits: Sequence[Deposit] = ()) -> Priced:
    return price(PriceRequest("CNY", HALF_PAST_MIDNIGHT, tuple(lines), tuple(promotions), tuple(coupons),
                              tuple(deposits)))


def line_totals(result: Priced) -> list[str]:
    return [shown(line.total) for line in result.lines]


def applied(result: Priced) -> list[tuple[str, str, str, str]]:
    return [(a.source, a.kind, shown(a.amount), a.funded_by) for a in result.applied]


def hints(result: Priced) -> list[tuple[str, str, str]]:
    return [(h.source, shown(h.missing), shown(h.would_save)) for h in result.hints]


def threshold(id: str, *tiers: tuple[str, str], merchant: str = "m1", repeat: bool = False) -> StoreThreshold:
    return StoreThreshold(id, merchant, tuple(Tier(yuan(s), yuan(o)) for s, o in tiers), repeat)


def cross_store(id: str, every: str, off: str, *, tiers: Sequence[str] = (),
                categories: Sequence[str] = ()) -> CrossStore:
    return CrossStore(id, yuan(every), yuan(off), frozenset(tiers), frozenset(categories))


def percent_off(id: str, percent: Fraction | int, *, merchant: str | None = None,
                category: str | None = None) -> ItemDiscount:
    return ItemDiscount(id, "percent_off", Fraction(percent), merchant=merchant, category=category)


# --- the largest-remainder spread --------------------------------------------------------------


def test_a_spread_hands_the_units_left_to_the_largest_remainders() -> None:
    # 100.00 over 100/200/300: 16.666.., 33.333.., 50.00 -> floors 16.66, 33.33, 50.00, one cent left
    assert spread(10000, [10000, 20000, 30000]) == [1667, 3333, 5000]


def test_a_spread_tie_goes_to_the_earlier_line() -> None:
    assert spread(10000, [10000, 10000, 10000]) == [3334, 3333, 3333]
    assert spread(2, [1, 1, 1]) == [1, 1, 0]


def test_a_store_threshold_is_spread_over_the_merchants_lines() -> None:
    result = priced([a_line("l1", "100.00"), a_line("l2", "200.00"), a_line("l3", "300.00")],
                    [threshold("p1", ("600.00", "100.00"))])
    assert line_totals(result) == ["83.33", "166.67", "250.00"]
    assert [shown(line.adjustments[0].amount) for line in result.lines] == ["16.67", "33.33", "50.00"]


# --- stage 1: flash price ----------------------------------------------------------------------


def test_a_flash_price_holds_only_within_the_per_shopper_limit() -> None:
    result = priced([a_line("l1", "100.00", qty=3, sku="k1")],
                    [FlashPrice("f1", "k1", yuan("60.00"), per_shopper_limit=2)])
    assert line_totals(result) == ["220.00"]
    assert applied(result) == [("f1", "flash_price", "80.00", "merchant")]


def test_the_flash_limit_counts_every_line_of_the_sku() -> None:
    result = priced([a_line("l1", "100.00", sku="k1"), a_line("l2", "100.00", qty=2, sku="k1")],
                    [FlashPrice("f1", "k1", yuan("60.00"), per_shopper_limit=2)])
    assert line_totals(result) == ["60.00", "160.00"]
    assert applied(result) == [("f1", "flash_price", "80.00", "merchant")]


def test_the_lowest_flash_price_wins_and_one_above_the_list_price_is_not_applied() -> None:
    lines = [a_line("l1", "100.00", sku="k1"), a_line("l2", "50.00", sku="k2")]
    result = priced(lines, [FlashPrice("f1", "k1", yuan("70.00")), FlashPrice("f2", "k1", yuan("60.00")),
                            FlashPrice("f3", "k2", yuan("50.00"))])
    assert line_totals(result) == ["60.00", "50.00"]
    assert applied(result) == [("f2", "flash_price", "40.00", "merchant")]


def test_a_promotion_is_on_from_its_start_until_just_before_its_end() -> None:
    minute = timedelta(minutes=1)
    started_now = Window(HALF_PAST_MIDNIGHT, HALF_PAST_MIDNIGHT + minute)
    ended_now = Window(HALF_PAST_MIDNIGHT - minute, HALF_PAST_MIDNIGHT)
    result = priced([a_line("l1", "100.00", sku="k1"), a_line("l2", "100.00", sku="k2")],
                    [FlashPrice("on", "k1", yuan("90.00"), window=started_now),
                     FlashPrice("over", "k2", yuan("90.00"), window=ended_now)])
    assert line_totals(result) == ["90.00", "100.00"]


# --- stage 2: item level -----------------------------------------------------------------------


def test_a_percent_off_rounds_half_up_to_the_fen() -> None:
    assert percent_of(100, 25, 2) == 13  # 12.5% of 1.00 is 0.125
    assert percent_of(20, 25, 2) == 3  # 12.5% of 0.20 is 0.025
    assert percent_of(19, 25, 2) == 2  # 0.02375
    result = priced([a_line("l1", "1.00")], [percent_off("p1", Fraction(25, 2))])
    assert line_totals(result) == ["0.87"]


def test_a_line_takes_only_the_item_discount_worth_most_to_it() -> None:
    result = priced([a_line("l1", "299.00", qty=2), a_line("l2", "100.00", merchant="m2", category="beauty")],
                    [percent_off("p1", 10, merchant="m1"), percent_off("p2", 15, category="apparel"),
                     percent_off("p3", 5)])
    assert line_totals(result) == ["508.30", "95.00"]
    assert applied(result) == [("p2", "percent_off", "89.70", "merchant"),
                               ("p3", "percent_off", "5.00", "merchant")]


def test_item_discounts_worth_the_same_go_to_the_earlier() -> None:
    result = priced([a_line("l1", "100.00")], [percent_off("p1", 10), percent_off("p2", 10)])
    assert applied(result) == [("p1", "percent_off", "10.00", "merchant")]


def test_a_multi_buy_needs_its_minimum_quantity_on_the_line() -> None:
    multi_buy = ItemDiscount("mb", "multi_buy", Fraction(20), min_qty=3)
    result = priced([a_line("l1", "10.00", qty=2), a_line("l2", "10.00", qty=3)], [multi_buy])
    assert line_totals(result) == ["20.00", "24.00"]
    assert applied(result) == [("mb", "multi_buy", "6.00", "merchant")]


def test_an_item_discount_is_taken_off_the_flash_price() -> None:
    result = priced([a_line("l1", "100.00", sku="k1")],
                    [percent_off("p1", 10), FlashPrice("f1", "k1", yuan("60.00"))])
    assert line_totals(result) == ["54.00"]
    assert applied(result) == [("f1", "flash_price", "40.00", "merchant"),
                               ("p1", "percent_off", "6.00", "merchant")]


# --- stage 3: store threshold ------------------------------------------------------------------


def test_the_highest_tier_reached_applies_whatever_order_the_tiers_come_in() -> None:
    tiers = (("800.00", "100.00"), ("300.00", "30.00"), ("500.00", "50.00"))
    result = priced([a_line("l1", "299.00", qty=2), a_line("l2", "99.00", merchant="m2")],
                    [threshold("p1", *tiers)])
    assert line_totals(result) == ["548.00", "99.00"]
    assert hints(result) == [("p1", "202.00", "50.00")]


def test_a_repeating_threshold_takes_off_every_time_the_spend_is_reached() -> None:
    result = priced([a_line("l1", "950.00")], [threshold("p1", ("300.00", "30.00"), repeat=True)])
    assert line_totals(result) == ["860.00"]
    assert hints(result) == [("p1", "250.00", "30.00")]


def test_of_a_merchants_thresholds_only_the_one_worth_most_applies() -> None:
    lines = [a_line("l1", "598.00")]
    tie = priced(lines, [threshold("p1", ("500.00", "50.00")),
                         threshold("p2", ("200.00", "25.00"), repeat=True)])
    assert applied(tie) == [("p1", "store_threshold", "50.00", "merchant")]
    more = priced(lines, [threshold("p1", ("500.00", "50.00")),
                          threshold("p2", ("200.00", "30.00"), repeat=True)])
    assert applied(more) == [("p2", "store_threshold", "60.00", "merchant")]
    # p1 would take 50.00 at 600.00; p2 already takes 60.00 there, so p1 shows no hint.
    assert hints(more) == [("p2", "2.00", "30.00")]


def test_a_threshold_counts_the_merchants_lines_after_item_discounts() -> None:
    result = priced([a_line("l1", "550.00"), a_line("l2", "900.00", merchant="m2")],
                    [percent_off("p1", 10, merchant="m1"), threshold("p2", ("500.00", "50.00"))])
    assert line_totals(result) == ["495.00", "900.00"]
    assert hints(result) == [("p2", "5.00", "50.00")]


# --- stage 4: store coupon ---------------------------------------------------------------------


def test_a_store_coupon_needs_its_minimum_spend_after_the_store_threshold() -> None:
    lines = [a_line("l1", "520.00"), a_line("l2", "80.00", merchant="m2")]
    promotions = [threshold("p1", ("500.00", "50.00"))]
    too_high = priced(lines, promotions, [StoreCoupon("c1", "m1", yuan("500.00"), yuan("20.00"))])
    assert line_totals(too_high) == ["470.00", "80.00"] and too_high.coupons_used == ()
    reached = priced(lines, promotions, [StoreCoupon("c1", "m1", yuan("400.00"), yuan("20.00"))])
    assert line_totals(reached) == ["450.00", "80.00"] and reached.coupons_used == ("c1",)
    assert applied(reached)[-1] == ("c1", "store_coupon", "20.00", "merchant")


def test_a_store_coupon_for_a_merchant_not_in_the_cart_is_unusable() -> None:
    result = priced([a_line("l1", "100.00")], coupons=[StoreCoupon("c1", "m9", 0, yuan("20.00"))])
    assert line_totals(result) == ["100.00"] and result.coupons_used == ()


# --- stage 5: cross-store ----------------------------------------------------------------------


def test_cross_store_leaves_out_excluded_tiers_and_categories() -> None:
    lines = [a_line("l1", "400.00"), a_line("l2", "250.00", merchant="m2", category="food"),
             a_line("l3", "200.00", merchant="m3", tier="import"), a_line("l4", "210.00", merchant="m3")]
    result = priced(lines, [cross_store("x1", "300.00", "30.00", tiers=["import"], categories=["food"])])
    # base 400.00 + 210.00 = 610.00: twice 30.00, spread 60.00 as 39.344.. and 20.655..
    assert line_totals(result) == ["360.66", "250.00", "200.00", "189.34"]
    assert applied(result) == [("x1", "cross_store", "60.00", "merchant")]
    assert hints(result) == [("x1", "290.00", "30.00")]


def test_of_several_cross_store_promotions_only_the_one_worth_most_applies() -> None:
    result = priced([a_line("l1", "610.00")], [cross_store("x1", "300.00", "30.00"),
                                               cross_store("x2", "200.00", "25.00")])
    assert applied(result) == [("x2", "cross_store", "75.00", "merchant")]
    assert hints(result) == [("x1", "290.00", "30.00"), ("x2", "190.00", "25.00")]


# --- the coupon choice -------------------------------------------------------------------------


def test_a_store_coupon_that_costs_the_cross_store_discount_is_left_unused() -> None:
    cross = [cross_store("x1", "300.00", "30.00")]
    skipped = priced([a_line("l1", "310.00")], cross, [StoreCoupon("c1", "m1", 0, yuan("20.00"))])
    assert line_totals(skipped) == ["280.00"] and skipped.coupons_used == ()
    assert [a.source for a in skipped.applied] == ["x1"]
    used = priced([a_line("l1", "310.00")], cross, [StoreCoupon("c1", "m1", 0, yuan("5.00"))])
    assert line_totals(used) == ["275.00"] and used.coupons_used == ("c1",)


def test_a_store_coupon_that_takes_the_cart_under_a_platform_minimum_is_left_unused() -> None:
    coupons: list[Coupon] = [StoreCoupon("s1", "m1", 0, yuan("15.00")),
                             PlatformCoupon("p1", yuan("300.00"), yuan("50.00"))]
    result = priced([a_line("l1", "310.00")], coupons=coupons)
    assert line_totals(result) == ["260.00"] and result.coupons_used == ("p1",)
    assert applied(result) == [("p1", "platform_coupon", "50.00", "platform")]


def test_one_store_coupon_a_merchant_and_one_platform_coupon() -> None:
    coupons: list[Coupon] = [
        StoreCoupon("s1", "m1", 0, yuan("10.00")), StoreCoupon("s2", "m1", 0, yuan("15.00")),
        StoreCoupon("s3", "m2", 0, yuan("5.00")), PlatformCoupon("p1", 0, yuan("8.00")),
        PlatformCoupon("p2", 0, yuan("9.00"))]
    result = priced([a_line("l1", "100.00"), a_line("l2", "100.00", merchant="m2")], coupons=coupons)
    assert result.coupons_used == ("s2", "s3", "p2")
    assert shown(result.total) == "171.00"


def test_a_tie_goes_to_fewer_coupons() -> None:
    # 305.00 - 10.00 cross-store = 295.00; with the coupon 295.00 and no cross-store: the same.
    result = priced([a_line("l1", "305.00")], [cross_store("x1", "300.00", "10.00")],
                    [StoreCoupon("c1", "m1", 0, yuan("10.00"))])
    assert shown(result.total) == "295.00" and result.coupons_used == ()


def test_a_tie_between_as_many_coupons_goes_to_the_earlier_in_the_request() -> None:
    lines = [a_line("l1", "100.00")]
    later = PlatformCoupon("later", yuan("100.00"), yuan("20.00"))
    earlier = PlatformCoupon("earlier", 0, yuan("20.00"))
    assert priced(lines, coupons=[earlier, later]).coupons_used == ("earlier",)
    assert priced(lines, coupons=[later, earlier]).coupons_used == ("later",)


def test_a_platform_coupon_counts_the_cart_after_cross_store() -> None:
    cross = [cross_store("x1", "300.00", "30.00")]
    unusable = priced([a_line("l1", "320.00")], cross, [PlatformCoupon("p1", yuan("300.00"), yuan("20.00"))])
    assert shown(unusable.total) == "290.00" and unusable.coupons_used == ()
    usable = priced([a_line("l1", "320.00")], cross, [PlatformCoupon("p1", yuan("290.00"), yuan("20.00"))])
    assert shown(usable.total) == "270.00" and usable.coupons_used == ("p1",)


def test_too_many_coupon_choices_are_refused() -> None:
    lines = [a_line(f"l{n}", "10.00", merchant=f"m{n}") for n in range(15)]
    coupons = [StoreCoupon(f"c{n}", f"m{n}", 0, yuan("1.00")) for n in range(15)]
    with pytest.raises(TooManyCoupons):
        priced(lines, coupons=coupons)


# --- stage 7: red envelopes --------------------------------------------------------------------


def test_red_envelopes_apply_in_order_each_cut_to_what_is_left() -> None:
    envelopes = [RedEnvelope("e1", yuan("30.00")), RedEnvelope("e2", yuan("30.00")),
                 RedEnvelope("e3", yuan("10.00"))]
    result = priced([a_line("l1", "20.00"), a_line("l2", "30.00", merchant="m2")], coupons=envelopes)
    assert line_totals(result) == ["0.00", "0.00"]
    assert applied(result) == [("e1", "red_envelope", "30.00", "platform"),
                               ("e2", "red_envelope", "20.00", "platform")]
    assert result.coupons_used == ("e1", "e2")


def test_each_red_envelope_is_spread_on_its_own() -> None:
    # One fen over 1.00/2.00 goes to l2 (remainder 2/3); again over 1.00/1.99, to l2 (199/299).
    # Spread together, 0.02 would give one fen to each line.
    result = priced([a_line("l1", "1.00"), a_line("l2", "2.00")],
                    coupons=[RedEnvelope("e1", 1), RedEnvelope("e2", 1)])
    assert line_totals(result) == ["1.00", "1.98"]


# --- stage 8: deposits -------------------------------------------------------------------------


def test_a_deposit_counts_its_worth_against_the_line() -> None:
    result = priced([a_line("l1", "1000.00")], deposits=[Deposit("l1", yuan("100.00"), yuan("200.00"))])
    assert (shown(result.total), shown(result.deposit_paid), shown(result.balance_due)) == (
        "900.00", "100.00", "800.00")
    assert applied(result) == [("deposit:l1", "deposit", "100.00", "merchant")]


def test_a_deposit_never_takes_the_line_below_what_was_paid() -> None:
    result = priced([a_line("l1", "150.00")], deposits=[Deposit("l1", yuan("100.00"), yuan("200.00"))])
    assert (shown(result.total), shown(result.balance_due)) == ("100.00", "0.00")


def test_the_balance_is_negative_only_when_discounts_took_the_line_below_its_deposit() -> None:
    result = priced([a_line("l1", "100.00")], [threshold("p1", ("100.00", "60.00"))],
                    deposits=[Deposit("l1", yuan("50.00"), yuan("80.00"))])
    assert (shown(result.total), shown(result.balance_due)) == ("40.00", "-10.00")
    assert [a.source for a in result.applied] == ["p1"]


# --- the whole cart ----------------------------------------------------------------------------


def test_every_stage_in_order_on_one_cart() -> None:
    lines = [PriceLine("l1", "k1", "m1", yuan("299.00"), 2, "b1", "apparel"),
             PriceLine("l2", "k2", "m2", yuan("150.00"), 1, category="beauty")]
    promotions: list[Promotion] = [threshold("p1", ("500.00", "50.00"), ("800.00", "100.00")),
                  cross_store("p2", "300.00", "40.00"), percent_off("p3", 10, merchant="m2")]
    coupons: list[Coupon] = [PlatformCoupon("c1", yuan("400.00"), yuan("20.00")),
               StoreCoupon("c2", "m1", yuan("100.00"), yuan("10.00")), RedEnvelope("c3", yuan("5.00"))]
    result = priced(lines, promotions, coupons, [Deposit("l1", yuan("50.00"), yuan("100.00"))])
    # l2 135.00 after p3; m1 548.00 after p1, 538.00 after c2; cross-store on 673.00: 80.00 as
    # 63.95/16.05; c1 20.00 on 593.00 as 15.99/4.01; c3 5.00 on 573.00 as 4.00/1.00; deposit 50.00.
    assert line_totals(result) == ["404.06", "113.94"]
    assert [(m.merchant, shown(m.discount)) for m in result.merchants] == [("m1", "193.94"), ("m2", "36.06")]
    assert [a.source for a in result.applied] == ["p3", "p1", "c2", "p2", "c1", "c3", "deposit:l1"]
    assert hints(result) == [("p1", "202.00", "50.00"), ("p2", "227.00", "40.00")]
    assert result.coupons_used == ("c1", "c2", "c3")
    assert (shown(result.total), shown(result.balance_due)) == ("518.00", "468.00")


def test_merchants_come_in_the_order_they_first_appear() -> None:
    result = priced([a_line("l1", "10.00", merchant="m2"), a_line("l2", "20.00"),
                     a_line("l3", "30.00", merchant="m2")])
    assert [(m.merchant, shown(m.subtotal)) for m in result.merchants] == [("m2", "40.00"), ("m1", "20.00")]


def test_hints_worth_nothing_are_left_out() -> None:
    result = priced([a_line("l1", "100.00")], [cross_store("x1", "300.00", "0.00")])
    assert result.hints == ()
    with_one = priced([a_line("l1", "100.00")], [cross_store("x1", "300.00", "30.00")])
    assert with_one.hints == (Hint("x1", yuan("200.00"), yuan("30.00")),)


@pytest.mark.parametrize("module", ["model.py", "ledger.py", "coupon_choice.py", "stages.py"])
def test_the_engine_imports_only_the_standard_library_and_core(module: str) -> None:
    tree = ast.parse((PACKAGE / module).read_text())
    for node in ast.walk(tree):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            assert name.split(".")[0] in sys.stdlib_module_names or name.startswith(
                ("shopfest.core", "shopfest.promotions.model", "shopfest.promotions.ledger",
                 "shopfest.promotions.coupon_choice")), f"{module} imports {name}"
