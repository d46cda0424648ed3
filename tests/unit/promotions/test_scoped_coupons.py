"""Store coupons scoped to SKUs (a live coupon covers the event's products): they weigh and cut only
their merchant's lines of those SKUs, the quick sums agree with the line-by-line reference, and the
pricing contract reads the scope."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopfest.core.errors import InvalidInput
from shopfest.promotions.contract import read_request
from shopfest.promotions.model import (
    CrossStore,
    PlatformCoupon,
    PriceLine,
    PriceRequest,
    StoreCoupon,
    StoreThreshold,
    Tier,
)
from shopfest.promotions.stages import _price, price
from tests.unit.promotions.test_properties import FAST, SKUS, carts, check_breakdowns, check_choice_is_exact

AT = datetime(2026, 11, 10, 16, 30, tzinfo=UTC)
SCARF = PriceLine("scarf", "k-scarf", "m1", 29_900, 1)  # the event's product
GLOVES = PriceLine("gloves", "k-gloves", "m1", 19_900, 2)  # the same merchant's, not on the show
TEA = PriceLine("tea", "k-tea", "m2", 9_900, 1)
LIVE = StoreCoupon("coupon:live", "m1", 20_000, 5_000, skus=frozenset({"k-scarf"}))


def cart(*lines: PriceLine, coupons: tuple[StoreCoupon | PlatformCoupon, ...] = (LIVE,),
         promotions: tuple[StoreThreshold | CrossStore, ...] = ()) -> PriceRequest:
    return PriceRequest("CNY", AT, lines, promotions, coupons)


def off_by_line(request: PriceRequest, source: str) -> dict[str, int]:
    result = price(request)
    assert result == _price(request, quick=False)
    return {line.id: sum(a.amount for a in line.adjustments if a.source == source) for line in result.lines}


def test_a_scoped_coupon_cuts_its_skus_and_leaves_the_merchants_other_lines_alone() -> None:
    cuts = off_by_line(cart(SCARF, GLOVES, TEA), "coupon:live")
    assert cuts == {"scarf": 5_000, "gloves": 0, "tea": 0}


def test_a_scoped_coupons_min_spend_counts_its_skus_only() -> None:
    # 199.00 of the scarf is under the 200.00 minimum, though the merchant's lines reach 597.00
    cheap_scarf = SCARF._replace(unit_price=19_900)
    result = price(cart(cheap_scarf, GLOVES))
    assert result.coupons_used == () and result.discount == 0
    # two scarves reach it
    assert price(cart(cheap_scarf._replace(qty=2), GLOVES)).coupons_used == ("coupon:live",)


def test_a_scoped_coupon_with_none_of_its_skus_in_the_cart_is_not_usable() -> None:
    result = price(cart(GLOVES, TEA, coupons=(replace(LIVE, min_spend=0),)))
    assert result.coupons_used == () and result.total == result.subtotal


def test_a_scoped_and_a_whole_store_coupon_of_one_merchant_are_weighed_as_a_choice() -> None:
    store_wide = StoreCoupon("coupon:store", "m1", 0, 5_000)
    for coupons in [(LIVE, store_wide), (store_wide, LIVE)]:
        request = cart(SCARF, GLOVES, coupons=coupons)
        result = price(request)
        assert result == _price(request, quick=False)
        assert len(result.coupons_used) == 1  # one store coupon a merchant
        assert result.discount == 5_000
    # the scoped coupon, ahead in the request, wins the tie and cuts the scarf alone
    assert off_by_line(cart(SCARF, GLOVES, coupons=(LIVE, store_wide)), "coupon:live") == {
        "scarf": 5_000, "gloves": 0}


def test_a_scoped_coupon_works_with_thresholds_and_cross_store_the_same_both_ways() -> None:
    threshold = StoreThreshold("p-threshold", "m1", (Tier(50_000, 3_000),))
    cross = CrossStore("p-cross", 30_000, 4_000, exclude_categories=frozenset({"food"}))
    lines = (SCARF._replace(qty=2), GLOVES, TEA._replace(category="food"))
    request = cart(*lines, coupons=(LIVE, PlatformCoupon("coupon:platform", 60_000, 2_000)),
                   promotions=(threshold, cross))
    result = price(request)
    assert result == _price(request, quick=False)
    assert "coupon:live" in result.coupons_used
    gloves = next(line for line in result.lines if line.id == "gloves")
    assert all(a.source != "coupon:live" for a in gloves.adjustments)


@FAST
@given(carts(), st.data())
def test_scoped_coupons_price_the_same_quick_and_line_by_line(request: PriceRequest,
                                                               data: st.DataObject) -> None:
    scopes = st.none() | st.frozensets(st.sampled_from(SKUS), min_size=1)
    scoped = replace(request, coupons=tuple(
        replace(c, skus=data.draw(scopes)) if isinstance(c, StoreCoupon) else c for c in request.coupons))
    result = price(scoped)
    check_breakdowns(scoped, result)
    check_choice_is_exact(scoped, result)
    sku_of = {line.id: line.sku for line in scoped.lines}
    for coupon in scoped.coupons:
        if isinstance(coupon, StoreCoupon) and coupon.skus is not None:
            assert all(sku_of[line.id] in coupon.skus for line in result.lines
                       if any(a.source == coupon.id for a in line.adjustments))


def test_the_contract_reads_a_store_coupons_skus() -> None:
    body = {"currency": "CNY", "lines": [{"id": "scarf", "sku": "k-scarf", "merchant": "m1",
                                          "unit_price": "299.00", "qty": 1},
                                         {"id": "gloves", "sku": "k-gloves", "merchant": "m1",
                                          "unit_price": "199.00", "qty": 1}],
            "coupons": [{"id": "live", "kind": "store_coupon", "merchant": "m1", "min_spend": "0.00",
                         "off": "50.00", "skus": ["k-scarf"]}]}
    request = read_request(body, now=AT)
    assert request.coupons[0] == StoreCoupon("live", "m1", 0, 5_000, skus=frozenset({"k-scarf"}))
    totals = {line.id: line.total for line in price(request).lines}
    assert totals == {"scarf": 24_900, "gloves": 19_900}
    unscoped = read_request({**body, "coupons": [{**body["coupons"][0], "skus": None}]}, now=AT)
    assert unscoped.coupons[0] == StoreCoupon("live", "m1", 0, 5_000)


@pytest.mark.parametrize("skus", [[], "k-scarf", [1], [""]])
def test_the_contract_refuses_skus_that_name_no_sku(skus: object) -> None:
    body = {"currency": "CNY", "lines": [{"id": "l1", "sku": "k1", "merchant": "m1", "unit_price": "1.00",
                                          "qty": 1}],
            "coupons": [{"id": "c", "kind": "store_coupon", "merchant": "m1", "min_spend": "0.00",
                         "off": "0.50", "skus": skus}]}
    with pytest.raises(InvalidInput) as refused:
        read_request(body, now=AT)
    assert refused.value.data["field"] == "coupons[0].skus"
