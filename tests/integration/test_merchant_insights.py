"""Merchant insights on a real database: the projection's upserts add up across batches and refunds
subtract; product views and cart adds counted in memory reach the funnel when flushed; and a merchant
reads its own figures only, as JSON and as CSV, while an operator reads any merchant's."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.catalog import service as catalog
from shopfest.catalog.model import (
    Brand,
    BrandTier,
    Fulfilment,
    Merchant,
    MerchantKind,
    ProductDraft,
    SkuDraft,
)
from shopfest.core.actor import Role
from shopfest.core.clock import SetClock
from shopfest.core.money import Money
from shopfest.demo import seed_categories
from shopfest.festival import service as festival
from shopfest.insights.merchant_store import MerchantProjection, merchant_visits
from shopfest.insights.model import Sale, SaleKind, SaleLine
from shopfest.runtime import Runtime
from tests.conftest import at
from tests.integration.helpers import bearer, operator_token, signed_in_tab, token_in

ELEVEN = at("2027-11-11T01:00:00+08:00")  # inside the 11.11 sale
BEFORE = at("2027-10-15T12:00:00+08:00")  # in the 14 days before the festival's first phase (Oct 21)


@dataclass
class Shop:
    merchant_id: int
    product_id: int
    sku_id: int
    tab: TestClient  # a browser signed in as the shop's staff


@dataclass
class Market:
    runtime: Runtime
    client: TestClient
    aster: Shop
    birch: Shop


def open_shop(runtime: Runtime, client: TestClient, name: str) -> Shop:
    categories = seed_categories(runtime)
    brands = [Brand(f"{name} Brand", BrandTier.REGULAR, True)]
    brand = catalog.import_catalog(runtime.uow(), brands=brands)[0][0]
    merchant = catalog.import_catalog(runtime.uow(), merchants=[Merchant(
        f"{name} Store", MerchantKind.ONLINE, "CNY", frozenset({brand.id or 0}))])[1][0]
    product = catalog.import_products(runtime.uow(), [(merchant.id or 0, ProductDraft(
        title=f"{name} phone", brand_id=brand.id or 0, category_id=categories["electronics"].id or 0,
        fulfilment=Fulfilment.SHIPPED, debut_at=ELEVEN - timedelta(days=30),
        skus=(SkuDraft("std", Money(10_000, "CNY"), 20),)))])[0]
    email = f"staff@{name.lower()}.test"
    accounts.create_account_unchecked(runtime.uow(), email=email, password="staff-secret-1",
                                      role=Role.MERCHANT, merchant_id=merchant.id)
    return Shop(merchant.id or 0, product.id or 0, product.skus[0].id or 0, signed_in(client, email))


def signed_in(client: TestClient, email: str, password: str = "staff-secret-1") -> TestClient:
    # a browser's user agent: the storefront counts no bot's views
    return signed_in_tab(client, email, password,
                         headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130"})


@pytest.fixture
def market(runtime: Runtime, clock: SetClock) -> Market:
    clock.set(ELEVEN)
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    client = TestClient(create_app(runtime=runtime))
    return Market(runtime, client, open_shop(runtime, client, "Aster"), open_shop(runtime, client, "Birch"))


def line(shop: Shop, *, qty: int, gmv: int, category: str = "Electronics", category_id: int = 1,
         promotions: tuple[tuple[str, int], ...] = ()) -> SaleLine:
    return SaleLine(shop.merchant_id, shop.product_id, 1, "Brand", category_id, category, False, False, qty,
                    gmv, sum(d for _, d in promotions), promotions)


def sale(event_id: int, at_: datetime, *lines: SaleLine, kind: SaleKind = SaleKind.PAID,
         country: str = "FR", source: str | None = None) -> Sale:
    return Sale(event_id, kind, at_, "CNY", event_id, 5, country, source, lines)


def project(runtime: Runtime, sales: list[Sale]) -> None:
    with runtime.engine.begin() as conn:
        MerchantProjection().project(conn, sales)


def test_sales_add_up_across_batches_and_each_merchant_reads_only_its_own(market: Market) -> None:
    aster, birch, runtime = market.aster, market.birch, market.runtime
    # given a baseline fortnight that sold 1,400.00 (100.00 a day), one line of a formula-like category
    project(runtime, [sale(1, BEFORE, line(aster, qty=14, gmv=140_000, category="=SUM(A1)", category_id=9))])
    # and, in two batches on 11.11, two orders from France (one from a live room) and a refund
    project(runtime, [sale(2, ELEVEN, line(aster, qty=2, gmv=20_000, promotions=(("coupon:7", 2_000),)),
                           source="live:12"),
                      sale(3, ELEVEN, line(birch, qty=1, gmv=99_900))])
    project(runtime, [sale(4, ELEVEN + timedelta(minutes=5), line(aster, qty=1, gmv=10_000)),
                      sale(5, ELEVEN + timedelta(minutes=9), line(aster, qty=-1, gmv=-10_000),
                           kind=SaleKind.REFUND)])

    found = aster.tab.get(f"/api/v1/merchants/{aster.merchant_id}/insights")
    assert found.status_code == 200, found.text
    body = found.json()
    eleven = next(p for p in body["phases"] if p["key"] == "wave2-sale")
    assert eleven["sales"] == {"orders": 2, "units": 2, "gmv": "200.00", "refunds": "100.00",
                               "discount": "20.00"}
    assert (body["baseline_gmv"], body["baseline_daily_gmv"]) == ("1400.00", "100.00")
    assert (eleven["baseline_gmv"], eleven["lift_pct"]) == ("100.00", "100.0")  # a one-day phase
    countries = [(c["key"], c["sales"]["orders"], c["sales"]["gmv"]) for c in body["countries"]]
    assert countries == [("FR", 2, "200.00")]
    assert [(p["key"], p["sales"]["gmv"], p["discount_pct"]) for p in body["promotions"]] == [
        ("coupon:7", "200.00", "10.0")]
    assert [(e["event_id"], e["sales"]["gmv"]) for e in body["live"]] == [(12, "200.00")]

    # the CSV: a header, the baseline and festival days, money as decimals, formulas defused
    exported = aster.tab.get(f"/api/v1/merchants/{aster.merchant_id}/insights.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["day", "phase", "country", "category", "orders", "units", "gmv", "refunds", "discount",
                       "currency"]
    assert rows[1:] == [
        ["2027-10-15", "baseline", "FR", "'=SUM(A1)", "1", "14", "1400.00", "0.00", "0.00", "CNY"],
        ["2027-11-10", "wave2-sale", "FR", "Electronics", "2", "2", "200.00", "100.00", "20.00", "CNY"]]
    assert aster.tab.get(f"/api/v1/merchants/{aster.merchant_id}/insights?format=csv").text == exported.text

    # the seller centre's page shows the same figures, with the baseline's rule said
    page = aster.tab.get("/seller/insights")
    assert page.status_code == 200 and "14 days before" in page.text and "+100.0\u00a0%" in page.text
    assert "Birch" not in page.text and 'href="/seller/insights" aria-current="page"' in page.text

    # another merchant's figures are refused, as JSON and as CSV; a shopper and a stranger get none
    for path in (f"/api/v1/merchants/{birch.merchant_id}/insights",
                 f"/api/v1/merchants/{birch.merchant_id}/insights.csv"):
        refused = aster.tab.get(path)
        assert refused.status_code == 403 and "99" not in refused.text, path
        assert refused.headers["content-type"] == "application/problem+json"
    accounts.create_account_unchecked(runtime.uow(), email="ann@shoppers.test", password="shop-secret-1",
                                      role=Role.SHOPPER)
    ann = signed_in(market.client, "ann@shoppers.test", "shop-secret-1")
    assert ann.get(f"/api/v1/merchants/{aster.merchant_id}/insights").status_code == 403
    assert market.client.get(f"/api/v1/merchants/{aster.merchant_id}/insights").status_code == 401

    # an operator reads any merchant's; bad input is a problem, never a 500
    ops = bearer(operator_token(market.client, runtime))
    theirs = market.client.get(f"/api/v1/merchants/{birch.merchant_id}/insights", headers=ops).json()
    assert theirs["festival_sales"]["gmv"] == "999.00"
    for path, status in ((f"/api/v1/merchants/{birch.merchant_id}/insights?festival=999", 404),
                         ("/api/v1/merchants/99999/insights", 404),
                         (f"/api/v1/merchants/{birch.merchant_id}/insights?festival=x", 422),
                         (f"/api/v1/merchants/{birch.merchant_id}/insights?format=xml", 422),
                         ("/api/v1/merchants/99999999999999999999/insights", 422)):
        answer = market.client.get(path, headers=ops)
        assert answer.status_code == status, path
        assert answer.headers["content-type"] == "application/problem+json", path


def test_views_and_cart_adds_reach_the_funnel_when_flushed(market: Market) -> None:
    aster, runtime = market.aster, market.runtime
    shopper = TestClient(market.client.app, headers={"User-Agent": "Mozilla/5.0 Firefox/131"})
    # given two shoppers' views, a HEAD and a bot's view that do not count, and one add to cart
    page = shopper.get(f"/products/{aster.product_id}")
    assert page.status_code == 200
    assert shopper.get(f"/products/{aster.product_id}").status_code == 200
    shopper.head(f"/products/{aster.product_id}")
    bot = TestClient(market.client.app, headers={"User-Agent": "Googlebot/2.1"})
    assert bot.get(f"/products/{aster.product_id}").status_code == 200
    form = {"sku_id": aster.sku_id, "qty": 1, "csrf_token": token_in(page.text)}
    added = shopper.post("/cart/add", data=form, follow_redirects=False)
    assert added.status_code == 303
    # and one order of the product through the projection
    project(runtime, [sale(1, ELEVEN, line(aster, qty=1, gmv=10_000))])

    # when the counter flushes (every few seconds, and at shutdown)
    visits = runtime.visits
    assert visits is not None
    assert visits.flush() == 2  # one product's views, one SKU's cart adds
    assert visits.flush() == 0

    # then the merchant's funnel reads views -> carts -> orders
    body = aster.tab.get(f"/api/v1/merchants/{aster.merchant_id}/insights").json()
    assert body["funnel"] == {"product_id": None, "title": None, "views": 2, "carts": 1, "orders": 1}
    assert [(p["product_id"], p["views"], p["carts"], p["orders"]) for p in body["products"]] == [
        (aster.product_id, 2, 1, 1)]

    # and a server shutting down writes what it counted since its last flush
    with TestClient(market.client.app, headers={"User-Agent": "Mozilla/5.0 Safari/17"}) as serving:
        assert serving.get(f"/products/{aster.product_id}").status_code == 200
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.sum(merchant_visits.c.views))).scalar_one() == 3
