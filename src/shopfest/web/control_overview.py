"""The control room's overview in rows: paid sales in all and per phase, the flash sales on now, the
stock left on the SKUs that sold most. Read from the services, which let operators only."""

from __future__ import annotations

from dataclasses import dataclass

from shopfest.catalog import service as catalog
from shopfest.core.actor import Actor
from shopfest.core.money import Money
from shopfest.festival.model import Festival
from shopfest.inventory import service as inventory
from shopfest.inventory.model import running_low
from shopfest.orders import service as orders
from shopfest.runtime import Runtime
from shopfest.web.layout import phase_name
from shopfest.web.prices import HOME_CURRENCY
from shopfest.web.viewer import Viewer

HOTTEST = 15
FLASH_SHOWN = 20


@dataclass(frozen=True)
class SalesRow:
    when: str
    parts: str
    gmv: str


def sales_rows(runtime: Runtime, actor: Actor, festival: Festival | None, viewer: Viewer) -> list[SalesRow]:
    """Paid parts and GMV, the whole festival first and then phase by phase, in each currency sold in
    (the home currency first)."""
    phases = list(festival.phases) if festival else []
    sales = orders.festival_sales(runtime.uow(read_only=True), actor,
                                  spans=[(p.starts_at, p.ends_at) for p in phases])
    spans = [(viewer.t("control.overview.all"), sales.overall)]
    spans += [(phase_name(p, viewer.t), figures) for p, figures in zip(phases, sales.per_span, strict=True)]
    currencies = sorted(sales.overall, key=lambda c: (c != HOME_CURRENCY, c)) or [HOME_CURRENCY]
    rows = []
    for when, figures in spans:
        for currency in currencies:
            figure = figures.get(currency)
            rows.append(SalesRow(when, viewer.count(figure.parts if figure else 0),
                                 viewer.money(figure.sold if figure else Money(0, currency))))
    return rows


@dataclass(frozen=True)
class FlashRow:
    sku_id: int
    title: str
    price: str
    taken: str
    ends: str


@dataclass(frozen=True)
class StockRow:
    sku_id: int
    title: str
    sold: str
    available: str
    low: bool


def flash_rows(runtime: Runtime, actor: Actor, viewer: Viewer, zone_name: str) -> list[FlashRow]:
    sales = inventory.flash_sales_running(runtime.uow(read_only=True), actor, limit=FLASH_SHOWN)
    named = catalog.skus_named(runtime.uow(read_only=True), [s.sku_id for s in sales])
    return [FlashRow(s.sku_id, named[s.sku_id].title if s.sku_id in named else "", viewer.money(s.price),
                     f"{viewer.count(s.taken)} / {viewer.count(s.quantity)}",
                     viewer.when(s.ends_at, zone_name))
            for s in sales]


def stock_rows(runtime: Runtime, actor: Actor, viewer: Viewer) -> list[StockRow]:
    levels = inventory.hottest_skus(runtime.uow(read_only=True), actor, limit=HOTTEST)
    named = catalog.skus_named(runtime.uow(read_only=True), [level.sku_id for level in levels])
    return [StockRow(level.sku_id, named[level.sku_id].title if level.sku_id in named else "",
                     viewer.count(level.sold), viewer.count(level.available), running_low(level))
            for level in levels]
