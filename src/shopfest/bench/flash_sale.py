"""The midnight burst on one hot SKU: the naive design (one transaction per order) against the hot path.

Both run on the same database at the same durability (SQLite synchronous=FULL, PostgreSQL
synchronous_commit=on), so an answered order is on disk in both.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial

from sqlalchemy import insert, select, text

from shopfest.bench.measure import Latency
from shopfest.demo import hot_item
from shopfest.deps import Runtime
from shopfest.inventory.store import stock_levels
from shopfest.orders.checkout import Answer, PlaceOrder
from shopfest.orders.store import orders


@dataclass(frozen=True)
class BurstResult:
    design: str
    attempts: int
    accepted: int
    units_sold: int
    oversold: int
    seconds: float
    orders_per_second: float
    latency: Latency


def _figures(runtime: Runtime, sku_id: int, *, design: str, attempts: int, accepted: int, seconds: float,
             latencies: list[float]) -> BurstResult:
    with runtime.engine.connect() as conn:
        row = conn.execute(select(stock_levels).where(stock_levels.c.sku_id == sku_id)).one()
    taken = row.reserved + row.sold
    return BurstResult(design, attempts, accepted, taken, max(0, taken - row.on_hand), round(seconds, 3),
                       round(accepted / seconds, 1), Latency.of(latencies))


def naive(runtime: Runtime, *, units: int, attempts: int, threads: int = 8) -> BurstResult:
    """One transaction per attempt: a conditional UPDATE of the stock row, the order INSERT, commit."""
    item = hot_item(runtime, stock=units, name="Naive")
    now = runtime.clock.now()
    decrement = text("UPDATE stock_levels SET reserved = reserved + 1 "
                     "WHERE sku_id = :sku AND on_hand - reserved - sold >= 1")

    def attempt(shopper_id: int) -> tuple[bool, float]:
        started = time.perf_counter()
        with runtime.engine.begin() as conn:
            won = conn.execute(decrement, {"sku": item.sku_id}).rowcount == 1
            if won:
                conn.execute(insert(orders).values(
                    shopper_id=shopper_id, status="awaiting_payment", currency="CNY", total_minor=599900,
                    pay_currency="CNY", pay_rate="1", pay_total_minor=599900, placed_at=now, expires_at=now))
        return won, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(attempt, range(attempts)))
    seconds = time.perf_counter() - started
    return _figures(runtime, item.sku_id, design="naive", attempts=attempts,
                    accepted=sum(1 for won, _ in outcomes if won), seconds=seconds,
                    latencies=[t for _, t in outcomes])


def hot_path(runtime: Runtime, *, units: int, attempts: int, clients: int = 4,
             in_flight: int = 1000) -> BurstResult:
    """Every attempt goes through the process's group commit: `clients` threads each keep
    `in_flight` orders waiting, as the request handlers of a busy server do."""
    item = hot_item(runtime, stock=units, name="Hot")
    latencies: list[float] = []
    accepted = [0] * clients

    def answered(started: float, future: Future[Answer]) -> None:
        latencies.append(time.perf_counter() - started)

    def client(number: int) -> None:
        shoppers = range(number, attempts, clients)
        for window in range(0, len(shoppers), in_flight):
            futures = []
            for shopper_id in shoppers[window:window + in_flight]:
                submitted = time.perf_counter()
                future = runtime.checkout.place(PlaceOrder(shopper_id, ((item.sku_id, 1),)))
                future.add_done_callback(partial(answered, submitted))
                futures.append(future)
            wait(futures)
            accepted[number] += sum(1 for f in futures if f.exception() is None)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    seconds = time.perf_counter() - started
    return _figures(runtime, item.sku_id, design="hot path", attempts=attempts, accepted=sum(accepted),
                    seconds=seconds, latencies=latencies)
