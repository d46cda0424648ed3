"""The eight stages a festival cart is priced through.

1 flash price, 2 item level, 3 store threshold, 4 store coupon, 5 cross-store, 6 platform coupon,
7 red envelopes, 8 deposits. Each stage works on what the lines cost after the stages before it.
This is checkout's hot path. Amounts are integer minor units; what a cart offers is sorted by stage
once per cart into named tuples (built in a fraction of a frozen dataclass's time; `ledger.py`);
between stages 3 and 4 the shopper's coupons are chosen (`coupon_choice.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

from shopfest.promotions.coupon_choice import Choice, Platform, StoreOption, Unusable, choose_coupons
from shopfest.promotions.ledger import (
    MERCHANT,
    PLATFORM,
    Cart,
    Ledger,
    LineCuts,
    Reach,
    cross_store_off,
    threshold_off,
)
from shopfest.promotions.model import Hint, LineTotals, MerchantTotals, Priced, PriceRequest, StoreThreshold

COUPON_KINDS = frozenset({"store_coupon", "platform_coupon", "red_envelope"})
_new_tuple = tuple.__new__  # named tuples built without a Python frame each (see ledger.py)
_NO_CUT = (0, -1)
_BY_POSITION = attrgetter("position")
# In the hot loops below, `a if a < b else b` stands for min(a, b): Python 3.11's min and max parse
# their keyword arguments on every call, which costs five times the comparison.


def price(request: PriceRequest) -> Priced:
    """What each line costs after every active promotion, the best choice among the offered coupons,
    and the deposits already paid; `request` is one `contract.read_request` accepts. Raises
    TooManyCoupons."""
    return _price(request, quick=True)


def _price(request: PriceRequest, *, quick: bool) -> Priced:
    """`quick=False` weighs every coupon choice line by line: the reference the quick sums are tested on."""
    cart = Cart.of(request, quick=quick)
    ledger = Ledger.opened(cart)
    apply_flash_prices(ledger, cart)
    apply_item_discounts(ledger, cart)
    threshold_hints = apply_store_thresholds(ledger, cart)
    choice = choose_coupons(ledger, cart, finish=_finish)
    cross_hints = _finish(ledger, cart, choice)
    return _priced(ledger, cart, threshold_hints + cross_hints)


# --- stages 1 to 3: the same whatever coupons are chosen ----------------------------------------


def apply_flash_prices(ledger: Ledger, cart: Cart) -> None:
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


def apply_item_discounts(ledger: Ledger, cart: Cart) -> None:
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


def apply_store_thresholds(ledger: Ledger, cart: Cart) -> list[Hint]:
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


# --- stages 4 to 8: once the coupons are chosen ------------------------------------------------


def _finish(ledger: Ledger, cart: Cart, choice: Choice) -> list[Hint]:
    """Stages 4 to 8 with the chosen coupons; the cross-store hints. Raises Unusable."""
    apply_store_coupons(ledger, choice.stores)
    hints = apply_cross_store(ledger, cart)
    apply_platform_coupon(ledger, choice.platform)
    apply_red_envelopes(ledger, cart)
    apply_deposits(ledger, cart)
    return hints


def apply_store_coupons(ledger: Ledger, stores: Sequence[StoreOption]) -> None:
    """Stage 4: each chosen store coupon over its merchant's lines (which stages 1 to 3 left as they
    were when the coupon was weighed, so a spread kept then still holds)."""
    for store in sorted(stores, key=_BY_POSITION):
        if store.cuts is None:
            ledger.take_spread(store.coupon.id, "store_coupon", MERCHANT, off=store.off, lines=store.lines)
        else:
            ledger.take(store.coupon.id, "store_coupon", MERCHANT, store.lines, store.cuts)


def apply_cross_store(ledger: Ledger, cart: Cart) -> list[Hint]:
    """Stage 5: the cross-store promotion worth most (ties: the earlier) over the lines it covers; the
    hints of every active one."""
    best: tuple[int, Reach] | None = None
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


def apply_platform_coupon(ledger: Ledger, platform: Platform) -> None:
    """Stage 6: the chosen platform coupon over every line. Raises Unusable below its minimum spend."""
    if platform is None:
        return
    coupon, base = platform[1], sum(ledger.amounts)
    if base < coupon.min_spend:
        raise Unusable(coupon.id)
    ledger.take_spread_over_cart(coupon.id, "platform_coupon", PLATFORM,
                                 off=coupon.off if coupon.off < base else base)


def apply_red_envelopes(ledger: Ledger, cart: Cart) -> None:
    """Stage 7: every red envelope in request order, each cut to what the cart still costs."""
    for envelope in cart.red_envelopes:
        left = sum(ledger.amounts)
        off = envelope.amount if envelope.amount < left else left
        ledger.take_spread_over_cart(envelope.id, "red_envelope", PLATFORM, off=off)


def apply_deposits(ledger: Ledger, cart: Cart) -> None:
    """Stage 8: a deposit counts `worth` against its line for `paid`; the line never drops below `paid`."""
    for index, deposit in cart.deposits:
        swell = min(deposit.worth - deposit.paid, max(0, ledger.amounts[index] - deposit.paid))
        ledger.take(f"deposit:{deposit.line}", "deposit", MERCHANT, (index,), (swell,))


# --- the result ---------------------------------------------------------------------------------


def _priced(ledger: Ledger, cart: Cart, hints: list[Hint]) -> Priced:
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


def _coupons_used(ledger: Ledger, cart: Cart) -> tuple[str, ...]:
    if not cart.request.coupons:
        return ()
    used = {a.source for a in ledger.applied if a.kind in COUPON_KINDS}
    return tuple([coupon.id for coupon in cart.request.coupons if coupon.id in used])
