"""Merchant insights use cases: is the festival bringing a merchant's business back? Each merchant's
staff read their own merchant's figures only; operators read any merchant's."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from shopfest.core.actor import Actor, require_acting_for
from shopfest.core.uow import UnitOfWork
from shopfest.insights.merchant import (
    Calendar,
    DailyRow,
    PhaseSales,
    PromotionEffect,
    Tally,
    baseline_for,
    daily_rows,
    lift_pct,
    phase_sales,
    promotion_effect,
    window_of,
)
from shopfest.insights.merchant_store import MerchantInsightsStore, SalesRow, Visits, add_visits
from shopfest.insights.model import LIVE_SOURCE

DEFAULT_CURRENCY = "CNY"  # until a merchant has a sale, whose rows carry the reporting currency
TOP_PRODUCTS = 10


@dataclass(frozen=True)
class Directory:
    """What merchant insights asks of the other contexts, plugged in by the composition root (app.py):
    insights reads their events, not their modules."""

    # A festival by id, or the current one for None. Raises NotFound.
    calendar: Callable[[UnitOfWork, int | None], Calendar]
    # A merchant's name. Raises NotFound.
    merchant_name: Callable[[UnitOfWork, int], str]
    # The existing products among some ids: (merchant, title) by product id.
    products: Callable[[UnitOfWork, Sequence[int]], dict[int, tuple[int, str]]]
    # The existing SKUs among some ids: (merchant, product) by SKU id.
    skus: Callable[[UnitOfWork, Sequence[int]], dict[int, tuple[int, int]]]
    # The titles of the live events among some ids.
    live_titles: Callable[[UnitOfWork, Sequence[int]], dict[int, str]]


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Sales of one shopper country or one category over the festival; `orders` counts each order once."""

    key: str
    name: str
    orders: int
    tally: Tally


@dataclass(frozen=True, slots=True)
class FunnelRow:
    product_id: int
    title: str
    views: int
    carts: int
    orders: int


@dataclass(frozen=True, slots=True)
class LiveSales:
    event_id: int
    title: str
    tally: Tally


@dataclass(frozen=True, slots=True)
class MerchantInsights:
    """A merchant's festival against its own baseline: the 14 days before the first phase,
    as a daily average scaled to each phase's length. Money in minor units of `currency`."""

    merchant_id: int
    merchant: str
    festival: Calendar
    currency: str
    baseline_gmv: int
    baseline_daily_gmv: int
    festival_total: Tally
    festival_orders: int
    festival_lift: Decimal | None
    phases: list[PhaseSales]
    countries: list[Breakdown]
    categories: list[Breakdown]
    funnel: FunnelRow  # the merchant's whole festival (product 0)
    products: list[FunnelRow]  # the most viewed or sold products
    promotions: list[PromotionEffect]
    live: list[LiveSales]


def merchant_insights(uow: UnitOfWork, actor: Actor | None, merchant_id: int, *, directory: Directory,
                      festival_id: int | None = None) -> MerchantInsights:
    """A merchant's insights for a festival (the current one unless named). Only the merchant's staff
    and operators may read them. Raises Unauthenticated, Forbidden, NotFound."""
    name = _readable(uow, actor, merchant_id, directory)
    festival = directory.calendar(uow, festival_id)
    window = window_of(festival)
    first_day, last_day = window.festival_from // 24, (window.festival_until - 1) // 24
    with uow:
        store = MerchantInsightsStore(uow.conn)
        rows = store.sales(merchant_id, window)
        currency = store.currency(merchant_id) or DEFAULT_CURRENCY
        promotions = store.promotions(merchant_id, window)
        sources = store.sources(merchant_id, window, prefix=LIVE_SOURCE)
        funnel = store.funnel(merchant_id, first_day=first_day, last_day=last_day)
    hourly: dict[int, Tally] = {}
    for row in rows:
        hourly.setdefault(row.hour, Tally()).add(row.tally)
    baseline, phases = phase_sales(festival, hourly)
    during = [r for r in rows if window.holds(r.hour)]
    total = _sum(r.tally for r in during)
    expected = sum(p.baseline_gmv for p in phases)
    return MerchantInsights(
        merchant_id=merchant_id, merchant=name, festival=festival, currency=currency,
        baseline_gmv=baseline, baseline_daily_gmv=baseline_for(baseline, 86_400), festival_total=total,
        festival_orders=sum(r.merchant_orders for r in during), festival_lift=lift_pct(total.gmv, expected),
        phases=phases, countries=_countries(during), categories=_categories(during),
        funnel=FunnelRow(0, "", *(sum(f[i] for f in funnel) for i in (1, 2, 3))),
        products=_products(uow, funnel, directory),
        promotions=[promotion_effect(key, tally, days=days, baseline_total=baseline)
                    for key, days, tally in promotions],
        live=_live(uow, sources, directory))


def insights_daily(uow: UnitOfWork, actor: Actor | None, merchant_id: int, *, directory: Directory,
                   festival_id: int | None = None) -> tuple[str, list[DailyRow]]:
    """The reporting currency and the daily rows of a merchant's baseline and festival, for the CSV
    export. Raises Unauthenticated, Forbidden, NotFound."""
    _readable(uow, actor, merchant_id, directory)
    festival = directory.calendar(uow, festival_id)
    with uow:
        store = MerchantInsightsStore(uow.conn)
        rows = store.sales(merchant_id, window_of(festival))
        currency = store.currency(merchant_id) or DEFAULT_CURRENCY
    return currency, daily_rows(festival, ((r.hour, r.country, r.category, r.tally) for r in rows))


def record_visits(uow: UnitOfWork, *, directory: Directory, views: dict[tuple[int, int], int],
                  carts: dict[tuple[int, int], int]) -> int:
    """Add product page views (by product and UTC day) and add-to-cart actions (by SKU and UTC day)
    to their merchants' counts, in one bulk upsert; unknown products and SKUs are dropped. How many
    (merchant, product, day) rows it added to."""
    products = directory.products(uow, sorted({p for p, _ in views})) if views else {}
    skus = directory.skus(uow, sorted({s for s, _ in carts})) if carts else {}
    counted: dict[tuple[int, int, int], list[int]] = {}
    for (product_id, day), n in views.items():
        if product_id in products:
            counted.setdefault((products[product_id][0], product_id, day), [0, 0])[0] += n
    for (sku_id, day), n in carts.items():
        if sku_id in skus:
            merchant_id, product_id = skus[sku_id]
            counted.setdefault((merchant_id, product_id, day), [0, 0])[1] += n
    with uow:
        add_visits(uow.conn, [Visits(m, p, d, v, c) for (m, p, d), (v, c) in sorted(counted.items())])
        uow.commit()
    return len(counted)


def _readable(uow: UnitOfWork, actor: Actor | None, merchant_id: int, directory: Directory) -> str:
    require_acting_for(actor, merchant_id, why="a merchant's insights are for its own staff")
    return directory.merchant_name(uow, merchant_id)


def _sum(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total


def _countries(rows: Sequence[SalesRow]) -> list[Breakdown]:
    found: dict[str, tuple[list[int], Tally]] = {}
    for row in rows:
        orders, tally = found.setdefault(row.country, ([0], Tally()))
        orders[0] += row.merchant_orders
        tally.add(row.tally)
    return sorted((Breakdown(c, c or "?", o[0], t) for c, (o, t) in found.items()),
                  key=lambda b: (-b.tally.gmv, b.key))


def _categories(rows: Sequence[SalesRow]) -> list[Breakdown]:
    found: dict[int, tuple[str, Tally]] = {}
    for row in rows:
        found.setdefault(row.category_id, (row.category, Tally()))[1].add(row.tally)
    return sorted((Breakdown(str(k), name, t.orders, t) for k, (name, t) in found.items()),
                  key=lambda b: (-b.tally.gmv, b.name))


def _products(uow: UnitOfWork, funnel: list[tuple[int, int, int, int]], directory: Directory
              ) -> list[FunnelRow]:
    top = sorted(funnel, key=lambda f: (-f[1], -f[3], f[0]))[:TOP_PRODUCTS]
    titles = directory.products(uow, [f[0] for f in top]) if top else {}
    return [FunnelRow(p, titles[p][1] if p in titles else f"#{p}", views, carts, orders)
            for p, views, carts, orders in top]


def _live(uow: UnitOfWork, sources: list[tuple[str, Tally]], directory: Directory) -> list[LiveSales]:
    events = [(int(s.removeprefix(LIVE_SOURCE)), t) for s, t in sources
              if s.removeprefix(LIVE_SOURCE).isdigit() and len(s) < 30]
    titles = directory.live_titles(uow, [e for e, _ in events]) if events else {}
    return [LiveSales(e, titles.get(e, f"{LIVE_SOURCE}{e}"), t) for e, t in events]

