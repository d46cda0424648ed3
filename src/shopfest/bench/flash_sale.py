"""The midnight burst on one hot SKU: the naive design (one transaction per order) against the hot path.

Both run on the same database at the same durability (SQLite synchronous=FULL, PostgreSQL
synchronous_commit=on), so an answered order is on disk in both. Each design runs in `workers`
fresh processes, as `shopfest serve --workers` runs its request handlers: the attempts are shared out
among them, they start at one moment, and their answers are added up.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import threading
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import uvloop
from sqlalchemy import insert, select, text

from shopfest.app import make_runtime, tune_for_serving
from shopfest.bench.measure import Latency
from shopfest.core.clock import SetClock, parse_instant
from shopfest.demo import hot_item
from shopfest.inventory.store import stock_levels
from shopfest.orders.checkout import Answer
from shopfest.orders.drafting import PlaceOrder
from shopfest.orders.model import expiry
from shopfest.orders.store import orders
from shopfest.runtime import Runtime
from shopfest.settings import Settings

NAIVE = "naive"
HOT_PATH = "hot path"
NAIVE_THREADS = 8  # in all, shared out among the workers (at least one each)
SHOPPERS = 4000  # asking at once, in all
STARTUP_SECONDS = 120  # for a worker to import ShopFest and connect
BURST_SECONDS_AT_LEAST = 1800
SLOWEST_ATTEMPTS_PER_SECOND = 100  # a burst slower than this is taken for stuck


@dataclass(frozen=True)
class BurstResult:
    design: str
    workers: int
    attempts: int
    accepted: int
    units_sold: int
    oversold: int
    seconds: float  # the whole burst, until the last attempt was answered
    sell_out_seconds: float  # until the last order was accepted
    orders_per_second: float  # accepted orders / sell_out_seconds
    attempts_per_second: float
    latency: Latency  # of every attempt, from asking to the answer


@dataclass(frozen=True)
class Part:
    """One worker's part of a burst: its shoppers' ids start at `first_shopper`."""

    design: str
    settings: Settings
    now: str  # the instant the festival clock stands at
    sku_id: int
    attempts: int
    first_shopper: int
    at_once: int  # threads (naive), or shoppers asking at once (hot path)


@dataclass
class Tally:
    """One worker's answers as they arrive: how long each took, when the last order was accepted."""

    started: float = 0.0
    latencies: list[float] = field(default_factory=list)
    accepted: int = 0
    last_accepted: float = 0.0
    finished: float = 0.0

    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

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

    def __getstate__(self) -> dict[str, object]:  # sent home from the worker without its lock
        return {name: value for name, value in self.__dict__.items() if name != "lock"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state, lock=threading.Lock())


def naive(runtime: Runtime, *, units: int, attempts: int, workers: int = 1) -> BurstResult:
    """One transaction per attempt: a conditional UPDATE of the stock row, the order INSERT, commit."""
    item = hot_item(runtime, stock=units, name="Naive")
    return _burst(runtime, item.sku_id, runtime.settings, design=NAIVE, attempts=attempts,
                  at_once=NAIVE_THREADS, workers=workers)


def hot_path(runtime: Runtime, *, units: int, attempts: int, shoppers: int = SHOPPERS, workers: int = 1,
             lanes: int | None = None) -> BurstResult:
    """Every attempt goes through its worker's group commit (`lanes` writers; by default as many as
    `serve --workers` gives each) from one event loop, as the request handlers of `shopfest serve`
    do: `shoppers` shoppers at once, each trying again as soon as they are answered, as clients on
    that many connections would, until `attempts` were made."""
    item = hot_item(runtime, stock=units, name="Hot")
    settings = replace(runtime.settings, checkout_lanes=lanes or Settings.lanes_for(workers))
    return _burst(runtime, item.sku_id, settings, design=HOT_PATH, attempts=attempts, at_once=shoppers,
                  workers=workers)


def _burst(runtime: Runtime, sku_id: int, settings: Settings, *, design: str, attempts: int, at_once: int,
           workers: int) -> BurstResult:
    if not 1 <= workers <= attempts:
        raise ValueError("a burst has from one worker to one per attempt")
    now = runtime.clock.now().isoformat()
    shares = _shares(attempts, workers)
    parts = [Part(design, settings, now, sku_id, share, sum(shares[:k]), max(1, at_once_k))
             for k, (share, at_once_k) in enumerate(zip(shares, _shares(at_once, workers), strict=True))]
    tallies = _in_workers(parts, seconds=max(BURST_SECONDS_AT_LEAST, attempts / SLOWEST_ATTEMPTS_PER_SECOND))
    return _figures(runtime, sku_id, design=design, workers=workers, attempts=attempts, tallies=tallies)


def _shares(total: int, workers: int) -> list[int]:
    return [total // workers + (k < total % workers) for k in range(workers)]


@dataclass(frozen=True)
class WorkerFailed:
    traceback: str
    at_start: bool  # only because another worker failed first


Told = Tally | WorkerFailed  # what a worker sends home


def _in_workers(parts: list[Part], *, seconds: float) -> list[Tally]:
    """Run each part in a fresh process (spawned: no threads or connections copied from this one),
    all let go at one moment once every one is ready. Raises RuntimeError when one fails."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(parts) + 1)
    answers: Queue[Told] = context.Queue()
    workers = [context.Process(target=_work, args=(part, start, answers), name=f"bench-worker-{k}")
               for k, part in enumerate(parts)]
    for worker in workers:
        worker.start()
    try:
        with contextlib.suppress(threading.BrokenBarrierError):  # a worker failed: its answer says why
            start.wait(timeout=STARTUP_SECONDS)
        told = _answers(answers, workers, seconds=seconds)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
                worker.join()
    failed = [t for t in told if isinstance(t, WorkerFailed)]
    if failed:
        first = min(failed, key=lambda f: f.at_start)  # the cause, not the workers it stopped
        if first.at_start:  # none failed on its own: the start itself timed out
            raise RuntimeError(f"the bench workers did not all start within {STARTUP_SECONDS} s")
        raise RuntimeError(f"a bench worker failed:\n{first.traceback}")
    return [t for t in told if isinstance(t, Tally)]


def _answers(answers: Queue[Told], workers: Sequence[BaseProcess], *, seconds: float) -> list[Told]:
    """One answer from each worker; a worker that ends without answering is one that failed."""
    told: list[Told] = []
    deadline = time.monotonic() + STARTUP_SECONDS + seconds
    while len(told) < len(workers):
        try:
            told.append(answers.get(timeout=1))
        except queue.Empty:
            # A worker's answer is in the pipe before it ends: more ended than answered is one lost.
            ended = [w for w in workers if w.exitcode is not None]
            if len(ended) > len(told):
                codes = ", ".join(f"{w.name} {w.exitcode}" for w in ended)
                return [*told, WorkerFailed(f"a worker ended without answering (exit codes: {codes})", False)]
            if time.monotonic() > deadline:
                return [*told, WorkerFailed("the burst did not finish in time", False)]
    return told


def _work(part: Part, start: Barrier, answers: Queue[Told]) -> None:
    """A worker: its own runtime, as a server worker builds it; then its part of the burst."""
    try:
        runtime = make_runtime(part.settings, clock=SetClock(parse_instant(part.now), speed=0))
        try:
            if part.design == HOT_PATH:
                tune_for_serving()  # as `shopfest serve` does once started
            start.wait(timeout=STARTUP_SECONDS)
            tally = Tally(started=time.perf_counter())  # the system's monotonic clock, as in every worker
            (_naive_part if part.design == NAIVE else _hot_path_part)(runtime, part, tally)
            tally.finished = time.perf_counter()
            if len(tally.latencies) != part.attempts:
                raise RuntimeError(f"{len(tally.latencies)} of {part.attempts} attempts were answered")
        finally:
            runtime.checkout.close()
            runtime.engine.dispose()
    except BaseException as error:
        answers.put(WorkerFailed(traceback.format_exc(), isinstance(error, threading.BrokenBarrierError)))
        start.abort()
    else:
        answers.put(tally)


def _naive_part(runtime: Runtime, part: Part, tally: Tally) -> None:
    # Its orders hold their units for as long as the hot path's do: born expired, they would keep the
    # sweeper of any server later started on the database busy cancelling them.
    now = runtime.clock.now()
    expires_at = expiry(now, minutes=runtime.settings.reservation_minutes)
    decrement = text("UPDATE stock_levels SET reserved = reserved + 1 "
                     "WHERE sku_id = :sku AND on_hand - reserved - sold >= 1")

    def attempt(shopper_id: int) -> None:
        asked = time.perf_counter()
        with runtime.engine.begin() as conn:
            won = conn.execute(decrement, {"sku": part.sku_id}).rowcount == 1
            if won:
                conn.execute(insert(orders).values(
                    shopper_id=shopper_id, status="awaiting_payment", currency="CNY", total_minor=599900,
                    pay_currency="CNY", pay_rate="1", pay_total_minor=599900, placed_at=now,
                    expires_at=expires_at))
        tally.answered(asked, won=won)

    with ThreadPoolExecutor(part.at_once) as pool:
        list(pool.map(attempt, range(part.first_shopper, part.first_shopper + part.attempts)))


def _hot_path_part(runtime: Runtime, part: Part, tally: Tally) -> None:
    unasked = iter(range(part.first_shopper, part.first_shopper + part.attempts))
    hot = ((part.sku_id, 1),)

    def ask() -> None:
        shopper_id = next(unasked, None)
        if shopper_id is not None:
            asked = time.perf_counter()
            future = runtime.checkout.place_soon(PlaceOrder(shopper_id, hot))
            future.add_done_callback(partial(answered, asked))

    def answered(asked: float, future: asyncio.Future[Answer]) -> None:
        tally.answered_in_turn(asked, won=future.exception() is None)  # the loop's shoppers
        if len(tally.latencies) == part.attempts:
            everyone_answered.set()
        ask()

    def fail(_: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:  # in a shopper's callback
        failures.append(context.get("exception") or context["message"])
        everyone_answered.set()

    async def burst() -> None:
        asyncio.get_running_loop().set_exception_handler(fail)
        for _ in range(min(part.at_once, part.attempts)):
            ask()
        await everyone_answered.wait()

    def serve() -> None:  # on the event loop `shopfest serve` runs on (uvicorn picks uvloop)
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(burst())
        except BaseException as error:  # noqa: BLE001  # told to the worker below
            failures.append(error)

    everyone_answered = asyncio.Event()
    failures: list[object] = []
    server = threading.Thread(target=serve, name="event-loop")
    server.start()
    server.join()
    if failures:
        raise RuntimeError(f"the shoppers' event loop failed: {failures[0]!r}")


def _figures(runtime: Runtime, sku_id: int, *, design: str, workers: int, attempts: int,
             tallies: list[Tally]) -> BurstResult:
    with runtime.engine.connect() as conn:
        row = conn.execute(select(stock_levels).where(stock_levels.c.sku_id == sku_id)).one()
    taken = row.reserved + row.sold
    accepted = sum(t.accepted for t in tallies)
    started = min(t.started for t in tallies)  # the first worker let go
    seconds = max(t.finished for t in tallies) - started
    selling = max(max(t.last_accepted for t in tallies) - started, 1e-9)
    latencies = [latency for t in tallies for latency in t.latencies]
    return BurstResult(design, workers, attempts, accepted, taken, max(0, taken - row.on_hand),
                       round(seconds, 3), round(selling, 3), round(accepted / selling, 1),
                       round(attempts / seconds, 1), Latency.of(latencies))
