"""An order's whole story: each part records when it moved (cancelled, paid, shipped, completed, refunded,
forfeited, released by the sweeper) and the order page shows those times; the shopper confirms receipt
of a shipped part of their own order, once, on the page or through the API; the sweeper completes
shipped parts SHOPFEST_AUTO_COMPLETE_DAYS after shipping. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shopfest.app import create_app
from shopfest.core.actor import Actor, Role
from shopfest.core.clock import SetClock, parse_instant
from shopfest.core.errors import InvalidInput
from shopfest.demo import HotItem, hot_item
from shopfest.orders import service as orders
from shopfest.orders.service import release_lapsed
from shopfest.orders.store import merchant_orders, status_changes
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from shopfest.web.order_views import zone_of
from shopfest.web.viewer import Viewer
from tests.integration.helpers import token_in
from tests.integration.test_cart_pages import signed_in_tab
from tests.integration.test_order_pages import (
    form_on,
    order_status,
    pay,
    placed_order,
    shopper_of,
    signed_in_again,
    text_of,
)
from tests.integration.test_orders_api import order, shopper
from tests.integration.test_presale import AFTER_THE_FESTIVAL
from tests.integration.test_presale import pay as pay_api
from tests.integration.test_presale import presale as presale  # noqa: F401  # the fixture, by its name

DAYS = 10


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


def changes(runtime: Runtime, order_id: int) -> list[tuple[str, datetime]]:
    """The recorded moves of the order's parts, oldest first."""
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(status_changes.c.status, status_changes.c.at)
                            .join(merchant_orders, merchant_orders.c.id == status_changes.c.merchant_order_id)
                            .where(merchant_orders.c.order_id == order_id).order_by(status_changes.c.id))
        return [(r.status, r.at) for r in rows]


def later(clock: SetClock, **span: float) -> datetime:
    clock.set(clock.now() + timedelta(**span))
    return clock.now()


def shown(runtime: Runtime, at: datetime) -> str:
    """How the English order page writes an instant."""
    return Viewer("en", "CNY").when(at, zone_of(runtime))


def staff_of(item: HotItem) -> Actor:
    return Actor(0, Role.MERCHANT, item.merchant_id)


def shipped_order(tab: TestClient, runtime: Runtime, clock: SetClock, item: HotItem, *, qty: int = 1) -> int:
    """An order of `item` placed and paid on the pages, and shipped a minute later."""
    order_id = placed_order(tab, item.sku_id, qty)
    assert pay(tab, order_id, "sandbox_ok").status_code == 303
    later(clock, minutes=1)
    orders.ship(runtime.uow(), staff_of(item), order_id=order_id, carrier="SF Express", tracking="SF1")
    return order_id


def part_of(runtime: Runtime, order_id: int) -> int:
    return int(orders.get_order(runtime.uow(), shopper_of(runtime, order_id), order_id)["children"][0]["id"])


# --- each move's time --------------------------------------------------------------------------

def test_a_cancelled_order_shows_when_it_was_cancelled(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    at = later(clock, minutes=3)
    page = tab.get(f"/account/orders/{order_id}").text
    cancel = f"/account/orders/{order_id}/cancel"
    assert tab.post(cancel, data=form_on(page, cancel), follow_redirects=False).status_code == 303
    assert changes(runtime, order_id) == [("cancelled", at)]
    words = text_of(tab.get(f"/account/orders/{order_id}").text)
    assert f"Cancelled {shown(runtime, at)}" in words and "time not recorded" not in words


def test_the_sweeper_records_when_it_released_an_unpaid_order(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    phone = hot_item(runtime, stock=5)
    ann = shopper(client, runtime, "ann")
    order_id = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).json()["id"]
    assert changes(runtime, order_id) == []  # checkout writes no row: "placed" is the order's placed_at
    at = later(clock, minutes=20)
    assert release_lapsed(runtime.uow(), runtime.gate) == 1
    assert changes(runtime, order_id) == [("cancelled", at)]


def test_paid_shipped_and_refunded_each_have_their_time(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    paid_at = later(clock, minutes=1)
    pay(tab, order_id, "sandbox_ok")
    refunded_at = later(clock, minutes=2)
    page = tab.get(f"/account/orders/{order_id}").text
    refund = f"/account/orders/{order_id}/refund"
    assert tab.post(refund, data=form_on(page, refund), follow_redirects=False).status_code == 303
    assert changes(runtime, order_id) == [("paid", paid_at), ("refunded", refunded_at)]
    words = text_of(tab.get(f"/account/orders/{order_id}").text)
    assert f"Paid {shown(runtime, paid_at)}" in words and f"Refunded {shown(runtime, refunded_at)}" in words


def test_a_return_accepted_after_receipt_shows_completed_then_partly_refunded_in_order(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = shipped_order(tab, runtime, clock, phone, qty=2)
    shipped_at = clock.now()
    received_at = later(clock, hours=5)
    orders.confirm_receipt(runtime.uow(), shopper_of(runtime, order_id), order_id=order_id,
                           merchant_order_id=part_of(runtime, order_id))
    # a completed part may still be returned, under the return rules that were
    later(clock, hours=1)
    orders.ask_for_return(runtime.uow(), shopper_of(runtime, order_id), order_id=order_id,
                          lines=[(phone.sku_id, 1)], reason="one too many")
    accepted_at = later(clock, hours=1)
    staff = staff_of(phone)
    (request,) = orders.get_order(runtime.uow(), staff, order_id)["children"][0]["returns"]
    orders.accept_return(runtime.uow(), runtime.provider, staff, order_id=order_id, return_id=request["id"],
                         goods_back=True)
    assert [status for status, _ in changes(runtime, order_id)] == [
        "paid", "fulfilled", "completed", "partially_refunded"]
    assert changes(runtime, order_id)[1:] == [("fulfilled", shipped_at), ("completed", received_at),
                                              ("partially_refunded", accepted_at)]
    words = text_of(tab.get(f"/account/orders/{order_id}").text)
    steps = [f"Shipped {shown(runtime, shipped_at)}", f"Completed {shown(runtime, received_at)}",
             "Return asked for", f"Return accepted {shown(runtime, accepted_at)}",
             f"Partly refunded {shown(runtime, accepted_at)}"]
    places = [words.index(step) for step in steps]
    assert places == sorted(places), words


def test_a_forfeited_deposit_shows_when_it_was_forfeited(
        client: TestClient, runtime: Runtime, clock: SetClock, presale: HotItem) -> None:  # noqa: F811
    bob = shopper(client, runtime, "bob")
    order_id = order(client, bob, [{"sku_id": presale.sku_id, "qty": 1}]).json()["id"]
    deposit_at = clock.now()
    pay_api(client, bob, order_id)
    clock.set(parse_instant(AFTER_THE_FESTIVAL))
    release_lapsed(runtime.uow(), runtime.gate)
    assert changes(runtime, order_id) == [("deposit_paid", deposit_at), ("deposit_forfeited", clock.now())]
    words = text_of(signed_in_again(TestClient(client.app), "bob").get(f"/account/orders/{order_id}").text)
    assert f"Deposit paid {shown(runtime, deposit_at)}" in words
    assert f"balance was not paid in its window {shown(runtime, clock.now())}" in words


def test_an_order_moved_before_times_were_recorded_shows_its_state_without_one(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    page = tab.get(f"/account/orders/{order_id}").text
    tab.post(f"/account/orders/{order_id}/cancel", data=form_on(page, f"/account/orders/{order_id}/cancel"))
    with runtime.engine.begin() as conn:
        conn.execute(status_changes.delete())
    words = text_of(tab.get(f"/account/orders/{order_id}").text)
    assert "Cancelled (time not recorded)" in words


# --- confirming receipt ------------------------------------------------------------------------

def test_the_shopper_confirms_receipt_on_the_page_once(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    pay(tab, order_id, "sandbox_ok")
    assert "I have received it" not in tab.get(f"/account/orders/{order_id}").text  # not shipped yet
    later(clock, minutes=1)
    orders.ship(runtime.uow(), staff_of(phone), order_id=order_id, carrier="SF Express", tracking="SF1")
    page = tab.get(f"/account/orders/{order_id}").text
    form = form_on(page, f"/account/orders/{order_id}/received")
    at = later(clock, hours=2)
    done = tab.post(f"/account/orders/{order_id}/received", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/account/orders/{order_id}?done=received"
    again = tab.post(f"/account/orders/{order_id}/received", data=form, follow_redirects=False)
    assert again.status_code == 303  # a double click: it was received, once
    assert [s for s, _ in changes(runtime, order_id)].count("completed") == 1
    after = tab.get(done.headers["location"]).text
    words = text_of(after)
    assert "the part is completed" in words and f"Completed {shown(runtime, at)}" in words
    assert "I have received it" not in after and "Send goods back" in words  # returns stay open
    assert order_status(runtime, shopper_of(runtime, order_id), order_id) == "completed"


def test_receipt_is_refused_before_shipping_and_for_anyone_elses_order(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    pay(tab, order_id, "sandbox_ok")
    part = part_of(runtime, order_id)
    form = {"csrf_token": token_in(tab.get(f"/account/orders/{order_id}").text)}
    early = tab.post(f"/account/orders/{order_id}/received", data={**form, "part": str(part)})
    assert early.status_code == 409 and 'role="alert"' in early.text
    assert "can be confirmed as received" in text_of(early.text)
    tab.cookies.set("shopfest_lang", "zh")
    in_chinese = tab.post(f"/account/orders/{order_id}/received", data={**form, "part": str(part)})
    assert "只有已发货" in in_chinese.text
    tab.cookies.set("shopfest_lang", "en")
    bad_part = tab.post(f"/account/orders/{order_id}/received", data={**form, "part": "x"})
    assert bad_part.status_code == 404
    orders.ship(runtime.uow(), staff_of(phone), order_id=order_id, carrier="SF Express", tracking="SF1")
    eve = signed_in_tab(client, runtime, "eve")
    eve_form = {"csrf_token": token_in(eve.get("/account/orders").text), "part": str(part)}
    theirs = eve.post(f"/account/orders/{order_id}/received", data=eve_form)
    assert theirs.status_code == 404
    assert order_status(runtime, shopper_of(runtime, order_id), order_id) == "fulfilled"
    anonymous = TestClient(client.app).get(f"/account/orders/{order_id}", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    assert changes(runtime, order_id)[-1][0] == "fulfilled"


def test_the_api_confirms_receipt_once_for_the_shopper_only(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    phone = hot_item(runtime, stock=5)
    ann, eve = shopper(client, runtime, "ann"), shopper(client, runtime, "eve")
    placed = order(client, ann, [{"sku_id": phone.sku_id, "qty": 1}]).json()
    order_id, part = placed["id"], placed["children"][0]["id"]
    url = f"/api/v1/orders/{order_id}/parts/{part}/receipt"
    pay_api(client, ann, order_id)
    early = client.post(url, headers=ann)
    assert early.status_code == 409 and early.json()["type"].endswith("/part-not-receivable")
    orders.ship(runtime.uow(), staff_of(phone), order_id=order_id, carrier="SF Express", tracking="SF1")
    assert client.post(url, headers=eve).status_code == 404
    no_part = f"/api/v1/orders/{order_id}/parts/{part + 999}/receipt"
    assert client.post(no_part, headers=ann).status_code == 404
    assert client.post(url).status_code == 401
    done = client.post(url, headers=ann)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed" and done.json()["children"][0]["status"] == "completed"
    twice = client.post(url, headers=ann)
    assert twice.status_code == 409 and twice.json()["type"].endswith("/part-already-received")
    assert [s for s, _ in changes(runtime, order_id)].count("completed") == 1


# --- completing by itself ----------------------------------------------------------------------

def test_the_sweeper_completes_parts_shipped_days_ago_and_no_others(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    phone = hot_item(runtime, stock=9)
    ann = signed_in_tab(client, runtime, "ann")
    old = shipped_order(ann, runtime, clock, phone)
    old_shipped = clock.now()
    received = shipped_order(ann, runtime, clock, phone)
    orders.confirm_receipt(runtime.uow(), shopper_of(runtime, received), order_id=received,
                           merchant_order_id=part_of(runtime, received))
    later(clock, days=3)
    young = shipped_order(ann, runtime, clock, phone)
    unshipped = placed_order(ann, phone.sku_id)
    pay(ann, unshipped, "sandbox_ok")
    after = timedelta(days=DAYS)
    clock.set(old_shipped + after - timedelta(minutes=1))
    release_lapsed(runtime.uow(), runtime.gate, complete_after=after)
    assert order_status(runtime, shopper_of(runtime, old), old) == "fulfilled"  # a minute short of 10 days
    at = later(clock, minutes=2)
    release_lapsed(runtime.uow(), runtime.gate)  # without complete_after: no completions this round
    assert order_status(runtime, shopper_of(runtime, old), old) == "fulfilled"
    release_lapsed(runtime.uow(), runtime.gate, complete_after=after)
    assert changes(runtime, old)[-1] == ("completed", at)
    assert order_status(runtime, shopper_of(runtime, old), old) == "completed"
    assert [s for s, _ in changes(runtime, received)].count("completed") == 1
    assert order_status(runtime, shopper_of(runtime, young), young) == "fulfilled"
    assert order_status(runtime, shopper_of(runtime, unshipped), unshipped) == "paid"
    later(clock, days=4)  # the young one was shipped three days and a few minutes after the old one
    release_lapsed(runtime.uow(), runtime.gate, complete_after=after)
    assert order_status(runtime, shopper_of(runtime, young), young) == "completed"
    words = text_of(signed_in_again(ann, "ann").get(f"/account/orders/{old}").text)
    assert f"Completed {shown(runtime, at)}" in words


def test_auto_complete_days_is_a_setting() -> None:
    assert Settings.from_env({}).auto_complete_days == 10
    assert Settings.from_env({"SHOPFEST_AUTO_COMPLETE_DAYS": "3"}).auto_complete_days == 3
    with pytest.raises(InvalidInput):
        Settings.from_env({"SHOPFEST_AUTO_COMPLETE_DAYS": "0"})


def test_a_part_received_before_the_other_ships_leaves_the_order_to_complete_with_the_last(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    phone, scarf = hot_item(runtime, stock=5), hot_item(runtime, stock=5, price="199.00", name="Birch")
    ann = shopper(client, runtime, "ann")
    placed = order(client, ann, [{"sku_id": item.sku_id, "qty": 1} for item in (phone, scarf)]).json()
    order_id = placed["id"]
    parts = {c["merchant_id"]: c["id"] for c in placed["children"]}
    pay_api(client, ann, order_id)
    orders.ship(runtime.uow(), staff_of(phone), order_id=order_id, carrier="SF Express", tracking="SF1")
    url = f"/api/v1/orders/{order_id}/parts/{{}}/receipt"
    assert client.post(url.format(parts[phone.merchant_id]), headers=ann).json()["status"] == "paid"
    shipped = orders.ship(runtime.uow(), staff_of(scarf), order_id=order_id, carrier="EMS", tracking="E1")
    assert shipped["status"] == "fulfilled"
    assert client.post(url.format(parts[scarf.merchant_id]), headers=ann).json()["status"] == "completed"
