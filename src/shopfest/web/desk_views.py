"""What the seller centre's lists show (web/seller_desk.py): each festival tool's rule in plain words,
in the viewer's language, and a merchant's parts of orders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shopfest.catalog.model import SkuForSale
from shopfest.core.errors import DomainError
from shopfest.core.money import Money
from shopfest.inventory.model import FlashSale
from shopfest.orders.service import MerchantPart, ReturnToDecide
from shopfest.promotions.offers import Campaign, CouponIssue, Period
from shopfest.promotions.service import PresalePreview
from shopfest.web.viewer import Viewer


def state_of(window: Period | FlashSale, now: datetime) -> str:
    """"coming", "on" or "over": said beside each tool's window."""
    starts, ends = window.starts_at, window.ends_at
    return "coming" if now < starts else "on" if now < ends else "over"


# --- pre-sales --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PresaleRow:
    sku_id: int
    title: str
    price: str
    deposit: str
    worth: str
    balance: str


def presale_rows(skus: Sequence[SkuForSale], terms: dict[int, tuple[Money, Money]],
                 viewer: Viewer) -> list[PresaleRow]:
    return [PresaleRow(s.sku_id, s.title, viewer.money(s.price), viewer.money(terms[s.sku_id][0]),
                       viewer.money(terms[s.sku_id][1]), viewer.money(s.price - terms[s.sku_id][1]))
            for s in skus if s.sku_id in terms]


@dataclass(frozen=True)
class PresaleView:
    price: str
    deposit: str
    worth: str
    balance: str
    words: str


def presale_preview(found: PresalePreview, viewer: Viewer) -> PresaleView:
    money = viewer.money
    return PresaleView(money(found.price), money(found.deposit), money(found.worth), money(found.balance),
                       viewer.t("desk.presale.rule", deposit=money(found.deposit), worth=money(found.worth),
                                balance=money(found.balance)))


# --- store promotions and coupons -------------------------------------------------------------

@dataclass(frozen=True)
class OfferRow:
    id: int
    kind: str
    words: str
    window: str
    state: str
    claimed: str = ""
    quantity: str = ""


def _amount(text: object, currency: str, viewer: Viewer) -> str:
    try:
        return viewer.money(Money.parse(str(text), currency))
    except DomainError:
        return str(text)


def promotion_words(campaign: Campaign, titles: dict[str, str], viewer: Viewer) -> str:
    """A store promotion's rule as a shopper would be told it."""
    rule, t = campaign.rule, viewer.t
    scope = titles.get(str(rule.get("sku")), "") if rule.get("sku") else t("desk.rule.whole_store")
    if campaign.kind == "percent_off":
        return t("desk.rule.percent_off", percent=rule.get("percent"), scope=scope)
    if campaign.kind == "multi_buy":
        return t("desk.rule.multi_buy", percent=rule.get("percent"), min_qty=rule.get("min_qty"), scope=scope)
    tiers = [t("desk.rule.tier", spend=_amount(tier.get("spend"), campaign.currency, viewer),
               off=_amount(tier.get("off"), campaign.currency, viewer)) for tier in rule.get("tiers", [])]
    words = t("desk.rule.tiers_joiner").join(tiers)
    return t("desk.rule.repeat", tiers=words) if rule.get("repeat") else words


def promotion_rows(found: Sequence[Campaign], skus: Sequence[SkuForSale], viewer: Viewer, zone_name: str,
                   now: datetime) -> list[OfferRow]:
    titles = {str(s.sku_id): s.title for s in skus}
    return [OfferRow(c.id or 0, viewer.t(f"deal.{c.kind}"), promotion_words(c, titles, viewer),
                     viewer.span(c.window.starts_at, c.window.ends_at, zone_name), state_of(c.window, now))
            for c in found]


def coupon_words(coupon: CouponIssue, viewer: Viewer) -> str:
    off = viewer.money(Money(coupon.off, coupon.currency))
    if not coupon.min_spend:
        return viewer.t("desk.rule.coupon_any", off=off, limit=coupon.per_shopper_limit)
    min_spend = viewer.money(Money(coupon.min_spend, coupon.currency))
    return viewer.t("desk.rule.coupon", off=off, min_spend=min_spend, limit=coupon.per_shopper_limit)


def coupon_rows(found: Sequence[CouponIssue], viewer: Viewer, zone_name: str,
                now: datetime) -> list[OfferRow]:
    return [OfferRow(c.id or 0, viewer.t("deal.store_coupon"), coupon_words(c, viewer),
                     viewer.span(c.window.starts_at, c.window.ends_at, zone_name), state_of(c.window, now),
                     claimed=viewer.count(c.claimed), quantity=viewer.count(c.quantity))
            for c in found]


# --- orders -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PartLine:
    title: str
    qty: int
    unit_price: str
    total: str
    refunded: str


@dataclass(frozen=True)
class PartRow:
    id: int
    order_id: int
    placed: str
    status: str
    status_key: str
    lines: list[PartLine]
    total: str
    settlement: str
    carrier: str
    tracking: str
    shipped: str


def part_row(found: MerchantPart, viewer: Viewer, zone_name: str) -> PartRow:
    part, shipment = found.part, found.shipment
    lines = [PartLine(line.title, line.qty, viewer.money(line.unit_price), viewer.money(line.total),
                      viewer.count(line.refunded_qty) if line.refunded_qty else "")
             for line in part.lines]
    return PartRow(found.id, found.order_id, viewer.when(found.placed_at, zone_name),
                   viewer.t(f"desk.status.{part.status.value}"), part.status.value, lines,
                   viewer.money(part.total), viewer.money(part.settlement),
                   shipment.carrier if shipment else "", shipment.tracking if shipment else "",
                   viewer.when(shipment.shipped_at, zone_name) if shipment else "")


@dataclass(frozen=True)
class ReturnRow:
    id: int
    part: PartRow
    lines: list[str]
    reason: str
    refund: str
    asked: str


def return_row(found: ReturnToDecide, viewer: Viewer, zone_name: str) -> ReturnRow:
    part = part_row(found.part, viewer, zone_name)
    lines = [viewer.t("desk.returns.line", title=part.lines[j].title, qty=qty)
             for j, qty in found.request.lines if j < len(part.lines)]
    return ReturnRow(found.request.id or 0, part, lines, found.request.reason, viewer.money(found.refund),
                     viewer.when(found.request.requested_at, zone_name))


# --- the CSV export ---------------------------------------------------------------------------

CSV_HEADER = ("part_id", "order_id", "placed_at", "status", "buyer_country", "lines", "total", "currency",
              "settlement", "settlement_currency", "carrier", "tracking", "shipped_at")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The cell as text, a leading formula character neutralised with a quote."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_row(found: MerchantPart) -> list[str]:
    part, shipment = found.part, found.shipment
    lines = "; ".join(f"{line.title} x {line.qty}" for line in part.lines)
    cells: list[object] = [
        found.id, found.order_id, found.placed_at.isoformat(), part.status.value, "", lines,
        part.total.amount, part.total.currency, part.settlement.amount, part.settlement.currency,
        shipment.carrier if shipment else "", shipment.tracking if shipment else "",
        shipment.shipped_at.isoformat() if shipment else ""]
    return [safe_cell(cell) for cell in cells]
