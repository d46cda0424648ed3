"""Properties of the engine over random festival carts: nothing negative, every breakdown adds up,
more coupons never cost more, and the order of the request only ever breaks ties."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from random import Random
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from shopfest.promotions.model import (
    ALWAYS,
    Coupon,
    CrossStore,
    Deposit,
    FlashPrice,
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
    Window,
)
from shopfest.promotions.stages import _price, price

AT = datetime(2026, 11, 10, 16, 30, tzinfo=UTC)
OVER = Window(AT - timedelta(hours=2), AT - timedelta(hours=1))
MERCHANTS = ("m1", "m2", "m3", "m4", "m5")
SKUS = ("k1", "k2", "k3", "k4", "k5", "k6")
CATEGORIES = ("apparel", "beauty", "food")
TIERS = ("regular", "import")
FAST = settings(max_examples=200, deadline=None)
Offer = TypeVar("Offer", bound=Promotion | Coupon)

# Strategies are built once here: built per example they cost more than the drawing. Merchants are
# drawn from all five and folded into the cart's first few afterwards; offers get their ids then too.
# Tiny amounts turn up as well as ordinary ones, so that cuts to the base, ties and zeros are tried.
amounts = st.one_of(st.integers(0, 5), st.integers(0, 60_000))
spends = st.one_of(st.integers(0, 5), st.integers(0, 30_000))
prices = st.one_of(st.integers(0, 5), *[st.integers(1_000, 60_000)] * 3)
windows = st.sampled_from([ALWAYS, ALWAYS, ALWAYS, OVER])
percents = st.one_of(st.integers(0, 100).map(Fraction), st.fractions(0, 100, max_denominator=8))
merchants, skus = st.sampled_from(MERCHANTS), st.sampled_from(SKUS)
categories, tiers = st.sampled_from(CATEGORIES), st.sampled_from(TIERS)
goods = st.sampled_from([(sku, category, tier) for sku in SKUS for category in CATEGORIES for tier in TIERS])
line_fields = st.tuples(goods, merchants, prices, st.sampled_from([1, 1, 1, 2, 3, 4, 999]))
tiered = st.lists(st.builds(Tier, st.integers(1, 120_000), amounts), min_size=1, max_size=4).map(tuple)
promotions = st.one_of(
    st.builds(FlashPrice, st.just(""), skus, amounts, st.none() | st.integers(1, 5), windows),
    st.builds(ItemDiscount, st.just(""), st.just("percent_off"), percents, st.none() | merchants,
              st.none() | categories, st.none() | skus, st.just(1), windows),
    st.builds(ItemDiscount, st.just(""), st.just("multi_buy"), percents, st.none() | merchants,
              st.none() | categories, st.none() | skus, st.integers(1, 4), windows),
    st.builds(StoreThreshold, st.just(""), merchants, tiered, st.just(False), windows),
    st.builds(StoreThreshold, st.just(""), merchants, tiered.map(lambda tiers: tiers[:1]), st.just(True),
              windows),
    st.builds(CrossStore, st.just(""), st.integers(1, 40_000), amounts, st.frozensets(tiers, max_size=1),
              st.frozensets(categories, max_size=1), windows))
store_coupons = st.builds(StoreCoupon, st.just(""), merchants | st.just("m9"), spends, amounts, windows)
coupons = st.one_of(store_coupons, store_coupons,
                    st.builds(PlatformCoupon, st.just(""), spends, amounts, windows),
                    st.builds(RedEnvelope, st.just(""), amounts, windows))
deposits = st.lists(st.tuples(st.integers(0, 19), amounts, amounts), max_size=4, unique_by=lambda d: d[0])
exclusions = st.tuples(st.frozensets(tiers, max_size=1), st.frozensets(categories, max_size=1))
Exclusions = tuple[frozenset[str], frozenset[str]]


def folded(merchant: str, count: int) -> str:
    """One of the cart's `count` merchants (m9, a merchant with no line, stays)."""
    return MERCHANTS[MERCHANTS.index(merchant) % count] if merchant in MERCHANTS else merchant


def fitted(offer: Offer, n: int, *, count: int, excluded: Exclusions | None = None) -> Offer:
    """The offer numbered `n`, for the cart's merchants (and, if given, the cart's cross-store
    exclusions)."""
    if isinstance(offer, StoreThreshold | StoreCoupon):
        offer = replace(offer, merchant=folded(offer.merchant, count))
    if isinstance(offer, ItemDiscount) and offer.merchant:
        offer = replace(offer, merchant=folded(offer.merchant, count))
    if isinstance(offer, CrossStore) and excluded:
        offer = replace(offer, exclude_tiers=excluded[0], exclude_categories=excluded[1])
    prefix = "c" if isinstance(offer, StoreCoupon | PlatformCoupon | RedEnvelope) else "p"
    return replace(offer, id=f"{prefix}{n}")


@st.composite
def carts(draw: st.DrawFn, *, shared_exclusions: bool = False) -> PriceRequest:
    """1-20 lines over 1-5 merchants, up to 10 promotions, up to 6 coupons, deposits on up to 4 lines.
    With `shared_exclusions`, every cross-store promotion covers the same lines."""
    count = draw(st.integers(1, 5))
    lines = tuple(PriceLine(f"l{n}", sku, folded(merchant, count), price, qty, category=category, tier=tier)
                  for n, ((sku, category, tier), merchant, price, qty)
                  in enumerate(draw(st.lists(line_fields, min_size=1, max_size=20))))
    excluded = draw(exclusions) if shared_exclusions else None
    offered = tuple(fitted(p, n, count=count, excluded=excluded)
                    for n, p in enumerate(draw(st.lists(promotions, max_size=10))))
    held = tuple(fitted(c, n, count=count) for n, c in enumerate(draw(st.lists(coupons, max_size=6))))
    paid = tuple(Deposit(f"l{n}", paid, paid + swell) for n, paid, swell in draw(deposits) if n < len(lines))
    return PriceRequest("CNY", AT, lines, offered, held, paid)


def with_coupons(request: PriceRequest, offered: tuple[Coupon, ...]) -> PriceRequest:
    return PriceRequest(request.currency, request.at, request.lines, request.promotions, offered,
                        request.deposits)


def line_totals(result: Priced) -> list[int]:
    return [line.total for line in result.lines]


def choice_size(result: Priced) -> int:
    """How many store and platform coupons the engine chose (red envelopes are never a choice)."""
    return sum(1 for a in result.applied if a.kind in ("store_coupon", "platform_coupon"))


def check_breakdowns(request: PriceRequest, result: Priced) -> None:
    """No line below zero; lines add up to merchants and the total, adjustments to each line's
    discount, applied amounts to the cart's discount."""
    assert all(line.total >= 0 for line in result.lines)
    assert all(line.discount == sum(a.amount for a in line.adjustments) for line in result.lines)
    assert all(a.amount > 0 for line in result.lines for a in line.adjustments)
    for merchant in result.merchants:
        own = [line for line in result.lines if line.merchant == merchant.merchant]
        assert merchant.subtotal == sum(line.subtotal for line in own)
        assert merchant.total == sum(line.total for line in own)
    assert result.total == sum(m.total for m in result.merchants) == sum(line_totals(result))
    assert result.subtotal == sum(line.unit_price * line.qty for line in request.lines)
    assert result.discount == sum(a.amount for a in result.applied)
    by_source = Counter[str]()
    for line in result.lines:
        by_source.update({a.source: a.amount for a in line.adjustments})
    assert by_source == {a.source: a.amount for a in result.applied}
    assert result.balance_due == result.total - sum(d.paid for d in request.deposits)
    assert all(hint.missing > 0 and hint.would_save > 0 for hint in result.hints)


def check_choice_is_exact(request: PriceRequest, result: Priced) -> None:
    """The quick sums that weigh the coupon choices agree with working each choice line by line, and
    offered only the coupons it used, the engine prices the cart the same (no subset does better)."""
    assert result == _price(request, quick=False)
    used = tuple(c for c in request.coupons if c.id in result.coupons_used or isinstance(c, RedEnvelope))
    again = price(with_coupons(request, used))
    assert line_totals(again) == line_totals(result) and again.coupons_used == result.coupons_used


@FAST
@given(carts())
def test_every_breakdown_adds_up_and_the_coupon_choice_is_exact(request: PriceRequest) -> None:
    result = price(request)
    check_breakdowns(request, result)
    check_choice_is_exact(request, result)


@FAST
@given(carts(), st.data())
def test_offering_one_more_coupon_never_raises_the_total(request: PriceRequest, data: st.DataObject) -> None:
    extra = replace(data.draw(coupons), id="extra")
    if isinstance(extra, StoreCoupon):
        extra = replace(extra, merchant=data.draw(st.sampled_from([line.merchant for line in request.lines])))
    # An extra store or platform coupon widens the choice; red envelopes are all spent in request
    # order, so an extra one goes last (earlier, it would move the later envelopes' rounding).
    at = len(request.coupons) if isinstance(extra, RedEnvelope) else data.draw(
        st.integers(0, len(request.coupons)))
    more = request.coupons[:at] + (extra,) + request.coupons[at:]
    assert price(with_coupons(request, more)).total <= price(request).total


def check_promotion_order_changes_nothing(request: PriceRequest, before: Priced, random: Random) -> None:
    """Ties between promotions go to the earlier, but tied promotions take the same amount off the
    same lines: the flash price is chosen on price then units, an item discount or a store threshold
    ties only on equal amounts over the same lines, and here every cross-store promotion covers the
    same lines. So no amount moves."""
    shuffled = list(request.promotions)
    random.shuffle(shuffled)
    after = price(PriceRequest(request.currency, request.at, request.lines, tuple(shuffled), request.coupons,
                               request.deposits))
    assert line_totals(after) == line_totals(before) and after.coupons_used == before.coupons_used


def check_coupon_order_only_breaks_ties(request: PriceRequest, before: Priced, random: Random) -> None:
    """Red envelopes keep their order (each is spread on what the one before left); store and platform
    coupons are shuffled. The lowest total cannot move; a different choice is only ever a tie with as
    many coupons, and the same choice prices every line the same."""
    shuffled = list(request.coupons)
    random.shuffle(shuffled)
    envelopes = iter([c for c in request.coupons if isinstance(c, RedEnvelope)])
    after = price(with_coupons(request, tuple(next(envelopes) if isinstance(c, RedEnvelope) else c
                                              for c in shuffled)))
    assert after.total == before.total
    if set(after.coupons_used) == set(before.coupons_used):
        assert line_totals(after) == line_totals(before)
    else:
        assert choice_size(after) == choice_size(before)


@FAST
@given(carts(shared_exclusions=True), st.randoms(use_true_random=False))
def test_the_order_of_the_request_only_ever_breaks_ties(request: PriceRequest, random: Random) -> None:
    before = price(request)
    check_promotion_order_changes_nothing(request, before, random)
    check_coupon_order_only_breaks_ties(request, before, random)
