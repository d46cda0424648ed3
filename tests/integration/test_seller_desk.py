"""The seller centre's festival tools and orders: each tool previews its draft on a sample cart without
saving it, puts it on once however often its form is posted, names a bad field beside it; staff ship
their parts, decide returns and export their orders as CSV; and one merchant's staff never see or
touch another merchant's things, whatever they put in the address or the form."""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.sql.schema import Table

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
from shopfest.core.actor import Actor, Role
from shopfest.core.clock import SetClock
from shopfest.core.money import Money
from shopfest.demo import seed_categories
from shopfest.festival import service as festival
from shopfest.inventory.store import flash_sales
from shopfest.orders import service as orders_service
from shopfest.orders.model import DeliveryAddress
from shopfest.orders.store import order_returns
from shopfest.payments.store import payment_refunds as refunds
from shopfest.promotions.store import coupons, presale_offers, promotions
from shopfest.runtime import Runtime
from shopfest.web.desk_views import safe_cell
from tests.conftest import at
from tests.integration.helpers import bearer, signed_in_tab, token_for, token_in


@dataclass
class Shop:
    merchant_id: int
    sku_ids: list[int]
    tab: TestClient  # a browser signed in as the shop's staff


@dataclass
class Desk:
    runtime: Runtime
    client: TestClient
    aster: Shop
    birch: Shop


def open_shop(runtime: Runtime, client: TestClient, name: str, titles: list[str]) -> Shop:
    """A merchant selling one product per title (at 100.00, 50.00, ...), and a tab of its staff."""
    categories = seed_categories(runtime)
    brands = [Brand(f"{name} Brand", BrandTier.REGULAR, True)]
    brand = catalog.import_catalog(runtime.uow(), brands=brands)[0][0]
    merchant = catalog.import_catalog(runtime.uow(), merchants=[Merchant(
        f"{name} Store", MerchantKind.ONLINE, "CNY", frozenset({brand.id or 0}))])[1][0]
    now = runtime.clock.now()
    products = catalog.import_products(runtime.uow(), [(merchant.id or 0, ProductDraft(
        title=title, brand_id=brand.id or 0, category_id=categories["electronics"].id or 0,
        fulfilment=Fulfilment.SHIPPED, debut_at=now - timedelta(days=1),
        skus=(SkuDraft("std", Money(10_000 // (n + 1), "CNY"), 20),))) for n, title in enumerate(titles)])
    email = f"staff@{name.lower()}.test"
    accounts.create_account_unchecked(runtime.uow(), email=email, password="staff-secret-1",
                                      role=Role.MERCHANT, merchant_id=merchant.id)
    return Shop(merchant.id or 0, [p.skus[0].id or 0 for p in products], signed_in(client, email))


def signed_in(client: TestClient, email: str, password: str = "staff-secret-1") -> TestClient:
    return signed_in_tab(client, email, password)


@pytest.fixture
def desk(runtime: Runtime, clock: SetClock) -> Desk:
    clock.set(at("2027-11-11T01:00:00+08:00"))  # inside the 11.11 sale
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    client = TestClient(create_app(runtime=runtime))
    aster = open_shop(runtime, client, "Aster", ["Aster phone", '=HYPERLINK("x") case'])
    return Desk(runtime, client, aster, open_shop(runtime, client, "Birch", ["Birch scarf"]))


def rows_in(runtime: Runtime, table: Table) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def post(tab: TestClient, path: str, form: dict[str, Any], *, page: str | None = None) -> Any:
    """Post a form as the browser would: with the token and hidden fields its page carries."""
    source = page or tab.get(path).text
    key = re.search(r'name="form_key" value="([^"]*)"', source)
    data = {"csrf_token": token_in(source), **({"form_key": key.group(1)} if key else {}), **form}
    return tab.post(path, data=data, follow_redirects=False)


def text_of(response: Any) -> str:
    return html.unescape(response.text)


def error_beside(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{field}">([^<]*)</p>', page)
    assert found is not None, f"no message beside {field}"
    return html.unescape(found.group(1))


WINDOW = {"starts_at": "2027-11-11T02:00", "ends_at": "2027-11-11T20:00"}  # within the 11.11 sale


# --- who may come in ---------------------------------------------------------------------------

PAGES = ["/seller/flash-sales", "/seller/flash-sales/new", "/seller/presales", "/seller/presales/new",
         "/seller/promotions", "/seller/promotions/new?kind=percent_off",
         "/seller/promotions/new?kind=multi_buy", "/seller/promotions/new?kind=store_threshold",
         "/seller/coupons", "/seller/coupons/new", "/seller/orders", "/seller/returns", "/seller/orders.csv"]


def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(desk: Desk) -> None:
    for path in PAGES:
        went = desk.client.get(path, follow_redirects=False)
        assert went.status_code == 303 and went.headers["location"].startswith("/login?next=%2Fseller"), path


def test_a_shopper_is_refused_every_page_of_the_seller_centre(desk: Desk) -> None:
    accounts.create_account_unchecked(desk.runtime.uow(), email="ann@shoppers.test", password="shop-secret-1",
                                      role=Role.SHOPPER)
    ann = signed_in(desk.client, "ann@shoppers.test", "shop-secret-1")
    for path in PAGES:
        assert ann.get(path).status_code == 403, path
    refused = ann.post("/seller/coupons/new", data={"csrf_token": token_in(ann.get("/").text), "off": "5.00"})
    assert refused.status_code == 403


def test_every_page_opens_for_the_merchants_staff_in_both_languages(desk: Desk) -> None:
    for path in PAGES[:-1]:
        for lang in ("en", "zh"):
            page = desk.aster.tab.get(path, params={"lang": lang} if "?" not in path else None)
            assert page.status_code == 200, (path, page.text[:300])
    assert "店铺优惠券" in desk.aster.tab.get("/seller/coupons/new?lang=zh").text


# --- store coupons ---------------------------------------------------------------------------

COUPON = {"off": "20.00", "min_spend": "120.00", "quantity": "100", "per_shopper_limit": "1", **WINDOW}


def test_a_coupon_previews_on_the_sample_cart_and_saves_nothing(desk: Desk) -> None:
    phone, case = desk.aster.sku_ids
    form = {**COUPON, "sample_sku_1": phone, "sample_qty_1": "1", "sample_sku_2": case, "sample_qty_2": "1",
            "action": "preview"}
    shown = post(desk.aster.tab, "/seller/coupons/new", form)
    assert shown.status_code == 200, shown.text
    page = text_of(shown)
    # 100.00 + 50.00 reaches 120.00: 20.00 off, as the engine explains it
    assert re.search(r'class="total-before">CN¥150\.00<', page)
    assert re.search(r'class="total-after">CN¥130\.00<', page)
    assert "Store coupon −CN¥20.00" in page
    assert rows_in(desk.runtime, coupons) == 0


def test_a_coupon_posted_twice_is_put_on_once_and_listed_with_its_claims(desk: Desk) -> None:
    tab = desk.aster.tab
    page = tab.get("/seller/coupons/new").text
    form = {**COUPON, "sample_sku_1": desk.aster.sku_ids[0], "sample_qty_1": "1", "action": "put_on"}
    first, second = post(tab, "/seller/coupons/new", form, page=page), post(tab, "/seller/coupons/new", form,
                                                                             page=page)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert rows_in(desk.runtime, coupons) == 1
    listed = text_of(tab.get(first.headers["location"]))
    assert "is on" in listed and "0 of 100" in listed and "CN¥20.00 off an order of CN¥120.00" in listed
    assert "0 of 100" not in text_of(desk.birch.tab.get("/seller/coupons"))  # the other shop's list


def test_a_bad_coupon_comes_back_with_the_reason_beside_each_field(desk: Desk) -> None:
    form = {**COUPON, "off": "twenty", "quantity": "0", "ends_at": "2027-11-11T01:30",
            "sample_sku_1": desk.aster.sku_ids[0], "sample_qty_1": "1", "action": "put_on"}
    refused = post(desk.aster.tab, "/seller/coupons/new", form)
    assert refused.status_code == 422
    page = text_of(refused)
    assert "amount above zero in CNY" in error_beside(page, "off")
    assert "whole number" in error_beside(page, "quantity")
    assert "after the start" in error_beside(page, "ends_at")
    assert 'role="alert"' in page
    chinese = post(desk.aster.tab, "/seller/coupons/new?lang=zh", form)
    assert "金额" in error_beside(text_of(chinese), "off")
    assert rows_in(desk.runtime, coupons) == 0


def test_a_form_without_its_key_is_shown_again_with_a_fresh_one(desk: Desk) -> None:
    form = {**COUPON, "sample_sku_1": desk.aster.sku_ids[0], "sample_qty_1": "1", "action": "put_on",
            "form_key": ""}
    stale = post(desk.aster.tab, "/seller/coupons/new", form)
    assert stale.status_code == 422 and "out of date" in text_of(stale)
    assert re.search(r'name="form_key" value="[^"]+"', stale.text)
    assert rows_in(desk.runtime, coupons) == 0


def test_a_coupon_outside_the_festival_is_refused_by_the_service(desk: Desk) -> None:
    form = {**COUPON, "starts_at": "2030-01-01T00:00", "ends_at": "2030-01-02T00:00",
            "sample_sku_1": desk.aster.sku_ids[0], "sample_qty_1": "1", "action": "put_on"}
    refused = post(desk.aster.tab, "/seller/coupons/new", form)
    assert refused.status_code == 422 and "within" in text_of(refused)
    assert rows_in(desk.runtime, coupons) == 0


# --- store promotions ------------------------------------------------------------------------

def test_spend_and_save_tiers_preview_then_go_on_once(desk: Desk) -> None:
    tab, (phone, case) = desk.aster.tab, desk.aster.sku_ids
    form = {"kind": "store_threshold", "spend_1": "100.00", "off_1": "10.00", "spend_2": "150.00",
            "off_2": "25.00", **WINDOW, "sample_sku_1": phone, "sample_qty_1": "1", "sample_sku_2": case,
            "sample_qty_2": "1"}
    page = tab.get("/seller/promotions/new?kind=store_threshold").text
    shown = text_of(post(tab, "/seller/promotions/new", {**form, "action": "preview"}, page=page))
    assert re.search(r'class="total-after">CN¥125\.00<', shown) and "Store promotion −CN¥25.00" in shown
    assert rows_in(desk.runtime, promotions) == 0
    for _ in range(2):
        assert post(tab, "/seller/promotions/new", {**form, "action": "put_on"}, page=page).status_code == 303
    assert rows_in(desk.runtime, promotions) == 1
    listed = text_of(tab.get("/seller/promotions"))
    assert "spend CN¥100.00, get CN¥10.00 off; spend CN¥150.00, get CN¥25.00 off" in listed


def test_a_percent_off_on_one_sku_and_a_multi_buy_preview(desk: Desk) -> None:
    tab, (phone, case) = desk.aster.tab, desk.aster.sku_ids
    sample = {"sample_sku_1": phone, "sample_qty_1": "2", "sample_sku_2": case, "sample_qty_2": "1"}
    percent = post(tab, "/seller/promotions/new", {"kind": "percent_off", "percent": "10", "sku_id": phone,
                                                   **WINDOW, **sample, "action": "preview"})
    assert re.search(r'class="total-after">CN¥230\.00<', text_of(percent))  # 200 - 20, + 50
    multi = post(tab, "/seller/promotions/new", {"kind": "multi_buy", "percent": "20", "min_qty": "2",
                                                 "sku_id": "", **WINDOW, **sample, "action": "preview"})
    assert re.search(r'class="total-after">CN¥210\.00<', text_of(multi))  # two phones 20 % off
    short = post(tab, "/seller/promotions/new", {"kind": "multi_buy", "percent": "20", "min_qty": "3",
                                                 "sku_id": "", **WINDOW, **sample, "action": "preview"})
    assert "takes nothing off" in text_of(short)


def test_a_rule_the_engine_refuses_is_named_beside_its_field(desk: Desk) -> None:
    form = {"kind": "percent_off", "percent": "150", "sku_id": "", **WINDOW,
            "sample_sku_1": desk.aster.sku_ids[0], "sample_qty_1": "1", "action": "preview"}
    refused = post(desk.aster.tab, "/seller/promotions/new", form)
    assert refused.status_code == 422
    assert "between 0 and 100" in error_beside(text_of(refused), "percent")
    outside = post(desk.aster.tab, "/seller/promotions/new", {
        **form, "percent": "10", "starts_at": "2027-11-12T02:00", "ends_at": "2027-11-12T05:00",
        "action": "put_on"})
    assert outside.status_code == 422 and "one sale" in text_of(outside)
    assert rows_in(desk.runtime, promotions) == 0


# --- flash sales -----------------------------------------------------------------------------

FLASH = {"price": "60.00", "quantity": "50", "per_shopper_limit": "1", "min_account_age_hours": "24",
         "requires_verified": "1", **WINDOW}


def test_a_flash_sale_previews_its_price_then_is_scheduled_once(desk: Desk) -> None:
    tab, phone = desk.aster.tab, desk.aster.sku_ids[0]
    form = {**FLASH, "sku_id": phone, "sample_sku_1": phone, "sample_qty_1": "2"}
    page = tab.get("/seller/flash-sales/new").text
    shown = text_of(post(tab, "/seller/flash-sales/new", {**form, "action": "preview"}, page=page))
    # one unit at the flash price (the limit), the other at the list price
    assert re.search(r'class="total-before">CN¥200\.00<', shown)
    assert re.search(r'class="total-after">CN¥160\.00<', shown)
    assert rows_in(desk.runtime, flash_sales) == 0
    for _ in range(2):
        put_on = post(tab, "/seller/flash-sales/new", {**form, "action": "put_on"}, page=page)
        assert put_on.status_code == 303
    assert rows_in(desk.runtime, flash_sales) == 1
    listed = text_of(tab.get("/seller/flash-sales"))
    assert "verified accounts only" in listed and "accounts at least 24 h old" in listed
    assert "Aster phone" not in text_of(desk.birch.tab.get("/seller/flash-sales"))


def test_a_flash_sale_with_bad_fields_or_overlapping_another_is_refused(desk: Desk) -> None:
    tab, phone = desk.aster.tab, desk.aster.sku_ids[0]
    bad = post(tab, "/seller/flash-sales/new", {**FLASH, "sku_id": phone, "price": "-1",
                                                "per_shopper_limit": "abc", "sample_sku_1": phone,
                                                "sample_qty_1": "1", "action": "preview"})
    assert bad.status_code == 422
    assert error_beside(text_of(bad), "price") and error_beside(text_of(bad), "per_shopper_limit")
    form = {**FLASH, "sku_id": phone, "sample_sku_1": phone, "sample_qty_1": "1", "action": "put_on"}
    assert post(tab, "/seller/flash-sales/new", form).status_code == 303
    again = post(tab, "/seller/flash-sales/new", form)  # a fresh form: another sale, the same hours
    assert again.status_code == 409
    assert "already has a flash sale" in error_beside(text_of(again), "starts_at")
    assert rows_in(desk.runtime, flash_sales) == 1


# --- pre-sales -------------------------------------------------------------------------------

def test_a_presale_states_the_windows_previews_the_balance_and_is_offered(desk: Desk) -> None:
    tab, phone = desk.aster.tab, desk.aster.sku_ids[0]
    page = tab.get("/seller/presales/new").text
    assert "Deposits" in page and "forfeited" in page
    form = {"sku_id": phone, "deposit": "10.00", "worth": "30.00"}
    shown = text_of(post(tab, "/seller/presales/new", {**form, "action": "preview"}, page=page))
    assert re.search(r'class="balance">CN¥70\.00<', shown)
    assert rows_in(desk.runtime, presale_offers) == 0
    assert post(tab, "/seller/presales/new", {**form, "action": "put_on"}, page=page).status_code == 303
    assert rows_in(desk.runtime, presale_offers) == 1
    assert "CN¥70.00" in text_of(tab.get("/seller/presales"))
    too_much = post(tab, "/seller/presales/new", {**form, "deposit": "150.00", "action": "preview"})
    assert too_much.status_code == 422 and "below the price" in text_of(too_much)


# --- one merchant's staff touch only their merchant ------------------------------------------

def test_another_merchants_sku_in_any_tool_form_is_not_found(desk: Desk) -> None:
    tab, theirs, mine = desk.aster.tab, desk.birch.sku_ids[0], desk.aster.sku_ids[0]
    sample = {"sample_sku_1": mine, "sample_qty_1": "1"}
    tries = [
        ("/seller/flash-sales/new", {**FLASH, "sku_id": theirs, **sample}),
        ("/seller/flash-sales/new", {**FLASH, "sku_id": mine, "sample_sku_1": theirs, "sample_qty_1": "1"}),
        ("/seller/presales/new", {"sku_id": theirs, "deposit": "5.00"}),
        ("/seller/promotions/new", {"kind": "percent_off", "percent": "10", "sku_id": theirs, **WINDOW,
                                    **sample}),
        ("/seller/promotions/new", {"kind": "percent_off", "percent": "10", "sku_id": "", **WINDOW,
                                    "sample_sku_1": theirs, "sample_qty_1": "1"}),
        ("/seller/coupons/new", {**COUPON, "sample_sku_1": theirs, "sample_qty_1": "1"}),
    ]
    for path, form in tries:
        for action in ("preview", "put_on"):
            assert post(tab, path, {**form, "action": action}).status_code == 404, (path, form, action)
    assert rows_in(desk.runtime, flash_sales) + rows_in(desk.runtime, presale_offers) == 0
    assert rows_in(desk.runtime, promotions) + rows_in(desk.runtime, coupons) == 0
    assert tab.get("/seller/promotions/new?kind=cross_store").status_code == 404


# --- orders ----------------------------------------------------------------------------------

def paid_order(desk: Desk, name: str, lines: list[tuple[int, int]]) -> tuple[int, dict[str, str]]:
    accounts.create_account_unchecked(desk.runtime.uow(), email=f"{name}@shoppers.test",
                                      password="shop-secret-1", role=Role.SHOPPER)
    who = bearer(token_for(desk.client, f"{name}@shoppers.test", "shop-secret-1"))
    placed = desk.client.post("/api/v1/orders", headers=who,
                              json={"lines": [{"sku_id": s, "qty": q} for s, q in lines]})
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    paid = desk.client.post(f"/api/v1/orders/{order_id}/pay", json={"method": "sandbox_ok"}, headers=who)
    assert paid.json()["status"] == "paid", paid.text
    return order_id, who


def part_ids(desk: Desk, order_id: int) -> dict[int, int]:
    """The order's part id of each merchant."""
    with desk.runtime.engine.connect() as conn:
        from shopfest.orders.store import merchant_orders
        rows = conn.execute(select(merchant_orders.c.merchant_id, merchant_orders.c.id)
                            .where(merchant_orders.c.order_id == order_id))
        return {r[0]: r[1] for r in rows}


def test_staff_list_filter_and_ship_their_own_part_only(desk: Desk) -> None:
    order_id, _ = paid_order(desk, "ann", [(desk.aster.sku_ids[0], 2), (desk.birch.sku_ids[0], 1)])
    parts = part_ids(desk, order_id)
    mine, theirs = parts[desk.aster.merchant_id], parts[desk.birch.merchant_id]
    tab = desk.aster.tab
    listed = text_of(tab.get("/seller/orders"))
    assert f'data-part="{mine}"' in listed and f'data-part="{theirs}"' not in listed
    assert f'data-part="{mine}"' not in tab.get("/seller/orders?status=fulfilled").text
    assert f'data-part="{mine}"' in tab.get("/seller/orders?status=paid").text
    assert tab.get(f"/seller/orders/{theirs}").status_code == 404
    assert tab.get("/seller/orders/abc").status_code == 404
    path = f"/seller/orders/{mine}"
    detail = text_of(tab.get(path))
    assert "Aster phone" in detail and "Birch scarf" not in detail
    blank = post(tab, f"{path}/ship", {"carrier": "", "tracking": "SF1"}, page=detail)
    assert blank.status_code == 422 and error_beside(text_of(blank), "carrier")
    assert post(tab, f"/seller/orders/{theirs}/ship", {"carrier": "SF", "tracking": "1"},
                page=detail).status_code == 404
    shipped = post(tab, f"{path}/ship", {"carrier": "SF Express", "tracking": "SF1001"}, page=detail)
    assert shipped.status_code == 303
    assert "SF Express" in text_of(tab.get(shipped.headers["location"]))
    again = post(tab, f"{path}/ship", {"carrier": "SF Express", "tracking": "SF1002"}, page=detail)
    assert again.status_code == 409
    assert "awaiting_payment" not in desk.birch.tab.get(f"/seller/orders/{theirs}").text


def test_the_part_page_says_where_the_part_goes_and_only_to_its_merchant(desk: Desk) -> None:
    # given a shopper's order of both merchants' goods, to an address chosen at checkout
    accounts.create_account_unchecked(desk.runtime.uow(), email="cy@shoppers.test", password="shop-secret-1",
                                      role=Role.SHOPPER)
    cy = bearer(token_for(desk.client, "cy@shoppers.test", "shop-secret-1"))
    me = desk.client.get("/api/v1/me", headers=cy).json()
    home = orders_service.add_delivery_address(
        desk.runtime.uow(), Actor(me["id"], Role.SHOPPER),
        DeliveryAddress(name="Cy Lin", phone="+8613800138000", country="CN", city="Hangzhou",
                        line1="1 West Lake Road"))
    placed = desk.client.post("/api/v1/orders", headers=cy, json={
        "lines": [{"sku_id": desk.aster.sku_ids[0], "qty": 1}, {"sku_id": desk.birch.sku_ids[0], "qty": 1}],
        "address_id": home.id})
    assert placed.status_code == 201, placed.text
    parts = part_ids(desk, placed.json()["id"])

    # then each merchant's part page shows the address; an order without one says so
    page = text_of(desk.aster.tab.get(f"/seller/orders/{parts[desk.aster.merchant_id]}"))
    assert "Cy Lin, +8613800138000" in page and "1 West Lake Road" in page and "Hangzhou" in page
    theirs = text_of(desk.birch.tab.get(f"/seller/orders/{parts[desk.birch.merchant_id]}"))
    assert "1 West Lake Road" in theirs
    assert desk.birch.tab.get(f"/seller/orders/{parts[desk.aster.merchant_id]}").status_code == 404
    order_id, _ = paid_order(desk, "dee", [(desk.aster.sku_ids[0], 1)])
    unaddressed = part_ids(desk, order_id)[desk.aster.merchant_id]
    assert "No delivery address" in text_of(desk.aster.tab.get(f"/seller/orders/{unaddressed}"))


def test_a_return_is_shown_with_its_reason_and_refunded_once(desk: Desk) -> None:
    phone = desk.aster.sku_ids[0]
    order_id, ann = paid_order(desk, "ann", [(phone, 2)])
    part = part_ids(desk, order_id)[desk.aster.merchant_id]
    staff = bearer(token_for(desk.client, "staff@aster.test", "staff-secret-1"))
    desk.client.post(f"/api/v1/orders/{order_id}/shipments", json={"carrier": "SF", "tracking": "1"},
                     headers=staff)
    asked = desk.client.post(f"/api/v1/orders/{order_id}/returns", headers=ann,
                             json={"lines": [{"sku_id": phone, "qty": 1}], "reason": "Cracked screen"})
    assert asked.status_code == 201, asked.text
    return_id = asked.json()["children"][0]["returns"][0]["id"]
    page = text_of(desk.aster.tab.get("/seller/returns"))
    assert "Cracked screen" in page and "CN¥100.00" in page
    assert "Cracked screen" not in desk.birch.tab.get("/seller/returns").text
    assert post(desk.birch.tab, f"/seller/returns/{part}/{return_id}/accept", {"goods_back": "1"},
                page=desk.birch.tab.get("/seller/returns").text).status_code == 404
    assert post(desk.birch.tab, f"/seller/returns/{part}/{return_id}/reject", {"reason": "No"},
                page=desk.birch.tab.get("/seller/returns").text).status_code == 404
    assert post(desk.aster.tab, f"/seller/returns/{part}/999999/accept", {"goods_back": "1"},
                page=page).status_code == 404
    unknown_decision = post(desk.aster.tab, f"/seller/returns/{part}/{return_id}/refund", {}, page=page)
    assert unknown_decision.status_code == 404
    no_reason = post(desk.aster.tab, f"/seller/returns/{part}/{return_id}/reject", {"reason": " "}, page=page)
    assert no_reason.status_code == 422
    key = re.search(rf'name="form_key" value="([^"]*-a{return_id})"', page)
    assert key is not None
    for _ in range(2):
        accepted = post(desk.aster.tab, f"/seller/returns/{part}/{return_id}/accept",
                        {"goods_back": "1", "form_key": key.group(1)}, page=page)
        assert accepted.status_code == 303
    assert rows_in(desk.runtime, refunds) == 1
    assert "Cracked screen" not in desk.aster.tab.get("/seller/returns").text
    with desk.runtime.engine.connect() as conn:
        assert conn.execute(select(order_returns.c.status)).scalar_one() == "accepted"


def test_the_csv_export_streams_the_merchants_parts_with_formulas_neutralised(desk: Desk) -> None:
    phone, case = desk.aster.sku_ids
    order_id, _ = paid_order(desk, "ann", [(case, 1), (phone, 1), (desk.birch.sku_ids[0], 1)])
    exported = desk.aster.tab.get("/seller/orders.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert 'filename="shopfest-orders-merchant-' in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:4] == ["part_id", "order_id", "placed_at", "status"]
    assert len(rows) == 2 and rows[1][1] == str(order_id) and rows[1][3] == "paid"
    assert "Birch" not in exported.text
    assert "Aster phone x 1" in rows[1][5]
    # the product titled =HYPERLINK(...) opens the lines cell: a spreadsheet reads it as text
    assert rows[1][5].startswith("'=HYPERLINK")
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1"])
def test_a_cell_that_a_spreadsheet_would_run_is_neutralised(cell: str) -> None:
    assert safe_cell(cell.replace("\\t", "\t")).startswith("'")
    assert safe_cell("Aster phone") == "Aster phone"


def test_staff_refund_what_is_left_of_their_part_once(desk: Desk) -> None:
    order_id, _ = paid_order(desk, "ann", [(desk.aster.sku_ids[0], 1), (desk.birch.sku_ids[0], 1)])
    parts = part_ids(desk, order_id)
    mine, theirs = parts[desk.aster.merchant_id], parts[desk.birch.merchant_id]
    path = f"/seller/orders/{mine}"
    page = desk.aster.tab.get(path).text
    assert post(desk.aster.tab, f"/seller/orders/{theirs}/refund", {"back_on_shelf": "1"},
                page=page).status_code == 404
    for _ in range(2):
        refunded = post(desk.aster.tab, f"{path}/refund", {"back_on_shelf": "1"}, page=page)
        assert refunded.status_code == 303
    assert rows_in(desk.runtime, refunds) == 1
    assert "Refunded" in text_of(desk.aster.tab.get(refunded.headers["location"]))
    assert 'data-status="paid"' in desk.birch.tab.get(f"/seller/orders/{theirs}").text


def test_the_parts_come_newest_first_a_page_at_a_time(desk: Desk) -> None:
    shoppers = []
    for name in ("ann", "bob", "cy"):
        accounts.create_account_unchecked(desk.runtime.uow(), email=f"{name}@shoppers.test",
                                          password="shop-secret-1", role=Role.SHOPPER)
        shoppers.append(bearer(token_for(desk.client, f"{name}@shoppers.test", "shop-secret-1")))
    for n in range(21):
        placed = desk.client.post("/api/v1/orders", headers=shoppers[n % 3],
                                  json={"lines": [{"sku_id": desk.aster.sku_ids[n % 2], "qty": 1}]})
        assert placed.status_code == 201, placed.text
    first = desk.aster.tab.get("/seller/orders").text
    shown = [int(p) for p in re.findall(r'data-part="(\d+)"', first)]
    assert len(shown) == 20 and shown == sorted(shown, reverse=True)
    older = re.search(r'href="([^"]+)" rel="next"', first)
    assert older is not None
    second = desk.aster.tab.get(html.unescape(older.group(1))).text
    rest = [int(p) for p in re.findall(r'data-part="(\d+)"', second)]
    assert len(rest) == 1 and rest[0] < shown[-1]
    assert 'rel="next"' not in desk.aster.tab.get("/seller/orders?status=paid").text
