"""The shopper's wallet and the deals: coupons and red envelopes held, vouchers with QR codes, the coupon
centre and the flash-sale zone."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape

from shopfest.catalog import service as catalog
from shopfest.catalog.model import SkuForSale
from shopfest.core.actor import Actor, Role, require_role, shopper_id
from shopfest.core.clock import HOME_ZONE
from shopfest.core.errors import DomainError, InvalidInput, NotFound
from shopfest.core.money import Money
from shopfest.deps import RuntimeDep, actor_of
from shopfest.inventory import service as inventory
from shopfest.inventory.model import FlashSale
from shopfest.local.vouchers import VoucherView, my_vouchers
from shopfest.promotions import service as promotions
from shopfest.promotions.offers import (
    EXPIRING_SOON,
    CouponExpired,
    CouponIssue,
    CouponLimitReached,
    CouponsGone,
    Grant,
    WalletShelf,
)
from shopfest.runtime import Runtime
from shopfest.web.layout import current_festival, format_remaining, render
from shopfest.web.routing import PageRoute
from shopfest.web.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)

# The wallet's shelves in the order a shopper wants them: what to use first, on top.
SHELVES = (WalletShelf.EXPIRING, WalletShelf.FREE, WalletShelf.HELD, WalletShelf.SPENT, WalletShelf.EXPIRED)


def _zone(runtime: Runtime) -> str:
    festival = current_festival(runtime)
    return festival.timezone if festival else HOME_ZONE


def _shopper_id(request: Request, runtime: Runtime) -> int | None:
    actor = actor_of(request, runtime)
    return shopper_id(actor)


class StoreNames:
    """Merchants' names, each looked up once per page."""

    def __init__(self, runtime: Runtime, viewer: Viewer) -> None:
        self.runtime, self.viewer, self.known = runtime, viewer, dict[int, str]()

    def __call__(self, merchant_id: int) -> str:
        if merchant_id not in self.known:
            try:
                found = catalog.get_merchant(self.runtime.uow(read_only=True), merchant_id)
                self.known[merchant_id] = found.name
            except NotFound:
                self.known[merchant_id] = self.viewer.t("deals.store_unknown", id=merchant_id)
        return self.known[merchant_id]


# --- what a coupon is, in the wallet and in the centre --------------------------------------

@dataclass(frozen=True)
class CouponFace:
    id: int
    kind: str  # "Platform coupon", "Red envelope", "Store coupon"
    kind_key: str
    value: str  # "CN¥30.00 off"
    condition: str  # "on orders from CN¥300.00" or "no minimum spend"
    where: str  # "Every store (from the platform)" or "At Birch Store only"
    offered_by: str
    valid: str


def coupon_face(issue: CouponIssue, viewer: Viewer, *, zone_name: str, stores: StoreNames) -> CouponFace:
    t = viewer.t
    store = None if issue.merchant_id is None else stores(issue.merchant_id)
    min_spend = Money(issue.min_spend, issue.currency)
    return CouponFace(
        id=issue.id or 0, kind=t(f"deal.{issue.kind}"), kind_key=issue.kind,
        value=t("deals.off", amount=viewer.money(Money(issue.off, issue.currency))),
        condition=(t("deals.min_spend", amount=viewer.money(min_spend)) if issue.min_spend
                   else t("deals.no_min")),
        where=t("deals.where.platform") if store is None else t("deals.where.store", store=store),
        offered_by=store or "ShopFest",
        valid=t("deals.valid", span=viewer.span(issue.window.starts_at, issue.window.ends_at, zone_name)),
    )


# --- the wallet -----------------------------------------------------------------------------

@dataclass(frozen=True)
class WalletCoupon:
    face: CouponFace
    note: str  # when it was claimed, or which order holds or spent it
    order_id: int | None


@dataclass(frozen=True)
class Shelf:
    key: str
    title: str
    coupons: list[WalletCoupon]


@dataclass(frozen=True)
class VoucherCard:
    code: str  # the voucher's own code, short enough to read out or type
    title: str
    kind: str
    state: str
    status: str  # issued, redeemed, void or expired
    issued: str
    valid: str
    used: str | None  # when and at which shop, once redeemed
    order_id: int
    signed_code: str
    qr: Markup  # the signed code, which a shop's console checks even offline


def _wallet_coupon(shelf: WalletShelf, grant: Grant, issue: CouponIssue, viewer: Viewer, *,
                   zone_name: str, stores: StoreNames) -> WalletCoupon:
    t = viewer.t
    if shelf is WalletShelf.HELD:
        note = t("wallet.held_by", id=grant.order_id)
    elif shelf is WalletShelf.SPENT:
        note = t("wallet.spent_on", id=grant.order_id)
    else:
        note = t("wallet.claimed_at", when=viewer.when(grant.claimed_at, zone_name))
    return WalletCoupon(coupon_face(issue, viewer, zone_name=zone_name, stores=stores), note,
                        grant.order_id if shelf in (WalletShelf.HELD, WalletShelf.SPENT) else None)


def qr_svg(code: str, label: str) -> Markup:
    """The code as a QR code drawn inline (no request, no script), named for screen readers."""
    svg = segno.make(code, micro=False).svg_inline(scale=4, border=4, dark="#000", light="#fff",
                                                   svgclass="voucher-qr", lineclass=None, omitsize=False)
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1))


def voucher_card(voucher: VoucherView, viewer: Viewer, *, zone_name: str) -> VoucherCard:
    t, state = viewer.t, f"wallet.voucher.{voucher.status}"
    used = None
    if voucher.redeemed_at is not None:
        used = t("local.voucher.redeemed_at", when=viewer.when(voucher.redeemed_at, zone_name),
                 shop=voucher.shop_name or "?")
    return VoucherCard(
        code=voucher.code, title=voucher.title, kind=t(f"fulfilment.{voucher.kind}"),
        state=t(state) if t.has(state) else voucher.status, status=voucher.status,
        issued=t("wallet.issued_at", when=viewer.when(voucher.issued_at, zone_name)),
        valid=t("local.voucher.valid_until", when=viewer.when(voucher.valid_until, zone_name)), used=used,
        order_id=voucher.order_id, signed_code=voucher.signed_code,
        qr=qr_svg(voucher.signed_code, t("wallet.voucher_qr", code=voucher.code)))


@router.get("/account/wallet", response_class=HTMLResponse)
def wallet(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The signed-in shopper's coupons by shelf, and their vouchers with QR codes."""
    actor = require_role(actor_of(request, runtime), Role.SHOPPER)
    viewer, zone_name = viewer_of(request), _zone(runtime)
    stores = StoreNames(runtime, viewer)
    held = promotions.wallet_shelves(runtime.uow(read_only=True), actor)
    shelves = [Shelf(shelf.value, viewer.t(f"wallet.shelf.{shelf.value}"),
                     [_wallet_coupon(shelf, grant, issue, viewer, zone_name=zone_name, stores=stores)
                      for on, grant, issue in held if on is shelf])
               for shelf in SHELVES]
    vouchers = [voucher_card(v, viewer, zone_name=zone_name)
                for v in my_vouchers(runtime.uow(read_only=True), actor, signer=runtime.voucher_signer())]
    return render(request, runtime, "account/wallet.html", section="wallet",
                  shelves=[s for s in shelves if s.coupons], any_coupons=bool(held), vouchers=vouchers,
                  expiring_hours=int(EXPIRING_SOON.total_seconds() // 3600))


# --- the coupon centre ----------------------------------------------------------------------

@dataclass(frozen=True)
class CentreCoupon:
    face: CouponFace
    left: str
    limit: str
    you_hold: str | None  # None: nobody signed in as a shopper
    gone: bool
    reached: bool  # the shopper holds as many as allowed
    held: int = 0  # how many the shopper holds


@dataclass(frozen=True)
class Said:
    text: str
    ok: bool


def _centre(runtime: Runtime, viewer: Viewer, shopper: Actor | None) -> list[CentreCoupon]:
    zone_name, stores = _zone(runtime), StoreNames(runtime, viewer)
    held: Counter[int] = Counter()
    if shopper is not None:
        held.update(grant.coupon_id for grant, _ in promotions.wallet(runtime.uow(read_only=True), shopper))
    coupons = []
    for issue in promotions.coupon_centre(runtime.uow(read_only=True)):
        mine = held[issue.id or 0]
        coupons.append(CentreCoupon(
            coupon_face(issue, viewer, zone_name=zone_name, stores=stores),
            viewer.t("deals.left", left=viewer.count(issue.quantity - issue.claimed),
                     quantity=viewer.count(issue.quantity)),
            viewer.t("deals.limit", limit=viewer.count(issue.per_shopper_limit)),
            None if shopper is None else viewer.t("deals.you_hold", count=viewer.count(mine)),
            gone=issue.claimed >= issue.quantity, reached=mine >= issue.per_shopper_limit, held=mine))
    return coupons


def _deals_page(request: Request, runtime: Runtime, *, said: Said | None = None, claimed: str | None = None,
                status: int = 200) -> HTMLResponse:
    """The centre for whoever looks: shoppers claim, visitors are asked to sign in first, staff and
    operators only read. `claimed`, a coupon just claimed, is said so when the wallet holds it."""
    actor, viewer = actor_of(request, runtime), viewer_of(request)
    shopper = actor if actor is not None and actor.role is Role.SHOPPER else None
    coupons = _centre(runtime, viewer, shopper)
    if said is None and any(str(c.face.id) == claimed and c.held for c in coupons):
        said = Said(viewer.t("deals.said.claimed"), ok=True)
    return render(request, runtime, "deals.html", status=status, said=said, coupons=coupons,
                  shopper=shopper is not None, visitor=actor is None)


@router.get("/deals", response_class=HTMLResponse)
def deals(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """Every coupon on now; after a claim, the word that it is in the wallet."""
    return _deals_page(request, runtime, claimed=request.query_params.get("claimed"))


def _refusal(error: DomainError, viewer: Viewer) -> str:
    """Why a claim was refused, in the viewer's words."""
    t = viewer.t
    if isinstance(error, CouponsGone):
        return t("deals.said.gone")
    if isinstance(error, CouponLimitReached):
        limit = error.data.get("limit", 1)
        return t("deals.said.twice") if limit == 1 else t("deals.said.limit", limit=limit)
    return t("deals.said.not_now")


@router.post("/deals/claim", response_class=HTMLResponse)
def claim(request: Request, runtime: RuntimeDep, coupon_id: Annotated[int, Form(ge=1, le=2**62)]) -> Response:
    """Put one coupon in the shopper's wallet and come back to the centre saying so; a refusal comes
    back with its reason and a 4xx, nothing claimed. Signed out: sign in, then back to the centre."""
    actor = actor_of(request, runtime)
    if actor is None:
        return RedirectResponse(f"/login?next={quote('/deals', safe='')}", status_code=303)
    try:
        promotions.claim_coupon(runtime.uow(), actor, coupon_id)
    except (CouponsGone, CouponLimitReached, CouponExpired, InvalidInput) as refused:
        status = 422 if isinstance(refused, InvalidInput) else 409
        return _deals_page(request, runtime, said=Said(_refusal(refused, viewer_of(request)), ok=False),
                           status=status)
    return RedirectResponse(f"/deals?claimed={coupon_id}#coupon-{coupon_id}", status_code=303)


# --- the flash-sale zone --------------------------------------------------------------------

@dataclass(frozen=True)
class FlashCard:
    sale_id: int
    sku_id: int
    product_url: str
    title: str
    store: str
    flash_price: str
    list_price: str
    on: bool
    sold_out: bool
    countdown_label: str
    countdown_text: str
    target_ms: int
    window: str
    left: str
    limit: str
    you_took: str | None
    can_add: bool


@dataclass(frozen=True)
class FlashScene:
    """What every card of the zone is drawn against."""

    viewer: Viewer
    now: datetime
    zone_name: str
    skus: dict[int, SkuForSale]
    stock_left: dict[int, int]
    stores: StoreNames


def _flash_card(sale: FlashSale, scene: FlashScene, took: int | None) -> FlashCard | None:
    viewer, now = scene.viewer, scene.now
    t, sku = viewer.t, scene.skus.get(sale.sku_id)
    if sku is None:
        return None  # a SKU taken off sale: nothing to show or buy
    on = sale.is_on(now)
    left = min(sale.quantity - sale.taken, scene.stock_left.get(sale.sku_id, 0))
    target = sale.ends_at if on else sale.starts_at
    return FlashCard(
        sale_id=sale.id or 0, sku_id=sale.sku_id, product_url=f"/products/{sku.product_id}", title=sku.title,
        store=t("flash.by", store=scene.stores(sku.merchant_id)), flash_price=viewer.money(sale.price),
        list_price=viewer.money(sku.price), on=on, sold_out=left <= 0,
        countdown_label=t("flash.ends_in" if on else "flash.starts_in"),
        countdown_text=format_remaining(target - now, t), target_ms=int(target.timestamp() * 1000),
        window=viewer.span(sale.starts_at, sale.ends_at, scene.zone_name),
        left=t("flash.left", left=viewer.count(max(0, left)), quantity=viewer.count(sale.quantity)),
        limit=t("flash.limit", limit=viewer.count(sale.per_shopper_limit)),
        you_took=None if took is None else t("flash.you_took", count=viewer.count(took),
                                              limit=viewer.count(sale.per_shopper_limit)),
        can_add=on and left > 0 and (took or 0) < sale.per_shopper_limit)


@router.get("/deals/flash", response_class=HTMLResponse)
def flash(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The flash sales on now and coming, with their countdowns, units left and the shopper's share."""
    viewer, shopper_id, now = viewer_of(request), _shopper_id(request, runtime), runtime.clock.now()
    zone = inventory.flash_zone(runtime.uow(read_only=True), shopper_id=shopper_id)
    scene = FlashScene(viewer, now, _zone(runtime), zone.skus, zone.stock_left, StoreNames(runtime, viewer))
    cards = [_flash_card(sale, scene, None if shopper_id is None else zone.taken.get(sale.id or 0, 0))
             for sale in zone.sales]
    return render(request, runtime, "deals_flash.html", cards=[c for c in cards if c is not None],
                  now_ms=int(now.timestamp() * 1000), speed=float(getattr(runtime.clock, "speed", 1.0)))
