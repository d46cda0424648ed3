"""The control room for operators: every page answers an operator, sends the signed-out to sign in and
refuses shoppers and merchants' staff; its forms put messages beside the field at fault and change
nothing then; a campaign's preview stores nothing, and its form posted twice puts one campaign on."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.catalog import service as catalog
from shopfest.catalog.model import BrandTier
from shopfest.core.actor import MACHINE, Role
from shopfest.core.clock import SetClock
from shopfest.demo import hot_item
from shopfest.deps import SESSION_COOKIE
from shopfest.festival import service as festival
from shopfest.promotions.store import coupons as coupons_table
from shopfest.promotions.store import promotions as promotions_table
from shopfest.runtime import Runtime
from shopfest.web.csrf import CSRF_COOKIE
from tests.conftest import at
from tests.integration.helpers import token_in
from tests.integration.test_orders_api import order, shopper

PAGES = ("/control", "/control/calendar", "/control/brands", "/control/merchants", "/control/categories",
         "/control/campaigns")
IN_THE_SALE = "2027-11-11T10:00:00+08:00"


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


def tab_of(client: TestClient, runtime: Runtime, email: str, role: Role, merchant_id: int | None = None
           ) -> TestClient:
    """A browser of its own, signed in to a new account of `role`."""
    accounts.create_account_unchecked(runtime.uow(), email=email, password="control-secret-1", role=role,
                                      merchant_id=merchant_id)
    tab = TestClient(client.app)
    signed_in = tab.post("/login", data={"email": email, "password": "control-secret-1",
                                         "csrf_token": token_in(tab.get("/login").text)},
                      follow_redirects=False)
    assert signed_in.status_code == 303 and tab.cookies.get(SESSION_COOKIE)
    return tab


@pytest.fixture
def ops(client: TestClient, runtime: Runtime) -> TestClient:
    return tab_of(client, runtime, "ops@control.test", Role.OPERATOR)


@pytest.fixture
def in_the_sale(runtime: Runtime, clock: SetClock) -> Runtime:
    clock.set(at(IN_THE_SALE))
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    return runtime


def post(tab: TestClient, path: str, data: dict[str, object]) -> Response:
    """The form posted as this tab's browser would, with its form token."""
    return tab.post(path, data={**data, "csrf_token": tab.cookies.get(CSRF_COOKIE)}, follow_redirects=False)


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def beside(page: str, field: str) -> str:
    """The message filed beside a field."""
    found = re.search(rf'<p class="field-error" id="e-{field}">(.*?)</p>', page, re.S)
    assert found is not None, f"no message beside {field}"
    return html.unescape(found.group(1))


def count(runtime: Runtime, table: object) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


# --- who may enter ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", PAGES)
def test_the_signed_out_are_sent_to_sign_in_and_back(client: TestClient, path: str) -> None:
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=" + path.replace("/", "%2F")


def test_shoppers_and_merchants_staff_get_the_403_page(client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    shopper_tab = tab_of(client, runtime, "ann@control.test", Role.SHOPPER)
    staff_tab = tab_of(client, runtime, "staff@control.test", Role.MERCHANT, phone.merchant_id)
    for n, tab in enumerate((shopper_tab, staff_tab)):
        for path in (*PAGES, f"/control/merchants/{phone.merchant_id}"):
            answer = tab.get(path)
            assert answer.status_code == 403, path
            assert "Not allowed" in answer.text
        brand = catalog.create_brand(runtime.uow(), MACHINE, name=f"Maison {n}", tier=BrandTier.LUXURY)
        refused = post(tab, f"/control/brands/{brand.id}/approve", {})
        assert refused.status_code == 403
        assert not catalog.get_brand(runtime.uow(), brand.id or 0).approved
        refused = post(tab, "/control/brands", {"name": "Sneaky", "tier": "regular"})
        assert refused.status_code == 403


# --- the overview ----------------------------------------------------------------------------

def test_the_overview_shows_paid_sales_flash_sales_running_and_the_hottest_stock(
        client: TestClient, runtime: Runtime, in_the_sale: Runtime, ops: TestClient) -> None:
    # given a phone in a flash sale, four of its five units bought and paid
    phone = hot_item(runtime, stock=5, flash_quantity=5, per_shopper_limit=4)
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 4}]).json()
    paid = client.post(f"/api/v1/orders/{placed['id']}/pay", json={"method": "sandbox_ok"}, headers=ann)
    assert paid.status_code == 200, paid.text

    page = ops.get("/control").text

    # then one paid part of 4 × 2999.50, in the whole festival and in the 11.11 sale; a fifth is left
    sales = re.findall(r'<td class="parts">(.*?)</td><td class="gmv">(.*?)</td>', page)
    assert sales[0] == ("1", "CN¥11,998.00")
    assert ("1", "CN¥11,998.00") in sales[1:] and ("0", "CN¥0.00") in sales[1:]
    flash = re.search(rf'<tr data-sku="{phone.sku_id}"><td>{phone.sku_id}</td>.*?</tr>', page)
    assert flash is not None and "4 / 5" in flash.group(0)
    hottest = re.search(rf'<table class="hottest">.*?<tr data-sku="{phone.sku_id}">(.*?)</tr>', page, re.S)
    assert hottest is not None
    assert '<td class="sold">4</td><td class="available">1</td>' in hottest.group(1)
    assert "Running low" in hottest.group(1)


def test_the_overview_speaks_chinese(client: TestClient, runtime: Runtime, ops: TestClient) -> None:
    page = ops.get("/control?lang=zh").text
    assert "狂欢节总览" in page and "尚无售出。" in page


# --- the calendar ----------------------------------------------------------------------------

def test_an_operator_schedules_11_11_and_sees_its_phases_in_its_zone_and_utc(
        runtime: Runtime, clock: SetClock, ops: TestClient) -> None:
    clock.set(at("2027-11-01T12:00:00+08:00"))
    assert "No festival is scheduled yet." in ops.get("/control/calendar").text

    scheduled = post(ops, "/control/calendar", {"year": "2027", "zone": "Asia/Shanghai"})

    assert scheduled.status_code == 303
    page = ops.get("/control/calendar").text
    row = re.search(r'<tr data-phase="wave1-sale" class="phase-on">(.*?)</tr>', page, re.S)
    assert row is not None, page
    cells = text_of(row.group(1))
    assert "Nov 1, 2027, 00:00 – Nov 4, 2027, 00:00 (Asia/Shanghai time)" in cells
    assert "Oct 31, 2027, 16:00 – Nov 3, 2027, 16:00 (UTC time)" in cells
    assert "On now" in cells
    deposits = re.search(r'<tr data-phase="wave2-deposit" class="phase-coming">(.*?)</tr>', page, re.S)
    assert deposits is not None and "Deposit window" in text_of(deposits.group(1))


def test_a_bad_year_or_zone_or_a_year_taken_is_said_beside_its_field(
        runtime: Runtime, in_the_sale: Runtime, ops: TestClient) -> None:
    bad_year = post(ops, "/control/calendar", {"year": "twenty", "zone": "Asia/Shanghai"})
    assert bad_year.status_code == 422
    assert beside(bad_year.text, "year") == "Enter a year from 2000 to 2100."
    bad_zone = post(ops, "/control/calendar", {"year": "2028", "zone": "Mars/Olympus"})
    assert beside(bad_zone.text, "zone").startswith("Unknown time zone")
    taken = post(ops, "/control/calendar?lang=zh", {"year": "2027", "zone": "Asia/Shanghai"})
    assert beside(taken.text, "year") == "该年的狂欢节已安排。"


# --- brands ----------------------------------------------------------------------------------

def test_a_luxury_brand_waits_until_an_operator_approves_it(runtime: Runtime, ops: TestClient) -> None:
    created = post(ops, "/control/brands", {"name": "Maison Aurore", "name_zh": "奥罗尔之家",
                                            "tier": "luxury"})
    assert created.status_code == 303
    page = ops.get(created.headers["location"]).text
    assert "Maison Aurore is added and waits for approval below." in page
    waiting = re.search(r'<ul class="waiting-list">(.*?)</ul>', page, re.S)
    assert waiting is not None and "Maison Aurore" in waiting.group(1)
    brand_id = int(re.findall(r'<li data-brand="(\d+)">', waiting.group(1))[0])

    approved = post(ops, f"/control/brands/{brand_id}/approve", {})

    assert approved.status_code == 303
    assert catalog.get_brand(runtime.uow(), brand_id).approved
    after = ops.get(approved.headers["location"]).text
    assert "Maison Aurore is approved." in after and "No luxury brand is waiting." in after


def test_approving_a_brand_nobody_has_is_the_404_page(ops: TestClient) -> None:
    assert post(ops, "/control/brands/999999/approve", {}).status_code == 404


def test_brands_are_found_by_name_and_tier_and_paged(runtime: Runtime, ops: TestClient) -> None:
    for n in range(22):
        catalog.create_brand(runtime.uow(), MACHINE, name=f"Brand {n:02d}", tier=BrandTier.REGULAR)
    catalog.create_brand(runtime.uow(), MACHINE, name="Velvet Crown", tier=BrandTier.LUXURY)

    first = ops.get("/control/brands").text
    assert len(re.findall(r'<tr data-brand=', first)) == 20
    more = re.search(r'<a href="/control/brands(\?[^"]+)" rel="next">', first)
    assert more is not None
    second = ops.get("/control/brands" + html.unescape(more.group(1))).text
    assert len(re.findall(r'<tr data-brand=', second)) == 3
    found = ops.get("/control/brands?q=velvet&tier=luxury").text
    assert re.findall(r'<tr data-brand="\d+"><td>\d+</td><td>(.*?)</td>', found) == ["Velvet Crown"]
    bad = ops.get("/control/brands?tier=gold")
    assert bad.status_code == 422 and beside(bad.text, "tier_filter") == "Choose a tier from the list."


def test_a_brand_form_refused_keeps_what_was_typed_and_adds_nothing(runtime: Runtime,
                                                                     ops: TestClient) -> None:
    catalog.create_brand(runtime.uow(), MACHINE, name="Taken", tier=BrandTier.REGULAR)
    before = len(catalog.find_brands(runtime.uow(), MACHINE, limit=100))
    taken = post(ops, "/control/brands", {"name": "taken", "tier": "regular"})
    assert taken.status_code == 409
    assert beside(taken.text, "name") == "A brand of that name exists already."
    no_tier = post(ops, "/control/brands?lang=zh", {"name": "Fresh", "tier": "gold"})
    assert no_tier.status_code == 422
    assert beside(no_tier.text, "tier") == "请从列表中选择级别。"
    assert 'value="Fresh"' in no_tier.text
    assert len(catalog.find_brands(runtime.uow(), MACHINE, limit=100)) == before


# --- merchants and staff ---------------------------------------------------------------------

def test_an_operator_admits_a_merchant_and_gives_it_a_staff_account(
        client: TestClient, runtime: Runtime, ops: TestClient) -> None:
    brand = catalog.create_brand(runtime.uow(), MACHINE, name="Lotus Tea", tier=BrandTier.REGULAR)
    created = post(ops, "/control/merchants", {"name": "Lotus Tea House", "kind": "online",
                                               "settlement_currency": "cny", "brand_ids": f"{brand.id}",
                                               "merchant_key": "lotus-1"})
    assert created.status_code == 303
    merchant_path = created.headers["location"].split("?")[0]
    page = ops.get(created.headers["location"]).text
    assert "The merchant is admitted." in page and "Lotus Tea (" in page and "No staff account yet." in page

    added = post(ops, merchant_path + "/staff", {"email": "tea@lotus.test", "password": "lotus-leaf-secret"})

    assert added.status_code == 303
    assert "tea@lotus.test" in ops.get(merchant_path).text
    staff = TestClient(client.app)
    signed_in = staff.post("/login", data={"email": "tea@lotus.test", "password": "lotus-leaf-secret",
                                           "csrf_token": token_in(staff.get("/login").text)},
                           follow_redirects=False)
    assert signed_in.status_code == 303
    assert "/control/merchants" in ops.get("/control/merchants").text


def test_a_merchant_form_posted_twice_admits_one_merchant(runtime: Runtime, ops: TestClient) -> None:
    page = ops.get("/control/merchants").text
    key = re.findall(r'name="merchant_key" value="([^"]+)"', page)[0]
    form = {"name": "Twice Told Books", "kind": "online", "settlement_currency": "CNY", "brand_ids": "",
            "merchant_key": key}

    first, second = post(ops, "/control/merchants", form), post(ops, "/control/merchants", form)

    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert [m.name for m in catalog.list_merchants(runtime.uow(), MACHINE, limit=10)] == ["Twice Told Books"]
    keyless = post(ops, "/control/merchants", {**form, "merchant_key": ""})
    assert keyless.status_code == 422 and "This form has expired" in keyless.text
    assert len(catalog.list_merchants(runtime.uow(), MACHINE, limit=10)) == 1


def test_merchant_and_staff_forms_say_what_is_wrong_beside_the_field(runtime: Runtime,
                                                                      ops: TestClient) -> None:
    unknown = post(ops, "/control/merchants", {"name": "Ghost", "kind": "online",
                                               "settlement_currency": "CNY", "brand_ids": "999998, 999999",
                                               "merchant_key": "ghost-1"})
    assert unknown.status_code == 422
    assert beside(unknown.text, "brand_ids") == "No brand has the IDs 999998, 999999."
    money = post(ops, "/control/merchants", {"name": "Ghost", "kind": "online", "settlement_currency": "XYZ",
                                             "brand_ids": "", "merchant_key": "ghost-2"})
    assert beside(money.text, "settlement_currency").startswith("Write a currency code")
    kind = post(ops, "/control/merchants", {"name": "Ghost", "kind": "castle", "brand_ids": "one"})
    assert beside(kind.text, "kind") == "Choose a kind from the list."
    assert beside(kind.text, "brand_ids").startswith("Brand IDs are numbers")
    assert catalog.list_merchants(runtime.uow(), MACHINE, limit=10) == []

    phone = hot_item(runtime, stock=1)
    staff_path = f"/control/merchants/{phone.merchant_id}/staff"
    short = post(ops, staff_path, {"email": "a@b.test", "password": "short"})
    assert beside(short.text, "password") == "A password is 10 to 256 characters."
    common = post(ops, staff_path, {"email": "a@b.test", "password": "1234567890"})
    assert beside(common.text, "password").startswith("That password is one of")
    email = post(ops, staff_path, {"email": "not-an-address", "password": "lotus-leaf-secret"})
    assert beside(email.text, "email").startswith("Write an email address")
    taken = post(ops, staff_path, {"email": "ops@control.test", "password": "lotus-leaf-secret"})
    assert taken.status_code == 409
    assert accounts.staff_of(runtime.uow(), MACHINE, phone.merchant_id, limit=10) == []
    assert ops.get("/control/merchants/999999").status_code == 404
    assert post(ops, "/control/merchants/999999/staff", {"email": "x@y.test", "password": "lotus-leaf-secret"}
                ).status_code == 404


# --- categories ------------------------------------------------------------------------------

def test_an_operator_grows_the_category_tree(runtime: Runtime, ops: TestClient) -> None:
    top = post(ops, "/control/categories", {"slug": "garden", "name": "Garden", "name_zh": "园艺"})
    assert top.status_code == 303
    under = post(ops, "/control/categories", {"slug": "garden-tools", "name": "Garden tools",
                                              "parent": "garden"})
    assert under.status_code == 303
    page = ops.get("/control/categories?lang=zh").text
    ops.get("/control/categories?lang=en")
    assert re.search(r'<li data-slug="garden" style="margin-left: 0.0rem">园艺', page)
    assert re.search(r'<li data-slug="garden-tools" style="margin-left: 1.5rem">Garden tools', page)

    bad = post(ops, "/control/categories", {"slug": "Not A Slug", "name": "X"})
    assert beside(bad.text, "slug").startswith("Write lower-case letters")
    twice = post(ops, "/control/categories", {"slug": "garden", "name": "Garden"})
    assert twice.status_code == 409
    orphan = post(ops, "/control/categories", {"slug": "lost", "name": "Lost", "parent": "nowhere"})
    assert beside(orphan.text, "parent") == "Choose a parent from the list."
    nameless = post(ops, "/control/categories", {"slug": "nameless", "name": " "})
    assert beside(nameless.text, "name") == "Please fill this in."
    assert {c.slug for c in catalog.all_categories(runtime.uow())} == {"garden", "garden-tools"}


# --- platform campaigns ----------------------------------------------------------------------

def cross_store_form(page: str, *, every: str = "100.00", off: str = "30.00",
                     **changes: object) -> dict[str, object]:
    key = re.search(r'name="campaign_key" value="([^"]+)"', page)
    assert key is not None
    skus = re.findall(r'name="sample_sku" value="(\d*)"', page)
    qtys = re.findall(r'name="sample_qty" value="(\d*)"', page)
    return {"campaign_key": key.group(1), "currency": "CNY", "every": every, "off": off,
            "starts_at": "2027-11-11T11:00", "ends_at": "2027-11-11T20:00", "sample_sku": skus,
            "sample_qty": qtys, "action": "preview", **changes}


def test_a_cross_store_preview_shows_the_discount_across_stores_and_stores_nothing(
        runtime: Runtime, in_the_sale: Runtime, ops: TestClient) -> None:
    # given two merchants' goods: the form's sample holds both
    phone = hot_item(runtime, stock=10, price="250.00", name="Dawn")
    kettle = hot_item(runtime, stock=10, price="120.00", name="Dusk")
    page = ops.get("/control/campaigns").text
    assert re.findall(r'name="sample_sku" value="(\d+)"', page)[:2] == [str(kettle.sku_id), str(phone.sku_id)]

    # when the operator previews "every 100.00, 30.00 off" on 2 kettles and a phone (490.00)
    data = cross_store_form(page, sample_sku=[str(kettle.sku_id), str(phone.sku_id), "", ""],
                            sample_qty=["2", "1", "", ""])
    preview = ops.post("/control/campaigns/cross_store", data={**data, "csrf_token": token_in(page)})

    # then 4 × 30.00 comes off, spread over both stores' lines, and nothing is saved
    assert preview.status_code == 200, text_of(preview.text)
    shown = text_of(preview.text)
    assert "Every CN¥100.00 spent across stores takes CN¥30.00 off." in shown
    assert re.search(r'<dd class="total-before">CN¥490.00</dd>', preview.text)
    assert re.search(r'<dd class="total-after">CN¥370.00</dd>', preview.text)
    assert re.search(r'<dd class="saved">−CN¥120.00</dd>', preview.text)
    assert 'class="this-offer">Across stores −CN¥120.00 (from the store; this offer)' in preview.text
    afters = re.findall(r'<td class="after">(.*?)</td>', preview.text)
    assert len(afters) == 2 and "CN¥240.00" not in afters  # both lines carry part of it
    assert count(runtime, promotions_table) == 0


def test_putting_a_campaign_on_twice_by_a_double_post_makes_one(
        runtime: Runtime, in_the_sale: Runtime, ops: TestClient) -> None:
    hot_item(runtime, stock=10, price="250.00", name="Dawn")
    page = ops.get("/control/campaigns").text
    data = {**cross_store_form(page, action="put_on"), "csrf_token": token_in(page)}

    first = ops.post("/control/campaigns/cross_store", data=data, follow_redirects=False)
    second = ops.post("/control/campaigns/cross_store", data=data, follow_redirects=False)

    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert count(runtime, promotions_table) == 1
    listed = ops.get(first.headers["location"]).text
    assert "cross-store promotion" in listed and " is put on." in listed
    assert "Every CN¥100.00 spent across stores takes CN¥30.00 off." in text_of(listed)
    # the same key with other values is a stale form, not a second promotion
    changed = ops.post("/control/campaigns/cross_store", data={**data, "off": "35.00"})
    assert changed.status_code == 422 and "This form has expired" in changed.text
    assert count(runtime, promotions_table) == 1


def test_a_campaign_form_refused_says_why_beside_each_field(
        runtime: Runtime, in_the_sale: Runtime, ops: TestClient) -> None:
    hot_item(runtime, stock=10, price="250.00", name="Dawn")
    page = ops.get("/control/campaigns").text
    token = token_in(page)
    bad = ops.post("/control/campaigns/cross_store", data={
        **cross_store_form(page, every="lots", off="-1", ends_at="2027-11-11T09:00",
                           sample_sku=["abc", "", "", ""], sample_qty=["1", "", "", ""], action="put_on"),
        "csrf_token": token})
    assert bad.status_code == 422
    assert beside(bad.text, "every") == "Write an amount like 300.00."
    assert beside(bad.text, "off") == "The amount must be more than zero."
    assert beside(bad.text, "ends_at") == "It must end after it starts."
    assert beside(bad.text, "sample") == "Each line is a SKU ID and a quantity from 1 to 999."
    unknown = ops.post("/control/campaigns/cross_store", data={
        **cross_store_form(page, sample_sku=["999999", "", "", ""], sample_qty=["1", "", "", ""]),
        "csrf_token": token})
    assert unknown.status_code == 422 and beside(unknown.text, "sample")
    outside = ops.post("/control/campaigns/cross_store?lang=zh", data={
        **cross_store_form(page, starts_at="2027-11-05T10:00", ends_at="2027-11-05T12:00", action="put_on"),
        "csrf_token": token})
    assert outside.status_code == 422
    assert beside(outside.text, "starts_at").startswith("满减活动须在狂欢节的某一开售期内")
    ops.get("/control/campaigns?lang=en")
    assert count(runtime, promotions_table) == 0
    assert ops.get("/control/campaigns?kind=gold").status_code == 404


def test_a_platform_coupon_and_a_red_envelope_are_previewed_then_listed_with_claims(
        client: TestClient, runtime: Runtime, in_the_sale: Runtime, ops: TestClient) -> None:
    phone = hot_item(runtime, stock=10, price="250.00", name="Dawn")
    page = ops.get("/control/campaigns?kind=platform_coupon").text
    assert 'name="min_spend"' in page and 'name="quantity"' in page
    coupon = {"campaign_key": re.findall(r'name="campaign_key" value="([^"]+)"', page)[0], "currency": "CNY",
              "min_spend": "200.00", "off": "25.00", "quantity": "100", "per_shopper_limit": "1",
              "starts_at": "2027-11-11T09:00", "ends_at": "2027-11-11T22:00",
              "sample_sku": [str(phone.sku_id)], "sample_qty": ["1"], "csrf_token": token_in(page)}
    preview = ops.post("/control/campaigns/platform_coupon", data={**coupon, "action": "preview"})
    assert preview.status_code == 200, text_of(preview.text)
    assert "CN¥25.00 off a cart of CN¥200.00 or more, paid by the platform." in text_of(preview.text)
    assert re.search(r'<dd class="saved">−CN¥25.00</dd>', preview.text)
    assert count(runtime, coupons_table) == 0

    put_on = ops.post("/control/campaigns/platform_coupon", data={**coupon, "action": "put_on"},
                      follow_redirects=False)
    assert put_on.status_code == 303
    coupon_id = int(put_on.headers["location"].rsplit("=", 1)[1])
    ann = shopper(client, runtime, "ann")
    assert client.post(f"/api/v1/coupons/{coupon_id}/claim", headers=ann).status_code == 201
    listed = ops.get("/control/campaigns").text
    claimed = re.search(rf'<tr data-coupon="{coupon_id}">.*?<td class="claimed">(.*?)</td>', listed, re.S)
    assert claimed is not None and claimed.group(1) == "1 of 100"

    envelope_page = ops.get("/control/campaigns?kind=red_envelope&lang=zh").text
    envelope_key = re.findall(r'name="campaign_key" value="([^"]+)"', envelope_page)[0]
    envelope = {**coupon, "campaign_key": envelope_key,
                "off": "8.00", "per_shopper_limit": "200", "action": "preview"}
    refused = ops.post("/control/campaigns/red_envelope?lang=zh", data=envelope)
    assert refused.status_code == 422
    assert beside(refused.text, "per_shopper_limit") == "每人限领不能超过总数。"
    shown = ops.post("/control/campaigns/red_envelope?lang=en", data={**envelope, "per_shopper_limit": "1"})
    assert "CN¥8.00 off any cart, paid by the platform." in text_of(shown.text)
    assert count(runtime, coupons_table) == 1
