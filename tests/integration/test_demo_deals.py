"""The demo shows the deals: a flash sale on at 11.11's midnight and one starting then, in the flash zone,
and a pre-sale SKU whose deposit the product page asks for in a deposit window."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shopfest import demo
from shopfest.app import create_app
from shopfest.catalog.service import skus_for_sale
from shopfest.core.clock import SetClock, parse_instant
from shopfest.inventory import service as inventory
from shopfest.promotions import service as promotions
from shopfest.runtime import Runtime

EVE = "2027-11-10T23:59:50+08:00"  # the browser tests' demo clock


@pytest.fixture
def seeded(runtime: Runtime, clock: SetClock) -> Runtime:
    clock.set(parse_instant(EVE))
    demo.seed(runtime, brands=30, products=200)
    return runtime


def test_the_flash_zone_shows_a_sale_on_now_and_one_at_midnight(seeded: Runtime) -> None:
    zone = inventory.flash_zone(seeded.uow(read_only=True), shopper_id=None)
    now = seeded.clock.now()
    assert len(zone.sales) == 2
    on, coming = zone.sales
    assert on.is_on(now) and not coming.is_on(now)
    assert coming.starts_at == parse_instant("2027-11-11T00:00:00+08:00")
    assert all(sale.price.minor * 2 <= zone.skus[sale.sku_id].price.minor for sale in zone.sales)
    page = TestClient(create_app(runtime=seeded)).get("/deals/flash")
    assert page.status_code == 200
    assert page.text.count("data-flash-sale=") == 2 and "On now" in page.text


def test_a_pre_sale_asks_for_its_deposit_in_the_deposit_window(seeded: Runtime, clock: SetClock) -> None:
    clock.set(parse_instant("2027-11-05T20:00:00+08:00"))
    flash = inventory.flash_zone(seeded.uow(read_only=True), shopper_id=None)
    zone_skus = {sale.sku_id for sale in flash.sales}
    with seeded.uow(read_only=True) as uow:
        terms = promotions.deposit_terms(uow, list(range(1, 2000)))  # every SKU of the demo
    assert len(terms) == 1
    ((sku_id, deposit),) = terms.items()
    assert sku_id not in zone_skus and deposit.deposit.minor > 0
    with seeded.uow(read_only=True) as uow:
        product_id = skus_for_sale(uow, [sku_id])[sku_id].product_id
    page = TestClient(create_app(runtime=seeded)).get(f"/products/{product_id}")
    assert page.status_code == 200 and 'class="pay-later"' in page.text
