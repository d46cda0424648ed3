"""The eight stages a festival cart is priced through, and the choice of the shopper's coupons.

1 flash price, 2 item level, 3 store threshold, 4 store coupon, 5 cross-store, 6 platform coupon,
7 red envelopes, 8 deposits. Each stage works on what the lines cost after the stages before it.
This is checkout's hot path: amounts are integer minor units, promotions are sorted by stage once
per cart, and the coupon choice is weighed on sums wherever no deposit needs it line by line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import product
from operator import sub

from shopfest.promotions.model import (
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
# A line's adjustments are built by tuple.__new__, as LineAdjustment's own __new__ does, without a
# Python frame for each: a cart notes about a hundred of them.
_new_tuple = tuple.__new__


def price(request: PriceRequest) -> Priced:
    """What each line costs after every active promotion, the best choice among the offered coupons,
    and the deposits already paid; `request` is one `contract.read_request` accepts. Raises
    TooManyCoupons."""
    return _price(request, quick=True)


def _price(request: PriceRequest, *, quick: bool) -> Priced:
    """`quick=False` weighs every coupon choice line by line: the reference the quick sums are tested on."""
    cart = _Cart.of(request, quick=quick)
    ledger = _Ledger.opened(request.lines)
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
    scaled = [amount * weight for weight in weights]
    shares = [part // whole for part in scaled]
    left = amount - sum(shares)
    if left:
        remainders = [part % whole for part in scaled]
        for index in sorted(range(len(weights)), key=remainders.__getitem__, reverse=True)[:left]:
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
        return min(base // tier.spend * tier.off, base)
    reached = [(tier.spend, tier.off) for tier in threshold.tiers if tier.spend <= base]
    return min(max(reached)[1], base) if reached else 0


def cross_store_off(promotion: CrossStore, base: int) -> int:
    """Every `every` of the base, `off` off; never more than the base."""
    return min(base // promotion.every * promotion.off, base)


# --- what is on offer in this cart -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ItemOffer:
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
        percent = promotion.percent
        return cls(position, promotion.merchant, promotion.category, promotion.sku, promotion.min_qty,
                   2 * percent.numerator, 100 * percent.denominator, 200 * percent.denominator)

    def matching(self, cart: _Cart) -> list[int]:
        """The lines it applies to: each filter given equals the line's, and the line has the units."""
        lines, category, sku, min_qty = cart.request.lines, self.category, self.sku, self.min_qty
        pool = range(len(lines)) if self.merchant is None else cart.merchants.get(self.merchant, ())
        return [index for index in pool if lines[index].qty >= min_qty
                and (category is None or category == lines[index].category)
                and (sku is None or sku == lines[index].sku)]

    def cut(self, amount: int) -> int:
        """`percent_of(amount, ...)`, its constants worked out once."""
        return (amount * self.twice_numerator + self.half) // self.whole


@dataclass(frozen=True, slots=True)
class _Reach:
    """An active cross-store promotion and the lines it covers."""

    position: int
    promotion: CrossStore
    lines: tuple[int, ...]
    covers: frozenset[int]


@dataclass(frozen=True, slots=True)
class _StoreOption:
    """A store coupon usable on this cart: what it takes off its merchant's lines, and how much of
    that falls on the lines each cross-store promotion covers (its stage-4 base is fixed by then)."""

    position: int
    coupon: StoreCoupon
    off: int
    lines: tuple[int, ...]
    reach_cuts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Choice:
    stores: tuple[_StoreOption, ...]
    platform: tuple[int, PlatformCoupon] | None


@dataclass(frozen=True, slots=True)
class _Promotions:
    """The active promotions by stage, each with its request position (which breaks ties)."""

    flash: dict[str, tuple[int, FlashPrice]]
    item_offers: tuple[_ItemOffer, ...]
    thresholds: tuple[tuple[int, StoreThreshold], ...]
    reaches: tuple[_Reach, ...]

    @classmethod
    def on(cls, request: PriceRequest) -> _Promotions:
        flash: dict[str, tuple[int, FlashPrice]] = {}
        offers, thresholds, reaches = [], [], []
        for position, promotion in enumerate(request.promotions):
            if not promotion.window.holds(request.at):
                continue
            if isinstance(promotion, FlashPrice):
                _keep_best_flash(flash, position, promotion)
            elif isinstance(promotion, ItemDiscount):
                if promotion.percent > 0:
                    offers.append(_ItemOffer.of(position, promotion))
            elif isinstance(promotion, StoreThreshold):
                thresholds.append((position, promotion))
            elif covered := _covered(promotion, request.lines):
                reaches.append(_Reach(position, promotion, covered, frozenset(covered)))
        return cls(flash, tuple(offers), tuple(thresholds), tuple(reaches))


def _covered(promotion: CrossStore, lines: Sequence[PriceLine]) -> tuple[int, ...]:
    tiers, categories = promotion.exclude_tiers, promotion.exclude_categories
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


@dataclass(frozen=True, slots=True)
class _Cart:
    """The request, with its merchants' lines and its active promotions and coupons by stage."""

    request: PriceRequest
    merchants: dict[str, tuple[int, ...]]
    on: _Promotions
    store_coupons: tuple[tuple[int, StoreCoupon], ...]
    platform_coupons: tuple[tuple[int, PlatformCoupon], ...]
    red_envelopes: tuple[RedEnvelope, ...]
    deposits: tuple[tuple[int, Deposit], ...]
    line_by_line: bool  # deposits cut per line, so coupon choices are weighed line by line

    @classmethod
    def of(cls, request: PriceRequest, *, quick: bool = True) -> _Cart:
        coupons = [(n, c) for n, c in enumerate(request.coupons) if c.window.holds(request.at)]
        index_of = {line.id: index for index, line in enumerate(request.lines)}
        return cls(request, _merchants(request.lines), _Promotions.on(request),
                   tuple((n, c) for n, c in coupons if isinstance(c, StoreCoupon)),
                   tuple((n, c) for n, c in coupons if isinstance(c, PlatformCoupon)),
                   tuple(c for _, c in coupons if isinstance(c, RedEnvelope)),
                   tuple((index_of[d.line], d) for d in request.deposits),
                   not quick or any(d.worth > d.paid for d in request.deposits))


def _merchants(lines: Sequence[PriceLine]) -> dict[str, tuple[int, ...]]:
    merchants: dict[str, list[int]] = {}
    for index, line in enumerate(lines):
        merchants.setdefault(line.merchant, []).append(index)
    return {merchant: tuple(indices) for merchant, indices in merchants.items()}


# --- the ledger the stages write in ------------------------------------------------------------


@dataclass(slots=True)
class _Ledger:
    """Where each line stands after the stages so far, and per line what took it there. A ledger that
    only tries a coupon choice out keeps no notes."""

    amounts: list[int]
    notes: list[list[LineAdjustment]] | None
    applied: list[Applied] = field(default_factory=list)
    subtotals: tuple[int, ...] = ()

    @classmethod
    def opened(cls, lines: Sequence[PriceLine]) -> _Ledger:
        subtotals = tuple([line.unit_price * line.qty for line in lines])
        return cls(list(subtotals), [[] for _ in lines], [], subtotals)

    def trial(self) -> _Ledger:
        return _Ledger(list(self.amounts), None)

    def base(self, lines: Iterable[int]) -> int:
        amounts = self.amounts
        return sum(map(amounts.__getitem__, lines))

    def take(self, source: str, kind: Kind, funded_by: Funder, lines: Iterable[int],
             cuts: Sequence[int]) -> None:
        """Take each cut off its line, and note it on the line and in `applied`."""
        amounts, notes = self.amounts, self.notes
        for index, cut in zip(lines, cuts, strict=True):
            if cut:
                amounts[index] -= cut
                if notes is not None:
                    notes[index].append(_new_tuple(LineAdjustment, (source, cut)))
        taken = sum(cuts)
        if taken and notes is not None:
            self.applied.append(Applied(source, kind, taken, funded_by))

    def take_spread(self, source: str, kind: Kind, funded_by: Funder, *, off: int,
                    lines: Sequence[int]) -> None:
        self.take(source, kind, funded_by, lines, spread(off, list(map(self.amounts.__getitem__, lines))))


Picks = dict[int, tuple[list[int], list[int]]]  # request position: the lines it cuts, and by how much


def _pick(picks: Picks, position: int, index: int, cut: int) -> None:
    lines, cuts = picks.setdefault(position, ([], []))
    lines.append(index)
    cuts.append(cut)


def _take_picks(ledger: _Ledger, cart: _Cart, picks: Picks) -> None:
    """Stages 1 and 2: each promotion's cuts, in request order."""
    for position in sorted(picks):
        promotion = cart.request.promotions[position]
        kind: Kind = promotion.kind if isinstance(promotion, ItemDiscount) else "flash_price"
        ledger.take(promotion.id, kind, MERCHANT, *picks[position])


# --- stages 1 to 3: the same whatever coupons are chosen ----------------------------------------


def apply_flash_prices(ledger: _Ledger, cart: _Cart) -> None:
    """Stage 1: a SKU's flash price for the units within its per-shopper limit, counted over the cart."""
    units_left: dict[int, int | None] = {}
    picks: Picks = {}
    for index, line in enumerate(cart.request.lines):
        held = cart.on.flash.get(line.sku)
        if held is None or held[1].price >= line.unit_price:
            continue
        position, flash = held
        left = units_left.get(position, flash.per_shopper_limit)
        units = line.qty if left is None else min(line.qty, left)
        units_left[position] = None if left is None else left - units
        _pick(picks, position, index, (line.unit_price - flash.price) * units)
    _take_picks(ledger, cart, picks)


def apply_item_discounts(ledger: _Ledger, cart: _Cart) -> None:
    """Stage 2: each line gets the one percent-off or multi-buy worth most to it (ties: the earlier)."""
    amounts = ledger.amounts
    best: dict[int, tuple[int, int]] = {}  # line: its cut, and the promotion's position
    for offer in cart.on.item_offers:  # in request order: on equal cuts the earlier stays
        for index in offer.matching(cart):
            cut = offer.cut(amounts[index])
            if cut > best.get(index, (0,))[0]:
                best[index] = (cut, offer.position)
    picks: Picks = {}
    for index in sorted(best):
        _pick(picks, best[index][1], index, best[index][0])
    _take_picks(ledger, cart, picks)


def apply_store_thresholds(ledger: _Ledger, cart: _Cart) -> list[Hint]:
    """Stage 3: on each merchant's lines, the store threshold worth most (ties: the earlier); the hints
    of every active threshold whose next tier is not reached."""
    bases = {threshold.merchant: ledger.base(cart.merchants[threshold.merchant])
             for _, threshold in cart.on.thresholds if threshold.merchant in cart.merchants}
    best: dict[str, tuple[int, int, StoreThreshold]] = {}
    for position, threshold in cart.on.thresholds:
        if threshold.merchant in bases:
            off = threshold_off(threshold, bases[threshold.merchant])
            if off > best.get(threshold.merchant, (0,))[0]:
                best[threshold.merchant] = (off, position, threshold)
    for off, _, threshold in sorted(best.values(), key=lambda chosen: chosen[1]):
        ledger.take_spread(threshold.id, "store_threshold", MERCHANT, off=off,
                           lines=cart.merchants[threshold.merchant])
    return [hint for _, threshold in cart.on.thresholds if threshold.merchant in bases
            for hint in _threshold_hint(threshold, bases[threshold.merchant],
                                        best.get(threshold.merchant, (0,))[0])]


def _threshold_hint(threshold: StoreThreshold, base: int, applied: int) -> list[Hint]:
    if threshold.repeat:
        goal = threshold.tiers[0].spend * (base // threshold.tiers[0].spend + 1)
    else:
        goal = min((tier.spend for tier in threshold.tiers if tier.spend > base), default=0)
    would_save = threshold_off(threshold, goal) - applied if goal else 0
    return [Hint(threshold.id, goal - base, would_save)] if would_save > 0 else []


# --- the coupon choice --------------------------------------------------------------------------

Platform = tuple[int, PlatformCoupon] | None
Stores = tuple[_StoreOption, ...]
Weighed = Iterator[tuple[int, Stores, Platform]]  # each allowed choice with the total it leaves


def choose_coupons(ledger: _Ledger, cart: _Cart) -> _Choice:
    """The store coupons (one a merchant at most) and platform coupon (one at most) that leave the
    lowest total; ties go to fewer coupons, then to coupons earlier in the request. Stages 1 to 3
    are done and do not depend on the choice. Raises TooManyCoupons."""
    menus = _store_menus(ledger, cart)
    platforms: list[Platform] = [None, *cart.platform_coupons]
    _check_choices(menus, len(platforms))
    weighed = (_line_by_line if cart.line_by_line else _quick_sums)(ledger, cart, menus, platforms)
    best: tuple[int, int, tuple[int, ...]] | None = None
    choice = _Choice((), None)
    for total, stores, platform in weighed:
        if best is None or total <= best[0]:
            key = _rank(total, stores, platform)
            if best is None or key < best:
                best, choice = key, _Choice(stores, platform)
    return choice


def _store_menus(ledger: _Ledger, cart: _Cart) -> list[list[_StoreOption | None]]:
    """Per merchant holding a usable store coupon: none, or one of them. A merchant's coupons taking
    off the same amount split it the same way, so only the earliest is kept: it always wins the tie."""
    menus: dict[str, dict[int, _StoreOption]] = {}
    for position, coupon in cart.store_coupons:
        lines = cart.merchants.get(coupon.merchant, ())
        base = ledger.base(lines)
        off = min(coupon.off, base)
        options = menus.setdefault(coupon.merchant, {})
        if lines and base >= coupon.min_spend and off > 0 and off not in options:
            options[off] = _StoreOption(position, coupon, off, lines, _reach_cuts(ledger, cart, off, lines))
    return [[None, *options.values()] for options in menus.values() if options]


def _reach_cuts(ledger: _Ledger, cart: _Cart, off: int, lines: tuple[int, ...]) -> tuple[int, ...]:
    """How much of `off` on these lines falls on the lines each cross-store promotion covers."""
    cuts: list[int] | None = None
    reach_cuts = []
    for reach in cart.on.reaches:
        covered = [index in reach.covers for index in lines]
        if all(covered) or not any(covered):
            reach_cuts.append(off if covered[0] else 0)
            continue
        cuts = cuts or spread(off, list(map(ledger.amounts.__getitem__, lines)))
        reach_cuts.append(sum([cut for cut, inside in zip(cuts, covered, strict=True) if inside]))
    return tuple(reach_cuts)


def _check_choices(menus: Sequence[Sequence[object]], platforms: int) -> None:
    choices = platforms
    for menu in menus:
        choices *= len(menu)
    if choices > MAX_COUPON_CHOICES:
        raise TooManyCoupons(f"the coupons offered make {choices} choices; at most {MAX_COUPON_CHOICES} "
                             "are weighed, so offer fewer", choices=choices)


def _rank(total: int, stores: Stores, platform: Platform) -> tuple[int, int, tuple[int, ...]]:
    positions = [store.position for store in stores] + ([platform[0]] if platform else [])
    return total, len(positions), tuple(sorted(positions))


def _quick_sums(ledger: _Ledger, cart: _Cart, menus: list[list[_StoreOption | None]],
                platforms: Sequence[Platform]) -> Weighed:
    """Without deposits to cut per line, stages 4 to 7 move only sums: the cart's total and each
    cross-store base, built up merchant by merchant (the tests hold this to the line-by-line way)."""
    reaches = [(reach.promotion.every, reach.promotion.off) for reach in cart.on.reaches]
    envelopes = sum(envelope.amount for envelope in cart.red_envelopes)
    sums: list[tuple[int, tuple[int, ...], Stores]] = [
        (sum(ledger.amounts), tuple(ledger.base(reach.lines) for reach in cart.on.reaches), ())]
    for menu in menus:
        sums = [(total, bases, stores) if option is None else
                (total - option.off, tuple(map(sub, bases, option.reach_cuts)), (*stores, option))
                for total, bases, stores in sums for option in menu]
    for total, bases, stores in sums:
        total -= max([min(base // every * off, base)
                      for base, (every, off) in zip(bases, reaches, strict=True)], default=0)
        for platform in platforms:
            if platform is None:
                yield max(0, total - envelopes), stores, None
            elif total >= platform[1].min_spend:
                yield max(0, total - min(platform[1].off, total) - envelopes), stores, platform


def _line_by_line(ledger: _Ledger, cart: _Cart, menus: list[list[_StoreOption | None]],
                  platforms: Sequence[Platform]) -> Weighed:
    """Each choice worked through stages 4 to 8 on a trial ledger."""
    for picks in product(*menus):
        stores = tuple([pick for pick in picks if pick is not None])
        for platform in platforms:
            trial = ledger.trial()
            try:
                _finish(trial, cart, _Choice(stores, platform))
            except _Unusable:
                continue
            yield sum(trial.amounts), stores, platform


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
    """Stage 4: each chosen store coupon over its merchant's lines."""
    for store in sorted(stores, key=lambda store: store.position):
        ledger.take_spread(store.coupon.id, "store_coupon", MERCHANT, off=store.off, lines=store.lines)


def apply_cross_store(ledger: _Ledger, cart: _Cart) -> list[Hint]:
    """Stage 5: the cross-store promotion worth most (ties: the earlier) over the lines it covers; the
    hints of every active one."""
    best: tuple[int, _Reach] | None = None
    hints: list[Hint] = []
    for reach in cart.on.reaches:
        base, promotion = ledger.base(reach.lines), reach.promotion
        off = cross_store_off(promotion, base)
        if best is None or off > best[0]:
            best = (off, reach)
        if promotion.off > 0 and ledger.notes is not None:
            hints.append(Hint(promotion.id, promotion.every * (base // promotion.every + 1) - base,
                              promotion.off))
    if best and best[0]:
        ledger.take_spread(best[1].promotion.id, "cross_store", MERCHANT, off=best[0], lines=best[1].lines)
    return hints


def apply_platform_coupon(ledger: _Ledger, platform: Platform) -> None:
    """Stage 6: the chosen platform coupon over every line. Raises _Unusable below its minimum spend."""
    if platform is None:
        return
    coupon, base = platform[1], sum(ledger.amounts)
    if base < coupon.min_spend:
        raise _Unusable(coupon.id)
    ledger.take_spread(coupon.id, "platform_coupon", PLATFORM, off=min(coupon.off, base),
                       lines=range(len(ledger.amounts)))


def apply_red_envelopes(ledger: _Ledger, cart: _Cart) -> None:
    """Stage 7: every red envelope in request order, each cut to what the cart still costs."""
    lines = range(len(ledger.amounts))
    for envelope in cart.red_envelopes:
        off = min(envelope.amount, sum(ledger.amounts))
        ledger.take_spread(envelope.id, "red_envelope", PLATFORM, off=off, lines=lines)


def apply_deposits(ledger: _Ledger, cart: _Cart) -> None:
    """Stage 8: a deposit counts `worth` against its line for `paid`; the line never drops below `paid`."""
    for index, deposit in cart.deposits:
        swell = min(deposit.worth - deposit.paid, max(0, ledger.amounts[index] - deposit.paid))
        ledger.take(f"deposit:{deposit.line}", "deposit", MERCHANT, (index,), (swell,))


# --- the result ---------------------------------------------------------------------------------


def _priced(ledger: _Ledger, cart: _Cart, hints: list[Hint]) -> Priced:
    request, amounts, subtotals = cart.request, ledger.amounts, ledger.subtotals
    lines = tuple([LineTotals(line.id, line.merchant, subtotal, amount, tuple(noted))
                   for line, subtotal, amount, noted
                   in zip(request.lines, subtotals, amounts, ledger.notes or [], strict=True)])
    merchants = tuple([MerchantTotals(merchant, sum(map(subtotals.__getitem__, indices)),
                                      sum(map(amounts.__getitem__, indices)))
                       for merchant, indices in cart.merchants.items()])
    return Priced(request.currency, sum(subtotals), sum(amounts),
                  sum([deposit.paid for deposit in request.deposits]), lines, merchants,
                  tuple(ledger.applied), tuple(hints), _coupons_used(ledger, cart))


def _coupons_used(ledger: _Ledger, cart: _Cart) -> tuple[str, ...]:
    used = {a.source for a in ledger.applied if a.kind in COUPON_KINDS}
    return tuple(coupon.id for coupon in cart.request.coupons if coupon.id in used)
