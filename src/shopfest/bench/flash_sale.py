"""The midnight burst on one hot SKU: the naive design (one transaction per order) against the hot path.

Both run on the same database at the same durability (SQLite synchronous=FULL, PostgreSQL
synchronous_commit=on), so an answered order is on disk in both.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import uvloop
from sqlalchemy import insert, select, text

from shopfest.app import tune_for_serving
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
    seconds: float  # the whole burst, until the last attempt was answered
    sell_out_seconds: float  # until the last order was accepted
    orders_per_second: float  # accepted orders / sell_out_seconds
    attempts_per_second: float
    latency: Latency  # of every attempt, from asking to the answer


@dataclass
class Tally:
    """Answers as they arrive: how long each took, and when the last order was accepted."""

    started: float
    latencies: list[float]
    accepted: int = 0
    last_accepted: float = 0.0

    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, asked: float, *, won: bool) -> None:
        with self.lock:
            self.answered_in_turn(asked, won=won)

    def answered_in_turn(self, asked: float, *, won: bool) -> None:
        """`answered` for a caller that is told its answers one at a time (one event loop)."""
        now = time.perf_counter()
        self.latencies.append(now - asked)
        if won:
            self.accepted += 1
            self.last_accepted = max(self.last_accepted, now)


def _figures(runtime: Runtime, sku_id: int, *, design: str, attempts: int, tally: Tally) -> BurstResult:
    seconds = time.perf_counter() - tally.started
    with runtime.engine.connect() as conn:
        row = conn.execute(select(stock_levels).where(stock_levels.c.sku_id == sku_id)).one()
    taken = row.reserved + row.sold
    selling = max(tally.last_accepted - tally.started, 1e-9)
    return BurstResult(design, attempts, tally.accepted, taken, max(0, taken - row.on_hand),
                       round(seconds, 3), round(selling, 3), round(tally.accepted / selling, 1),
                       round(attempts / seconds, 1), Latency.of(tally.latencies))


NAIVE_THREADS = 8


def naive(runtime: Runtime, *, units: int, attempts: int, threads: int = NAIVE_THREADS) -> BurstResult:
    """One transaction per attempt: a conditional UPDATE of the stock row, the order INSERT, commit."""
    item = hot_item(runtime, stock=units, name="Naive")
    now = runtime.clock.now()
    decrement = text("UPDATE stock_levels SET reserved = reserved + 1 "
                     "WHERE sku_id = :sku AND on_hand - reserved - sold >= 1")

    def attempt(shopper_id: int) -> None:
        asked = time.perf_counter()
        with runtime.engine.begin() as conn:
            won = conn.execute(decrement, {"sku": item.sku_id}).rowcount == 1
            if won:
                conn.execute(insert(orders).values(
                    shopper_id=shopper_id, status="awaiting_payment", currency="CNY", total_minor=599900,
                    pay_currency="CNY", pay_rate="1", pay_total_minor=599900, placed_at=now, expires_at=now))
        tally.answered(asked, won=won)

    tally = Tally(time.perf_counter(), [])
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(attempt, range(attempts)))
    return _figures(runtime, item.sku_id, design="naive", attempts=attempts, tally=tally)


def hot_path(runtime: Runtime, *, units: int, attempts: int, shoppers: int = 4000) -> BurstResult:
    """Every attempt goes through the process's group commit from one event loop, as the request
    handlers of `shopfest serve` do: `shoppers` shoppers at once, each trying again as soon as they
    are answered, as clients on that many connections would, until `attempts` were made."""
    item = hot_item(runtime, stock=units, name="Hot")
    switch_interval = sys.getswitchinterval()
    tune_for_serving()  # as `shopfest serve` does once started
    unasked = iter(range(attempts))

    def ask() -> None:
        shopper_id = next(unasked, None)
        if shopper_id is not None:
            asked = time.perf_counter()
            future = runtime.checkout.place_soon(PlaceOrder(shopper_id, ((item.sku_id, 1),)))
            future.add_done_callback(partial(answered, asked))

    def answered(asked: float, future: asyncio.Future[Answer]) -> None:
        tally.answered_in_turn(asked, won=future.exception() is None)  # the loop's shoppers
        if len(tally.latencies) == attempts:
            everyone_answered.set()
        ask()

    async def burst() -> None:
        for _ in range(min(shoppers, attempts)):
            ask()
        await everyone_answered.wait()

    def serve() -> None:  # on the event loop `shopfest serve` runs on (uvicorn picks uvloop)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(burst())

    everyone_answered = asyncio.Event()
    tally = Tally(time.perf_counter(), [])
    server = threading.Thread(target=serve, name="event-loop")
    server.start()
    server.join()
    sys.setswitchinterval(switch_interval)  # the naive design of the next backend runs as before
    return _figures(runtime, item.sku_id, design="hot path", attempts=attempts, tally=tally)
