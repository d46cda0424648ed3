"""The midnight burst: many threads and processes against one hot SKU, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from shopfest.app import make_runtime
from shopfest.core.clock import SetClock
from shopfest.core.errors import DomainError
from shopfest.demo import hot_item
from shopfest.inventory.model import LimitExceeded, SoldOut, TooManyUnpaid
from shopfest.inventory.store import InventoryStore, flash_buyers, flash_sales
from shopfest.orders.checkout import Checkout
from shopfest.orders.drafting import PlaceOrder, check_lines
from shopfest.orders.store import ID_BLOCK, SPARE_SECONDS, merchant_orders, orders
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.conftest import FESTIVAL_EVE, _truncate_all


def place(runtime: Runtime, shopper_id: int, sku_id: int, qty: int = 1) -> str:
    """'ok', or the problem code the shopper was told."""
    try:
        runtime.checkout.place(PlaceOrder(shopper_id, ((sku_id, qty),))).result(timeout=60)
    except DomainError as refusal:
        return refusal.code
    return "ok"


def sold_and_held(runtime: Runtime, sku_id: int, flash_sale_id: int | None) -> dict[str, object]:
    with runtime.engine.connect() as conn:
        level = InventoryStore(conn).levels([sku_id])[sku_id]
        units = sum(line["qty"] for (lines,) in conn.execute(select(merchant_orders.c.lines))
                    for line in lines if line["sku_id"] == sku_id)
        taken = conn.scalar(select(flash_sales.c.taken).where(flash_sales.c.id == flash_sale_id))
        most = conn.scalar(select(flash_buyers.c.qty).order_by(flash_buyers.c.qty.desc()).limit(1))
        count = len(conn.execute(select(orders.c.id)).all())
    return {"level": level, "units_in_orders": units, "flash_taken": taken, "most_held": most,
            "orders": count}


def test_a_burst_of_threads_sells_exactly_the_flash_quantity_and_holds_the_limit(
        hot_runtime: Runtime) -> None:
    burst_of_threads_sells_exactly_the_flash_quantity(hot_runtime)


def test_two_checkout_lanes_sell_exactly_the_flash_quantity_and_hold_the_limit(
        store_settings: Settings, clock: SetClock) -> None:
    runtime = make_runtime(replace(store_settings, checkout_lanes=2), clock=clock)
    # the second lane takes the next batch whenever the first is busy, however few orders wait
    # (SQLite has one writer at a time: there it is one lane, as `make_runtime` makes it)
    runtime.checkout.close()
    lanes = 2 if runtime.engine.dialect.name == "postgresql" else 1
    runtime.checkout = Checkout(uow=runtime.uow, gate=runtime.gate, minutes=15, lanes=lanes, crowd=1)
    try:
        burst_of_threads_sells_exactly_the_flash_quantity(runtime)
    finally:
        runtime.checkout.close()
        runtime.engine.dispose()


def burst_of_threads_sells_exactly_the_flash_quantity(runtime: Runtime) -> None:
    # given 40 flash units, at most 2 per shopper, and 800 attempts on 16 threads by 100 shoppers
    # who each try 8 times in a row
    item = hot_item(runtime, stock=50, flash_quantity=40, per_shopper_limit=2)
    attempts = [(1000 + n // 8, 1) for n in range(800)]
    with ThreadPoolExecutor(16) as pool:
        told = list(pool.map(lambda a: place(runtime, a[0], item.sku_id, a[1]), attempts))
    # then exactly the flash quantity is reserved, nobody holds more than the limit
    figures = sold_and_held(runtime, item.sku_id, item.flash_sale_id)
    assert figures["flash_taken"] == 40
    assert figures["units_in_orders"] == 40
    assert figures["level"].reserved == 40 and figures["level"].sold == 0  # type: ignore[attr-defined]
    assert figures["most_held"] == 2
    assert told.count("ok") == 40
    assert set(told) == {"ok", SoldOut.code, LimitExceeded.code}
    # and the 800 attempts went to the database in fewer batches than attempts
    assert runtime.checkout.batches < len(attempts)


def test_a_batch_mixing_carts_and_refusals_answers_each_order_with_its_own(hot_runtime: Runtime) -> None:
    runtime = hot_runtime
    # given 20 phones, a flash sale of scarves at one per shopper, and plenty of mugs
    phone = hot_item(runtime, stock=20).sku_id
    scarf = hot_item(runtime, stock=100, flash_quantity=100, per_shopper_limit=1, name="Scarf").sku_id
    mug = hot_item(runtime, stock=1000, name="Mug").sku_id
    # when 300 orders are queued at once, runs of phones broken by scarves of shoppers who come back
    # and by two-line carts
    carts = [((phone, 1),), ((phone, 1),), ((scarf, 1),), ((mug, 2), (phone, 1)), ((mug, 1),)]
    commands = [PlaceOrder(3000 + n % 40, carts[n % len(carts)]) for n in range(300)]
    futures = [runtime.checkout.place(command) for command in commands]
    wait(futures, timeout=60)

    # then every order placed is the shopper's own, with the cart they asked for
    placed = {f.result().receipt["id"]: command for command, f in zip(commands, futures, strict=True)
              if f.exception() is None}
    with runtime.engine.connect() as conn:
        shoppers = {row.id: row.shopper_id for row in conn.execute(select(orders.c.id, orders.c.shopper_id))}
        bought: dict[int, list[tuple[int, int]]] = {}
        for order_id, lines in conn.execute(select(merchant_orders.c.order_id, merchant_orders.c.lines)):
            bought.setdefault(order_id, []).extend((line["sku_id"], line["qty"]) for line in lines)
    assert shoppers == {order_id: command.shopper_id for order_id, command in placed.items()}
    assert {k: sorted(v) for k, v in bought.items()} == {
        order_id: sorted(command.lines) for order_id, command in placed.items()}
    # and the refused were told why: phones sold out, a scarf a shopper already holds over the limit,
    # a mug past the unpaid units a shopper may hold (5), every mug shopper holding 5 at most
    refused = {f.exception().code for f in futures if f.exception() is not None}  # type: ignore[union-attr]
    assert refused == {SoldOut.code, LimitExceeded.code, TooManyUnpaid.code}
    mugs: dict[int, int] = {}
    for command in placed.values():
        mugs[command.shopper_id] = mugs.get(command.shopper_id, 0) + dict(command.lines).get(mug, 0)
    assert max(mugs.values()) == 5
    assert sum(1 for c in placed.values() if (phone, 1) in c.lines) == 20
    scarf_shoppers = {c.shopper_id for c in commands if c.lines == ((scarf, 1),)}
    assert sorted(c.shopper_id for c in placed.values() if c.lines == ((scarf, 1),)) == sorted(scarf_shoppers)


def _burst(settings: Settings, sku_id: int, attempts: int) -> list[str]:
    # The test's festival clock, standing still, so the flash sale is on in every process.
    runtime = make_runtime(replace(settings, clock=FESTIVAL_EVE.isoformat(), clock_speed=0))
    try:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda n: place(runtime, 2000 + n % 20, sku_id), range(attempts)))
    finally:
        runtime.checkout.close()
        runtime.engine.dispose()


def test_processes_racing_on_one_flash_sale_sell_exactly_its_units(
        hot_runtime: Runtime, store_settings: Settings) -> None:
    runtime = hot_runtime
    # given 30 flash units of 100 on hand, at most 2 per shopper, and four processes in which the
    # same 20 shoppers try 200 times in all
    item = hot_item(runtime, stock=100, flash_quantity=30, per_shopper_limit=2)
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = [pool.apply_async(_burst, (store_settings, item.sku_id, 50)) for _ in range(4)]
        told = [code for r in results for code in r.get(timeout=120)]
    # then exactly the 30 flash units are reserved, in 30 orders, nobody holding more than 2
    figures = sold_and_held(runtime, item.sku_id, item.flash_sale_id)
    assert told.count("ok") == 30 and figures["orders"] == 30
    assert figures["units_in_orders"] == 30 and figures["flash_taken"] == 30
    assert figures["most_held"] == 2
    assert told.count(SoldOut.code) + told.count(LimitExceeded.code) == 170
    level = figures["level"]
    assert level.reserved == 30 and level.reserved + level.sold <= level.on_hand  # type: ignore[attr-defined]


@pytest.mark.parametrize("qty", [0, 10**9])
def test_a_quantity_out_of_range_is_refused_and_moves_nothing(runtime: Runtime, qty: int) -> None:
    item = hot_item(runtime, stock=5)
    with pytest.raises(DomainError):
        check_lines([(item.sku_id, qty)])
    assert sold_and_held(runtime, item.sku_id, None)["orders"] == 0


def test_five_orders_for_three_units_get_three_accepted(runtime: Runtime) -> None:
    item = hot_item(runtime, stock=3)
    futures = [runtime.checkout.place(PlaceOrder(7, ((item.sku_id, 1),))) for _ in range(5)]
    wait(futures, timeout=30)
    assert sum(1 for f in futures if f.exception() is None) == 3


def _placed(runtime: Runtime, sku_id: int, shoppers: range) -> list[dict[str, Any]]:
    futures = [runtime.checkout.place(PlaceOrder(s, ((sku_id, 1),))) for s in shoppers]
    return [f.result(timeout=60).receipt for f in futures]


def test_orders_and_children_get_ids_of_their_own_however_else_rows_are_added(runtime: Runtime) -> None:
    # given orders placed in batches, and between them a row added with the table's own id default
    item = hot_item(runtime, stock=1000)
    first = _placed(runtime, item.sku_id, range(250))
    now = runtime.clock.now()
    with runtime.engine.begin() as conn:
        by_default = conn.execute(insert(orders).values(
            shopper_id=9999, status="cancelled", currency="CNY", total_minor=0, pay_currency="CNY",
            pay_rate="1", pay_total_minor=0, placed_at=now).returning(orders.c.id)).scalar_one()
    second = _placed(runtime, item.sku_id, range(250, 500))

    # then every id is unique, and the ids of one process keep ascending
    order_ids = [r["id"] for r in first + second]
    child_ids = [c["id"] for r in first + second for c in r["children"]]
    assert len(set(order_ids)) == len(set(child_ids)) == 500 and by_default not in order_ids
    assert max(r["id"] for r in first) < min(r["id"] for r in second)
    if runtime.engine.dialect.name == "sqlite":
        assert max(r["id"] for r in first) < by_default < min(r["id"] for r in second)
    else:  # ids of blocks drawn for a batch serve the next ones for a moment, then blocks are drawn anew
        runtime.checkout._spare_ids.drawn_at -= SPARE_SECONDS
        third = _placed(runtime, item.sku_id, range(500, 510))
        assert min(r["id"] for r in third) > max(by_default, *order_ids)
    with runtime.engine.connect() as conn:
        stored = {row.id: row.order_id for row in conn.execute(select(merchant_orders))}
        if conn.dialect.name == "postgresql":
            steps = conn.execute(text("SELECT increment_by FROM pg_sequences WHERE sequencename IN "
                                      "('orders_id_seq', 'merchant_orders_id_seq')")).scalars().all()
            assert steps == [ID_BLOCK, ID_BLOCK]
    assert {k: v for k, v in stored.items() if v in order_ids} == {
        c["id"]: r["id"] for r in first + second for c in r["children"]}


def test_redis_that_lost_its_counters_reloads_them_from_the_rows(
        postgres_url: str, redis_url: str, clock: SetClock) -> None:
    # given PostgreSQL with Redis counters, and 10 flash units of which 4 are sold
    import redis

    _truncate_all(postgres_url)
    prefix = f"shopfest-test-{uuid.uuid4().hex}:"
    settings = Settings(database_url=postgres_url, redis_url=redis_url, redis_prefix=prefix, pool_size=4)
    runtime = make_runtime(settings, clock=clock)
    try:
        item = hot_item(runtime, stock=20, flash_quantity=10, per_shopper_limit=3)
        assert [place(runtime, 1, item.sku_id, 2), place(runtime, 2, item.sku_id, 2)] == ["ok", "ok"]
        counters = redis.Redis.from_url(redis_url)
        assert counters.get(f"{prefix}{{sku:{item.sku_id}}}:stock") == b"16"
        # when Redis forgets every counter (a restart without persistence)
        counters.delete(*counters.keys(f"{prefix}*"))
        # then the next orders see the rows: 6 flash units left, shopper 1 may take only 1 more
        assert place(runtime, 1, item.sku_id, 2) == LimitExceeded.code
        assert place(runtime, 1, item.sku_id, 1) == "ok"
        assert [place(runtime, 3, item.sku_id, 3), place(runtime, 4, item.sku_id, 3)] == ["ok", SoldOut.code]
        assert sold_and_held(runtime, item.sku_id, item.flash_sale_id)["flash_taken"] == 8
    finally:
        runtime.checkout.close()
        runtime.engine.dispose()
