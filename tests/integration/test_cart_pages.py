"""The pages tell what checkout does: the cart flags what checkout would refuse, the product page and
the cart price a flash sale for the shopper looking, a checkout form posted twice makes one order, and
the "≈" figures are at the rate checkout charges."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.core.actor import Role
from shopfest.demo import hot_item
from shopfest.deps import SESSION_COOKIE, Runtime
from shopfest.orders.store import orders as orders_table
from tests.integration.test_orders_api import order, shopper


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


def product_of(runtime: Runtime, sku_id: int) -> int:
    with runtime.engine.connect() as conn:
        found = conn.execute(text("SELECT product_id FROM skus WHERE id = :s"), {"s": sku_id})
        return int(found.scalar_one())


def sku_row(page: str, sku_id: int) -> str:
    found = re.search(rf'<tr data-sku="{sku_id}">(.*?)</tr>', page, re.S)
    assert found is not None, page
    return html.unescape(found.group(1))


def signed_in_tab(client: TestClient, runtime: Runtime, name: str) -> TestClient:
    """A browser of its own (cookies), signed in as a new shopper."""
    accounts.create_account_unchecked(runtime.uow(), email=f"{name}@shoppers.test",
                                      password="shop-secret-1", role=Role.SHOPPER)
    tab = TestClient(client.app)
    signed_in = tab.post("/login", data={"email": f"{name}@shoppers.test", "password": "shop-secret-1"},
                         follow_redirects=False)
    assert signed_in.status_code == 303 and tab.cookies.get(SESSION_COOKIE)
    return tab


def orders_of_everyone(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(orders_table)).scalar_one())


# --- one table of rates ----------------------------------------------------------------------

def test_the_pages_approximate_price_is_what_checkout_charges_in_that_currency(
        client: TestClient, runtime: Runtime) -> None:
    # given a phone at 5999.00 yuan, read by a viewer who chose US dollars
    phone = hot_item(runtime, stock=5)
    page = client.get(f"/products/{product_of(runtime, phone.sku_id)}?currency=USD").text
    shown = re.search(r'class="approx">≈ US\$([\d,]+\.\d{2})<', sku_row(page, phone.sku_id))
    assert shown is not None
    # when a shopper orders one and pays in US dollars
    placed = order(client, shopper(client, runtime, "ann"), [{"sku_id": phone.sku_id, "qty": 1}],
                   currency="USD")
    assert placed.status_code == 201, placed.text
    # then the order charges exactly the page's figure
    assert placed.json()["to_pay"] == {"amount": shown.group(1).replace(",", ""), "currency": "USD"}
