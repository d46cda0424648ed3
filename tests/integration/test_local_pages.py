"""Local services as pages, without a browser: near me answers a city or a place with distances and a
map, and a bad question with a readable page; the wallet shows a bought voucher's signed QR code; the
shop console redeems it once, says where and when on the second try and lets only its own merchant's
staff in; the counter's pay page takes the discount and pays; settlement reads as a table and a CSV.
(SQLite only: nothing here depends on the database's behaviour.)"""

from __future__ import annotations

import html
import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

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
from shopfest.core.clock import SetClock, parse_instant
from shopfest.core.money import Money
from shopfest.demo import HotItem, seed_categories
from shopfest.deps import SESSION_COOKIE
from shopfest.festival import service as festival
from shopfest.local import service as local
from shopfest.local.model import Point, Shop, ShopKind
from shopfest.runtime import Runtime
from tests.integration.helpers import form_token, token_in
from tests.integration.test_cart_pages import signed_in_tab
from tests.integration.test_wallet_pages import buy

HANGZHOU = 1808926
OPERATOR = Actor(1, Role.OPERATOR)


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: str) -> str:
    path = tmp_path / "shop.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


def local_merchant(runtime: Runtime, name: str) -> tuple[int, int, Shop]:
    """A local merchant with a noodle shop by West Lake and a cash voucher (pay 50, get 60): the
    merchant's id, the voucher's SKU id and the shop."""
    categories = seed_categories(runtime)
    brand = catalog.import_catalog(runtime.uow(),
                                   brands=[Brand(f"{name} Brand", BrandTier.REGULAR, True)])[0][0]
    merchant = catalog.import_catalog(runtime.uow(), merchants=[Merchant(
        f"{name} Noodles", MerchantKind.LOCAL, "CNY", frozenset({brand.id or 0}))])[1][0]
    merchant_id = merchant.id or 0
    product = catalog.import_products(runtime.uow(), [(merchant_id, ProductDraft(
        title=f"{name} cash voucher 60", brand_id=brand.id or 0, category_id=categories["groceries"].id or 0,
        fulfilment=Fulfilment.SERVICE_VOUCHER, debut_at=runtime.clock.now() - timedelta(days=1),
        skus=(SkuDraft("cash-60", Money.parse("50.00", "CNY"), 100, "60 yuan"),)))])[0]
    sku_id = product.skus[0].id or 0
    staff = Actor(0, Role.MERCHANT, merchant_id)
    shop = local.open_shop(runtime.uow(), staff, merchant_id=merchant_id, name=f"{name} Noodles by the Lake",
                           name_zh="湖畔面馆", kind="restaurant", city_id=HANGZHOU, lat=30.2595, lng=120.1530)
    local.add_deal(runtime.uow(), staff, sku_id=sku_id, kind="cash", valid_days=30,
                   face_value=Money.parse("60.00", "CNY"), festival=True)
    return merchant_id, sku_id, shop


def staff_tab(client: TestClient, runtime: Runtime, name: str, merchant_id: int) -> TestClient:
    accounts.create_account_unchecked(runtime.uow(), email=f"{name}@staff.test", password="staff-secret-1",
                                      role=Role.MERCHANT, merchant_id=merchant_id)
    tab = TestClient(client.app)
    sign_in(tab, f"{name}@staff.test", "staff-secret-1")
    return tab


def sign_in(tab: TestClient, email: str, password: str) -> None:
    signed = tab.post("/login", data={"email": email, "password": password,
                                      "csrf_token": token_in(tab.get("/login").text)}, follow_redirects=False)
    assert signed.status_code == 303 and tab.cookies.get(SESSION_COOKIE)


def test_near_me_finds_the_shop_by_city_and_place_and_answers_bad_questions_with_a_page(
        client: TestClient, runtime: Runtime) -> None:
    _, _, shop = local_merchant(runtime, "Lotus")
    # a first visit: the city picker, no search yet
    first = client.get("/local")
    assert first.status_code == 200 and 'name="city"' in first.text and "Hangzhou" in first.text
    # by city: the shop with its distance, its deal and the map numbered as the list
    page = client.get(f"/local?city={HANGZHOU}&radius_m=5000").text
    card = re.search(rf'data-shop="{shop.id}">(.*?)</li>\s*</ol>', page, re.S)
    assert card is not None and "Lotus Noodles by the Lake" in card.group(1)
    assert re.search(r'class="distance">[\d.,]+ (m|km)<', card.group(1))
    assert "Lotus cash voucher 60" in card.group(1) and "/products/" in card.group(1)
    assert '<svg class="local-map" role="img"' in page and 'data-shop-number="1"' in page
    # by place, on a Chinese page: Chinese names and units
    zh = client.get("/local?lat=30.2600&lng=120.1535&lang=zh").text
    assert "湖畔面馆" in zh and re.search(r'class="distance">\d+ 米<', zh) and "杭州" in zh
    # a crowded street: ten to a page, the next page a link away
    local.import_shops(runtime.uow(), [
        Shop(shop.merchant_id, f"Stall {i}", ShopKind.STREET_STALL, HANGZHOU,
             Point(30.2600 + i / 10_000, 120.1535), "Asia/Shanghai") for i in range(12)])
    first_page = client.get("/local?lat=30.2600&lng=120.1535&kind=street_stall").text
    assert first_page.count('class="shop-card"') == 10 and "Stall 0" in first_page
    more = re.search(r'href="(/local\?[^"]+)" rel="next"', first_page)
    assert more is not None
    second = client.get(html.unescape(more.group(1))).text
    assert second.count('class="shop-card"') == 2 and "Stall 11" in second and "Stall 0<" not in second
    # filters that exclude it: nothing found, said plainly
    assert "No shops match" in client.get(f"/local?city={HANGZHOU}&kind=salon&lang=en").text
    # bad questions: a readable page, never a 500
    for query, status in (("lat=999&lng=1", 422), ("lat=abc&lng=1", 422), ("city=abc", 422),
                          ("city=1", 404), (f"city={HANGZHOU}&after=garbage", 422),
                          (f"city={HANGZHOU}&radius_m=0", 422), (f"city={HANGZHOU}&kind=castle", 422),
                          (f"city={HANGZHOU}&category=x", 422), ("lat=1", 422)):
        answer = client.get(f"/local?{query}")
        assert answer.status_code == status, (query, answer.status_code)
        assert 'role="alert"' in answer.text and 'name="city"' in answer.text
    assert "纬度为 -90 到 90 度" in client.get("/local?lat=999&lng=1&lang=zh").text  # said in Chinese


def test_a_voucher_bought_shows_its_signed_qr_and_the_console_redeems_it_once(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    merchant_id, sku_id, shop = local_merchant(runtime, "Lotus")
    other_id, _, _ = local_merchant(runtime, "Pine")
    ann = signed_in_tab(client, runtime, "ann")
    buy(client, ann, "ann", HotItem(merchant_id, sku_id, None))
    wallet = ann.get("/account/wallet").text
    code = re.findall(r'data-voucher="([^"]+)"', wallet)[0]
    assert 'data-status="issued"' in wallet and "Valid until" in wallet and "<svg" in wallet
    # the console: signed out, sign in; a shopper, refused; another merchant's staff, no such voucher
    assert client.get("/seller/local/redeem", follow_redirects=False).status_code == 303
    assert ann.get("/seller/local").status_code == 403
    pine = staff_tab(client, runtime, "pine", other_id)
    assert "Lotus Noodles" not in pine.get("/seller/local").text
    refused = redeem(pine, shop_id=shop.id or 0, code=code)
    assert refused.status_code == 404 and 'data-outcome="refused"' in refused.text
    # the merchant's staff: the pay QR code, then redeemed once, refused the second time with where/when
    lotus = staff_tab(client, runtime, "lotus", merchant_id)
    shops = lotus.get("/seller/local").text
    assert f"/pay/shop/{shop.pay_token}" in shops and "<svg" in shops
    screen = lotus.get("/seller/local/redeem").text
    form = {"shop_id": str(shop.id), "code": code, "csrf_token": token_in(screen),
            "redeem_key": re.findall(r'name="redeem_key" value="([^"]+)"', screen)[0]}
    done = lotus.post("/seller/local/redeem", data=form)
    assert done.status_code == 200 and 'data-outcome="ok"' in done.text and "Undo" in done.text
    assert lotus.post("/seller/local/redeem", data=form).text.count('data-outcome="ok"') == 1  # pressed twice
    again = redeem(lotus, shop_id=shop.id or 0, code=code)
    assert again.status_code == 409 and "already redeemed at Lotus Noodles by the Lake" in again.text
    wallet = ann.get("/account/wallet").text
    assert 'data-status="redeemed"' in wallet and "at Lotus Noodles by the Lake" in wallet
    # the offline queue's upload: the same voucher scanned offline is a conflict, never a second payout
    signed = re.findall(r'data-signed="([^"]+)"', wallet)[0]
    now = runtime.clock.now().isoformat()
    queued = json.dumps([{"code": signed, "redeemed_at": now, "client_ref": "q1"}])
    upload = {"shop_id": str(shop.id), "csrf_token": token_in(done.text)}
    report = lotus.post("/seller/local/redemptions/offline", data={**upload, "items": queued}).json()
    assert (report["redeemed"], report["conflicts"]) == (0, 1)
    bad = lotus.post("/seller/local/redemptions/offline", data={**upload, "items": "{oops"})
    assert bad.status_code == 422
    assert pine.post("/seller/local/redemptions/offline", data={**upload, "items": queued,
                                                                  "csrf_token": token_in(refused.text)}
                     ).status_code == 404
    # undo within the window: redeemable again
    undo_id = re.search(r'/seller/local/redemptions/(\d+)/undo', done.text)
    assert undo_id is not None
    undone = lotus.post(f"/seller/local/redemptions/{undo_id.group(1)}/undo",
                        data={"csrf_token": token_in(done.text)})
    assert undone.status_code == 200 and "can be used again" in undone.text
    assert redeem(pine, shop_id=shop.id or 0, code="not a code").status_code in (404, 422)
    clock.set(runtime.clock.now() + timedelta(days=31))  # the deal's 30 days are over
    sign_in(ann, "ann@shoppers.test", "shop-secret-1")  # a month on: signed out meanwhile
    assert 'data-status="expired"' in ann.get("/account/wallet").text
    sign_in(lotus, "lotus@staff.test", "staff-secret-1")
    assert "expired" in redeem(lotus, shop_id=shop.id or 0, code=code).text
    # settlement: a table and a CSV for the merchant's staff; a bad day is a readable page
    table = lotus.get("/seller/local/settlement")
    assert table.status_code == 200 and "<table" in table.text
    csv = lotus.get("/seller/local/settlement.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert lotus.get("/seller/local/settlement?start=yesterday").status_code == 422


def redeem(tab: TestClient, *, shop_id: int, code: str) -> httpx.Response:
    token = token_in(tab.get("/seller/local/redeem").text)
    return tab.post("/seller/local/redeem", data={"shop_id": str(shop_id), "code": code, "csrf_token": token})


def test_the_counters_pay_page_takes_the_discount_and_pays_for_signed_in_shoppers(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    clock.set(parse_instant("2027-11-11T12:00:00+08:00"))  # 11.11's sale: the local discount is on
    _, _, shop = local_merchant(runtime, "Lotus")
    path = f"/pay/shop/{shop.pay_token}"
    assert client.get("/pay/shop/nothing-here").status_code == 404
    assert client.get("/pay/shop/x%20y%E2%82%AC").status_code == 404
    assert client.get(f"{path}?amount=abc").status_code == 422
    assert client.get(f"{path}?amount=-5").status_code == 422
    visitor = client.get(f"{path}?amount=38")
    assert visitor.status_code == 200 and "Sign in to pay" in visitor.text and "Lotus Noodles" in visitor.text
    anonymous = client.post(path, data={"amount": "38", "method": "sandbox_ok",
                                        "csrf_token": form_token(client)}, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    ann = signed_in_tab(client, runtime, "ann")
    offer = ann.get(f"{path}?amount=38")
    assert re.search(r"data-to-pay><strong>[^<]*33\.00", offer.text) and "3 more times today" in offer.text
    key = re.search(r'name="pay_key" value="([^"]+)"', offer.text)
    assert key is not None
    paid = ann.post(path, data={"amount": "38", "method": "sandbox_ok", "pay_key": key.group(1),
                                "csrf_token": token_in(offer.text)}, follow_redirects=False)
    assert paid.status_code == 303, paid.text
    receipt = ann.get(paid.headers["location"])
    assert receipt.status_code == 200 and "Paid." in receipt.text and "33.00" in receipt.text
    bob = signed_in_tab(client, runtime, "bob")
    assert bob.get(paid.headers["location"]).status_code == 404
