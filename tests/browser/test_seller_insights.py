"""The seller centre's Insights page in Chromium: the demo merchant, with sales before and during the
festival, reads its phases against its baseline, and the page passes axe."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from shopfest.core.clock import parse_instant
from shopfest.insights.merchant_store import MerchantProjection
from shopfest.insights.model import Sale, SaleKind, SaleLine
from tests.browser.harness import MERCHANT, Shopper

pytestmark = pytest.mark.browser
ELEVEN = parse_instant("2027-11-11T00:00:10+08:00")
BEFORE = parse_instant("2027-10-15T12:00:00+08:00")  # in the 14 days before the festival (Oct 21)


def sales_of_the_demo_merchant(database_url: str) -> None:
    """A fortnight's baseline of 1,400.00; 200.00 on 11.11: a live room's, with a coupon, less a refund."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        first = text("SELECT id FROM products WHERE merchant_id = 1 ORDER BY id LIMIT 1")
        product_id = int(conn.execute(first).scalar_one())

        def line(qty: int, gmv: int, promotions: tuple[tuple[str, int], ...] = ()) -> SaleLine:
            return SaleLine(1, product_id, None, "Demo", 1, "Electronics", False, False, qty, gmv,
                            sum(d for _, d in promotions), promotions)

        MerchantProjection().project(conn, [
            Sale(9_000_001, SaleKind.PAID, BEFORE, "CNY", None, 1, "CN", None, (line(14, 140_000),)),
            Sale(9_000_002, SaleKind.PAID, ELEVEN, "CNY", None, 1, "FR", "live:1",
                 (line(3, 30_000, (("coupon:1", 3_000),)),)),
            Sale(9_000_003, SaleKind.REFUND, ELEVEN + timedelta(seconds=5), "CNY", None, 1, "FR", None,
                 (line(-1, -10_000),)),
        ])
    engine.dispose()


def test_a_merchant_reads_its_festival_against_its_baseline(shopper: Shopper, demo_database: str) -> None:
    sales_of_the_demo_merchant(demo_database)
    shopper.sign_in(MERCHANT, then="/seller/insights")
    page = shopper.page
    expect(page.get_by_role("heading", level=1)).to_contain_text("Insights")
    eleven = page.get_by_role("table", name="Each phase's sales against your baseline for that long")
    # a one-day phase with 200.00 against a baseline of 100.00 a day, or more: other browser tests on
    # this demo database may pay for merchant 1's goods on 11.11 too, and the stream counts them
    at_least_double = re.compile(r"\+(?:[1-9]\d{2,}|[1-9](?:,\d{3})+)\.\d\s%")
    expect(eleven.get_by_role("row", name="11.11")).to_contain_text(at_least_double)
    expect(page.get_by_role("table", name="Festival sales by the shopper's country")).to_contain_text("FR")
    expect(page.get_by_role("link", name="Download the daily figures (CSV)")).to_be_visible()
    shopper.look("seller-insights")
