"""The eight stages a festival cart is priced through, and the choice of the shopper's coupons.

1 flash price, 2 item level, 3 store threshold, 4 store coupon, 5 cross-store, 6 platform coupon,
7 red envelopes, 8 deposits. Each stage works on what the lines cost after the stages before it.
This is checkout's hot path. Amounts are integer minor units; what a cart offers is sorted by stage
once per cart into named tuples (built in a fraction of a frozen dataclass's time); the coupon
choice is weighed on sums wherever no deposit needs it line by line, so that only the chosen coupons
are spread over lines and noted on them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import product
from operator import attrgetter, itemgetter, sub
from typing import NamedTuple

from shopfest.promotions.model import (
    ALWAYS,
    Applied,
    CrossStore,
    Deposit,
    FlashPrice,
    Funder,
    Hint,
    ItemDiscount,
    Kind,
    LineAdjustment,
    LineTotals,
    MerchantTotals,
    PlatformCoupon,
    Priced,
    PriceLine,
    PriceRequest,
    Promotion,
    RedEnvelope,
    StoreCoupon,
    StoreThreshold,
    TooManyCoupons,
)

MERCHANT: Funder = "merchant"
PLATFORM: Funder = "platform"
# Coupon choices weighed at most; past it a shopper's wallet would make checkout crawl.
MAX_COUPON_CHOICES = 20_000
COUPON_KINDS = frozenset({"store_coupon", "platform_coupon", "red_envelope"})
# The named tuples of a priced cart are built by tuple.__new__, as their own __new__ does, without a
# Python frame for each: a cart notes about a hundred adjustments and some forty other parts.
_new_tuple = tuple.__new__
_NO_CUT = (0, -1)
# In the hot loops below, `a if a < b else b` stands for min(a, b): Python 3.11's min and max parse
# their keyword arguments on every call, which costs five times the comparison.


def price(request: PriceRequest) -> Priced:
    """What each line costs after every active promotion, the best choice among the offered coupons,
    and the deposits already paid; `request` is one `contract.read_request` accepts. Raises
    TooManyCoupons."""
    return _price(request, quick=True)


def _price(request: PriceRequest, *, quick: bool) -> Priced:
    """`quick=False` weighs every coupon choice line by line: the reference the quick sums are tested on."""
    cart = _Cart.of(request, quick=quick)
    ledger = _Ledger.opened(cart)
    apply_flash_prices(ledger, cart)
    apply_item_discounts(ledger, cart)
    threshold_hints = apply_store_thresholds(ledger, cart)
    choice = choose_coupons(ledger, cart)
    cross_hints = _finish(ledger, cart, choice)
    return _priced(ledger, cart, threshold_hints + cross_hints)


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

    def matching(self, cart: _Cart) -> list[int]:
        """The lines it applies to: each filter given equals the line's, and the line has the units."""
        lines, category, sku, min_qty = cart.lines, self.category, self.sku, self.min_qty
        pool = range(len(lines)) if self.merchant is None else cart.merchants.get(self.merchant, ())
        return [index for index in pool if lines[index].qty >= min_qty
                and (category is None or category == lines[index].category)
                and (sku is None or sku == lines[index].sku)]


class _Reach(NamedTuple):
    """An active cross-store promotion and the lines it covers: the whole cart, or those in `part`."""

    position: int
    promotion: CrossStore
    lines: tuple[int, ...]
    whole_cart: bool
    part: frozenset[int]


class _StoreOption(NamedTuple):
    """A store coupon usable on this cart: what it takes off its merchant's lines, and how much of
    that falls on the lines of each cross-store promotion covering part of the cart (its stage-4
    base is fixed by then). Where working that out spread it over the lines, `cuts` keeps the spread
    for stage 4."""

    position: int
    coupon: StoreCoupon
    off: int
    lines: list[int]
    reach_cuts: tuple[int, ...]
    cuts: list[int] | None


Platform = tuple[int, PlatformCoupon] | None
Stores = tuple[_StoreOption, ...]


class _Choice(NamedTuple):
    stores: Stores
    platform: Platform


_NO_COUPONS = _Choice((), None)
_BY_POSITION = attrgetter("position")
_FIRST = itemgetter(0)


class _Promotions(NamedTuple):
    """The active promotions by stage, each with its request position (which breaks ties); `parts`
    are the reaches covering part of the cart only."""

    flash: dict[str, tuple[int, FlashPrice]]
    item_offers: tuple[_ItemOffer, ...]
    thresholds: tuple[tuple[int, StoreThreshold], ...]
    reaches: tuple[_Reach, ...]
    parts: tuple[_Reach, ...]

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
                reaches.append(_new_tuple(_Reach, (position, promotion, covered, whole_cart, part)))
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


class _Cart(NamedTuple):
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
    def of(cls, request: PriceRequest, *, quick: bool = True) -> _Cart:
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
class _Ledger:
    """Where each line stands after the stages so far, and per line what took it there. A ledger that
    only tries a coupon choice out keeps no notes."""

    amounts: list[int]
    notes: list[list[LineAdjustment]] | None
    applied: list[Applied] = field(default_factory=list)

    @classmethod
    def opened(cls, cart: _Cart) -> _Ledger:
        return cls(list(cart.subtotals), [[] for _ in cart.subtotals], [])

    def trial(self) -> _Ledger:
        return _Ledger(list(self.amounts), None)

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


# --- stages 1 to 3: the same whatever coupons are chosen ----------------------------------------


def apply_flash_prices(ledger: _Ledger, cart: _Cart) -> None:
    """Stage 1: a SKU's flash price for the units within its per-shopper limit, counted over the cart."""
    flash = cart.on.flash
    if not flash:
        return
    units_left: dict[int, int | None] = {}
    picks: LineCuts = {}
    for index in [index for index, line in enumerate(cart.lines) if line.sku in flash]:
        line = cart.lines[index]
        position, offer = flash[line.sku]
        if offer.price >= line.unit_price:
            continue
        left = units_left.get(position, offer.per_shopper_limit)
        units = line.qty if left is None or line.qty < left else left
        units_left[position] = None if left is None else left - units
        picks[index] = ((line.unit_price - offer.price) * units, position)
    ledger.take_picks(cart.request.promotions, picks)


def apply_item_discounts(ledger: _Ledger, cart: _Cart) -> None:
    """Stage 2: each line gets the one percent-off or multi-buy worth most to it (ties: the earlier)."""
    amounts = ledger.amounts
    best: LineCuts = {}
    for offer in cart.on.item_offers:  # in request order: on equal cuts the earlier stays
        twice_numerator, half, whole = offer.twice_numerator, offer.half, offer.whole
        for index in offer.matching(cart):
            cut = (amounts[index] * twice_numerator + half) // whole  # percent_of, its constants ready
            if cut > best.get(index, _NO_CUT)[0]:
                best[index] = (cut, offer.position)
    if best:
        ledger.take_picks(cart.request.promotions, best)


def apply_store_thresholds(ledger: _Ledger, cart: _Cart) -> list[Hint]:
    """Stage 3: on each merchant's lines, the store threshold worth most (ties: the earlier); the hints
    of every active threshold whose next tier is not reached."""
    thresholds, merchants = cart.on.thresholds, cart.merchants
    if not thresholds:
        return []
    bases: dict[str, int] = {}  # what each merchant's lines cost before any threshold
    best: dict[str, tuple[int, int, StoreThreshold]] = {}
    for position, threshold in thresholds:
        merchant = threshold.merchant
        if merchant not in merchants:
            continue
        if merchant not in bases:
            bases[merchant] = ledger.base(merchants[merchant])
        off = threshold_off(threshold, bases[merchant])
        if off > best.get(merchant, _NO_CUT)[0]:
            best[merchant] = (off, position, threshold)
    for position, threshold in thresholds:  # the chosen ones, in request order
        chosen = best.get(threshold.merchant)
        if chosen is not None and chosen[1] == position:
            ledger.take_spread(threshold.id, "store_threshold", MERCHANT, off=chosen[0],
                               lines=merchants[threshold.merchant])
    hints = []
    for _, threshold in thresholds:
        if threshold.merchant in bases:
            hint = _threshold_hint(threshold, bases[threshold.merchant],
                                   best.get(threshold.merchant, _NO_CUT)[0])
            if hint is not None:
                hints.append(hint)
    return hints


def _threshold_hint(threshold: StoreThreshold, base: int, applied: int) -> Hint | None:
    if threshold.repeat:
        goal = threshold.tiers[0].spend * (base // threshold.tiers[0].spend + 1)
    else:
        next_spend = None  # the lowest tier not reached yet
        for tier in threshold.tiers:
            if tier.spend > base and (next_spend is None or tier.spend < next_spend):
                next_spend = tier.spend
        goal = 0 if next_spend is None else next_spend
    would_save = threshold_off(threshold, goal) - applied if goal else 0
    return _new_tuple(Hint, (threshold.id, goal - base, would_save)) if would_save > 0 else None


# --- the coupon choice --------------------------------------------------------------------------

Menu = list[_StoreOption | None]
Picks = tuple[_StoreOption | None, ...]  # a choice of store coupons: per menu one, or none
Weighed = list[tuple[int, Picks, Platform]]  # allowed choices, each with the total it leaves


def choose_coupons(ledger: _Ledger, cart: _Cart) -> _Choice:
    """The store coupons (one a merchant at most) and platform coupon (one at most) that leave the
    lowest total; ties go to fewer coupons, then to coupons earlier in the request. Stages 1 to 3
    are done and do not depend on the choice. Raises TooManyCoupons."""
    menus = _store_menus(ledger, cart)
    if not menus and not cart.platform_coupons:
        return _NO_COUPONS  # the one choice there is, always usable
    platforms: list[Platform] = [None, *cart.platform_coupons]
    _check_choices(menus, len(platforms))
    weighed = (_line_by_line if cart.line_by_line else _quick_sums)(ledger, cart, menus, platforms)
    if not weighed:
        return _NO_COUPONS
    lowest = min(weighed, key=_FIRST)[0]
    _, picks, platform = min([(_rank(total, picks, platform), picks, platform)
                              for total, picks, platform in weighed if total == lowest], key=_FIRST)
    return _new_tuple(_Choice, (_chosen(picks), platform))


def _store_menus(ledger: _Ledger, cart: _Cart) -> list[Menu]:
    """Per merchant holding a usable store coupon: none, or one of them. A merchant's coupons taking
    off the same amount split it the same way, so only the earliest is kept: it always wins the tie."""
    menus: dict[str, dict[int, _StoreOption]] = {}
    for position, coupon in cart.store_coupons:
        options = menus.get(coupon.merchant)
        if options is None:
            options = menus[coupon.merchant] = {}
        lines = cart.merchants.get(coupon.merchant)
        if lines is None:
            continue
        base = ledger.base(lines)
        off = coupon.off if coupon.off < base else base
        if base >= coupon.min_spend and off > 0 and off not in options:
            options[off] = _new_tuple(_StoreOption, (position, coupon, off, lines,
                                                     *_reach_cuts(ledger, cart, off, lines)))
    return [[None, *options.values()] for options in menus.values() if options]


def _reach_cuts(ledger: _Ledger, cart: _Cart, off: int,
                lines: list[int]) -> tuple[tuple[int, ...], list[int] | None]:
    """How much of `off` on these lines falls on the lines each cross-store promotion covering part of
    the cart covers; and its spread over the lines, when one covers some of them only."""
    cuts: list[int] | None = None
    reach_cuts = []
    for reach in cart.on.parts:
        if reach.part.issuperset(lines):
            reach_cuts.append(off)
        elif reach.part.isdisjoint(lines):
            reach_cuts.append(0)
        else:
            cuts = cuts or spread(off, list(map(ledger.amounts.__getitem__, lines)))
            inside = reach.part
            reach_cuts.append(sum([cut for cut, index in zip(cuts, lines, strict=True) if index in inside]))
    return tuple(reach_cuts), cuts


def _check_choices(menus: Sequence[Sequence[object]], platforms: int) -> None:
    choices = platforms
    for menu in menus:
        choices *= len(menu)
    if choices > MAX_COUPON_CHOICES:
        raise TooManyCoupons(f"the coupons offered make {choices} choices; at most {MAX_COUPON_CHOICES} "
                             "are weighed, so offer fewer", choices=choices)


def _chosen(picks: Picks) -> Stores:
    return tuple([pick for pick in picks if pick is not None])


def _rank(total: int, picks: Picks, platform: Platform) -> tuple[int, int, tuple[int, ...]]:
    positions = [pick.position for pick in picks if pick is not None] + ([platform[0]] if platform else [])
    return total, len(positions), tuple(sorted(positions))


def _quick_sums(ledger: _Ledger, cart: _Cart, menus: list[Menu], platforms: Sequence[Platform]) -> Weighed:
    """Without deposits to cut per line, stages 4 to 7 move only sums: per choice of store coupons the
    cart's total after stage 4 and the base of each cross-store promotion covering part of the cart
    (one covering all of it has the total for its base). The tests hold this to the line-by-line way.
    Only the choices leaving the lowest total are kept: the others cannot win."""
    start = sum(ledger.amounts)
    part_bases = tuple([ledger.base(reach.lines) for reach in cart.on.parts]) if cart.on.parts else ()
    reaches = cart.on.reaches
    envelopes = sum([envelope.amount for envelope in cart.red_envelopes]) if cart.red_envelopes else 0
    lowest, weighed = None, []
    for picks in product(*menus):
        total, bases = start, part_bases
        for pick in picks:
            if pick is not None:
                total -= pick.off
                bases = tuple(map(sub, bases, pick.reach_cuts)) if bases else bases
        if reaches:
            total -= _cross_store_cut(total, bases, reaches)
        for platform in platforms:
            if platform is None:
                left = total - envelopes
            elif total >= platform[1].min_spend:
                off = platform[1].off
                left = total - (off if off < total else total) - envelopes
            else:
                continue
            left = left if left > 0 else 0
            if lowest is None or left < lowest:
                lowest, weighed = left, [(left, picks, platform)]
            elif left == lowest:
                weighed.append((left, picks, platform))
    return weighed


def _cross_store_cut(total: int, part_bases: tuple[int, ...], reaches: Sequence[_Reach]) -> int:
    """What the cross-store promotion worth most takes off (there is one)."""
    parts = iter(part_bases)
    return max([cross_store_off(reach.promotion, total if reach.whole_cart else next(parts))
                for reach in reaches])


def _line_by_line(ledger: _Ledger, cart: _Cart, menus: list[Menu], platforms: Sequence[Platform]) -> Weighed:
    """Each choice worked through stages 4 to 8 on a trial ledger."""
    return list(_trials(ledger, cart, menus, platforms))


def _trials(ledger: _Ledger, cart: _Cart, menus: list[Menu],
            platforms: Sequence[Platform]) -> Iterator[tuple[int, Picks, Platform]]:
    for picks in product(*menus):
        stores = _chosen(picks)
        for platform in platforms:
            trial = ledger.trial()
            try:
                _finish(trial, cart, _Choice(stores, platform))
            except _Unusable:
                continue
            yield sum(trial.amounts), picks, platform


# --- stages 4 to 8: once the coupons are chosen ------------------------------------------------


class _Unusable(Exception):
    """The choice's platform coupon needs more spend than the cart has left."""


def _finish(ledger: _Ledger, cart: _Cart, choice: _Choice) -> list[Hint]:
    """Stages 4 to 8 with the chosen coupons; the cross-store hints. Raises _Unusable."""
    apply_store_coupons(ledger, choice.stores)
    hints = apply_cross_store(ledger, cart)
    apply_platform_coupon(ledger, choice.platform)
    apply_red_envelopes(ledger, cart)
    apply_deposits(ledger, cart)
    return hints


def apply_store_coupons(ledger: _Ledger, stores: Sequence[_StoreOption]) -> None:
    """Stage 4: each chosen store coupon over its merchant's lines (which stages 1 to 3 left as they
    were when the coupon was weighed, so a spread kept then still holds)."""
    for store in sorted(stores, key=_BY_POSITION):
        if store.cuts is None:
            ledger.take_spread(store.coupon.id, "store_coupon", MERCHANT, off=store.off, lines=store.lines)
        else:
            ledger.take(store.coupon.id, "store_coupon", MERCHANT, store.lines, store.cuts)


def apply_cross_store(ledger: _Ledger, cart: _Cart) -> list[Hint]:
    """Stage 5: the cross-store promotion worth most (ties: the earlier) over the lines it covers; the
    hints of every active one."""
    best: tuple[int, _Reach] | None = None
    hints: list[Hint] = []
    for reach in cart.on.reaches:
        base = sum(ledger.amounts) if reach.whole_cart else ledger.base(reach.lines)
        promotion = reach.promotion
        off = cross_store_off(promotion, base)
        if best is None or off > best[0]:
            best = (off, reach)
        if promotion.off > 0 and ledger.notes is not None:
            missing = promotion.every * (base // promotion.every + 1) - base
            hints.append(_new_tuple(Hint, (promotion.id, missing, promotion.off)))
    if best and best[0]:
        off, reach = best
        if reach.whole_cart:
            ledger.take_spread_over_cart(reach.promotion.id, "cross_store", MERCHANT, off=off)
        else:
            ledger.take_spread(reach.promotion.id, "cross_store", MERCHANT, off=off, lines=reach.lines)
    return hints


def apply_platform_coupon(ledger: _Ledger, platform: Platform) -> None:
    """Stage 6: the chosen platform coupon over every line. Raises _Unusable below its minimum spend."""
    if platform is None:
        return
    coupon, base = platform[1], sum(ledger.amounts)
    if base < coupon.min_spend:
        raise _Unusable(coupon.id)
    ledger.take_spread_over_cart(coupon.id, "platform_coupon", PLATFORM,
                                 off=coupon.off if coupon.off < base else base)


def apply_red_envelopes(ledger: _Ledger, cart: _Cart) -> None:
    """Stage 7: every red envelope in request order, each cut to what the cart still costs."""
    for envelope in cart.red_envelopes:
        left = sum(ledger.amounts)
        off = envelope.amount if envelope.amount < left else left
        ledger.take_spread_over_cart(envelope.id, "red_envelope", PLATFORM, off=off)


def apply_deposits(ledger: _Ledger, cart: _Cart) -> None:
    """Stage 8: a deposit counts `worth` against its line for `paid`; the line never drops below `paid`."""
    for index, deposit in cart.deposits:
        swell = min(deposit.worth - deposit.paid, max(0, ledger.amounts[index] - deposit.paid))
        ledger.take(f"deposit:{deposit.line}", "deposit", MERCHANT, (index,), (swell,))


# --- the result ---------------------------------------------------------------------------------


def _priced(ledger: _Ledger, cart: _Cart, hints: list[Hint]) -> Priced:
    request, amounts, subtotals = cart.request, ledger.amounts, cart.subtotals
    lines = tuple([_new_tuple(LineTotals, (line.id, line.merchant, subtotal, amount, tuple(noted)))
                   for line, subtotal, amount, noted
                   in zip(cart.lines, subtotals, amounts, ledger.notes or [], strict=True)])
    merchants = tuple([_new_tuple(MerchantTotals, (merchant, sum(map(subtotals.__getitem__, indices)),
                                                   sum(map(amounts.__getitem__, indices))))
                       for merchant, indices in cart.merchants.items()])
    deposit_paid = sum([deposit.paid for deposit in request.deposits]) if request.deposits else 0
    return _new_tuple(Priced, (request.currency, sum(subtotals), sum(amounts), deposit_paid, lines, merchants,
                               tuple(ledger.applied), tuple(hints), _coupons_used(ledger, cart)))


def _coupons_used(ledger: _Ledger, cart: _Cart) -> tuple[str, ...]:
    if not cart.request.coupons:
        return ()
    used = {a.source for a in ledger.applied if a.kind in COUPON_KINDS}
    return tuple([coupon.id for coupon in cart.request.coupons if coupon.id in used])
