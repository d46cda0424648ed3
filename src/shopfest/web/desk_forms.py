"""Reading the seller centre's festival forms (web/seller_desk.py): each field checked on its own, a
bad one named beside it in the viewer's language; and the previews as the pages show them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shopfest.catalog.model import SkuForSale
from shopfest.core.clock import as_utc, local, zone
from shopfest.core.errors import DomainError, InvalidAmount
from shopfest.core.money import Money
from shopfest.festival.model import Festival, Phase, PhaseKind
from shopfest.inventory.service import FlashPreview
from shopfest.orders.preview import DRAFT_SOURCES, OfferPreview
from shopfest.promotions.model import Priced
from shopfest.web.deals import Saving, nudges, savings
from shopfest.web.forms import FormErrors
from shopfest.web.viewer import Viewer

SAMPLE_ROWS = 3  # sample cart lines a form offers
MAX_QTY = 999
WALL_TIME = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends
# A promotion rule's field as the pricing contract names it ("rule.tiers[1].off"), to the form's field.
_TIER_FIELD = re.compile(r"(?:rule\.)?tiers\[(\d)\]\.(spend|off)")


class FormReader:
    """The posted fields, read one by one; what is wrong is filed beside its field."""

    def __init__(self, form: Mapping[str, str], viewer: Viewer) -> None:
        self.form, self.viewer = form, viewer
        self.errors = FormErrors()

    def fail(self, name: str, key: str, **values: object) -> None:
        self.errors.by_field.setdefault(name, self.viewer.t(key, **values))

    def raw(self, name: str) -> str:
        return self.form.get(name, "").strip()

    def text(self, name: str, *, longest: int = 80) -> str:
        value = self.raw(name)
        if not value or len(value) > longest or not value.isprintable():
            self.fail(name, "desk.bad.text", longest=longest)
        return value

    def count(self, name: str, *, low: int = 1, high: int = 10_000_000) -> int:
        value = self.raw(name)
        if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
            self.fail(name, "desk.bad.count", low=low, high=high)
            return low
        return int(value)

    def money(self, name: str, currency: str, *, optional: bool = False) -> Money | None:
        value = self.raw(name)
        if optional and not value:
            return None
        try:
            amount = Money.parse(value, currency)
        except InvalidAmount:
            self.fail(name, "desk.bad.amount", currency=currency)
            return None
        if amount.minor <= 0:
            self.fail(name, "desk.bad.amount", currency=currency)
            return None
        return amount

    def instant(self, name: str, zone_name: str) -> datetime | None:
        """A wall time on the festival's clocks, as UTC."""
        try:
            wall = datetime.strptime(self.raw(name), WALL_TIME)
        except ValueError:
            self.fail(name, "desk.bad.time")
            return None
        return as_utc(wall.replace(tzinfo=zone(zone_name)))

    def window(self, zone_name: str) -> tuple[datetime, datetime] | None:
        starts, ends = self.instant("starts_at", zone_name), self.instant("ends_at", zone_name)
        if starts is None or ends is None:
            return None
        if ends <= starts:
            self.fail("ends_at", "desk.bad.window")
            return None
        return starts, ends

    def flag(self, name: str) -> bool:
        return self.raw(name) in ("1", "on", "yes", "true")

    def sku(self, name: str = "sku_id") -> int:
        value = self.raw(name)
        if not value.isascii() or not value.isdigit() or len(value) > 18 or int(value) == 0:
            self.fail(name, "desk.bad.sku")
            return 0
        return int(value)

    def sample(self) -> list[tuple[int, int]]:
        """The sample cart: up to SAMPLE_ROWS lines of SKU and quantity, a SKU named twice added up."""
        lines: dict[int, int] = {}
        for row in range(1, SAMPLE_ROWS + 1):
            if not self.raw(f"sample_sku_{row}"):
                continue
            sku_id = self.sku(f"sample_sku_{row}")
            qty = self.count(f"sample_qty_{row}", high=MAX_QTY)
            if sku_id:
                lines[sku_id] = min(MAX_QTY, lines.get(sku_id, 0) + qty)
        if not lines and not self.errors.of("sample_sku_1"):
            self.fail("sample_sku_1", "desk.bad.sample")
        return list(lines.items())

    def refused(self, error: DomainError) -> None:
        """A service's refusal, beside the field it names (the pricing contract's names mapped to
        the form's), or on top."""
        self.errors.add(error, self.viewer.t, field_name=field_of(error))


def field_of(error: DomainError) -> str:
    named = error.data.get("field")
    if not isinstance(named, str):
        return ""
    tier = _TIER_FIELD.fullmatch(named)
    if tier:
        return f"{tier.group(2)}_{int(tier.group(1)) + 1}"
    return named.removeprefix("rule.")


# --- what the forms show before anything is posted --------------------------------------------

def wall_time(instant: datetime, zone_name: str) -> str:
    return local(instant, zone_name).strftime(WALL_TIME)


def sample_defaults(skus: list[SkuForSale]) -> dict[str, str]:
    """The first two of the merchant's SKUs, one of each."""
    found: dict[str, str] = {}
    for row, sku in enumerate(skus[:2], start=1):
        found[f"sample_sku_{row}"], found[f"sample_qty_{row}"] = str(sku.sku_id), "1"
    return found


def window_defaults(start: datetime, end: datetime, zone_name: str) -> dict[str, str]:
    return {"starts_at": wall_time(start, zone_name), "ends_at": wall_time(end, zone_name)}


def next_sale(festival: Festival | None, now: datetime) -> Phase | None:
    """The sale on now or next: where a store promotion's window goes by default."""
    if festival is None:
        return None
    return next((p for p in festival.sales if p.ends_at > now), None)


@dataclass(frozen=True)
class Wave:
    """A wave of pre-sales: its deposit window and the sale in which balances are paid."""

    deposits: str
    balances: str


def presale_waves(festival: Festival | None, viewer: Viewer) -> list[Wave]:
    if festival is None:
        return []
    waves = []
    for deposit in (p for p in festival.phases if p.kind is PhaseKind.DEPOSIT):
        sale = next((p for p in festival.sales if p.wave == deposit.wave), None)
        if sale is not None:
            waves.append(Wave(viewer.span(deposit.starts_at, deposit.ends_at, festival.timezone),
                              viewer.span(sale.starts_at, sale.ends_at, festival.timezone)))
    return waves


# --- previews, as the pages show them ---------------------------------------------------------

@dataclass(frozen=True)
class PreviewLine:
    title: str
    qty: int
    unit_price: str
    before: str
    after: str


@dataclass(frozen=True)
class PreviewView:
    at: str
    lines: list[PreviewLine]
    before: str
    after: str
    saved: str
    savings: list[Saving] = field(default_factory=list)
    draft_sources: list[str] = field(default_factory=list)  # labels of what the draft itself took off
    hints: list[Any] = field(default_factory=list)


def _totals(priced: Priced) -> dict[str, int]:
    return {line.id: line.total for line in priced.lines}


def offer_preview(preview: OfferPreview, sample: list[tuple[int, int]], viewer: Viewer,
                  zone_name: str) -> PreviewView:
    """The sample cart when the offer starts: each line before and after, what the engine applied
    (the draft's own marked), the totals."""
    currency = preview.without.currency

    def cash(minor: int) -> str:
        return viewer.money(Money(minor, currency))

    before, after = _totals(preview.without), _totals(preview.with_offer)
    lines = [PreviewLine(preview.skus[sku_id].title, qty, viewer.money(preview.skus[sku_id].price),
                         cash(before.get(str(sku_id), 0)), cash(after.get(str(sku_id), 0)))
             for sku_id, qty in sample]
    applied = preview.with_offer.applied
    taken = savings(applied, currency, viewer)
    return PreviewView(
        at=viewer.when(preview.at, zone_name), lines=lines, before=cash(preview.without.total),
        after=cash(preview.with_offer.total), saved=cash(preview.saved), savings=taken,
        draft_sources=[s.label for a, s in zip(applied, taken, strict=True) if a.source in DRAFT_SOURCES],
        hints=nudges(preview.with_offer.hints, currency, viewer))


def flash_preview(preview: FlashPreview, viewer: Viewer, at: str) -> PreviewView:
    """The sample cart at list prices and with the flash price on the units one shopper may take."""
    lines = [PreviewLine(line.sku.title, line.qty, viewer.money(line.sku.price),
                         viewer.money(line.sku.price * line.qty), viewer.money(line.total))
             for line in preview.lines]
    flash = [Saving(viewer.t("deal.flash_price"), viewer.money(preview.saved), viewer.t("deal.by_merchant"))]
    return PreviewView(at=at, lines=lines, before=viewer.money(preview.without),
                       after=viewer.money(preview.with_sale), saved=viewer.money(preview.saved),
                       savings=flash, draft_sources=[flash[0].label])
