"""Merchant insights as pure rules: how sales fold into a merchant's hourly buckets, and how those
buckets read as phases against the merchant's own baseline. No I/O.

Buckets are UTC hours, not days: a festival's phases start and end on its own zone's wall clock
(11.11 in Shanghai starts at 16:00 UTC), so a UTC day would split a phase. The CSV still gives days.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TypeVar

from shopfest.insights.model import Sale, SaleKind, SaleLine

BASELINE_DAYS = 14
HOUR_SECONDS = 3600
BASELINE = "baseline"  # the phase column of the days before the festival
# Kinds of sale that are an order the merchant took; a refund gives money back on one already counted,
# and a redeemed voucher was counted when it was bought.
ORDER_KINDS = frozenset({SaleKind.PAID, SaleKind.INSTORE})

K = TypeVar("K")
# What the tables keep of a sale's text (merchant_store.py): a longer one is cut, never refused, for a
# batch the consumer cannot write would stop the stream.
COUNTRY_CHARS, NAME_CHARS, KEY_CHARS = 2, 200, 80


def hour_of(at: datetime) -> int:
    """The UTC hour `at` falls in, counted from the epoch."""
    return int(at.timestamp()) // HOUR_SECONDS


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * HOUR_SECONDS, UTC)


def day_of(hour: int) -> date:
    return hour_start(hour).date()


@dataclass(slots=True)
class Tally:
    """What a bucket adds up: orders, units and money in minor units of the reporting currency; GMV
    is net of refunds, `refunds` the money given back."""

    orders: int = 0
    units: int = 0
    gmv: int = 0
    refunds: int = 0
    discount: int = 0

    def add_line(self, line: SaleLine, kind: SaleKind) -> None:
        self.units += line.qty
        self.gmv += line.gmv_minor
        self.discount += line.discount_minor
        if kind is SaleKind.REFUND:
            self.refunds -= line.gmv_minor

    def add(self, other: Tally) -> None:
        self.orders += other.orders
        self.units += other.units
        self.gmv += other.gmv
        self.refunds += other.refunds
        self.discount += other.discount


@dataclass(slots=True)
class SalesBucket:
    """A merchant's sales of one hour, shopper country and category. `orders` counts the orders with
    a line of the category; `merchant_orders` counts each order on one bucket only (its first
    category's), so that summing it over categories counts each order once."""

    category: str
    currency: str
    tally: Tally = field(default_factory=Tally)
    merchant_orders: int = 0


@dataclass(slots=True)
class MerchantFold:
    """A batch of sales folded into each table's buckets, ready for one upsert per table."""

    sales: dict[tuple[int, int, str, int], SalesBucket] = field(default_factory=dict)
    promotions: dict[tuple[int, int, str], Tally] = field(default_factory=dict)
    sources: dict[tuple[int, int, str], Tally] = field(default_factory=dict)
    products: dict[tuple[int, int, int], Tally] = field(default_factory=dict)

    def add(self, sale: Sale) -> None:
        if sale.kind is SaleKind.REDEEMED:  # the voucher's order counted its money and units when paid
            return
        hour = hour_of(sale.at)
        is_order = 1 if sale.kind in ORDER_KINDS else 0
        country = sale.country[:COUNTRY_CHARS]
        for merchant_id, lines in _by_merchant(sale.lines).items():
            first = True
            for category_id, category_lines in _group(lines, lambda line: line.category_id or 0).items():
                name = category_lines[0].category[:NAME_CHARS]
                bucket = self.sales.setdefault((merchant_id, hour, country, category_id),
                                               SalesBucket(name, sale.currency))
                _tally(bucket.tally, category_lines, sale.kind, is_order)
                bucket.merchant_orders += is_order if first else 0
                first = False
            self._add_promotions(merchant_id, hour, lines, sale.kind, is_order)
            if sale.source:
                _tally(self.sources.setdefault((merchant_id, hour, sale.source[:KEY_CHARS]), Tally()), lines,
                       sale.kind, is_order)
            day = hour // 24
            for product_id, product_lines in _group(lines, lambda line: line.product_id or 0).items():
                if product_id:
                    _tally(self.products.setdefault((merchant_id, day, product_id), Tally()),
                           product_lines, sale.kind, is_order)

    def _add_promotions(self, merchant_id: int, hour: int, lines: Sequence[SaleLine], kind: SaleKind,
                        is_order: int) -> None:
        """Each promotion's own discount, against the sales of the lines that carried it."""
        carried: dict[str, Tally] = {}
        for line in lines:
            for key, given in line.promotions:
                tally = carried.setdefault(key[:KEY_CHARS], Tally(orders=is_order))
                tally.units += line.qty
                tally.gmv += line.gmv_minor
                tally.discount += given
                tally.refunds += -line.gmv_minor if kind is SaleKind.REFUND else 0
        for key, tally in carried.items():
            self.promotions.setdefault((merchant_id, hour, key), Tally()).add(tally)


def fold(sales: Iterable[Sale]) -> MerchantFold:
    folded = MerchantFold()
    for sale in sales:
        folded.add(sale)
    return folded


def _by_merchant(lines: Sequence[SaleLine]) -> dict[int, list[SaleLine]]:
    return _group(lines, lambda line: line.merchant_id)


def _group(lines: Sequence[SaleLine], key: Callable[[SaleLine], K]) -> dict[K, list[SaleLine]]:
    grouped: dict[K, list[SaleLine]] = {}
    for line in lines:
        grouped.setdefault(key(line), []).append(line)
    return grouped


def _tally(tally: Tally, lines: Sequence[SaleLine], kind: SaleKind, is_order: int) -> None:
    tally.orders += is_order
    for line in lines:
        tally.add_line(line, kind)


# --- reading the buckets back -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Period:
    """A festival phase, as insights reads it: from `starts_at` up to but not including `ends_at` (UTC)."""

    key: str
    name: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Calendar:
    """A festival's phases in time order, handed to insights by the composition root."""

    id: int
    name: str
    periods: tuple[Period, ...]

    @property
    def starts_at(self) -> datetime:
        return self.periods[0].starts_at

    @property
    def ends_at(self) -> datetime:
        return self.periods[-1].ends_at

    def period_at(self, instant: datetime) -> Period | None:
        return next((p for p in self.periods if p.starts_at <= instant < p.ends_at), None)


@dataclass(frozen=True, slots=True)
class Window:
    """The hours a report reads: the baseline days, then the festival's phases."""

    baseline_from: int
    festival_from: int
    festival_until: int  # exclusive

    def holds(self, hour: int) -> bool:
        return self.festival_from <= hour < self.festival_until


def window_of(festival: Calendar) -> Window:
    """The festival's hours, after the `BASELINE_DAYS` days before its first phase."""
    start = hour_of(festival.starts_at)
    return Window(start - BASELINE_DAYS * 24, start, -(-int(festival.ends_at.timestamp()) // HOUR_SECONDS))


def phase_of(festival: Calendar, hour: int) -> str:
    """The key of the phase an hour starts in; `baseline` in the days before; "" otherwise. A phase
    that starts off the hour (a zone 30 minutes off UTC) takes the hour it starts in."""
    at = hour_start(hour)
    found = festival.period_at(at) or festival.period_at(at + timedelta(seconds=HOUR_SECONDS - 1))
    if found is not None:
        return found.key
    start = hour_of(festival.starts_at)
    return BASELINE if start - BASELINE_DAYS * 24 <= hour < start else ""


def baseline_for(baseline_total: int, seconds: float) -> int:
    """The baseline days' daily average, scaled to a span of `seconds`, to the minor unit."""
    scaled = Decimal(baseline_total) * Decimal(seconds) / Decimal(BASELINE_DAYS * 86_400)
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def lift_pct(actual: int, baseline: int) -> Decimal | None:
    """How far `actual` is above (or below) `baseline`, in percent to one place; None without a baseline."""
    if baseline <= 0:
        return None
    return (Decimal(actual - baseline) * 100 / baseline).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


def share_pct(part: int, whole: int) -> Decimal | None:
    """`part` as a percentage of `whole`, to one place; None when `whole` is not positive."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class PhaseSales:
    key: str
    name: str
    starts_at: datetime
    ends_at: datetime
    tally: Tally
    baseline_gmv: int  # the baseline's daily average scaled to the phase's length
    lift: Decimal | None


def phase_sales(festival: Calendar, hourly: dict[int, Tally]) -> tuple[int, list[PhaseSales]]:
    """The baseline's total GMV, and each phase's sales against the baseline scaled to its length."""
    baseline = sum(t.gmv for h, t in hourly.items() if phase_of(festival, h) == BASELINE)
    found: list[PhaseSales] = []
    for phase in festival.periods:
        tally = Tally()
        for hour, hour_tally in hourly.items():
            if phase_of(festival, hour) == phase.key:
                tally.add(hour_tally)
        expected = baseline_for(baseline, (phase.ends_at - phase.starts_at).total_seconds())
        found.append(PhaseSales(phase.key, phase.name, phase.starts_at, phase.ends_at, tally, expected,
                                lift_pct(tally.gmv, expected)))
    return baseline, found


@dataclass(frozen=True, slots=True)
class PromotionEffect:
    """One promotion over the festival: the discount it gave against the sales it came with, and
    those sales a day against the merchant's baseline daily sales."""

    key: str
    tally: Tally
    days: int
    discount_pct: Decimal | None  # discount given, as a share of the sales it came with
    daily_vs_baseline_pct: Decimal | None  # its sales a day, as a share of the baseline's daily sales


def promotion_effect(key: str, tally: Tally, *, days: int, baseline_total: int) -> PromotionEffect:
    daily = tally.gmv // days if days else 0
    return PromotionEffect(key, tally, days, share_pct(tally.discount, tally.gmv),
                           share_pct(daily, baseline_for(baseline_total, 86_400)))


@dataclass(frozen=True, slots=True)
class DailyRow:
    """One line of the CSV export: a UTC day's sales within one phase (or the baseline), one shopper
    country and one category."""

    day: date
    phase: str
    country: str
    category: str
    tally: Tally


def daily_rows(festival: Calendar, hourly: Iterable[tuple[int, str, str, Tally]]) -> list[DailyRow]:
    """The (hour, country, category, sales) buckets added up by UTC day, phase, country and category;
    a day that two phases share gives a row for each."""
    grouped: dict[tuple[date, str, str, str], Tally] = {}
    for hour, country, category, tally in hourly:
        key = (day_of(hour), phase_of(festival, hour), country, category)
        grouped.setdefault(key, Tally()).add(tally)
    return [DailyRow(day, phase, country, category, tally)
            for (day, phase, country, category), tally in sorted(grouped.items(), key=lambda kv: kv[0])]
