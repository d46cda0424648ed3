"""The seller centre's Insights page: is the festival bringing the merchant's business back? Its phases
against the merchant's own baseline, by country and category, views -> carts -> orders, each
promotion and live event, with bars drawn here as SVG (no script)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shopfest.core.actor import require_merchant_staff
from shopfest.core.money import Money
from shopfest.deps import RuntimeDep, actor_of
from shopfest.insights import merchant_service as insights
from shopfest.web.layout import current_festival, render
from shopfest.web.routing import PageRoute
from shopfest.web.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)

BAR_WIDTH = 160  # pixels of the longest bar


@dataclass(frozen=True)
class Row:
    """A table row: what it is, its figures as the viewer reads them, and its bar's length."""

    name: str
    cells: list[str]
    bar: int
    second_bar: int | None = None  # the baseline's, beside a phase's


def _bar(value: int, most: int) -> int:
    return round(BAR_WIDTH * max(value, 0) / most) if most > 0 else 0


def _pct(value: Decimal | None, viewer: Viewer, *, signed: bool = True) -> str:
    """A percentage to one place, signed where it is a change; a dash where there is nothing to compare."""
    return viewer.t("insights.pct", pct=f"{value:+}" if signed else f"{value}") if value is not None else "—"


@router.get("/seller/insights", response_class=HTMLResponse)
def insights_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    staff, merchant_id = require_merchant_staff(actor_of(request, runtime))
    viewer = viewer_of(request)
    found = insights.merchant_insights(runtime.uow(read_only=True), staff, merchant_id,
                                       directory=runtime.ports.insights())
    festival = current_festival(runtime)
    zone_name = festival.timezone if festival else "UTC"
    c = found.currency
    return render(
        request, runtime, "seller/insights.html", section="insights", found=found,
        baseline_daily=viewer.money(Money(found.baseline_daily_gmv, c)),
        total=viewer.money(Money(found.festival_total.gmv, c)), lift=_pct(found.festival_lift, viewer),
        phases=_phases(found, viewer, zone_name), countries=_breakdown(found.countries, viewer, c),
        categories=_breakdown(found.categories, viewer, c), funnel=_funnel(found, viewer),
        products=found.products, promotions=_promotions(found, viewer), live=_live(found, viewer),
        csv_url=f"/api/v1/merchants/{merchant_id}/insights.csv", bar_width=BAR_WIDTH)


def _phases(found: insights.MerchantInsights, viewer: Viewer, zone_name: str) -> list[Row]:
    most = max([p.tally.gmv for p in found.phases] + [p.baseline_gmv for p in found.phases] + [0])
    key = {p.key: p for p in found.festival.periods}
    t, c = viewer.t, found.currency
    return [Row(t(f"phase.{p.key}") if t.has(f"phase.{p.key}") else key[p.key].name,
                [viewer.span(p.starts_at, p.ends_at, zone_name), viewer.money(Money(p.tally.gmv, c)),
                 viewer.count(p.tally.orders), viewer.money(Money(p.baseline_gmv, c)), _pct(p.lift, viewer)],
                _bar(p.tally.gmv, most), _bar(p.baseline_gmv, most))
            for p in found.phases]


def _breakdown(found: Sequence[insights.Breakdown], viewer: Viewer, currency: str) -> list[Row]:
    most = max([b.tally.gmv for b in found] + [0])
    return [Row(b.name, [viewer.money(Money(b.tally.gmv, currency)), viewer.count(b.orders),
                         viewer.count(b.tally.units), viewer.money(Money(b.tally.refunds, currency))],
                _bar(b.tally.gmv, most)) for b in found]


def _promotions(found: insights.MerchantInsights, viewer: Viewer) -> list[Row]:
    most = max([p.tally.gmv for p in found.promotions] + [0])
    c = found.currency
    return [Row(p.key, [viewer.money(Money(p.tally.gmv, c)), viewer.count(p.tally.orders),
                        viewer.money(Money(p.tally.discount, c)), _pct(p.discount_pct, viewer, signed=False),
                        _pct(p.daily_vs_baseline_pct, viewer, signed=False)],
                _bar(p.tally.gmv, most)) for p in found.promotions]


def _live(found: insights.MerchantInsights, viewer: Viewer) -> list[Row]:
    most = max([e.tally.gmv for e in found.live] + [0])
    return [Row(e.title, [viewer.money(Money(e.tally.gmv, found.currency)), viewer.count(e.tally.orders)],
                _bar(e.tally.gmv, most)) for e in found.live]


def _funnel(found: insights.MerchantInsights, viewer: Viewer) -> list[Row]:
    f = found.funnel
    most = max(f.views, f.carts, f.orders)
    return [Row(viewer.t(f"insights.funnel.{step}"), [viewer.count(n)], _bar(n, most))
            for step, n in (("views", f.views), ("carts", f.carts), ("orders", f.orders))]
