"""The one door through which checkout, pages and refunds learn what a cart costs and what a
pre-sale deposit holds (checkout prices its drafts with the pure `offers.price_cart`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from shopfest.catalog.service import merchant_of_sku, skus_for_sale
from shopfest.core.actor import Actor, Role, require_merchant_staff, require_role
from shopfest.core.errors import CurrencyMismatch, Forbidden, InvalidInput, NotFound
from shopfest.core.money import Money
from shopfest.core.uow import UnitOfWork
from shopfest.festival import service as festival
from shopfest.promotions.contract import read_request, write_result
from shopfest.promotions.model import DepositTerms, OnOffer, check_deposit
from shopfest.promotions.offers import (
    MERCHANT_COUPONS,
    MERCHANT_PROMOTIONS,
    PLATFORM_COUPONS,
    PLATFORM_PROMOTIONS,
    Campaign,
    CouponIssue,
    CouponUnavailable,
    Grant,
    GrantState,
    Period,
    WalletShelf,
    as_promotion,
    check_claim,
    owner_of,
    shelf_of,
)
from shopfest.promotions.stages import price
from shopfest.promotions.store import PromotionStore, platform_offers_until


def quote(request: object, *, now: datetime) -> dict[str, Any]:
    """The pricing contract: a JSON request (already parsed) in, the JSON result out; `at` defaults
    to `now`. Raises InvalidInput (and its kinds) for anything that is not a valid request."""
    return write_result(price(read_request(request, now=now)))


def campaigns_on(uow: UnitOfWork, merchant_ids: Sequence[int]) -> tuple[OnOffer, ...]:
    """The promotions on now for these merchants' lines, with the platform's, ready for pricing
    (inside the caller's transaction)."""
    campaigns = PromotionStore(uow.conn).promotions_on(uow.clock.now(), merchant_ids)
    return tuple(OnOffer(c.merchant_id, c.currency, as_promotion(c), c.id or 0) for c in campaigns)


def coupons_offered(uow: UnitOfWork, shopper_id: int, coupon_ids: Sequence[int],
                    taken: set[int]) -> dict[int, tuple[int, CouponIssue]]:
    """For each coupon offered, a grant of it free in the shopper's wallet and not in `taken`, and
    what the coupon is (inside the caller's transaction; PostgreSQL locks the grants until it
    ends). Raises CouponUnavailable for a coupon the shopper does not hold free."""
    store = PromotionStore(uow.conn)
    grants = store.free_grants(shopper_id, coupon_ids, lock=True)
    issues = store.coupons_by_ids(list(grants))
    for coupon_id in coupon_ids:
        if coupon_id not in grants or grants[coupon_id] in taken:
            raise CouponUnavailable(f"coupon {coupon_id} is not free in the shopper's wallet",
                                    coupon_id=coupon_id)
    return {coupon_id: (grant_id, issues[coupon_id]) for coupon_id, grant_id in grants.items()}


def lock_wallets(uow: UnitOfWork, shopper_ids: Sequence[int]) -> None:
    """Lock the shoppers' free grants until the caller's transaction ends, in one order (PostgreSQL;
    SQLite has one writer at a time)."""
    if shopper_ids:
        PromotionStore(uow.conn).lock_wallets(shopper_ids)


def offer_presale(uow: UnitOfWork, actor: Actor | None, *, sku_id: int, deposit: Money,
                  worth: Money | None = None) -> None:
    """A merchant's staff put one of their SKUs on pre-sale: in a deposit window, `deposit` holds a
    unit until the balance window, and counts for `worth` (itself when None) against the price.
    Raises Unauthenticated, Forbidden, NotFound, InvalidInput."""
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        if merchant_of_sku(uow, sku_id) != merchant_id:
            raise NotFound(f"no SKU {sku_id}", sku_id=sku_id)
        check_deposit(deposit, skus_for_sale(uow, [sku_id])[sku_id].price, worth)
        PromotionStore(uow.conn).offer_presale(sku_id, deposit, worth or deposit)
        uow.commit()


def deposit_terms(uow: UnitOfWork, sku_ids: Sequence[int]) -> dict[int, DepositTerms]:
    """In a deposit window, the terms of each SKU among `sku_ids` that is on pre-sale; none outside
    deposit windows (inside the caller's transaction)."""
    window = festival.balance_window_now(uow)
    if window is None:
        return {}
    deposits = PromotionStore(uow.conn).deposits(sku_ids)
    return {sku_id: DepositTerms(deposit, window.starts_at, window.ends_at, worth)
            for sku_id, (deposit, worth) in deposits.items()}


def _check_in_festival(uow: UnitOfWork, window: Period) -> None:
    festival_now = festival.current_festival(uow)
    if not window.within(festival_now.starts_at, festival_now.ends_at):
        span = f"{festival_now.starts_at.isoformat()} to {festival_now.ends_at.isoformat()}"
        raise OutsideTheFestival(f"the window lies within {festival_now.name}, {span}", field="starts_at")


def _check_in_a_sale(uow: UnitOfWork, window: Period) -> None:
    """A promotion belongs to one sale of the festival: its window lies within that sale phase, so
    festival prices never reach orders placed before the sale opens or after it closes."""
    festival_now = festival.current_festival(uow)
    if festival_now.sale_holding(window.starts_at, window.ends_at) is None:
        sales = "; ".join(f"{p.key} {p.starts_at.isoformat()} to {p.ends_at.isoformat()}"
                          for p in festival_now.sales)
        raise OutsideTheSale(f"a promotion runs within one sale of {festival_now.name}: {sales}",
                             field="starts_at")


def put_on_promotion(uow: UnitOfWork, actor: Actor | None, campaign: Campaign) -> Campaign:
    """Merchant staff put on percent-off, multi-buy and store-threshold promotions for their own
    store; operators cross-store promotions for everyone, within one sale of the festival. Raises
    Unauthenticated, Forbidden, InvalidInput, NotFound (no festival)."""
    owned = owned_campaign(actor, campaign)
    _check_in_a_sale(uow, owned.window)
    with uow:
        campaign_id = PromotionStore(uow.conn).add_promotion(owned)
        uow.commit()
    return replace(owned, id=campaign_id)


def owned_campaign(actor: Actor | None, campaign: Campaign) -> Campaign:
    """The promotion as the actor may put it on: a merchant's staff for their own store's lines, an
    operator for the platform; its rule checked to price. Raises Unauthenticated, Forbidden,
    InvalidInput."""
    signed_in = require_role(actor, Role.MERCHANT, Role.OPERATOR)
    owner = owner_of(signed_in, campaign.kind, merchant_kinds=MERCHANT_PROMOTIONS,
                     platform_kinds=PLATFORM_PROMOTIONS)
    rule = {k: v for k, v in campaign.rule.items() if k not in ("id", "kind", "starts", "ends")}
    if owner is not None:
        rule["merchant"] = str(owner)  # staff promote their own store's lines only
    owned = replace(campaign, merchant_id=owner, rule=rule, id=None)
    as_promotion(owned)  # the rule must price: refused here, not at checkout
    return owned


def owned_coupon(actor: Actor | None, coupon: CouponIssue) -> CouponIssue:
    """The coupon as the actor may put it on: store coupons by a merchant's staff, platform coupons
    and red envelopes by operators. Raises Unauthenticated, Forbidden, InvalidInput."""
    signed_in = require_role(actor, Role.MERCHANT, Role.OPERATOR)
    owner = owner_of(signed_in, coupon.kind, merchant_kinds=MERCHANT_COUPONS, platform_kinds=PLATFORM_COUPONS)
    return replace(coupon, merchant_id=owner, claimed=0, id=None)


def campaigns_at(uow: UnitOfWork, merchant_ids: Sequence[int], at: datetime) -> tuple[OnOffer, ...]:
    """The promotions on at `at` for these merchants' lines, with the platform's, ready for pricing."""
    with uow:
        found = PromotionStore(uow.conn).promotions_on(at, merchant_ids)
    return tuple(OnOffer(c.merchant_id, c.currency, as_promotion(c), c.id or 0) for c in found)


def promotions_of(uow: UnitOfWork, merchant_id: int | None) -> list[Campaign]:
    """Every promotion a merchant put on, or (None) the platform's."""
    with uow:
        return PromotionStore(uow.conn).promotions_of(merchant_id)


def put_on_coupon(uow: UnitOfWork, actor: Actor | None, coupon: CouponIssue) -> CouponIssue:
    """Merchant staff put on store coupons; operators platform coupons and red envelopes, within
    the festival. Raises Unauthenticated, Forbidden, InvalidInput, NotFound (no festival)."""
    owned = owned_coupon(actor, coupon)
    _check_in_festival(uow, coupon.window)
    with uow:
        coupon_id = PromotionStore(uow.conn).add_coupon(owned)
        uow.commit()
    return replace(owned, id=coupon_id)


def coupon(uow: UnitOfWork, coupon_id: int) -> CouponIssue:
    """Raises NotFound."""
    with uow:
        found = PromotionStore(uow.conn).coupon(coupon_id)
    if found is None:
        raise NotFound(f"no coupon {coupon_id}", coupon_id=coupon_id)
    return found


def coupons_on(uow: UnitOfWork, merchant_id: int | None) -> list[CouponIssue]:
    """The coupons a shopper can claim now: a merchant's, or the platform's (live coupons are claimed
    in their room only)."""
    with uow:
        return PromotionStore(uow.conn).coupons_on(uow.clock.now(), merchant_id)


def claim_coupon(uow: UnitOfWork, actor: Actor | None, coupon_id: int) -> Grant:
    """A shopper puts one coupon in their wallet. The coupon's row is locked first, so concurrent
    claims of one coupon queue: its quantity and each shopper's limit hold under any concurrency.
    Raises Unauthenticated, Forbidden, NotFound, InvalidInput, CouponExpired, CouponsGone,
    CouponLimitReached."""
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


def wallet(uow: UnitOfWork, actor: Actor | None) -> list[tuple[Grant, CouponIssue]]:
    """The coupons a shopper holds, with what each is. Raises Unauthenticated, Forbidden."""
    shopper = require_role(actor, Role.SHOPPER)
    with uow:
        store = PromotionStore(uow.conn)
        grants = store.wallet(shopper.user_id)
        found = store.coupons_by_ids(sorted({g.coupon_id for g in grants}))
    return [(g, found[g.coupon_id]) for g in grants]


def free_coupons(uow: UnitOfWork, shopper_id: int) -> list[int]:
    """The coupons the shopper holds free to use (inside the caller's transaction)."""
    grants = PromotionStore(uow.conn).wallet(shopper_id)
    return sorted({g.coupon_id for g in grants if g.state is GrantState.CLAIMED})


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


def coupon_figures(uow: UnitOfWork) -> tuple[dict[int, int], dict[int, int], list[tuple[int, int, str]]]:
    """Each coupon's claimed counter, its number of grants, and (grant, order, state) of every grant an
    order holds or spent; inside the caller's transaction."""
    store = PromotionStore(uow.conn)
    claimed, grants = store.claim_counts()
    return claimed, grants, store.grants_in_orders()


def coupon_centre(uow: UnitOfWork, *, limit: int = 200) -> list[CouponIssue]:
    """Every coupon a shopper can claim now, the platform's (coupons, red envelopes) first, then the
    stores'; the `limit` oldest of each order. Live coupons are left to their room."""
    with uow:
        return PromotionStore(uow.conn).every_coupon_on(uow.clock.now(), limit=limit)


def wallet_shelves(uow: UnitOfWork, actor: Actor | None) -> list[tuple[WalletShelf, Grant, CouponIssue]]:
    """The shopper's coupons, each on its wallet shelf now (see `shelf_of`), newest claim first.
    Raises Unauthenticated, Forbidden."""
    held = wallet(uow, actor)
    now = uow.clock.now()
    return [(shelf_of(grant, issue, now=now), grant, issue) for grant, issue in reversed(held)]


def platform_offers(uow: UnitOfWork, actor: Actor | None, *,
                    limit: int) -> tuple[list[Campaign], list[CouponIssue]]:
    """Operators see the platform's promotions and coupons on now or coming, with the coupons'
    claimed counts. Raises Unauthenticated, Forbidden."""
    require_role(actor, Role.OPERATOR)
    with uow:
        return platform_offers_until(uow.conn, uow.clock.now(), limit=limit)


class OutsideTheSale(InvalidInput):
    code = "outside-the-sale"
    title = "A promotion runs within one sale of the festival"


class OutsideTheFestival(InvalidInput):
    code = "outside-the-festival"
    title = "A coupon runs within the festival"


# --- the seller centre's festival tools (web/seller_desk.py) ---------------------------------

def store_promotions(uow: UnitOfWork, actor: Actor | None) -> list[Campaign]:
    """The promotions the staff's merchant put on, latest first. Raises Unauthenticated, Forbidden."""
    _, merchant_id = require_merchant_staff(actor)
    return list(reversed(promotions_of(uow, merchant_id)))


def store_coupons(uow: UnitOfWork, actor: Actor | None) -> list[CouponIssue]:
    """The coupons the staff's merchant put on, latest first, with how many shoppers claimed.
    Raises Unauthenticated, Forbidden."""
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        return PromotionStore(uow.conn).coupons_of(merchant_id)


def presales_of(uow: UnitOfWork, actor: Actor | None,
                sku_ids: Sequence[int]) -> dict[int, tuple[Money, Money]]:
    """The deposit and its worth of each of the staff's SKUs among `sku_ids` on pre-sale (another
    merchant's SKUs are left out). Raises Unauthenticated, Forbidden."""
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        owned = [s for s, sku in skus_for_sale(uow, sku_ids).items() if sku.merchant_id == merchant_id]
        return PromotionStore(uow.conn).deposits(owned)


@dataclass(frozen=True)
class PresalePreview:
    """One unit of a SKU on pre-sale: its price, the deposit paid now, what the deposit counts for,
    and the balance paid in the sale."""

    price: Money
    deposit: Money
    worth: Money

    @property
    def balance(self) -> Money:
        return self.price - self.worth


def preview_presale(uow: UnitOfWork, actor: Actor | None, *, sku_id: int, deposit: Money,
                    worth: Money | None = None) -> PresalePreview:
    """A pre-sale not yet offered, checked as offering it would be; nothing is stored.
    Raises Unauthenticated, Forbidden, NotFound, InvalidInput."""
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        if merchant_of_sku(uow, sku_id) != merchant_id:
            raise NotFound(f"no SKU {sku_id}", sku_id=sku_id, field="sku_id")
        price = skus_for_sale(uow, [sku_id])[sku_id].price
    check_deposit(deposit, price, worth)
    return PresalePreview(price, deposit, worth or deposit)


# --- live coupons: dropped in a live room, claimed there (live/drops.py) ----------------------

def drop_live_coupon(uow: UnitOfWork, actor: Actor | None, *, event_id: int, merchant_id: int,
                     sku_ids: Sequence[int], off: Money, min_spend: Money, quantity: int,
                     seconds: int) -> CouponIssue:
    """A host drops `quantity` store coupons in a live room, one per shopper, to claim for the next
    `seconds`; each takes `off` from the host's merchant's lines of `sku_ids` (the event's products)
    once they reach `min_spend`. Raises Unauthenticated, Forbidden, NotFound, InvalidInput."""
    _, staff_merchant = require_merchant_staff(actor)
    if staff_merchant != merchant_id:
        raise Forbidden("staff drop coupons of their own merchant only", merchant_id=merchant_id)
    if min_spend.currency != off.currency:
        raise CurrencyMismatch("off and min_spend are in one currency")
    with uow:
        found = skus_for_sale(uow, sku_ids)
        for sku_id in sku_ids:
            if sku_id not in found or found[sku_id].merchant_id != merchant_id:
                raise NotFound(f"no SKU {sku_id}", sku_id=sku_id)
        now = uow.clock.now()
        issue = CouponIssue("store_coupon", merchant_id, off.currency, min_spend.minor, off.minor,
                            quantity, 1, Period(now, now + timedelta(seconds=seconds)),
                            sku_ids=tuple(sorted(set(sku_ids))), live_event_id=event_id)
        coupon_id = PromotionStore(uow.conn).add_coupon(issue)
        uow.commit()
    return replace(issue, id=coupon_id)
