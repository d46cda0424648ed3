"""The midnight burst: many threads and processes against one hot SKU, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor, wait

import pytest
from sqlalchemy import select

from shopfest.app import make_runtime
from shopfest.core.errors import DomainError
from shopfest.demo import hot_item
from shopfest.deps import Runtime
from shopfest.inventory.model import LimitExceeded, SoldOut
from shopfest.inventory.store import InventoryStore, flash_buyers, flash_sales
from shopfest.orders.checkout import PlaceOrder, check_lines
from shopfest.orders.store import merchant_orders, orders
from shopfest.settings import Settings


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


def test_a_burst_of_threads_sells_exactly_the_flash_quantity_and_holds_the_limit(runtime: Runtime) -> None:
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


def _burst(url: str, sku_id: int, first_shopper: int, attempts: int) -> list[str]:
    runtime = make_runtime(Settings(database_url=url, pool_size=4))
    try:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda n: place(runtime, first_shopper + n % 50, sku_id), range(attempts)))
    finally:
        runtime.checkout.close()
        runtime.engine.dispose()


def test_processes_racing_on_one_sku_never_oversell(runtime: Runtime, database_url: str) -> None:
    # given 60 units on hand and no flash sale, four processes each try 50 orders of one unit
    item = hot_item(runtime, stock=60)
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = [pool.apply_async(_burst, (database_url, item.sku_id, 100 * p, 50)) for p in range(4)]
        told = [code for r in results for code in r.get(timeout=120)]
    # then exactly the 60 units are reserved and every other attempt heard "sold out"
    figures = sold_and_held(runtime, item.sku_id, None)
    assert told.count("ok") == 60 and told.count(SoldOut.code) == 140
    assert figures["units_in_orders"] == 60 and figures["orders"] == 60
    level = figures["level"]
    assert level.reserved == 60 and level.available == 0  # type: ignore[attr-defined]


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
