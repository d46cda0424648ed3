"""The insights stream on SQLite and PostgreSQL: paid orders and refunds become sale events in the
outbox, are relayed and counted exactly once whatever is delivered again, a restarted consumer catches
up from the outbox, and `rebuild` recomputes from the orders exactly what the stream counted."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from typer.testing import CliRunner

from shopfest.accounts import service as accounts
from shopfest.app import (
    create_app,
    insights_consumers,
    insights_counting,
    insights_projections,
    make_runtime,
    rebuild_insights,
)
from shopfest.catalog.model import Fulfilment
from shopfest.cli import app as cli_app
from shopfest.core.actor import Actor, Role
from shopfest.core.clock import SetClock, parse_instant
from shopfest.core.db import outbox
from shopfest.core.errors import DomainError
from shopfest.core.money import Money
from shopfest.demo import HotItem, hot_item
from shopfest.festival import service as festival
from shopfest.insights import service as insights
from shopfest.insights.model import Published
from shopfest.insights.pump import Consumer, Pump
from shopfest.insights.redis_stream import RedisEventStream, insights_stream_key
from shopfest.insights.stream import LocalEventStream
from shopfest.local import instore, vouchers
from shopfest.local.model import Point, Shop, ShopKind
from shopfest.local.store import LocalStore
from shopfest.orders import service as orders
from shopfest.orders.drafting import PlaceOrder
from shopfest.payments import fx
from shopfest.payments.provider import SandboxProvider
from shopfest.promotions import service as promotions
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.integration.helpers import bearer, operator_token, token_for
from tests.integration.test_invariants import fresh_database  # noqa: F401  a fresh database per night

ANN, BOB = 501, 502


@pytest.fixture(name="shop")
def shop_fixture(runtime: Runtime) -> HotItem:
    return shop(runtime)


def shop(runtime: Runtime) -> HotItem:
    """A 3.37 yuan lantern, plenty of it; a gateway that answers at once and sends no webhooks."""
    runtime.provider = SandboxProvider(runtime.settings.webhook_secret, deliver=None, delay_seconds=None,
                                       clock=runtime.clock)
    return hot_item(runtime, stock=100, price="3.37", name="Lantern")


def place(runtime: Runtime, shopper: int, sku_id: int, qty: int, currency: str) -> int:
    answer = runtime.checkout.place(PlaceOrder(shopper, ((sku_id, qty),), currency)).result(timeout=30)
    return int(answer.receipt["id"])


def pay(runtime: Runtime, order_id: int, shopper: int) -> None:
    orders.pay_order(runtime.uow(), runtime.provider, Actor(shopper, Role.SHOPPER), order_id=order_id,
                     method="sandbox_ok")


def refund(runtime: Runtime, order_id: int, shopper: int, sku_id: int, units: int) -> None:
    orders.refund_order(runtime.uow(), runtime.provider, Actor(shopper, Role.SHOPPER), order_id=order_id,
                        lines=[(sku_id, units)], back_on_shelf=True, refund_key=uuid.uuid4().hex)


def local_pump(runtime: Runtime) -> Pump:
    """The serving pump's two consumers, on in-process streams."""
    return Pump(runtime.uow, insights_consumers(runtime.settings))


def relayed(runtime: Runtime) -> list[Published]:
    """Every sale event the outbox holds unpublished, relayed (and marked published)."""
    taken: list[Published] = []
    while insights.relay(runtime.uow(), taken.extend):
        pass
    return taken


def absorb(runtime: Runtime, events: Sequence[Published]) -> int:
    """`events` absorbed by each consumer the serving pump runs; how many were new to the screen's."""
    return [insights.absorb(runtime.uow(), events, projections=projections, consumer=name)
            for name, projections in insights_counting().items()][0]


def figures(runtime: Runtime) -> dict[str, Any]:
    found = insights.screen_figures(runtime.uow(read_only=True), currency=runtime.settings.reporting_currency)
    found.pop("version")
    return found


def rebuilt(runtime: Runtime) -> dict[str, Any]:
    rebuild_insights(runtime)
    return figures(runtime)


def test_each_sale_counts_once_whatever_is_delivered_again_and_refunds_subtract(
        runtime: Runtime, shop: HotItem, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    usd, jpy = place(runtime, ANN, shop.sku_id, 3, "USD"), place(runtime, BOB, shop.sku_id, 2, "JPY")
    unpaid = place(runtime, BOB, shop.sku_id, 1, "CNY")
    pay(runtime, usd, ANN)
    pay(runtime, jpy, BOB)
    batch = relayed(runtime)
    assert [e.name for e in batch] == ["OrderPaidCounted", "OrderPaidCounted"] and relayed(runtime) == []
    # the same batch absorbed twice, and once more in another order: counted once
    assert absorb(runtime, batch) == 2 and absorb(runtime, batch[::-1]) == 0
    seen = figures(runtime)
    assert seen["orders"] == 2 and seen["shoppers"] == 2 and seen["gmv_minor"] == 337 * 5
    assert seen["brands"] == [{"key": seen["brands"][0]["key"], "name": "Lantern Phones",
                               "gmv_minor": 1685, "orders": 2}]
    assert seen["per_second"]["peak"] == 2 and seen["per_second"]["series"][0][1:] == [2, 1685]
    # a relay whose publishing fails marks nothing; the next one hands the refund on, counted once
    refund(runtime, usd, ANN, shop.sku_id, 1)

    def broken(events: Sequence[Published]) -> None:
        raise ConnectionError("the stream is down")
    with pytest.raises(ConnectionError):
        insights.relay(runtime.uow(), broken)
    again = relayed(runtime)
    assert [e.name for e in again] == ["OrderRefundCounted"] and absorb(runtime, again + batch) == 1
    refund(runtime, usd, ANN, shop.sku_id, 2)  # the rest of it: the whole order is refunded
    # a relay that published and then failed before marking: the event goes again, and counts once
    handed: list[Published] = []

    def published_then_lost(events: Sequence[Published]) -> None:
        handed.extend(events)
        raise ConnectionError("the process died before its commit")
    with pytest.raises(ConnectionError):
        insights.relay(runtime.uow(), published_then_lost)
    assert absorb(runtime, handed) == 1 and absorb(runtime, relayed(runtime)) == 0
    seen = figures(runtime)
    assert seen["gmv_minor"] == 337 * 2 and seen["refunded_minor"] == 337 * 3 and seen["orders"] == 2
    assert seen["brands"][0]["gmv_minor"] == 674 and seen["countries"] == []  # the shoppers have no account
    assert unpaid and rebuilt(runtime) == seen
    # the command line rebuilds and shows the same; a bad setting is a message and exit code 2
    monkeypatch.setenv("SHOPFEST_DATABASE_URL", database_url)
    cli = CliRunner()
    rebuilt_here = cli.invoke(cli_app, ["insights", "rebuild"])
    assert rebuilt_here.exit_code == 0 and "from 3 sales: 2 paid orders, GMV 6.74 CNY" in rebuilt_here.output
    shown = json.loads(cli.invoke(cli_app, ["insights", "show", "--json"]).output)
    assert (shown["gmv_minor"], shown["refunded_minor"], shown["brands"]) == (674, 1011, seen["brands"])
    monkeypatch.setenv("SHOPFEST_REPORTING_CURRENCY", "XAU")
    refused = cli.invoke(cli_app, ["insights", "show"])
    assert refused.exit_code == 2 and "SHOPFEST_REPORTING_CURRENCY" in refused.output


def test_a_deposit_alone_is_not_counted_and_the_balance_counts_the_order(runtime: Runtime,
                                                                          clock: SetClock) -> None:
    clock.set(parse_instant("2027-11-05T20:00:00+08:00"))  # the second wave's deposit window
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    runtime.provider = SandboxProvider(runtime.settings.webhook_secret, deliver=None, delay_seconds=None,
                                       clock=clock)
    item = hot_item(runtime, stock=3)
    promotions.offer_presale(runtime.uow(), Actor(0, Role.MERCHANT, item.merchant_id), sku_id=item.sku_id,
                             deposit=Money.parse("500.00", "CNY"))
    order_id = place(runtime, ANN, item.sku_id, 1, "CNY")
    pay(runtime, order_id, ANN)
    assert relayed(runtime) == [] and figures(runtime)["orders"] == 0
    clock.set(parse_instant("2027-11-11T00:30:00+08:00"))  # its balance window
    pay(runtime, order_id, ANN)
    assert absorb(runtime, relayed(runtime)) == 1
    seen = figures(runtime)
    assert seen["orders"] == 1 and seen["gmv_minor"] == 599900
    assert seen["debuts"] == {"gmv_minor": 599900, "units": 1}  # listed in the festival, a day before
    assert seen["per_second"]["peak_at"] == "2027-11-10T16:30:00+00:00"
    assert rebuilt(runtime) == seen


def test_a_restarted_consumer_catches_up_and_the_operator_reads_the_screen(
        runtime: Runtime, shop: HotItem) -> None:
    paid = [place(runtime, ANN, shop.sku_id, n, "CNY") for n in (1, 2)]
    for order_id in paid:
        pay(runtime, order_id, ANN)
    # relayed into a process's queue, which then stopped before counting them
    lost = LocalEventStream()
    assert insights.relay(runtime.uow(), lost.publish) > 0 and figures(runtime)["orders"] == 0
    pump = local_pump(runtime)
    assert pump.catch_up() == 2 * 2 and pump.step() == 0  # both events, to each of the two consumers
    assert figures(runtime)["orders"] == 2 and pump.catch_up() == 0
    assert merchant_totals(runtime)[0][3:6] == (2, 3, 337 * 3)  # orders, units, GMV: the merchants' too
    pay(runtime, place(runtime, BOB, shop.sku_id, 1, "CNY"), BOB)
    assert pump.step() == 1 * 2 and figures(runtime)["gmv_minor"] == 337 * 4
    with TestClient(create_app(runtime=runtime)) as client:  # serving: its pump counts on its own
        assert client.get("/api/v1/insights/screen").status_code == 401
        ops = bearer(operator_token(client, runtime))
        accounts.create_account_unchecked(runtime.uow(), email="mei@shoppers.test", password="shop-secret-1",
                                          role=Role.SHOPPER)
        mei = bearer(token_for(client, "mei@shoppers.test", "shop-secret-1"))
        assert client.get("/api/v1/insights/screen", headers=mei).status_code == 403
        assert client.get("/api/v1/insights/screen", headers=ops).json()["orders"] == 3
        pay(runtime, place(runtime, BOB, shop.sku_id, 2, "CNY"), BOB)
        screen = wait_for(lambda: client.get("/api/v1/insights/screen", headers=ops).json(),
                          until=lambda seen: seen["orders"] == 4)
    assert screen["gmv_minor"] == 337 * 6 and screen["currency"] == "CNY" and screen["version"] >= 4
    assert insights.figures_version(runtime.uow(read_only=True)) == screen["version"]


def wait_for(read: Callable[[], dict[str, Any]], *, until: Callable[[dict[str, Any]], bool],
             seconds: float = 10.0) -> dict[str, Any]:
    """What `read` answers once `until` holds of it; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while not until(seen := read()):
        assert time.monotonic() < deadline, seen
        time.sleep(0.02)
    return seen


def test_figures_are_in_the_reporting_currency_at_each_orders_rate(runtime: Runtime) -> None:
    in_dollars = make_runtime(replace(runtime.settings, reporting_currency="USD"), engine=runtime.engine,
                              clock=runtime.clock)
    try:
        reported_in_dollars(in_dollars, shop(in_dollars))
    finally:
        in_dollars.checkout.close()


def reported_in_dollars(runtime: Runtime, item: HotItem) -> None:
    in_usd, in_cny = place(runtime, ANN, item.sku_id, 4, "USD"), place(runtime, BOB, item.sku_id, 5, "CNY")
    for order_id, shopper in ((in_usd, ANN), (in_cny, BOB)):
        pay(runtime, order_id, shopper)
    events = relayed(runtime)
    rates = {e.payload["order_id"]: e.payload["rate"] for e in events}
    assert rates[in_cny] == str(fx.rate("CNY", "USD").rate)
    with runtime.uow(read_only=True) as uow:
        recorded = orders.order_in(uow, in_usd)
    assert recorded is not None and rates[in_usd] == str(recorded.pay_rate.rate)
    absorb(runtime, events)
    seen = figures(runtime)
    dollars = fx.rate("CNY", "USD").convert(Money(5 * 337, "CNY")).minor
    assert seen["currency"] == "USD" and seen["gmv_minor"] == recorded.to_pay.minor + dollars
    assert rebuilt(runtime) == seen


def test_local_payments_and_redemptions_count_among_local_sales(runtime: Runtime, clock: SetClock) -> None:
    clock.set(parse_instant("2027-11-01T23:00:00+08:00"))  # wave 1's sale
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    noodles = hot_item(runtime, stock=20, price="60.00", fulfilment=Fulfilment.SERVICE_VOUCHER, name="Noodle")
    with runtime.uow() as uow:
        counter = Shop(noodles.merchant_id, "Noodles on Nanjing Road", ShopKind.GROCERY, 1796236,
                       Point(31.235, 121.475), "Asia/Shanghai", pay_token="noodle-counter")
        shop_id = LocalStore(uow.conn).add_shop(counter, at=clock.now())
        uow.commit()
    ann, staff = Actor(ANN, Role.SHOPPER), Actor(9001, Role.MERCHANT, noodles.merchant_id)
    started = instore.start_payment(runtime.uow(), runtime.provider, ann, pay_token="noodle-counter",
                                    amount=Money.parse("40.00", "CNY"), key="bowl-1", now=clock.now())
    instore.pay(runtime.uow(), runtime.provider, ann, payment_id=started.id, method="sandbox_ok")
    order_id = place(runtime, ANN, noodles.sku_id, 2, "CNY")
    codes = orders.pay_order(runtime.uow(), runtime.provider, ann, order_id=order_id,
                             method="sandbox_ok")["children"][0]["vouchers"]
    first = vouchers.redeem(runtime.uow(), staff, code=codes[0], shop_id=shop_id)
    vouchers.redeem(runtime.uow(), staff, code=codes[1], shop_id=shop_id)
    vouchers.undo_redemption(runtime.uow(), staff, redemption_id=first.id)
    assert absorb(runtime, relayed(runtime)) == 5
    seen = figures(runtime)
    assert seen["local"] == {"gmv_minor": 4000, "payments": 1, "redemptions": 1}
    assert seen["gmv_minor"] == 4000 + 12000 and seen["orders"] == 1
    assert rebuilt(runtime) == seen


PLACE = st.tuples(st.just("place"), st.sampled_from((ANN, BOB, 503)), st.integers(0, 3), st.integers(0, 2),
                  st.sampled_from(("CNY", "USD", "JPY")), st.booleans())
ACTIONS = st.one_of(
    PLACE, PLACE,
    st.tuples(st.just("pay"), st.integers(0, 50)),
    st.tuples(st.just("refund"), st.integers(0, 50), st.integers(0, 1), st.integers(1, 3)),
    st.tuples(st.just("pump"), st.booleans()),
    st.tuples(st.just("later"), st.integers(1, 90)),
)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(night=st.lists(ACTIONS, min_size=4, max_size=24))
def test_rebuild_equals_what_the_stream_counted_after_any_night(
        fresh_database: Callable[[], str], night: list[tuple[Any, ...]]) -> None:  # noqa: F811
    clock = SetClock(parse_instant("2027-11-10T23:55:00+08:00"), speed=0)
    runtime = make_runtime(Settings(database_url=fresh_database(), pool_size=2, max_unpaid_units=100),
                           clock=clock)
    try:
        items = (shop(runtime), hot_item(runtime, stock=100, price="1999.99", name="Comet"))
        pump = local_pump(runtime)
        placed: list[tuple[int, int]] = []
        for action in [("place", ANN, 2, 1, "USD", True), ("place", BOB, 1, 0, "JPY", True), *night]:
            _act(runtime, items, pump, placed, action)
        pump.step()
        streamed, merchants = figures(runtime), merchant_totals(runtime)
        assert rebuilt(runtime) == streamed
        assert merchant_totals(runtime) == merchants
    finally:
        runtime.checkout.close()
        runtime.engine.dispose()


def merchant_totals(runtime: Runtime) -> list[tuple[Any, ...]]:
    """Each merchant's sales by country and category, all hours together: a rebuild dates an order's
    refunds at its last one, the stream at each (docs/insights.md), so only hours may differ."""
    with runtime.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(
            "SELECT merchant_id, country, category_id, SUM(orders), SUM(units), SUM(gmv_minor), "
            "SUM(refunds_minor), SUM(discount_minor) FROM merchant_sales "
            "GROUP BY merchant_id, country, category_id ORDER BY merchant_id, country, category_id"))]


def _act(runtime: Runtime, items: Sequence[HotItem], pump: Pump, placed: list[tuple[int, int]],
         action: tuple[Any, ...]) -> None:
    """One step of the night; the refusals (sold out, nothing left to refund, unpaid) are part of it."""
    kind, *args = action
    try:
        if kind == "place" and args[1] + args[2]:
            lines = tuple((item.sku_id, qty) for item, qty in zip(items, args[1:3], strict=True) if qty)
            answer = runtime.checkout.place(PlaceOrder(args[0], lines, args[3])).result(timeout=30)
            placed.append((int(answer.receipt["id"]), args[0]))
            if args[4]:
                pay(runtime, *placed[-1])
        elif kind == "pay" and placed:
            pay(runtime, *placed[args[0] % len(placed)])
        elif kind == "refund" and placed:
            order_id, shopper = placed[args[0] % len(placed)]
            refund(runtime, order_id, shopper, items[args[1]].sku_id, args[2])
        elif kind == "pump":
            pump.step()
            if args[0]:  # the stream hands everything over again: nothing counts twice
                pump.publish(relayed_again(runtime))
                pump.drain()
        elif kind == "later":
            runtime.clock.set(runtime.clock.now() + timedelta(seconds=args[0]))  # type: ignore[attr-defined]
    except DomainError:
        pass


def relayed_again(runtime: Runtime) -> list[Published]:
    """Every sale event of the outbox, as a redelivery would hand it over again."""
    again: list[Published] = []
    insights.uncounted(runtime.uow(), again.extend, consumer="screen")  # none: all relayed were counted
    with runtime.uow(read_only=True) as uow:
        rows = uow.conn.execute(select(outbox).where(outbox.c.published_at.is_not(None))).all()
    return again + [Published(r.id, r.name, r.payload, r.occurred_at) for r in rows]


def test_two_processes_on_one_redis_group_count_each_sale_once_and_take_over_a_dead_ones_batch(
        runtime: Runtime, shop: HotItem, redis_url: str) -> None:
    def consumer(name: str) -> RedisEventStream:
        return RedisEventStream.from_url(redis_url, key=key, group="insights", consumer=name,
                                         claim_idle_ms=50)

    key = insights_stream_key(f"test-{uuid.uuid4().hex}:")
    first, second = consumer("first"), consumer("second")
    for shopper in (ANN, BOB):
        pay(runtime, place(runtime, shopper, shop.sku_id, 1, "CNY"), shopper)
    events = relayed(runtime)
    first.publish(events)
    first.publish(events)  # a relay that ran twice

    def dies(batch: Sequence[Published]) -> int:
        raise RuntimeError("the process died before its commit")
    with pytest.raises(RuntimeError):
        first.consume(dies, block_ms=1)  # read, never acknowledged
    time.sleep(0.1)  # past claim_idle_ms: the first consumer has gone quiet
    pump = Pump(runtime.uow, [Consumer("figures", second, insights_projections())], republish_uncounted=False)
    # the dead one's batch taken over, then the copies: four entries handed over, two sales counted
    assert pump.step() == 4 and figures(runtime)["orders"] == 2
    pay(runtime, place(runtime, ANN, shop.sku_id, 2, "CNY"), ANN)
    assert pump.step() == 1
    assert figures(runtime) == rebuilt(runtime) and figures(runtime)["gmv_minor"] == 337 * 4
    for stream in (first, second):
        stream.close()
