"""Local services: shops and deals opened by their own merchant's staff, the nearby search checked
against a brute-force great-circle search on random data (on SQLite and PostgreSQL), its filters and
paging, and bad input answered as problems."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from shopfest import demo
from shopfest.accounts import service as accounts
from shopfest.app import create_app, make_runtime
from shopfest.catalog import service as catalog
from shopfest.cli import app
from shopfest.core.actor import MACHINE, Role
from shopfest.core.clock import SetClock, local
from shopfest.core.errors import InvalidInput
from shopfest.core.money import Money
from shopfest.local import cities, service
from shopfest.local.cells import box, disk
from shopfest.local.model import DealKind, Hours, Point, Shop, ShopKind, distance_m, hours
from shopfest.local.service import NearbyQuery, UnknownShop
from shopfest.local.store import candidates_select, local_shops, shop_of
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.integration.helpers import bearer, category, create, operator_token, product_body, token_for

HANGZHOU, SHANGHAI, SYDNEY = 1808926, 1796236, 2147714
WEEKS = (
    None,
    {
        "mon": ["09:00-21:00"],
        "tue": ["09:00-21:00"],
        "wed": ["09:00-21:00"],
        "thu": ["09:00-21:00"],
        "fri": ["09:00-22:00"],
        "sat": ["10:00-22:00"],
    },
    {day: ["18:00-02:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},  # a night market
    {"sat": ["08:00-12:00", "14:00-18:00"], "sun": ["08:00-12:00"]},
)


def _scatter(rng: random.Random, town: cities.City, spread_m: float) -> Point:
    """A point about `spread_m` from the town's centre (degrees of latitude are ~111 km)."""
    lat = town.centre.lat + rng.gauss(0, spread_m) / 111_000
    lng = town.centre.lng + rng.gauss(0, spread_m) / (111_000 * 0.85)
    return Point(max(-90.0, min(90.0, lat)), lng)


def _random_shops(rng: random.Random, count: int) -> list[Shop]:
    towns = [cities.city(HANGZHOU), cities.city(SYDNEY)]
    shops = []
    for n in range(count):
        town = towns[n % 2]
        shops.append(
            Shop(
                merchant_id=1 + n % 40,
                name=f"Shop {n}",
                kind=rng.choice(list(ShopKind)),
                city_id=town.id,
                place=_scatter(rng, town, 6000),
                zone=town.zone,
                hours=hours(rng.choice(WEEKS)),
                category_id=rng.choice((None, 1, 2)),
                festival_deal=rng.random() < 0.3,
                pay_token=f"token-{n}",
            )
        )
    return shops


def _every_page(runtime: Runtime, query: NearbyQuery) -> list[tuple[int, float]]:
    found: list[tuple[int, float]] = []
    after = None
    for _ in range(400):
        page = service.nearby(
            runtime.uow(read_only=True),
            NearbyQuery(**{**query.__dict__, "after": after}),
            now=runtime.clock.now(),
        )
        assert len(page.shops) <= query.limit
        found += [(s.shop.id or 0, s.distance_m) for s in page.shops]
        after = page.next_cursor
        if after is None:
            return found
    raise AssertionError("the pages never end")


def _brute_force(stored: list[Shop], query: NearbyQuery, runtime: Runtime) -> list[tuple[int, float]]:
    now, centre = runtime.clock.now(), query.place or Point(0, 0)
    kept = [
        (s.id or 0, distance_m(centre, s.place))
        for s in stored
        if distance_m(centre, s.place) <= query.radius_m
        and (query.kind is None or s.kind is query.kind)
        and (query.category_id is None or s.category_id == query.category_id)
        and (not query.festival_deal or s.festival_deal)
        and (not query.open_now or s.hours.open_at(local(now, s.zone)))
    ]
    return sorted(kept, key=lambda found: (found[1], found[0]))


def test_nearby_finds_what_a_brute_force_finds_page_by_page(runtime: Runtime) -> None:
    rng = random.Random(19)
    assert service.import_shops(runtime.uow(), _random_shops(rng, 3000)) == 3000
    with runtime.uow(read_only=True) as uow:
        stored = [shop_of(r) for r in uow.conn.execute(select(local_shops))]
    towns = [cities.city(HANGZHOU), cities.city(SYDNEY)]
    pages: list[int] = []
    for n in range(16):
        query = NearbyQuery(
            place=_scatter(rng, towns[n % 2], 3000),
            radius_m=rng.choice((150, 1500, 3000, 6000, 14000)),
            kind=rng.choice((None, None, None, ShopKind.RESTAURANT, ShopKind.GROCERY)),
            category_id=rng.choice((None, None, 1)),
            open_now=rng.random() < 0.35,
            festival_deal=rng.random() < 0.3,
            limit=rng.choice((1, 7, 20, 100)),
        )
        expected = _brute_force(stored, query, runtime)
        if len(expected) > 20 * query.limit:  # the pages are the point, not their number
            query = NearbyQuery(**{**query.__dict__, "limit": 100})
        found = _every_page(runtime, query)
        assert [i for i, _ in found] == [i for i, _ in expected], query
        pages.append(-(-len(found) // query.limit))
        assert [d for _, d in found] == pytest.approx([d for _, d in expected])
    assert sum(pages) > 40 and sum(p > 3 for p in pages) >= 3, pages  # many pages, not a trivial few

    if runtime.engine.dialect.name == "sqlite":  # the search reads the cells' index, never the table
        for reach, index in ((3000, "ix_local_shops_cell8"), (40_000, "ix_local_shops_cell6")):
            resolution, cell_ids = disk(towns[0].centre, reach)
            statement = candidates_select(
                resolution,
                cell_ids,
                kind=ShopKind.GROCERY,
                festival_deal=True,
                within=box(towns[0].centre, reach),
            )
            sql = str(statement.compile(runtime.engine, compile_kwargs={"literal_binds": True}))
            with runtime.engine.connect() as conn:
                plan = " ".join(str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            assert f"COVERING INDEX {index}" in plan and "SCAN local_shops" not in plan, plan


# --- the API: shops, deals and who may open them ---------------------------------------------------


def _merchant(
    client: TestClient, ops: str, *, name: str, kind: str, brand: int, email: str
) -> tuple[int, str]:
    merchant = create(
        client,
        "/api/v1/merchants",
        ops,
        {"name": name, "kind": kind, "settlement_currency": "CNY", "brand_ids": [brand]},
    )
    create(
        client,
        f"/api/v1/merchants/{merchant['id']}/staff",
        ops,
        {"email": email, "password": "staff-secret-1"},
    )
    return int(merchant["id"]), token_for(client, email, "staff-secret-1")


def _shop_body(merchant_id: int, **changes: Any) -> dict[str, Any]:
    return {
        "merchant_id": merchant_id,
        "name": "West Lake Noodles",
        "name_zh": "西湖面馆",
        "kind": "restaurant",
        "city_id": HANGZHOU,
        "lat": 30.2592,
        "lng": 120.1303,
        "hours": {"mon": ["10:00-22:00"], "sat": ["18:00-02:00"]},
        **changes,
    }


def _refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(code), response.json()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_local_merchants_staff_open_shops_and_sell_deals_that_nearby_shows(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime=runtime))
    ops = operator_token(client, runtime)
    category(client, ops, "dining")
    lotus_brand = create(client, "/api/v1/brands", ops, {"name": "Lotus", "tier": "regular"})["id"]
    birch_brand = create(client, "/api/v1/brands", ops, {"name": "Birch", "tier": "regular"})["id"]
    lotus, lotus_staff = _merchant(
        client, ops, name="Lotus Kitchen", kind="local", brand=lotus_brand, email="staff@lotus.test"
    )
    birch, birch_staff = _merchant(
        client, ops, name="Birch Salon", kind="local", brand=birch_brand, email="staff@birch.test"
    )
    online, online_staff = _merchant(
        client, ops, name="Birch Online", kind="online", brand=birch_brand, email="staff@online.test"
    )
    accounts.create_account_unchecked(
        runtime.uow(), email="mei@shoppers.test", password="shop-secret-1", role=Role.SHOPPER
    )
    shopper = token_for(client, "mei@shoppers.test", "shop-secret-1")
    dining = catalog.category_id_for(runtime.uow(read_only=True), "dining")

    # Given: Lotus's staff open a shop; nobody else may open one for Lotus
    shop = create(client, "/api/v1/local/shops", lotus_staff, _shop_body(lotus, category_id=dining))
    assert shop["zone"] == "Asia/Shanghai" and shop["kind"] == "restaurant" and shop["pay_token"]
    assert (
        shop["festival_deal"] is False
        and shop["hours"]["sat"] == ["18:00-02:00"]
        and shop["hours"]["sun"] == []
    )
    for token, status, code in ((birch_staff, 403, "forbidden"), (shopper, 403, "forbidden")):
        _refused(
            client.post("/api/v1/local/shops", json=_shop_body(lotus), headers=bearer(token)), status, code
        )
    _refused(client.post("/api/v1/local/shops", json=_shop_body(lotus)), 401, "unauthenticated")
    _refused(
        client.post("/api/v1/local/shops", json=_shop_body(online), headers=bearer(online_staff)),
        422,
        "not-a-local-merchant",
    )
    assert service.shop_by_pay_token(runtime.uow(read_only=True), shop["pay_token"]).id == shop["id"]
    with pytest.raises(UnknownShop):
        service.shop_by_pay_token(runtime.uow(read_only=True), "guessed-token")

    # When: Lotus sells a "pay 50 get 60" cash voucher as a festival deal
    voucher = create(
        client,
        "/api/v1/products",
        lotus_staff,
        product_body(
            lotus_brand,
            title="Pay 50 Get 60 Voucher",
            category="dining",
            price="50.00",
            fulfilment="service_voucher",
        ),
    )
    noodles = create(
        client,
        "/api/v1/products",
        lotus_staff,
        product_body(lotus_brand, title="Noodle Bowl", category="dining"),
    )
    sku = voucher["skus"][0]["id"]
    cash = {
        "sku_id": sku,
        "kind": "cash",
        "valid_days": 30,
        "face_value": {"amount": "60.00", "currency": "CNY"},
        "festival": True,
    }
    _refused(client.post("/api/v1/local/deals", json=cash, headers=bearer(birch_staff)), 404, "not-found")
    _refused(client.post("/api/v1/local/deals", json=cash, headers=bearer(shopper)), 403, "forbidden")
    _refused(
        client.post(
            "/api/v1/local/deals",
            json={**cash, "sku_id": noodles["skus"][0]["id"]},
            headers=bearer(lotus_staff),
        ),
        422,
        "not-a-voucher",
    )
    _refused(
        client.post("/api/v1/local/deals", json={**cash, "face_value": None}, headers=bearer(lotus_staff)),
        422,
        "invalid-input",
    )
    past = {**cash, "valid_until": "2020-11-11T00:00:00Z"}
    _refused(client.post("/api/v1/local/deals", json=past, headers=bearer(lotus_staff)), 422, "invalid-input")
    with pytest.raises(InvalidInput):  # a page passing the category as it was typed
        service.nearby(
            runtime.uow(read_only=True),
            NearbyQuery(city_id=HANGZHOU, category_id="1"),
            now=runtime.clock.now(),
        )  # type: ignore[arg-type]  # on purpose
    _refused(
        client.post("/api/v1/local/deals", json={**cash, "kind": "deposit"}, headers=bearer(lotus_staff)),
        422,
        "not-a-voucher",
    )
    deal = create(client, "/api/v1/local/deals", lotus_staff, cash)
    assert deal["face_value"] == {"amount": "60.00", "currency": "CNY"} and deal["festival"] is True
    _refused(client.post("/api/v1/local/deals", json=cash, headers=bearer(lotus_staff)), 409, "deal-exists")
    assert service.deal_of_sku(runtime.uow(read_only=True), sku) is not None

    # Then: the shop has a festival deal, and so has a shop opened after
    second = create(
        client, "/api/v1/local/shops", ops, _shop_body(lotus, name="Lotus Hubin", lat=30.2590, lng=120.1700)
    )
    assert second["festival_deal"] is True
    seen = client.get(f"/api/v1/local/shops/{shop['id']}").json()
    assert seen["festival_deal"] is True and seen["pay_token"] is None and seen["name_zh"] == "西湖面馆"
    assert client.get(f"/api/v1/local/shops/{shop['id']}", headers=bearer(lotus_staff)).json()["pay_token"]
    mine = client.get(f"/api/v1/local/merchants/{lotus}/shops", headers=bearer(lotus_staff)).json()
    assert [s["id"] for s in mine] == [shop["id"], second["id"]] and all(s["pay_token"] for s in mine)
    _refused(
        client.get(f"/api/v1/local/merchants/{lotus}/shops", headers=bearer(birch_staff)), 403, "forbidden"
    )
    _refused(client.get("/api/v1/local/shops/999999"), 404, "unknown-shop")

    # And: a search from beside the first shop finds both, nearest first, with the deal's title and price
    near = client.get(
        "/api/v1/local/nearby",
        params={
            "lat": 30.2600,
            "lng": 120.1300,
            "radius_m": 5000,
            "festival_deal": "true",
            "category": dining,
        },
    ).json()
    assert [s["shop"]["id"] for s in near["data"]] == [shop["id"]]  # the second has no category
    (offer,) = near["data"][0]["deals"]
    assert offer["title"] == "Pay 50 Get 60 Voucher" and offer["price"] == {
        "amount": "50.00",
        "currency": "CNY",
    }
    assert offer["deal"]["kind"] == "cash" and near["data"][0]["shop"]["pay_token"] is None
    assert 80 < near["data"][0]["distance_m"] < 120
    by_city = client.get(
        "/api/v1/local/nearby", params={"city": HANGZHOU, "radius_m": 20000, "limit": 1}
    ).json()
    assert [s["shop"]["id"] for s in by_city["data"]] == [second["id"]] and by_city["next_cursor"]
    rest = client.get(
        "/api/v1/local/nearby", params={"city": HANGZHOU, "radius_m": 20000, "after": by_city["next_cursor"]}
    ).json()
    assert [s["shop"]["id"] for s in rest["data"]] == [shop["id"]] and rest["next_cursor"] is None
    towns = client.get("/api/v1/local/cities").json()
    assert len(towns) >= 100 and towns[0]["name"] == "Shanghai" and towns[0]["name_zh"] == "上海"
    assert {"id": SYDNEY, "zone": "Australia/Sydney", "country": "AU"}.items() <= next(
        t for t in towns if t["id"] == SYDNEY
    ).items()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_searches_and_bad_shops_are_problems_not_failures(runtime: Runtime, database_url: str) -> None:
    client = TestClient(create_app(runtime=runtime))
    ops = operator_token(client, runtime)
    foreign = base64.urlsafe_b64encode(b"id:7").decode().rstrip("=")
    for params, status, code in (
        ({"lat": 30, "lng": 120, "radius_m": 0}, 422, "bad-radius"),
        ({"lat": 30, "lng": 120, "radius_m": 20_000_000}, 422, "bad-radius"),
        ({"lat": 30, "lng": 120, "radius_m": "nan"}, 422, "bad-radius"),
        ({"lat": 91, "lng": 120}, 422, "bad-place"),
        ({"lat": 30, "lng": -180.5}, 422, "bad-place"),
        ({"lat": "nan", "lng": 120}, 422, "bad-place"),
        ({"lat": 30}, 422, "bad-place"),
        ({"lat": "north", "lng": 120}, 422, "validation"),
        ({}, 422, "no-place"),
        ({"city": 999999999}, 404, "unknown-city"),
        ({"city": "Hangzhou"}, 422, "validation"),
        ({"city": HANGZHOU, "kind": "spaceport"}, 422, "bad-kind"),
        ({"city": HANGZHOU, "after": "not-a-cursor"}, 422, "bad-cursor"),
        ({"city": HANGZHOU, "after": foreign}, 422, "bad-cursor"),
        ({"city": HANGZHOU, "after": "bmVhcjpuYW46Nw"}, 422, "bad-cursor"),  # near:nan:7
        ({"city": HANGZHOU, "limit": 0}, 422, "validation"),
        ({"city": HANGZHOU, "limit": 101}, 422, "validation"),
    ):
        _refused(client.get("/api/v1/local/nearby", params=params), status, code)
    empty = client.get("/api/v1/local/nearby", params={"lat": -89.9, "lng": 179.99, "radius_m": 100_000})
    assert empty.status_code == 200 and empty.json()["data"] == []
    brand = create(client, "/api/v1/brands", ops, {"name": "Lotus", "tier": "regular"})["id"]
    lotus, staff = _merchant(
        client, ops, name="Lotus Kitchen", kind="local", brand=brand, email="s@lotus.test"
    )
    for changes, status, code in (
        ({"city_id": 999999999}, 404, "unknown-city"),
        ({"lat": 95}, 422, "bad-place"),
        ({"kind": "spaceport"}, 422, "bad-kind"),
        ({"hours": {"mon": ["9 to 5"]}}, 422, "bad-hours"),
        ({"hours": {"someday": ["09:00-17:00"]}}, 422, "bad-hours"),
        ({"name": "  "}, 422, "invalid-input"),
        ({"category_id": 424242}, 422, "invalid-input"),
        ({"merchant_id": 424242}, 403, "forbidden"),
    ):
        _refused(
            client.post("/api/v1/local/shops", json={**_shop_body(lotus), **changes}, headers=bearer(staff)),
            status,
            code,
        )
    _refused(
        client.post("/api/v1/local/shops", json=_shop_body(424242), headers=bearer(ops)), 404, "not-found"
    )
    with runtime.uow(read_only=True) as uow:
        assert uow.conn.execute(select(local_shops)).first() is None  # nothing was stored

    # A bot sweeping the map from one address is slowed down, as the storefront search is
    strict = make_runtime(
        Settings(database_url=database_url, rate_limits="nearby.address=3/60"),
        clock=SetClock(runtime.clock.now(), speed=0),
    )
    bot = TestClient(create_app(runtime=strict))
    answers = [bot.get("/api/v1/local/nearby", params={"city": HANGZHOU}).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    strict.engine.dispose()

    assert isinstance(hours(None), Hours)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_demo_fills_near_me_wherever_its_shopper_stands(runtime: Runtime) -> None:
    shopkeepers_merchant = demo.seed_local(runtime)
    now = runtime.clock.now()
    wenyi_road, west_lake, the_bund, london = (
        Point(30.2800, 120.0850),
        Point(30.2590, 120.1500),
        Point(31.2400, 121.4900),
        Point(51.5074, -0.1278),
    )
    for place in (wenyi_road, west_lake, the_bund):
        page = service.nearby(runtime.uow(read_only=True), NearbyQuery(place=place), now=now)
        assert len(page.shops) == 20 and page.next_cursor and page.shops[-1].distance_m < 1500
        assert any(s.deals for s in page.shops) and all(s.shop.name_zh for s in page.shops)
    abroad = service.nearby(runtime.uow(read_only=True), NearbyQuery(place=london, radius_m=5000), now=now)
    assert abroad.shops and {s.shop.zone for s in abroad.shops} == {"Europe/London"}
    chain = service.shops_of(runtime.uow(read_only=True), MACHINE, merchant_id=shopkeepers_merchant)
    assert any(distance_m(wenyi_road, s.place) < 3000 for s in chain)
    (own,) = service.deals_of(runtime.uow(read_only=True), merchant_ids=[shopkeepers_merchant])[:1]
    assert own.kind is DealKind.CASH and own.face_value == Money.exact("60.00", "CNY") and own.festival
    offered = {d.kind for d in service.deals_of(runtime.uow(read_only=True), merchant_ids=range(1, 200))}
    assert offered == set(DealKind)  # cash, set meals, services, and deposits on cars and apartments


def test_the_nearby_benchmark_reports_the_search_and_its_baseline() -> None:
    result = CliRunner().invoke(
        app, ["bench", "nearby", "--shops", "2000", "--queries", "40", "--baseline-queries", "8", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    (sqlite,) = report["results"]
    assert report["shops"] == 2000 and report["radius_m"] == 3000 and report["redemptions"] is None
    assert sqlite["nearby"]["count"] == 40 and sqlite["baseline_scan"]["count"] == 8
    assert sqlite["results_agree"] is True and set(sqlite["by_filter"]) == {
        "kind",
        "festival_deal",
        "category",
        "open_now",
    }
