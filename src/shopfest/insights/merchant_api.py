"""HTTP routes of merchant insights: the report as JSON, and its daily rows as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from shopfest.core.money import Money
from shopfest.deps import AccountFirstRoute, ReadUowDep, RuntimeDep, SignedInActor
from shopfest.insights import merchant_service as service
from shopfest.insights.merchant import DailyRow, PhaseSales, PromotionEffect, Tally
from shopfest.problems import problem_responses

router = APIRouter(prefix="/api/v1", tags=["insights"], responses=problem_responses(401, 403, 404, 422),
                   route_class=AccountFirstRoute)

MerchantId = Annotated[int, Path(ge=1, le=2**62)]
FestivalId = Annotated[int | None, Query(ge=1, le=2**62, description="a festival's id; else the current one")]

CSV_HEADER = ("day", "phase", "country", "category", "orders", "units", "gmv", "refunds", "discount",
              "currency")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class SalesJson(BaseModel):
    orders: int
    units: int
    gmv: str = Field(description="net of refunds, a decimal amount in the reporting currency")
    refunds: str
    discount: str


def _money(minor: int, currency: str) -> str:
    return Money(minor, currency).amount


def _sales(tally: Tally, currency: str, *, orders: int | None = None) -> SalesJson:
    return SalesJson(orders=tally.orders if orders is None else orders, units=tally.units,
                     gmv=_money(tally.gmv, currency), refunds=_money(tally.refunds, currency),
                     discount=_money(tally.discount, currency))


class PhaseJson(BaseModel):
    key: str
    name: str
    starts_at: datetime
    ends_at: datetime
    sales: SalesJson
    baseline_gmv: str = Field(description="the baseline's daily average GMV scaled to the phase's length")
    lift_pct: Decimal | None = Field(description="GMV above (below) the baseline, in percent; null: none")


class BreakdownJson(BaseModel):
    key: str
    name: str
    sales: SalesJson


class FunnelJson(BaseModel):
    product_id: int | None
    title: str | None
    views: int
    carts: int
    orders: int


class PromotionJson(BaseModel):
    key: str
    sales: SalesJson = Field(description="the sales of the lines that carried the promotion")
    days: int
    discount_pct: Decimal | None = Field(description="its discount as a share of those sales, in percent")
    daily_vs_baseline_pct: Decimal | None = Field(
        description="those sales a day, as a share of the merchant's baseline daily GMV, in percent")


class LiveJson(BaseModel):
    event_id: int
    title: str
    sales: SalesJson


class InsightsJson(BaseModel):
    merchant_id: int
    merchant: str
    festival_id: int
    festival: str
    currency: str
    baseline_days: int
    baseline_gmv: str
    baseline_daily_gmv: str
    festival_sales: SalesJson
    festival_lift_pct: Decimal | None
    phases: list[PhaseJson]
    countries: list[BreakdownJson]
    categories: list[BreakdownJson]
    funnel: FunnelJson
    products: list[FunnelJson]
    promotions: list[PromotionJson]
    live: list[LiveJson]


def _phase(phase: PhaseSales, currency: str) -> PhaseJson:
    return PhaseJson(key=phase.key, name=phase.name, starts_at=phase.starts_at, ends_at=phase.ends_at,
                     sales=_sales(phase.tally, currency), baseline_gmv=_money(phase.baseline_gmv, currency),
                     lift_pct=phase.lift)


def _promotion(effect: PromotionEffect, currency: str) -> PromotionJson:
    return PromotionJson(key=effect.key, sales=_sales(effect.tally, currency), days=effect.days,
                         discount_pct=effect.discount_pct, daily_vs_baseline_pct=effect.daily_vs_baseline_pct)


def insights_json(found: service.MerchantInsights) -> InsightsJson:
    c = found.currency
    return InsightsJson(
        merchant_id=found.merchant_id, merchant=found.merchant, festival_id=found.festival.id or 0,
        festival=found.festival.name, currency=c, baseline_days=14,
        baseline_gmv=_money(found.baseline_gmv, c), baseline_daily_gmv=_money(found.baseline_daily_gmv, c),
        festival_sales=_sales(found.festival_total, c, orders=found.festival_orders),
        festival_lift_pct=found.festival_lift, phases=[_phase(p, c) for p in found.phases],
        countries=[BreakdownJson(key=b.key, name=b.name, sales=_sales(b.tally, c, orders=b.orders))
                   for b in found.countries],
        categories=[BreakdownJson(key=b.key, name=b.name, sales=_sales(b.tally, c, orders=b.orders))
                    for b in found.categories],
        funnel=FunnelJson(product_id=None, title=None, views=found.funnel.views, carts=found.funnel.carts,
                          orders=found.funnel.orders),
        products=[FunnelJson(product_id=p.product_id, title=p.title, views=p.views, carts=p.carts,
                             orders=p.orders) for p in found.products],
        promotions=[_promotion(e, c) for e in found.promotions],
        live=[LiveJson(event_id=e.event_id, title=e.title, sales=_sales(e.tally, c)) for e in found.live])


def safe_cell(value: object) -> str:
    """The cell as text, a leading formula character neutralised with a quote."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_row(row: DailyRow, currency: str) -> list[str]:
    """A daily row; the text cells made safe. Amounts are left as numbers: a refund's is negative."""
    t = row.tally
    return [row.day.isoformat(), safe_cell(row.phase), safe_cell(row.country), safe_cell(row.category),
            str(t.orders), str(t.units), _money(t.gmv, currency), _money(t.refunds, currency),
            _money(t.discount, currency), currency]


def insights_csv(currency: str, rows: list[DailyRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_row(row, currency) for row in rows)
    return out.getvalue()


def csv_response(merchant_id: int, currency: str, rows: list[DailyRow]) -> Response:
    filename = f"shopfest-insights-merchant-{merchant_id}-{date.today().isoformat()}.csv"
    return Response(insights_csv(currency, rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "the daily rows as CSV (`format=csv`)"}}


@router.get("/merchants/{merchant_id}/insights", response_model=InsightsJson, responses=CSV_RESPONSE)
def merchant_insights(merchant_id: MerchantId, actor: SignedInActor, uow: ReadUowDep, runtime: RuntimeDep,
                      festival: FestivalId = None,
                      format: Annotated[Literal["json", "csv"], Query()] = "json") -> InsightsJson | Response:
    """A merchant's festival against its own baseline (the 14 days before the first phase), by phase,
    shopper country and category, views -> carts -> orders, each promotion and live event. For the
    merchant's staff and operators; `format=csv` gives the daily rows."""
    if format == "csv":
        return merchant_insights_csv(merchant_id, actor, uow, runtime, festival)
    found = service.merchant_insights(uow, actor, merchant_id, directory=runtime.ports.insights(),
                                      festival_id=festival)
    return insights_json(found)


@router.get("/merchants/{merchant_id}/insights.csv", response_class=Response, responses=CSV_RESPONSE)
def merchant_insights_csv(merchant_id: MerchantId, actor: SignedInActor, uow: ReadUowDep, runtime: RuntimeDep,
                          festival: FestivalId = None) -> Response:
    """The daily rows of a merchant's baseline and festival (day, phase, country, category, orders,
    units, gmv, refunds, discount), money as decimal amounts of the reporting currency."""
    currency, rows = service.insights_daily(uow, actor, merchant_id, directory=runtime.ports.insights(),
                                            festival_id=festival)
    return csv_response(merchant_id, currency, rows)
