"""The seller centre's products, pictures and stock: merchant staff list, edit and picture their own
products and keep their stock; another merchant's product or SKU is a 404 on every route; a picture is
checked by its bytes and served by a safe key; intake and corrections keep the audit whole on every
stock gate."""

from __future__ import annotations

import html
import io
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.audit.service import audit
from shopfest.catalog.images import MAX_UPLOAD_BYTES, LocalDiskStorage
from shopfest.catalog.store import product_images, products
from shopfest.core.actor import Role
from shopfest.demo import hot_item
from shopfest.deps import SESSION_COOKIE
from shopfest.inventory.store import stock_adjustments
from shopfest.runtime import Runtime
from tests.integration.helpers import (
    category,
    create,
    merchant_with_staff,
    operator_token,
    product_body,
    token_in,
)
from tests.integration.test_orders_api import order, shopper, stock


@dataclass
class Shop:
    """Two merchants, each with a signed-in staff tab; the rival has a product and a SKU of its own."""

    api: TestClient
    tab: TestClient  # Lumen's staff
    rival_tab: TestClient  # Harbour's staff
    brand_id: int
    rival_brand_id: int
    rival_product_id: int
    rival_sku_id: int
    runtime: Runtime


def signed_in(app: Any, email: str, password: str) -> TestClient:
    tab = TestClient(app)
    answer = tab.post("/login", data={"email": email, "password": password,
                                      "csrf_token": token_in(tab.get("/login").text)}, follow_redirects=False)
    assert answer.status_code == 303 and tab.cookies.get(SESSION_COOKIE)
    return tab


@pytest.fixture
def shop(runtime: Runtime, tmp_path: Path) -> Shop:
    runtime.media = LocalDiskStorage(tmp_path / "media")
    app = create_app(runtime=runtime)
    api = TestClient(app)
    ops = operator_token(api, runtime)
    category(api, ops, "apparel")
    lumen = create(api, "/api/v1/brands", ops, {"name": "Lumen Atelier"})
    harbour = create(api, "/api/v1/brands", ops, {"name": "Harbour Works"})
    merchant_with_staff(api, ops, name="Lumen Flagship", brand_ids=[lumen["id"]], email="staff@lumen.test")
    _, rival_token = merchant_with_staff(api, ops, name="Harbour Store", brand_ids=[harbour["id"]],
                                         email="staff@harbour.test")
    coat = create(api, "/api/v1/products", rival_token,
                  product_body(harbour["id"], title="Harbour Wool Coat"))
    return Shop(api, signed_in(app, "staff@lumen.test", "staff-secret-1"),
                signed_in(app, "staff@harbour.test", "staff-secret-1"), lumen["id"], harbour["id"],
                coat["id"], coat["skus"][0]["id"], runtime)


def new_product(shop: Shop, *, title: str = "Aurora Silk Scarf", price: str = "199.00",
                stock_units: str = "12", **changes: str) -> Any:
    form = {"csrf_token": token_in(shop.tab.get("/seller/products/new").text), "title": title,
            "title_zh": "极光真丝围巾", "brand_id": str(shop.brand_id), "category": "apparel",
            "fulfilment": "shipped", "debut_at": "", "currency": "CNY", "sku_0_code": "red",
            "sku_0_price": price, "sku_0_stock": stock_units, "sku_1_code": "blue", "sku_1_price": "209.00",
            "sku_1_stock": "3", **changes}
    return shop.tab.post("/seller/products/new", data=form, follow_redirects=False)


def listed_id(answer: Any) -> int:
    assert answer.status_code == 303, answer.text
    found = re.match(r"/seller/products/(\d+)/edit", answer.headers["location"])
    assert found is not None
    return int(found.group(1))


def product_count(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(products)).scalar_one())


def picture(kind: str = "PNG", size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 60)).save(out, kind)
    return out.getvalue()


def upload(shop: Shop, product_id: int, data: bytes, *, name: str = "photo.png",
           tab: TestClient | None = None) -> Any:
    tab = tab or shop.tab
    token = token_in(tab.get(f"/seller/products/{product_id}/edit").text) if tab is shop.tab \
        else token_in(tab.get("/seller/products").text)
    return tab.post(f"/seller/products/{product_id}/image", data={"csrf_token": token},
                    files={"image": (name, data, "image/png")}, follow_redirects=False)


# --- who may come in ---------------------------------------------------------------------------

SELLER_PAGES = ("/seller", "/seller/products", "/seller/products/new", "/seller/stock")


def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(shop: Shop) -> None:
    visitor = TestClient(shop.api.app)
    for path in (*SELLER_PAGES, f"/seller/products/{shop.rival_product_id}/edit"):
        answer = visitor.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=%2Fseller")


def test_a_shopper_or_an_operator_is_refused_the_seller_centre(shop: Shop) -> None:
    for role, email in ((Role.SHOPPER, "ann@shoppers.test"), (Role.OPERATOR, "olga@ops.test")):
        accounts.create_account_unchecked(shop.runtime.uow(), email=email, password="secret-pass-1",
                                          role=role)
        tab = signed_in(shop.api.app, email, "secret-pass-1")
        for path in SELLER_PAGES:
            assert tab.get(path).status_code == 403, (role, path)


def test_the_overview_names_the_merchant_and_counts_its_products(shop: Shop) -> None:
    listed_id(new_product(shop, stock_units="2"))
    page = shop.tab.get("/seller")
    assert page.status_code == 200
    assert "Lumen Flagship" in page.text and "Harbour" not in page.text
    assert re.search(r'data-figure="products">1<', page.text)
    assert re.search(r'data-figure="skus">2<', page.text)
    assert re.search(r'data-figure="low">2<', page.text)  # 2 and 3 units left: both low


# --- products ----------------------------------------------------------------------------------

def test_staff_list_a_product_with_its_options_and_find_it_among_their_own(shop: Shop) -> None:
    product_id = listed_id(new_product(shop))
    edit = shop.tab.get(f"/seller/products/{product_id}/edit?created=1")
    assert edit.status_code == 200 and "The product is listed" in edit.text
    assert "red: CN¥199.00" in html.unescape(edit.text) and "blue" in edit.text
    listing = shop.tab.get("/seller/products?q=silk").text
    assert f'data-product="{product_id}"' in listing
    assert "Harbour Wool Coat" not in shop.tab.get("/seller/products").text  # the rival's is not ours
    assert "Aurora Silk Scarf" not in shop.tab.get("/seller/products?q=coat").text
    assert stock(shop.runtime, _first_sku(shop, product_id))[0] == 12


def _first_sku(shop: Shop, product_id: int) -> int:
    answer = shop.api.get(f"/api/v1/products/{product_id}")
    return int(answer.json()["skus"][0]["id"])


def test_a_refused_product_comes_back_with_each_reason_beside_its_field(shop: Shop) -> None:
    before = product_count(shop.runtime)
    bad_price = new_product(shop, price="12,5")
    assert bad_price.status_code == 422
    assert 'id="sku_0_price-error"' in bad_price.text and "Write a price" in bad_price.text
    assert 'value="Aurora Silk Scarf"' in bad_price.text  # what was typed is kept
    not_ours = new_product(shop, brand_id=str(shop.rival_brand_id))
    assert not_ours.status_code == 422 and 'id="brand_id-error"' in not_ours.text
    no_title = new_product(shop, title="   ")
    assert no_title.status_code == 422 and 'id="title-error"' in no_title.text
    same_codes = new_product(shop, sku_1_code="red")
    assert same_codes.status_code == 422 and 'id="skus-error"' in same_codes.text
    chinese = shop.tab.post("/seller/products/new?lang=zh", data={
        "csrf_token": token_in(shop.tab.get("/seller/products/new").text), "title": "Scarf",
        "brand_id": str(shop.brand_id), "category": "apparel", "sku_0_code": "a", "sku_0_price": "x",
        "sku_0_stock": "1"})
    assert chinese.status_code == 422 and "请填写价格" in chinese.text
    assert product_count(shop.runtime) == before


def test_staff_edit_titles_category_and_debut_and_a_bad_edit_changes_nothing(shop: Shop) -> None:
    product_id = listed_id(new_product(shop))
    path = f"/seller/products/{product_id}/edit"
    form = {"csrf_token": token_in(shop.tab.get(path).text), "title": "Aurora Cashmere Scarf", "title_zh": "",
            "category": "apparel", "debut_at": "2027-11-01T00:00"}
    saved = shop.tab.post(path, data=form, follow_redirects=False)
    assert saved.status_code == 303
    shown = shop.api.get(f"/api/v1/products/{product_id}").json()
    assert shown["title"] == "Aurora Cashmere Scarf" and shown["title_zh"] is None
    assert shown["debut_at"].startswith("2027-10-31T16:00")  # midnight in Shanghai
    refused = shop.tab.post(path, data={**form, "title": "", "debut_at": "soon"})
    assert refused.status_code == 422 and 'id="debut_at-error"' in refused.text
    assert shop.api.get(f"/api/v1/products/{product_id}").json()["title"] == "Aurora Cashmere Scarf"


def test_another_merchants_product_is_not_found_on_every_route(shop: Shop) -> None:
    rival = shop.rival_product_id
    token = token_in(shop.tab.get("/seller/products").text)
    assert shop.tab.get(f"/seller/products/{rival}/edit").status_code == 404
    assert shop.tab.get("/seller/products/abc/edit").status_code == 404
    assert shop.tab.post(f"/seller/products/{rival}/edit", data={
        "csrf_token": token, "title": "Mine now", "category": "apparel"}).status_code == 404
    assert shop.tab.post(f"/seller/products/{rival}/image", data={"csrf_token": token},
                         files={"image": ("p.png", picture(), "image/png")}).status_code == 404
    for action, field in (("intake", {"units": "5"}), ("correction", {"counted": "0", "reason": "lost"})):
        answer = shop.tab.post(f"/seller/stock/{shop.rival_sku_id}/{action}",
                               data={"csrf_token": token, **field})
        assert answer.status_code == 404
    assert shop.api.get(f"/api/v1/products/{rival}").json()["title"] == "Harbour Wool Coat"
    assert stock(shop.runtime, shop.rival_sku_id) == (10, 0, 0)


# --- pictures ----------------------------------------------------------------------------------

def test_a_picture_is_made_into_thumbnails_and_shown_on_the_storefront(shop: Shop) -> None:
    product_id = listed_id(new_product(shop))
    answer = upload(shop, product_id, picture("PNG", (1200, 900)))
    assert answer.status_code == 303 and answer.headers["location"].endswith("?image=1")
    card = re.search(r'<img class="tile" src="(/media/products/\d+/[0-9a-f]+-card\.jpg)"',
                     shop.api.get("/search?q=aurora").text)
    assert card is not None
    served = shop.api.get(card.group(1))
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(served.content)).size == (480, 360)
    page = shop.api.get(f"/products/{product_id}").text
    photo = re.search(r'class="product-photo" src="([^"]+)"', page)
    assert photo is not None and shop.api.get(photo.group(1)).status_code == 200
    # a second picture replaces the first, whose files go
    assert upload(shop, product_id, picture("WEBP", (400, 400))).status_code == 303
    assert shop.api.get(card.group(1)).status_code == 404


@pytest.mark.parametrize(("name", "data", "status", "says"), [
    ("notes.png", b"just some words, named like a picture\n" * 20, 422, "not a JPEG, PNG or WebP"),
    ("small.png", picture("PNG", (120, 120)), 422, "200×200"),
    ("wide.png", picture("PNG", (6100, 200)), 422, "larger than 6000×6000"),
    ("anim.gif", picture("GIF", (300, 300)), 422, "not a JPEG, PNG or WebP"),
    ("cut.png", picture("PNG", (640, 480))[:200], 422, "JPEG, PNG or WebP"),
])
def test_a_bad_picture_is_refused_with_its_reason_and_nothing_kept(
        shop: Shop, name: str, data: bytes, status: int, says: str) -> None:
    product_id = listed_id(new_product(shop))
    answer = upload(shop, product_id, data, name=name)
    assert answer.status_code == status, answer.text
    assert 'id="image-error"' in answer.text and says in html.unescape(answer.text)
    assert _pictures(shop) == 0


def _pictures(shop: Shop) -> int:
    with shop.runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(product_images)).scalar_one())


def bomb() -> bytes:
    """A small PNG whose header claims 40,000 × 40,000 pixels: decoded, it would take 4.8 GB."""
    real = picture("PNG", (300, 300))
    width_height = struct.pack(">II", 40_000, 40_000)
    ihdr = b"IHDR" + width_height + real[24:29]
    return real[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + real[33:]


def test_a_decompression_bomb_and_a_heavy_file_are_refused_before_decoding(shop: Shop) -> None:
    product_id = listed_id(new_product(shop))
    refused = upload(shop, product_id, bomb())
    assert refused.status_code == 422 and "larger than 6000×6000" in html.unescape(refused.text)
    heavy = picture("PNG", (300, 300)) + b"\0" * (MAX_UPLOAD_BYTES + 1)
    too_heavy = upload(shop, product_id, heavy)
    assert too_heavy.status_code == 413 and "over 5 MB" in too_heavy.text
    assert _pictures(shop) == 0


def test_only_the_picture_route_takes_a_body_past_the_global_cap(shop: Shop) -> None:
    product_id = listed_id(new_product(shop))
    token = token_in(shop.tab.get("/seller/products/new").text)
    two_mb = "x" * (2 * 1024 * 1024)
    refused = shop.tab.post("/seller/products/new", data={"csrf_token": token, "title": two_mb})
    assert refused.status_code == 413
    six_mb = b"\x89PNG\r\n\x1a\n" + b"\0" * (6 * 1024 * 1024)
    assert upload(shop, product_id, six_mb).status_code == 413  # past the picture route's own cap


@pytest.mark.parametrize("path", [
    "/media/..%2F..%2Fetc%2Fpasswd", "/media/%2e%2e/%2e%2e/etc/passwd", "/media/products/../../shop.db",
    "/media/products/1/..%2F..%2F..%2Fshop.db", "/media/%2Fetc%2Fpasswd",
    "/media/products/1/nothing-card.jpg",
    "/media/products/1/x.png", "/media/products\\..\\shop.db",
])
def test_media_serves_only_keys_of_its_own(shop: Shop, path: str) -> None:
    (shop.runtime.pictures().root.parent / "secret.jpg").write_bytes(b"secret")  # type: ignore[attr-defined]
    answer = shop.api.get(path)
    assert answer.status_code == 404
    assert b"secret" not in answer.content


# --- stock -------------------------------------------------------------------------------------

def stock_form(shop: Shop, sku_id: int, action: str, **fields: str) -> Any:
    token = token_in(shop.tab.get("/seller/stock").text)
    return shop.tab.post(f"/seller/stock/{sku_id}/{action}", data={"csrf_token": token, "option": "red",
                                                                  **fields}, follow_redirects=False)


def test_intake_and_correction_change_on_hand_and_are_recorded(shop: Shop) -> None:
    sku_id = _first_sku(shop, listed_id(new_product(shop)))
    page = shop.tab.get("/seller/stock").text
    assert re.search(rf'data-sku="{sku_id}".*?data-figure="on_hand">12<', page, re.S)
    taken_in = stock_form(shop, sku_id, "intake", units="8")
    assert taken_in.status_code == 303
    assert "Received 8 units of red: 20 on hand" in shop.tab.get(taken_in.headers["location"]).text
    assert stock(shop.runtime, sku_id) == (20, 0, 0)
    counted = stock_form(shop, sku_id, "correction", counted="17", reason="three damaged in the stock-take")
    assert counted.status_code == 303 and stock(shop.runtime, sku_id) == (17, 0, 0)
    with shop.runtime.engine.connect() as conn:
        kept = conn.execute(select(stock_adjustments.c.kind, stock_adjustments.c.change,
                                   stock_adjustments.c.reason).order_by(stock_adjustments.c.id)).all()
    assert [tuple(r) for r in kept] == [("intake", 8, ""),
                                        ("correction", -3, "three damaged in the stock-take")]


@pytest.mark.parametrize(("action", "fields", "status", "says"), [
    ("intake", {"units": "0"}, 422, "receive 1 to"),
    ("intake", {"units": "-4"}, 422, "1 or more"),
    ("intake", {"units": "lots"}, 422, "1 or more"),
    ("correction", {"counted": "5", "reason": " "}, 422, "say why"),
    ("correction", {"counted": "x", "reason": "count"}, 422, "0 or more"),
])
def test_bad_stock_forms_change_nothing(shop: Shop, action: str, fields: dict[str, str], status: int,
                                        says: str) -> None:
    sku_id = _first_sku(shop, listed_id(new_product(shop)))
    answer = stock_form(shop, sku_id, action, **fields)
    assert answer.status_code == status and says in html.unescape(answer.text).lower()
    assert f'id="problem-{sku_id}"' in answer.text
    assert stock(shop.runtime, sku_id) == (12, 0, 0)


def test_a_count_below_what_is_reserved_is_refused(shop: Shop) -> None:
    sku_id = _first_sku(shop, listed_id(new_product(shop)))
    placed = order(shop.api, shopper(shop.api, shop.runtime, "ann"), [{"sku_id": sku_id, "qty": 3}])
    assert placed.status_code == 201, placed.text
    refused = stock_form(shop, sku_id, "correction", counted="2", reason="stock-take")
    assert refused.status_code == 409
    assert "3 units are reserved and 0 sold: count 3 or more" in refused.text
    assert stock(shop.runtime, sku_id) == (12, 3, 0)


# --- the audit holds, whichever gate decides stock ----------------------------------------------

@pytest.fixture
def gated(hot_runtime: Runtime, tmp_path: Path) -> Iterator[tuple[TestClient, Runtime]]:
    hot_runtime.media = LocalDiskStorage(tmp_path / "media")
    yield TestClient(create_app(runtime=hot_runtime)), hot_runtime


def test_intake_and_corrections_keep_the_gate_and_the_rows_in_step(gated: tuple[TestClient, Runtime]) -> None:
    client, runtime = gated
    phone = hot_item(runtime, stock=4, name="Comet")
    accounts.create_account_unchecked(runtime.uow(), email="staff@comet.test", password="staff-secret-1",
                                      role=Role.MERCHANT, merchant_id=phone.merchant_id)
    tab = signed_in(client.app, "staff@comet.test", "staff-secret-1")
    buyers = [shopper(client, runtime, name) for name in ("ann", "bo", "cy", "di")]
    # given two units reserved through the gate (Redis counts them there, when it decides)
    assert order(client, buyers[0], [{"sku_id": phone.sku_id, "qty": 2}]).status_code == 201

    def post(action: str, **fields: str) -> int:
        token = token_in(tab.get("/seller/stock").text)
        return tab.post(f"/seller/stock/{phone.sku_id}/{action}", data={"csrf_token": token, **fields},
                        follow_redirects=False).status_code

    # when the merchant receives 3 and then counts 3 on hand (2 reserved, 1 to sell)
    assert post("intake", units="3") == 303
    assert post("correction", counted="3", reason="stock-take") == 303
    assert post("correction", counted="1", reason="below the reserved") == 409
    # then the gate sells the one unit left and no more
    assert order(client, buyers[1], [{"sku_id": phone.sku_id, "qty": 2}]).status_code == 409
    assert order(client, buyers[2], [{"sku_id": phone.sku_id, "qty": 1}]).status_code == 201
    assert order(client, buyers[3], [{"sku_id": phone.sku_id, "qty": 1}]).status_code == 409
    assert post("intake", units="2") == 303
    last = order(client, buyers[3], [{"sku_id": phone.sku_id, "qty": 2}])
    assert last.status_code == 201, last.text
    assert stock(runtime, phone.sku_id) == (5, 5, 0)
    assert audit(runtime.uow(snapshot=True)) == []
