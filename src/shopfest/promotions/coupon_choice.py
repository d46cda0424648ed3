"""The coupon choice: which store coupons (one a merchant at most) and platform coupon (one at most)
leave a cart the lowest total. It is weighed on sums wherever no deposit needs it line by line, so that
only the chosen coupons are spread over lines and noted on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import product
from operator import itemgetter, sub
from typing import NamedTuple

from shopfest.promotions.ledger import Cart, Ledger, Reach, cross_store_off, spread
from shopfest.promotions.model import PlatformCoupon, StoreCoupon, TooManyCoupons

# Coupon choices weighed at most; past it a shopper's wallet would make checkout crawl.
MAX_COUPON_CHOICES = 20_000
_new_tuple = tuple.__new__  # named tuples built without a Python frame each (see ledger.py)
# In the hot loops below, `a if a < b else b` stands for min(a, b): Python 3.11's min and max parse
# their keyword arguments on every call, which costs five times the comparison.


class StoreOption(NamedTuple):
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
Stores = tuple[StoreOption, ...]


class Choice(NamedTuple):
    stores: Stores
    platform: Platform


_NO_COUPONS = Choice((), None)
_FIRST = itemgetter(0)


class Unusable(Exception):
    """The choice's platform coupon needs more spend than the cart has left."""


Menu = list[StoreOption | None]
Picks = tuple[StoreOption | None, ...]  # a choice of store coupons: per menu one, or none
Weighed = list[tuple[int, Picks, Platform]]  # allowed choices, each with the total it leaves
# Stages 4 to 8 with a choice of coupons. Raises Unusable.
Finish = Callable[[Ledger, Cart, Choice], object]


def choose_coupons(ledger: Ledger, cart: Cart, *, finish: Finish) -> Choice:
    """The store coupons (one a merchant at most) and platform coupon (one at most) that leave the
    lowest total; ties go to fewer coupons, then to coupons earlier in the request. Stages 1 to 3
    are done and do not depend on the choice; `finish` works a choice through stages 4 to 8 where it
    is weighed line by line. Raises TooManyCoupons."""
    menus = _store_menus(ledger, cart)
    if not menus and not cart.platform_coupons:
        return _NO_COUPONS  # the one choice there is, always usable
    platforms: list[Platform] = [None, *cart.platform_coupons]
    _check_choices(menus, len(platforms))
    if cart.line_by_line:
        weighed = list(_trials(ledger, cart, menus, platforms, finish))
    else:
        weighed = _quick_sums(ledger, cart, menus, platforms)
    if not weighed:
        return _NO_COUPONS
    lowest = min(weighed, key=_FIRST)[0]
    _, picks, platform = min([(_rank(total, picks, platform), picks, platform)
                              for total, picks, platform in weighed if total == lowest], key=_FIRST)
    return _new_tuple(Choice, (_chosen(picks), platform))


def _store_menus(ledger: Ledger, cart: Cart) -> list[Menu]:
    """Per merchant holding a usable store coupon: none, or one of them. A merchant's coupons taking
    off the same amount over the same lines split it the same way, so only the earliest is kept: it
    always wins the tie. A coupon scoped to SKUs weighs the merchant's lines of those SKUs only."""
    menus: dict[str, dict[object, StoreOption]] = {}
    for position, coupon in cart.store_coupons:
        options = menus.get(coupon.merchant)
        if options is None:
            options = menus[coupon.merchant] = {}
        lines = cart.merchants.get(coupon.merchant)
        if lines is None:
            continue
        if coupon.skus is not None:
            lines = _scoped(cart, lines, coupon.skus)
            if not lines:
                continue
        base = ledger.base(lines)
        off = coupon.off if coupon.off < base else base
        # Over every line of the merchant the amount alone tells how a coupon splits.
        key: object = off if coupon.skus is None else (off, *lines)
        if base >= coupon.min_spend and off > 0 and key not in options:
            options[key] = _new_tuple(StoreOption, (position, coupon, off, lines,
                                                     *_reach_cuts(ledger, cart, off, lines)))
    return [[None, *options.values()] for options in menus.values() if options]


def _scoped(cart: Cart, lines: list[int], skus: frozenset[str]) -> list[int]:
    """The lines among `lines` of a SKU in `skus`."""
    return [index for index in lines if cart.lines[index].sku in skus]


def _reach_cuts(ledger: Ledger, cart: Cart, off: int,
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


def _quick_sums(ledger: Ledger, cart: Cart, menus: list[Menu], platforms: Sequence[Platform]) -> Weighed:
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


def _cross_store_cut(total: int, part_bases: tuple[int, ...], reaches: Sequence[Reach]) -> int:
    """What the cross-store promotion worth most takes off (there is one)."""
    parts = iter(part_bases)
    return max([cross_store_off(reach.promotion, total if reach.whole_cart else next(parts))
                for reach in reaches])


def _trials(ledger: Ledger, cart: Cart, menus: list[Menu], platforms: Sequence[Platform],
            finish: Finish) -> Iterator[tuple[int, Picks, Platform]]:
    """Each choice worked through stages 4 to 8 on a trial ledger."""
    for picks in product(*menus):
        stores = _chosen(picks)
        for platform in platforms:
            trial = ledger.trial()
            try:
                finish(trial, cart, Choice(stores, platform))
            except Unusable:
                continue
            yield sum(trial.amounts), picks, platform
