"""The one door through which checkout, pages and refunds learn what a cart costs and what a
pre-sale deposit holds."""

from __future__ import annotations

from collections.abc import Sequence

from shopfest.catalog.service import merchant_of_sku, skus_for_sale
from shopfest.core.actor import Actor, Role, require_merchant_staff, require_role
from shopfest.core.errors import InvalidInput, NotFound
from shopfest.core.money import Money
from shopfest.core.uow import UnitOfWork
from shopfest.festival import service as festival
from shopfest.promotions.model import CartLine, DepositTerms, PricedCart, check_deposit
from shopfest.promotions.model import price_cart as _price
from shopfest.promotions.offers import (
    MERCHANT_COUPONS,
    PLATFORM_COUPONS,
    Coupon,
    CouponUnavailable,
    Grant,
    GrantState,
    Window,
    check_claim,
    owner_of,
)
from shopfest.promotions.store import PromotionStore


def price_cart(lines: tuple[CartLine, ...]) -> PricedCart:
    """What the shopper pays for each line. Raises InvalidInput, CurrencyMismatch."""
    return _price(lines)


def offer_presale(uow: UnitOfWork, actor: Actor | None, *, sku_id: int, deposit: Money) -> None:
    """A merchant's staff put one of their SKUs on pre-sale: in a deposit window, `deposit` holds a
    unit until the balance window. Raises Unauthenticated, Forbidden, NotFound, InvalidInput."""
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        if merchant_of_sku(uow, sku_id) != merchant_id:
            raise NotFound(f"no SKU {sku_id}", sku_id=sku_id)
        check_deposit(deposit, skus_for_sale(uow, [sku_id])[sku_id].price)
        PromotionStore(uow.conn).offer_presale(sku_id, deposit)
        uow.commit()


def deposit_terms(uow: UnitOfWork, sku_ids: Sequence[int]) -> dict[int, DepositTerms]:
    """In a deposit window, the terms of each SKU among `sku_ids` that is on pre-sale; none outside
    deposit windows (inside the caller's transaction)."""
    window = festival.balance_window_now(uow)
    if window is None:
        return {}
    deposits = PromotionStore(uow.conn).deposits(sku_ids)
    return {sku_id: DepositTerms(d, window.starts_at, window.ends_at) for sku_id, d in deposits.items()}


def _check_in_festival(uow: UnitOfWork, window: Window) -> None:
    festival_now = festival.current_festival(uow)
    if not window.within(festival_now.starts_at, festival_now.ends_at):
        raise InvalidInput(f"the window lies within {festival_now.name}, "
                           f"{festival_now.starts_at.isoformat()} to {festival_now.ends_at.isoformat()}")


def put_on_coupon(uow: UnitOfWork, actor: Actor | None, coupon: Coupon) -> Coupon:
    """Merchant staff put on store coupons; operators platform coupons and red envelopes, within
    the festival. Raises Unauthenticated, Forbidden, InvalidInput, NotFound (no festival)."""
    signed_in = require_role(actor, Role.MERCHANT, Role.OPERATOR)
    owner = owner_of(signed_in, coupon.kind, merchant_kinds=MERCHANT_COUPONS, platform_kinds=PLATFORM_COUPONS)
    _check_in_festival(uow, coupon.window)
    with uow:
        owned = Coupon(coupon.kind, owner, coupon.currency, coupon.min_spend, coupon.off, coupon.quantity,
                       coupon.per_shopper_limit, coupon.window)
        coupon_id = PromotionStore(uow.conn).add_coupon(owned)
        uow.commit()
    return Coupon(owned.kind, owner, owned.currency, owned.min_spend, owned.off, owned.quantity,
                  owned.per_shopper_limit, owned.window, 0, coupon_id)


def coupon(uow: UnitOfWork, coupon_id: int) -> Coupon:
    """Raises NotFound."""
    with uow:
        found = PromotionStore(uow.conn).coupon(coupon_id)
    if found is None:
        raise NotFound(f"no coupon {coupon_id}", coupon_id=coupon_id)
    return found


def coupons_on(uow: UnitOfWork, merchant_id: int | None) -> list[Coupon]:
    """The coupons a shopper can claim now: a merchant's, or the platform's."""
    with uow:
        return PromotionStore(uow.conn).coupons_on(uow.clock.now(), merchant_id)


def claim_coupon(uow: UnitOfWork, actor: Actor | None, coupon_id: int) -> Grant:
    """A shopper puts one coupon in their wallet. The coupon's row is locked first, so concurrent
    claims of one coupon queue: its quantity and each shopper's limit hold under any concurrency.
    Raises Unauthenticated, Forbidden, NotFound, InvalidInput, CouponsGone, CouponLimitReached."""
    shopper = require_role(actor, Role.SHOPPER)
    with uow:
        store = PromotionStore(uow.conn)
        left = store.count_claim(coupon_id)  # takes the row's write lock before anything is read
        found = store.coupon(coupon_id)
        if found is None:
            raise NotFound(f"no coupon {coupon_id}", coupon_id=coupon_id)
        now = uow.clock.now()
        check_claim(found, left=left, held=store.held_by(coupon_id, shopper.user_id), now=now)
        grant = Grant(coupon_id, shopper.user_id, GrantState.CLAIMED, now)
        grant_id = store.add_grant(grant)
        uow.commit()
    return Grant(grant.coupon_id, grant.shopper_id, grant.state, grant.claimed_at, None, grant_id)


def wallet(uow: UnitOfWork, actor: Actor | None) -> list[tuple[Grant, Coupon]]:
    """The coupons a shopper holds, with what each is. Raises Unauthenticated, Forbidden."""
    shopper = require_role(actor, Role.SHOPPER)
    with uow:
        store = PromotionStore(uow.conn)
        grants = store.wallet(shopper.user_id)
        found = store.coupons_by_ids(sorted({g.coupon_id for g in grants}))
    return [(g, found[g.coupon_id]) for g in grants]


def hold_coupons(uow: UnitOfWork, order_id: int, grant_ids: Sequence[int]) -> None:
    """An unpaid order takes these grants out of the wallet (inside the caller's transaction).
    Raises CouponUnavailable when another order took one first."""
    store = PromotionStore(uow.conn)
    for grant_id in grant_ids:
        if not store.hold(grant_id, order_id):
            raise CouponUnavailable("another order already uses this coupon", grant_id=grant_id)


def spend_coupons(uow: UnitOfWork, order_ids: Sequence[int]) -> None:
    """Paid orders spend the coupons they held (inside the caller's transaction)."""
    PromotionStore(uow.conn).spend(order_ids)


def give_back_coupons(uow: UnitOfWork, order_ids: Sequence[int]) -> None:
    """Cancelled, lapsed or fully refunded orders return their coupons to the wallets."""
    PromotionStore(uow.conn).give_back(order_ids)
