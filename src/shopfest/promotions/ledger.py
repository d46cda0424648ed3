"""The cart as the promotion engine's stages see it (what is on offer in it, by stage) and the
ledger they write in, with the arithmetic they share: spreading a cut over lines, percents,
thresholds and cross-store reaches. Amounts are integer minor units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import sub
from typing import NamedTuple

from shopfest.promotions.model import (
    ALWAYS,
    Applied,
    CrossStore,
    Deposit,
    FlashPrice,
    Funder,
    ItemDiscount,
    Kind,
    LineAdjustment,
    PlatformCoupon,
    PriceLine,
    PriceRequest,
    Promotion,
    RedEnvelope,
    StoreCoupon,
    StoreThreshold,
)

MERCHANT: Funder = "merchant"
PLATFORM: Funder = "platform"
# The named tuples of a priced cart are built by tuple.__new__, as their own __new__ does, without a
# Python frame for each: a cart notes about a hundred adjustments and some forty other parts.
_new_tuple = tuple.__new__
# In the hot loops below, `a if a < b else b` stands for min(a, b): Python 3.11's min and max parse
# their keyword arguments on every call, which costs five times the comparison.


def spread(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` shared in proportion to `weights` by largest remainder: each share floored, the units
    left over one each to the largest remainders, ties to the earlier weight. `amount` <= sum(weights)."""
    whole = sum(weights)
    if amount <= 0 or whole <= 0:
        return [0] * len(weights)
    shares, remainders = [], []
    for weight in weights:  # one pass, not two comprehensions: most spreads are over a few lines
        share, remainder = divmod(amount * weight, whole)
        shares.append(share)
        remainders.append(remainder)
    left = amount - sum(shares)
    if left:
        for index in sorted(range(len(remainders)), key=remainders.__getitem__, reverse=True)[:left]:
            shares[index] += 1
    return shares


def percent_of(amount: int, numerator: int, denominator: int) -> int:
    """`numerator/denominator` percent of `amount`, rounded half up to the minor unit."""
    return (2 * amount * numerator + 100 * denominator) // (200 * denominator)


def threshold_off(threshold: StoreThreshold, base: int) -> int:
    """What a store threshold takes off a merchant's `base`: the highest tier reached, or every
    `spend` off `off` when it repeats; never more than the base."""
    if threshold.repeat:
        tier = threshold.tiers[0]
        off = base // tier.spend * tier.off
        return off if off < base else base
    off, top = 0, None  # the highest spend reached; on one spend, the most off
    for tier in threshold.tiers:
        if tier.spend <= base and (top is None or tier.spend > top or (tier.spend == top and tier.off > off)):
            off, top = tier.off, tier.spend
    if top is None:
        return 0
    return off if off < base else base


def cross_store_off(promotion: CrossStore, base: int) -> int:
    """Every `every` of the base, `off` off; never more than the base."""
    off = base // promotion.every * promotion.off
    return off if off < base else base


# --- what is on offer in this cart -------------------------------------------------------------


class _ItemOffer(NamedTuple):
    """An active percent-off or multi-buy, its percent ready for integer rounding half up."""

    position: int
    merchant: str | None
    category: str | None
    sku: str | None
    min_qty: int
    twice_numerator: int
    half: int
    whole: int

    @classmethod
    def of(cls, position: int, promotion: ItemDiscount) -> _ItemOffer:
        numerator, denominator = promotion.percent.as_integer_ratio()  # one call, not three properties
        return _new_tuple(cls, (position, promotion.merchant, promotion.category, promotion.sku,
                                promotion.min_qty, 2 * numerator, 100 * denominator, 200 * denominator))

    def matching(self, cart: Cart) -> list[int]:
        """The lines it applies to: each filter given equals the line's, and the line has the units."""
        lines, category, sku, min_qty = cart.lines, self.category, self.sku, self.min_qty
        pool = range(len(lines)) if self.merchant is None else cart.merchants.get(self.merchant, ())
        return [index for index in pool if lines[index].qty >= min_qty
                and (category is None or category == lines[index].category)
                and (sku is None or sku == lines[index].sku)]


class Reach(NamedTuple):
    """An active cross-store promotion and the lines it covers: the whole cart, or those in `part`."""

    position: int
    promotion: CrossStore
    lines: tuple[int, ...]
    whole_cart: bool
    part: frozenset[int]


class _Promotions(NamedTuple):
    """The active promotions by stage, each with its request position (which breaks ties); `parts`
    are the reaches covering part of the cart only."""

    flash: dict[str, tuple[int, FlashPrice]]
    item_offers: tuple[_ItemOffer, ...]
    thresholds: tuple[tuple[int, StoreThreshold], ...]
    reaches: tuple[Reach, ...]
    parts: tuple[Reach, ...]

    @classmethod
    def on(cls, request: PriceRequest) -> _Promotions:
        flash: dict[str, tuple[int, FlashPrice]] = {}
        offers, thresholds, reaches = [], [], []
        at = request.at
        for position, promotion in enumerate(request.promotions):
            if promotion.window is not ALWAYS and not promotion.window.holds(at):  # most are on all festival
                continue
            if isinstance(promotion, FlashPrice):
                _keep_best_flash(flash, position, promotion)
            elif isinstance(promotion, ItemDiscount):
                offer = _ItemOffer.of(position, promotion)
                if offer.twice_numerator > 0:  # the percent's own sign, without Fraction.__gt__
                    offers.append(offer)
            elif isinstance(promotion, StoreThreshold):
                thresholds.append((position, promotion))
            elif covered := _covered(promotion, request.lines):
                whole_cart = len(covered) == len(request.lines)
                part = frozenset() if whole_cart else frozenset(covered)
                reaches.append(_new_tuple(Reach, (position, promotion, covered, whole_cart, part)))
        parts = tuple([reach for reach in reaches if not reach.whole_cart]) if reaches else ()
        return _new_tuple(cls, (flash, tuple(offers), tuple(thresholds), tuple(reaches), parts))


def _covered(promotion: CrossStore, lines: Sequence[PriceLine]) -> tuple[int, ...]:
    tiers, categories = promotion.exclude_tiers, promotion.exclude_categories
    if not categories:
        return tuple(range(len(lines))) if not tiers else tuple(
            [index for index, line in enumerate(lines) if line.tier not in tiers])
    return tuple([index for index, line in enumerate(lines)
                  if line.tier not in tiers and line.category not in categories])


def _keep_best_flash(flash: dict[str, tuple[int, FlashPrice]], position: int, offer: FlashPrice) -> None:
    """Per SKU the lowest flash price; at one price the one for more units, then the earlier."""
    held = flash.get(offer.sku)
    if held is None or _flash_rank(offer) < _flash_rank(held[1]):
        flash[offer.sku] = (position, offer)


def _flash_rank(flash: FlashPrice) -> tuple[int, float]:
    limit = flash.per_shopper_limit
    return flash.price, -(float("inf") if limit is None else limit)


class Cart(NamedTuple):
    """The request, with its lines' subtotals, its merchants' lines and its active promotions and
    coupons by stage."""

    request: PriceRequest
    lines: tuple[PriceLine, ...]
    subtotals: list[int]
    merchants: dict[str, list[int]]
    on: _Promotions
    store_coupons: tuple[tuple[int, StoreCoupon], ...]
    platform_coupons: tuple[tuple[int, PlatformCoupon], ...]
    red_envelopes: tuple[RedEnvelope, ...]
    deposits: tuple[tuple[int, Deposit], ...]
    line_by_line: bool  # deposits cut per line, so coupon choices are weighed line by line

    @classmethod
    def of(cls, request: PriceRequest, *, quick: bool = True) -> Cart:
        lines, at = request.lines, request.at
        stores, platforms, envelopes = [], [], []
        for position, coupon in enumerate(request.coupons):
            if coupon.window is not ALWAYS and not coupon.window.holds(at):
                continue
            if isinstance(coupon, StoreCoupon):
                stores.append((position, coupon))
            elif isinstance(coupon, PlatformCoupon):
                platforms.append((position, coupon))
            elif isinstance(coupon, RedEnvelope):
                envelopes.append(coupon)
        deposits = _deposits(request) if request.deposits else ()
        return _new_tuple(cls, (request, lines, [line.unit_price * line.qty for line in lines],
                                _merchants(lines), _Promotions.on(request), tuple(stores), tuple(platforms),
                                tuple(envelopes), deposits, not quick or _swelling(request.deposits)))


def _merchants(lines: Sequence[PriceLine]) -> dict[str, list[int]]:
    """Each merchant's lines, merchants in the order they first appear."""
    merchants: dict[str, list[int]] = {}
    for index, line in enumerate(lines):
        held = merchants.get(line.merchant)
        if held is None:
            merchants[line.merchant] = [index]
        else:
            held.append(index)
    return merchants


def _deposits(request: PriceRequest) -> tuple[tuple[int, Deposit], ...]:
    index_of = {line.id: index for index, line in enumerate(request.lines)}
    return tuple([(index_of[deposit.line], deposit) for deposit in request.deposits])


def _swelling(deposits: Sequence[Deposit]) -> bool:
    """Whether a deposit is worth more than was paid: then stage 8 cuts lines one by one."""
    return bool(deposits) and any(deposit.worth > deposit.paid for deposit in deposits)


# --- the ledger the stages write in ------------------------------------------------------------


LineCuts = dict[int, tuple[int, int]]  # line: its one cut in a stage, and the promotion's position


@dataclass(slots=True)
class Ledger:
    """Where each line stands after the stages so far, and per line what took it there. A ledger that
    only tries a coupon choice out keeps no notes."""

    amounts: list[int]
    notes: list[list[LineAdjustment]] | None
    applied: list[Applied] = field(default_factory=list)

    @classmethod
    def opened(cls, cart: Cart) -> Ledger:
        return cls(list(cart.subtotals), [[] for _ in cart.subtotals], [])

    def trial(self) -> Ledger:
        return Ledger(list(self.amounts), None)

    def base(self, lines: Sequence[int]) -> int:
        return sum(map(self.amounts.__getitem__, lines))

    def take(self, source: str, kind: Kind, funded_by: Funder, lines: Sequence[int],
             cuts: Sequence[int]) -> None:
        """Take each cut off its line, and note it on the line and in `applied`."""
        amounts, notes = self.amounts, self.notes
        if notes is None:
            for position, cut in enumerate(cuts):
                amounts[lines[position]] -= cut
            return
        for position, cut in enumerate(cuts):  # a cut for each line, in the same order
            if cut:
                index = lines[position]
                amounts[index] -= cut
                notes[index].append(_new_tuple(LineAdjustment, (source, cut)))
        taken = sum(cuts)
        if taken:
            self.applied.append(_new_tuple(Applied, (source, kind, taken, funded_by)))

    def take_spread(self, source: str, kind: Kind, funded_by: Funder, *, off: int,
                    lines: Sequence[int]) -> None:
        self.take(source, kind, funded_by, lines, spread(off, list(map(self.amounts.__getitem__, lines))))

    def take_spread_over_cart(self, source: str, kind: Kind, funded_by: Funder, *, off: int) -> None:
        """`take_spread` over every line, without looking each one up by its index."""
        amounts, notes = self.amounts, self.notes
        cuts = spread(off, amounts)
        amounts[:] = map(sub, amounts, cuts)
        taken = sum(cuts)
        if notes is None or not taken:
            return
        for index, cut in enumerate(cuts):
            if cut:
                notes[index].append(_new_tuple(LineAdjustment, (source, cut)))
        self.applied.append(_new_tuple(Applied, (source, kind, taken, funded_by)))

    def take_picks(self, promotions: Sequence[Promotion], picks: LineCuts) -> None:
        """Stages 1 and 2, where a line takes one promotion's cut at most: the cuts, and in `applied`
        each promotion's sum, in request order."""
        amounts, notes = self.amounts, self.notes
        assert notes is not None, "stages 1 to 3 write in the cart's own ledger"
        taken: dict[int, int] = {}
        for index, (cut, position) in picks.items():
            if cut:
                amounts[index] -= cut
                notes[index].append(_new_tuple(LineAdjustment, (promotions[position].id, cut)))
                taken[position] = taken.get(position, 0) + cut
        for position in sorted(taken):
            promotion = promotions[position]
            kind: Kind = promotion.kind if isinstance(promotion, ItemDiscount) else "flash_price"
            self.applied.append(_new_tuple(Applied, (promotion.id, kind, taken[position], MERCHANT)))
