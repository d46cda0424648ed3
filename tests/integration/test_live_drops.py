"""Live coupons and flash deals through real WebSocket clients: the host drops N coupons and exactly N
are claimed, one per shopper, under any contention; they price only the event's products; a flash
deal sells through the checkout at its price and the room sees its stock fall."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

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
from shopfest.core.clock import SetClock
from shopfest.core.errors import DomainError
from shopfest.core.money import Money
from shopfest.demo import hot_item, seed_categories
from shopfest.inventory import service as inventory
from shopfest.inventory.hot_path import Run
from shopfest.inventory.model import Claim
from shopfest.live import service as live
from shopfest.live.store import LiveStore
from shopfest.promotions import service as promotions
from shopfest.runtime import Runtime
from tests.integration.helpers import bearer, operator_token, token_for
from tests.integration.live_helpers import Viewer, an_event, served


@dataclass(frozen=True)
class Show:
    """A brand's live show: its scarf is on the show, its gloves are not; a rival brand's host is on
    the bill too, though its store sells none of the show's products."""

    address: str
    event_id: int
    scarf_sku: int
    gloves_sku: int
    rival_sku: int
    tokens: dict[str, str]


def _store(runtime: Runtime, name: str, goods: list[tuple[str, str]]) -> tuple[int, list[tuple[int, int]]]:
    """A merchant of one brand listing `goods` (title, price), ten of each: (merchant, [(product, sku)])."""
    shelves = seed_categories(runtime)
    brand = catalog.import_catalog(runtime.uow(), brands=[Brand(name, BrandTier.REGULAR, True)])[0][0]
    merchant = catalog.import_catalog(runtime.uow(), merchants=[Merchant(
        f"{name} Flagship Store", MerchantKind.ONLINE, "CNY", frozenset({brand.id or 0}))])[1][0]
    listed = catalog.import_products(runtime.uow(), [(merchant.id or 0, ProductDraft(
        title=title, brand_id=brand.id or 0, category_id=shelves["apparel"].id or 0,
        fulfilment=Fulfilment.SHIPPED, debut_at=runtime.clock.now() - timedelta(days=1),
        skus=(SkuDraft("std", Money.parse(price, "CNY"), 10),))) for title, price in goods])
    return merchant.id or 0, [(p.id or 0, p.skus[0].id or 0) for p in listed]


def _sign_in(client: TestClient, runtime: Runtime, name: str, role: Role,
             merchant_id: int | None = None) -> tuple[int, str]:
    user = accounts.create_account_unchecked(runtime.uow(), email=f"{name}@live.test",
                                             password="live-secret-1", role=role, merchant_id=merchant_id)
    return user.id or 0, token_for(client, f"{name}@live.test", "live-secret-1")


@pytest.fixture
def show(runtime: Runtime) -> Iterator[Show]:
    aurora, [(scarf, scarf_sku), (_, gloves_sku)] = _store(
        runtime, "Aurora", [("Aurora Silk Scarf", "299.00"), ("Aurora Wool Gloves", "199.00")])
    rival, [(_, rival_sku)] = _store(runtime, "Borealis", [("Borealis Down Coat", "899.00")])
    app = create_app(runtime=runtime)
    client = TestClient(app)  # not entered: its lifespan's end would close the checkout the server uses
    (host_id, host), (rival_id, rival_host) = (_sign_in(client, runtime, "host", Role.MERCHANT, aurora),
                                               _sign_in(client, runtime, "rival", Role.MERCHANT, rival))
    tokens = {"ops": operator_token(client, runtime), "host": host, "rival": rival_host,
              **{name: _sign_in(client, runtime, name, Role.SHOPPER)[1] for name in ("ann", "bob", "cy")}}
    event = an_event(runtime, host_ids=(host_id, rival_id), product_ids=(scarf,))
    with served(app) as address:
        yield Show(address, event.id or 0, scarf_sku, gloves_sku, rival_sku, tokens)


def refused(viewer: Viewer, frame: dict[str, Any]) -> str:
    viewer.send({**frame, "ref": "r"})
    return str(viewer.wait_for("error", where=lambda f: f.get("ref") == "r")["code"])


def reply_to(viewer: Viewer, ref: str) -> dict[str, Any]:
    """The reply (or error) to the command sent with `ref`."""
    while True:
        frame = viewer.read()
        if frame.get("ref") == ref:
            return frame


def moments(runtime: Runtime, event_id: int, kind: str) -> list[dict[str, Any]]:
    """What the room recorded of `kind` for its replay."""
    with runtime.engine.connect() as conn:
        return [dict(m.payload) for m in LiveStore(conn).moments(event_id, kinds=[kind])]


def claim_by_service(runtime: Runtime, shopper_id: int, *, event_id: int, coupon_id: int) -> str:
    try:
        live.claim_live_coupon(runtime.uow(), Actor(shopper_id, Role.SHOPPER), event_id=event_id,
                               coupon_id=coupon_id)
    except DomainError as refusal:
        return refusal.code
    return "claimed"


def test_a_host_drops_coupons_exactly_n_are_claimed_and_they_price_the_events_products_only(
        show: Show, runtime: Runtime, clock: SetClock) -> None:
    host = Viewer(show.address, show.event_id, token=show.tokens["host"])
    ann, bob, cy = (Viewer(show.address, show.event_id, token=show.tokens[n]) for n in ("ann", "bob", "cy"))
    watcher = Viewer(show.address, show.event_id)
    drop = {"type": "drop_coupon", "off": "50.00", "min_spend": "100.00", "quantity": 5, "seconds": 60}

    # viewers, shoppers, moderators and another brand's host may not drop coupons
    for who in (watcher, ann, Viewer(show.address, show.event_id, token=show.tokens["ops"]),
                Viewer(show.address, show.event_id, token=show.tokens["rival"])):
        assert refused(who, drop) == "not-allowed"
    assert refused(host, {**drop, "quantity": 0}) == "invalid-input"
    assert refused(host, {**drop, "seconds": 3_601}) == "invalid-input"
    assert refused(host, {**drop, "off": "fifty"}) == "invalid-input"

    # when the host drops five, everyone sees the drop
    host.send(drop)
    dropped = watcher.wait_for("coupon_dropped")
    assert (dropped["quantity"], dropped["off"], dropped["currency"]) == (5, "50.00", "CNY")
    assert dropped["sku_ids"] == [show.scarf_sku]
    coupon_id = dropped["coupon_id"]
    assert refused(watcher, {"type": "claim", "coupon_id": coupon_id}) == "unauthenticated"
    assert refused(ann, {"type": "claim", "coupon_id": 999_999}) == "not-found"

    # ann claims one, and a second is refused
    ann.send({"type": "claim", "coupon_id": coupon_id, "ref": "a"})
    assert ann.wait_for("claimed")["ref"] == "a"
    assert refused(ann, {"type": "claim", "coupon_id": coupon_id}) == "claim-limit-reached"

    # then nineteen more race for the four left: two on sockets, seventeen straight to the service
    start = threading.Barrier(18)

    def rush(shopper_id: int) -> str:
        start.wait()
        return claim_by_service(runtime, shopper_id, event_id=show.event_id, coupon_id=coupon_id)

    with ThreadPoolExecutor(max_workers=17) as pool:
        racing = [pool.submit(rush, 9_000 + n) for n in range(17)]
        start.wait()
        for viewer in (bob, cy):
            viewer.send({"type": "claim", "coupon_id": coupon_id, "ref": "t"})
        answers = [f.result() for f in racing] + [
            _answer(reply_to(viewer, "t")) for viewer in (bob, cy)]
    assert sorted(answers).count("claimed") == 4
    assert set(answers) == {"claimed", "coupons-gone"}
    issue = promotions.coupon(runtime.uow(), coupon_id)
    assert issue.claimed == 5 and issue.live_event_id == show.event_id
    assert watcher.wait_for("coupon_left", where=lambda f: f["left"] == 0)["coupon_id"] == coupon_id

    # a late viewer is welcomed with the drop and its count; the replay keeps the drop
    late = Viewer(show.address, show.event_id)
    state = {frame["type"]: frame for frame in late.welcome["state"]}
    assert state["coupon_dropped"]["coupon_id"] == coupon_id and state["coupon_left"]["left"] == 0
    assert [m["coupon_id"] for m in moments(runtime, show.event_id, "coupon")] == [coupon_id]

    # a banned viewer claims nothing (banned here by the table: the moderators' commands are the chat's)
    with runtime.engine.begin() as conn:
        LiveStore(conn).sanction(event_id=show.event_id, user_id=cy.welcome["you"]["user_id"], kind="ban",
                                 until=None, by_id=1, at=clock.now())
    assert refused(cy, {"type": "claim", "coupon_id": coupon_id}) == "banned"

    # a live coupon is the room's: not in the coupon centre
    assert coupon_id not in [c.id for c in promotions.coupon_centre(runtime.uow(read_only=True))]

    # the coupon takes 50.00 off the show's scarf and leaves the same store's gloves alone
    lines = [{"sku_id": show.scarf_sku, "qty": 1}, {"sku_id": show.gloves_sku, "qty": 1}]
    placed = httpx.post(f"http://{show.address}/api/v1/orders", headers=bearer(show.tokens["ann"]),
                        json={"lines": lines, "coupons": [coupon_id]}, timeout=10)
    assert placed.status_code == 201, placed.text
    adjusted = {line["sku_id"]: [(a["source"], a["amount"]["amount"]) for a in line["adjustments"]]
                for child in placed.json()["children"] for line in child["lines"]}
    assert adjusted == {show.scarf_sku: [(f"coupon:{coupon_id}", "50.00")], show.gloves_sku: []}
    assert placed.json()["total"] == {"amount": "448.00", "currency": "CNY"}

    # after its minute nobody claims one
    clock.set(clock.now() + timedelta(seconds=61))
    assert refused(bob, {"type": "claim", "coupon_id": coupon_id}) == "coupon-expired"


def _answer(frame: dict[str, Any]) -> str:
    return "claimed" if frame["type"] == "claimed" else str(frame["code"])


def test_a_host_starts_a_flash_deal_that_sells_through_the_checkout_and_the_room_sees_stock_fall(
        show: Show, runtime: Runtime) -> None:
    host = Viewer(show.address, show.event_id, token=show.tokens["host"])
    ann = Viewer(show.address, show.event_id, token=show.tokens["ann"])
    watcher = Viewer(show.address, show.event_id)
    deal = {"type": "start_deal", "sku_id": show.scarf_sku, "price": "199.00", "quantity": 3,
            "per_shopper_limit": 1, "countdown": 0, "minutes": 30}

    assert refused(ann, deal) == "not-allowed"
    assert refused(Viewer(show.address, show.event_id, token=show.tokens["rival"]),
                   {**deal, "sku_id": show.rival_sku}) == "not-allowed"
    assert refused(host, {**deal, "sku_id": show.gloves_sku}) == "not-found"  # not on the show
    assert refused(host, {**deal, "minutes": 0}) == "invalid-input"
    assert refused(host, {**deal, "price": "0.00"}) == "invalid-input"
    assert refused(host, {**deal, "price": "299.00"}) == "invalid-input"  # no cheaper than its list price

    # when the host starts the deal, everyone sees it with its stock
    host.send(deal)
    started = watcher.wait_for("deal")
    assert (started["sku_id"], started["price"], started["stock"], started["per_shopper_limit"]) == (
        show.scarf_sku, "199.00", 3, 1)
    assert started["starts_at"] < started["ends_at"]
    assert refused(host, deal) == "conflict"  # one flash sale of a SKU at a time

    # an order through the checkout pays the flash price, and the room sees the stock fall
    placed = httpx.post(f"http://{show.address}/api/v1/orders", headers=bearer(show.tokens["ann"]),
                        json={"lines": [{"sku_id": show.scarf_sku, "qty": 1}]}, timeout=10)
    assert placed.status_code == 201, placed.text
    assert placed.json()["total"] == {"amount": "199.00", "currency": "CNY"}
    left = watcher.wait_for("deal_stock")
    assert (left["flash_sale_id"], left["left"]) == (started["flash_sale_id"], 2)
    # the checkout's limit holds for a deal bought in the room's way too
    again = httpx.post(f"http://{show.address}/api/v1/orders", headers=bearer(show.tokens["ann"]),
                       json={"lines": [{"sku_id": show.scarf_sku, "qty": 1}]}, timeout=10)
    assert again.status_code == 409 and again.json()["type"].endswith("limit-exceeded")
    assert [m["flash_sale_id"] for m in moments(runtime, show.event_id, "deal")] == [started["flash_sale_id"]]


@pytest.mark.parametrize("store_settings", ["postgresql+redis"], indirect=True)
def test_a_deals_stock_left_reads_what_the_redis_gate_let_through(hot_runtime: Runtime) -> None:
    # given a flash sale of 5 units, 2 of them taken by an order the Redis gate decided
    phone = hot_item(hot_runtime, stock=8, flash_quantity=5, per_shopper_limit=2)
    sale_id = phone.flash_sale_id or 0
    assert inventory.flash_sale_left(hot_runtime.uow(read_only=True), sale_id) == 5
    with hot_runtime.uow() as uow:
        reservation = hot_runtime.gate.reserve(uow, [Run((Claim(phone.sku_id, 2, 7, sale_id),), 1)])
        reservation.record()
        uow.commit()
    assert reservation.outcomes == [None]
    # then the deal's ticker reads 3 left
    assert inventory.flash_sale_left(hot_runtime.uow(read_only=True), sale_id) == 3
    assert inventory.flash_sale_left(hot_runtime.uow(read_only=True), sale_id + 1) is None
