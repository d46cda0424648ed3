"""What merchants and operators put on for the festival, as stored: promotions, coupons, and the
coupons shoppers hold in their wallets, and what a checkout's cart costs with them. Pure rules; the
pricing engine itself lives in `stages.py`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shopfest.core.actor import Actor, Role
from shopfest.core.errors import Conflict, Forbidden, InvalidInput
from shopfest.promotions.contract import read_promotion
from shopfest.promotions.model import (
    CartLine,
    OnOffer,
    PlatformCoupon,
    Priced,
    Promotion,
    RedEnvelope,
    StoreCoupon,
    Window,
    cart_request,
)
from shopfest.promotions.stages import price

# Who may put on each kind: merchant staff for their own store, operators for the whole platform.
MERCHANT_PROMOTIONS = frozenset({"percent_off", "multi_buy", "store_threshold"})
PLATFORM_PROMOTIONS = frozenset({"cross_store"})
MERCHANT_COUPONS = frozenset({"store_coupon"})
PLATFORM_COUPONS = frozenset({"platform_coupon", "red_envelope"})
MAX_COUPONS = 100_000_000


class CouponsGone(Conflict):
    code = "coupons-gone"
    title = "Every coupon of this kind has been claimed"


class CouponLimitReached(Conflict):
    code = "claim-limit-reached"
    title = "The shopper holds as many of this coupon as allowed"


class CouponUnavailable(Conflict):
    code = "coupon-unavailable"
    title = "The coupon is not in the shopper's wallet, or another order holds it"


class GrantState(StrEnum):
    CLAIMED = "claimed"  # in the wallet, free to use
    HELD = "held"  # an unpaid order uses it
    SPENT = "spent"  # a paid order used it


@dataclass(frozen=True, slots=True)
class Period:
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        if self.ends_at <= self.starts_at:
            raise InvalidInput("ends_at is after starts_at")

    def is_on(self, instant: datetime) -> bool:
        return self.starts_at <= instant < self.ends_at

    def within(self, starts_at: datetime, ends_at: datetime) -> bool:
        return starts_at <= self.starts_at and self.ends_at <= ends_at


@dataclass(frozen=True, slots=True)
class Campaign:
    """A promotion as put on: its `rule` is the pricing contract's object without id and window,
    amounts in `currency`; `merchant_id` is None for the platform's own."""

    kind: str
    merchant_id: int | None
    currency: str
    rule: dict[str, Any]
    window: Period
    id: int | None = None

    @property
    def source(self) -> str:
        return f"promotion:{self.id}"


def as_promotion(campaign: Campaign) -> Promotion:
    """The campaign as the pricing engine takes it, named by its source. Raises InvalidInput when
    its rule is not a valid promotion of its kind."""
    return read_promotion({**campaign.rule, "id": campaign.source, "kind": campaign.kind},
                          currency=campaign.currency, window=Window(campaign.window.starts_at,
                                                                     campaign.window.ends_at))


@dataclass(frozen=True, slots=True)
class CouponIssue:
    """A coupon shoppers claim into their wallets: at most `quantity` in all, `per_shopper_limit`
    each. `off` is the minor units taken off (a red envelope's amount); `merchant_id` is None for
    platform coupons and red envelopes."""

    kind: str
    merchant_id: int | None
    currency: str
    min_spend: int
    off: int
    quantity: int
    per_shopper_limit: int
    window: Period
    claimed: int = 0
    id: int | None = None
    # A live coupon: the SKUs it covers (None: every line of its merchant), and the room it dropped in.
    sku_ids: tuple[int, ...] | None = None
    live_event_id: int | None = None

    def __post_init__(self) -> None:
        if self.sku_ids is not None and not self.sku_ids:
            raise InvalidInput("a coupon scoped to SKUs names at least one")
        if not 0 < self.quantity <= MAX_COUPONS:
            raise InvalidInput(f"a coupon's quantity is between 1 and {MAX_COUPONS:,}")
        if not 0 < self.per_shopper_limit <= self.quantity:
            raise InvalidInput("the per-shopper limit is between 1 and the quantity")
        if self.off <= 0 or self.min_spend < 0:
            raise InvalidInput("a coupon takes off more than zero, and its minimum spend is not negative")

    @property
    def source(self) -> str:
        return f"coupon:{self.id}"

    def as_coupon(self) -> StoreCoupon | PlatformCoupon | RedEnvelope:
        """The coupon as the pricing engine takes it, named by its source."""
        window = Window(self.window.starts_at, self.window.ends_at)
        if self.kind == "red_envelope":
            return RedEnvelope(self.source, self.off, window)
        if self.kind == "platform_coupon":
            return PlatformCoupon(self.source, self.min_spend, self.off, window)
        skus = None if self.sku_ids is None else frozenset(str(sku_id) for sku_id in self.sku_ids)
        return StoreCoupon(self.source, str(self.merchant_id), self.min_spend, self.off, window, skus)


@dataclass(frozen=True, slots=True)
class Grant:
    """One coupon in one shopper's wallet."""

    coupon_id: int
    shopper_id: int
    state: GrantState
    claimed_at: datetime
    order_id: int | None = None
    id: int | None = None


def owner_of(actor: Actor, kind: str, *, merchant_kinds: frozenset[str],
             platform_kinds: frozenset[str]) -> int | None:
    """The merchant a new promotion or coupon belongs to (None: the platform's). Raises
    InvalidInput for an unknown kind, Forbidden when the actor may not put this kind on."""
    kinds = merchant_kinds | platform_kinds
    if kind not in kinds:
        raise InvalidInput(f"unknown kind {kind!r}; one of {', '.join(sorted(kinds))}", kind=kind)
    if kind in merchant_kinds and actor.role is Role.MERCHANT and actor.merchant_id is not None:
        return actor.merchant_id
    if kind in platform_kinds and actor.role is Role.OPERATOR:
        return None
    who = "merchant staff" if kind in merchant_kinds else "operators"
    raise Forbidden(f"only {who} put on a {kind}")


def check_claim(coupon: CouponIssue, *, left: bool, held: int, now: datetime) -> None:
    """May a shopper who already holds `held` of this coupon claim one more, when `left` says
    whether one was left to count? Raises CouponExpired, InvalidInput (not on yet), CouponsGone,
    CouponLimitReached."""
    if coupon.window.ends_at <= now:
        raise CouponExpired("the coupon's time to claim it is over", coupon_id=coupon.id)
    if not coupon.window.is_on(now):
        raise InvalidInput("the coupon cannot be claimed now", coupon_id=coupon.id)
    if not left:
        raise CouponsGone("every coupon has been claimed", coupon_id=coupon.id)
    if held >= coupon.per_shopper_limit:
        raise CouponLimitReached(f"at most {coupon.per_shopper_limit} per shopper",
                                 coupon_id=coupon.id, limit=coupon.per_shopper_limit)


def price_cart(lines: Sequence[CartLine], *, at: datetime, shopper_id: int | None = None,
               promotions: Sequence[OnOffer] = (), coupons: Sequence[CouponIssue] = ()) -> Priced:
    """What a checkout's cart costs, line by line, with the promotions on and the coupons the
    shopper offers: the same engine as `quote`. Raises InvalidInput, CurrencyMismatch."""
    offered = [OnOffer(c.merchant_id, c.currency, c.as_coupon(), c.id or 0) for c in coupons]
    return price(cart_request(lines, at=at, shopper_id=shopper_id, promotions=promotions, coupons=offered))


# A coupon free to use whose window closes within this long is "expiring soon" in the wallet.
EXPIRING_SOON = timedelta(hours=24)


class WalletShelf(StrEnum):
    """Where a coupon sits in the shopper's wallet, as the shopper reads it."""

    FREE = "free"  # claimed, free to use
    EXPIRING = "expiring"  # free to use, its window closes within EXPIRING_SOON
    HELD = "held"  # an order awaiting payment uses it
    SPENT = "spent"  # a paid order used it
    EXPIRED = "expired"  # never used, and its window has closed


def shelf_of(grant: Grant, coupon: CouponIssue, *, now: datetime) -> WalletShelf:
    """The wallet's shelf for a grant now: held and spent by what orders did, a free one by its
    coupon's window."""
    if grant.state is GrantState.HELD:
        return WalletShelf.HELD
    if grant.state is GrantState.SPENT:
        return WalletShelf.SPENT
    if coupon.window.ends_at <= now:
        return WalletShelf.EXPIRED
    if coupon.window.ends_at - now <= EXPIRING_SOON:
        return WalletShelf.EXPIRING
    return WalletShelf.FREE


class CouponExpired(Conflict):
    code = "coupon-expired"
    title = "The coupon's time to claim it is over"
