"""The control room's campaign forms: what an operator types for a cross-store promotion, a platform
coupon or a red envelope, read into the offer promotions puts on, the rule said in plain words, and
the preview of a sample cart shown beside the form. Reading and showing only: the rules are the
promotions room's and the pricing is checkout's (orders/preview.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shopfest.catalog.model import SkuForSale
from shopfest.core.clock import as_utc, local, zone
from shopfest.core.errors import DomainError, InvalidInput
from shopfest.core.money import Money
from shopfest.orders.preview import DRAFT_SOURCES, OfferPreview
from shopfest.promotions.model import Priced
from shopfest.promotions.offers import Campaign, CouponIssue, Period
from shopfest.web.deals import savings
from shopfest.web.forms import FormErrors
from shopfest.web.i18n import Translator
from shopfest.web.viewer import Viewer

PROMOTION_KINDS = ("cross_store",)
COUPON_KINDS = ("platform_coupon", "red_envelope")
SAMPLE_ROWS = 4  # sample lines on the form
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends
TEXT_MAX = 40


@dataclass
class CampaignForm:
    """The form as typed: text kept as it came, so a refused form comes back as it was."""

    kind: str
    currency: str = "CNY"
    every: str = ""
    off: str = ""
    min_spend: str = ""
    exclude_luxury: bool = False
    exclude_categories: str = ""
    quantity: str = "1000"
    per_shopper_limit: str = "1"
    starts_at: str = ""
    ends_at: str = ""
    sample: list[tuple[str, str]] = field(default_factory=list)  # (SKU id, quantity) as typed
    key: str = ""

    @classmethod
    def of(cls, fields: Mapping[str, str], *, kind: str, samples: list[tuple[str, str]]) -> CampaignForm:
        def text(name: str, default: str = "") -> str:
            return str(fields.get(name, default)).strip()[:TEXT_MAX]

        return cls(kind=kind, currency=text("currency", "CNY").upper(), every=text("every"), off=text("off"),
                   min_spend=text("min_spend"), exclude_luxury=bool(fields.get("exclude_luxury")),
                   exclude_categories=str(fields.get("exclude_categories", "")).strip()[:400],
                   quantity=text("quantity"), per_shopper_limit=text("per_shopper_limit"),
                   starts_at=text("starts_at"), ends_at=text("ends_at"),
                   sample=[(s.strip()[:TEXT_MAX], q.strip()[:TEXT_MAX]) for s, q in samples][:SAMPLE_ROWS],
                   key=str(fields.get("campaign_key", ""))[:255])

    @property
    def is_promotion(self) -> bool:
        return self.kind in PROMOTION_KINDS

    @property
    def sample_rows(self) -> list[tuple[str, str]]:
        """The sample's lines padded with empty rows up to the form's size."""
        return self.sample + [("", "")] * (SAMPLE_ROWS - len(self.sample))


def blank_form(kind: str, *, window: Period | None, zone_name: str, sample: list[SkuForSale],
               key: str) -> CampaignForm:
    """A new form: the window of the sale on now or next, a sample of the storefront's goods."""
    starts = ends = ""
    if window is not None:
        starts, ends = wall(window.starts_at, zone_name), wall(window.ends_at, zone_name)
    rows = [(str(s.sku_id), "2" if n == 0 else "1") for n, s in enumerate(sample[:SAMPLE_ROWS])]
    every, off = ("300.00", "40.00") if kind == "cross_store" else ("", "20.00")
    min_spend = "200.00" if kind == "platform_coupon" else ""
    return CampaignForm(kind=kind, every=every, off=off, min_spend=min_spend,
                        starts_at=starts, ends_at=ends, sample=rows, key=key)


def wall(instant: datetime, zone_name: str) -> str:
    return local(instant, zone_name).strftime(LOCAL_FORMAT)


# --- reading ---------------------------------------------------------------------------------

class _Reading:
    """Reads the form's fields one by one, filing each refusal beside its field."""

    def __init__(self, form: CampaignForm, t: Translator, zone_name: str) -> None:
        self.form, self.t, self.zone_name, self.errors = form, t, zone_name, FormErrors()

    def refuse(self, field_name: str, key: str, **values: object) -> None:
        self.errors.by_field.setdefault(field_name, self.t(key, **values))

    def amount(self, field_name: str, text: str, *, above_zero: bool = True) -> int:
        try:
            money = Money.parse(text, self.form.currency)
        except DomainError:
            self.refuse(field_name, "control.campaign.bad_amount", example="300.00")
            return 0
        if money.minor < 0 or (above_zero and money.minor == 0):
            self.refuse(field_name, "control.campaign.above_zero")
        return money.minor

    def count(self, field_name: str, text: str) -> int:
        if not text.isdigit() or not 0 < int(text) <= 100_000_000:
            self.refuse(field_name, "control.campaign.bad_count")
            return 1
        return int(text)

    def instant(self, field_name: str, text: str) -> datetime | None:
        try:
            wall_clock = datetime.strptime(text, LOCAL_FORMAT)
        except ValueError:
            self.refuse(field_name, "control.campaign.bad_time")
            return None
        return as_utc(wall_clock.replace(tzinfo=zone(self.zone_name)))

    def window(self) -> Period | None:
        starts = self.instant("starts_at", self.form.starts_at)
        ends = self.instant("ends_at", self.form.ends_at)
        if starts is None or ends is None:
            return None
        if ends <= starts:
            self.refuse("ends_at", "control.campaign.ends_first")
            return None
        return Period(starts, ends)

    def sample(self) -> list[tuple[int, int]]:
        lines: dict[int, int] = {}
        for sku, qty in self.form.sample:
            if not sku and not qty:
                continue
            if not (sku.isdigit() and len(sku) <= 18 and qty.isdigit() and 0 < int(qty) <= 999):
                self.refuse("sample", "control.campaign.bad_sample")
                continue
            lines[int(sku)] = lines.get(int(sku), 0) + int(qty)
        if not lines:
            self.refuse("sample", "control.campaign.no_sample")
        return sorted(lines.items())


def _categories(text: str) -> list[str]:
    return [slug.strip() for slug in text.replace("，", ",").split(",") if slug.strip()][:20]


def read_campaign(form: CampaignForm, t: Translator, *,
                  zone_name: str) -> tuple[Campaign, list[tuple[int, int]]]:
    """The cross-store promotion the form asks for, and its sample cart. Raises FormRefused."""
    reading = _Reading(form, t, zone_name)
    every, off = reading.amount("every", form.every), reading.amount("off", form.off)
    window, sample = reading.window(), reading.sample()
    if reading.errors or window is None:
        raise FormRefused(reading.errors)
    rule: dict[str, object] = {"every": Money(every, form.currency).amount,
                               "off": Money(off, form.currency).amount}
    if form.exclude_luxury:
        rule["exclude_tiers"] = ["luxury"]
    if _categories(form.exclude_categories):
        rule["exclude_categories"] = _categories(form.exclude_categories)
    return Campaign(form.kind, None, form.currency, rule, window), sample


def read_coupon(form: CampaignForm, t: Translator, *,
                zone_name: str) -> tuple[CouponIssue, list[tuple[int, int]]]:
    """The platform coupon or red envelope the form asks for, and its sample cart. Raises FormRefused."""
    reading = _Reading(form, t, zone_name)
    off = reading.amount("off", form.off)
    min_spend = reading.amount("min_spend", form.min_spend or "0", above_zero=False) \
        if form.kind == "platform_coupon" else 0
    quantity = reading.count("quantity", form.quantity)
    limit = reading.count("per_shopper_limit", form.per_shopper_limit)
    window, sample = reading.window(), reading.sample()
    if limit > quantity:
        reading.refuse("per_shopper_limit", "control.campaign.limit_over_quantity")
    if reading.errors or window is None:
        raise FormRefused(reading.errors)
    try:
        coupon = CouponIssue(form.kind, None, form.currency, min_spend, off, quantity, limit, window)
    except InvalidInput as refusal:
        reading.errors.add(refusal, t)
        raise FormRefused(reading.errors) from None
    return coupon, sample


class FormRefused(Exception):
    """The form cannot be read; its messages are beside the fields."""

    def __init__(self, errors: FormErrors) -> None:
        super().__init__("the form is refused")
        self.errors = errors


# --- saying the rule -------------------------------------------------------------------------

def rule_in_words(kind: str, rule: Mapping[str, Any], *, currency: str, viewer: Viewer) -> str:
    """A promotion's rule as an operator reads it."""
    t = viewer.t
    if kind != "cross_store":
        return kind
    every, off = (viewer.money(Money.parse(str(rule.get(name, "0")), currency)) for name in ("every", "off"))
    excluded = [t("control.campaign.tier.luxury")] if "luxury" in (rule.get("exclude_tiers") or []) else []
    excluded += [str(slug) for slug in rule.get("exclude_categories") or []]
    text = t("control.campaign.says.cross_store", every=every, off=off)
    return text + " " + t("control.campaign.says.except", what=", ".join(excluded)) if excluded else text


def coupon_in_words(coupon: CouponIssue, *, viewer: Viewer) -> str:
    t = viewer.t
    off = viewer.money(Money(coupon.off, coupon.currency))
    if coupon.kind == "red_envelope":
        text = t("control.campaign.says.red_envelope", off=off)
    else:
        text = t("control.campaign.says.platform_coupon", off=off,
                 min_spend=viewer.money(Money(coupon.min_spend, coupon.currency)))
    return text + " " + t("control.campaign.says.claims", quantity=viewer.count(coupon.quantity),
                          limit=viewer.count(coupon.per_shopper_limit))


# --- the preview -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PreviewLine:
    sku_id: int
    title: str
    qty: int
    before: str
    after: str


@dataclass(frozen=True)
class PreviewDiscount:
    label: str
    amount: str
    funded_by: str
    this_offer: bool  # the draft's own, not an offer already on


@dataclass(frozen=True)
class PreviewView:
    at: str
    lines: list[PreviewLine]
    discounts: list[PreviewDiscount]
    before: str
    after: str
    saved: str


def preview_view(preview: OfferPreview, sample: list[tuple[int, int]], *, viewer: Viewer,
                 zone_name: str) -> PreviewView:
    """The sample cart line by line without and with the offer, every discount it gets with the
    offer (the draft's marked), and the totals."""
    without, with_offer = preview.without, preview.with_offer
    qty = dict(sample)
    before = {line.id: line.total for line in without.lines}
    lines = [PreviewLine(int(line.id), preview.skus[int(line.id)].title, qty.get(int(line.id), 0),
                         _cash(before.get(line.id, line.subtotal), without, viewer),
                         _cash(line.total, with_offer, viewer))
             for line in with_offer.lines]
    # the storefront's words for each discount, the draft's own marked
    discounts = [PreviewDiscount(s.label, s.amount, s.funded_by, a.source in DRAFT_SOURCES)
                 for a, s in zip(with_offer.applied, savings(with_offer.applied, with_offer.currency, viewer),
                                 strict=True)]
    return PreviewView(viewer.when(preview.at, zone_name), lines, discounts,
                       _cash(without.total, without, viewer),
                       _cash(with_offer.total, with_offer, viewer), _cash(preview.saved, with_offer, viewer))


def _cash(minor: int, priced: Priced, viewer: Viewer) -> str:
    return viewer.money(Money(minor, priced.currency))


def sale_window(phases: list[Period], now: datetime) -> Period | None:
    """The sale on now (from the next hour) or the next sale: where a new campaign's window starts."""
    for sale in phases:
        if sale.ends_at > now:
            next_hour = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
            starts = max(sale.starts_at, next_hour)
            return Period(starts, sale.ends_at) if starts < sale.ends_at else None
    return None
