"""How fast the insights consumer counts sale events, against a baseline that recomputes the figures
with queries after every event, on one core.

Both take the same festival-night events: orders paid (one to three lines, many merchants, brands,
categories and countries, some with a coupon, some from a live room), a few refunds and in-store
payments. The consumer absorbs them a batch at a time, as the pump gives them: one transaction a
batch, each event counted once, every projection (the screen's and the merchants') folded in bulk.
The baseline is what a screen without a stream would do: store each event's sale in its own
transaction, then ask the database again for the screen's figures (GMV, orders, shoppers, top
brands, top countries). CPU time is the process's own, and SQLite runs inside it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text

from shopfest.core.clock import parse_instant
from shopfest.core.uow import UnitOfWork
from shopfest.insights import service as insights
from shopfest.insights.events import InStorePaidCounted, OrderPaidCounted, OrderRefundCounted, SaleCounted
from shopfest.insights.model import Projection, Published, sale_of
from shopfest.runtime import Runtime

MIDNIGHT = parse_instant("2027-11-11T00:00:00+08:00")
COUNTRIES = ("CN", "CN", "CN", "CN", "US", "GB", "DE", "FR", "JP", "KR", "SG", "AU")
BATCH = 1000


@dataclass(frozen=True)
class Absorbed:
    events: int
    seconds: float
    cpu_seconds: float
    per_second: float  # events over the CPU seconds they took: one core's worth


def night_events(count: int, *, seed: int = 11, first_id: int = 1) -> list[Published]:
    """`count` sale events of a busy night, as the outbox holds them: 90 % orders paid, 5 % refunds
    of those, 5 % in-store payments, a few hundred a second."""
    rng = random.Random(seed)
    events: list[Published] = []
    paid: list[SaleCounted] = []
    for n in range(count):
        at = MIDNIGHT + timedelta(milliseconds=3 * n)
        roll = rng.random()
        if roll < 0.05 and paid:
            event: SaleCounted = _refund(rng.choice(paid), at)
        elif roll < 0.10:
            event = _instore(rng, n, at)
        else:
            event = _paid(rng, n, at)
            paid.append(event)
        events.append(Published(first_id + n, event.name, event.payload(), at))
    return events


def _heading(rng: random.Random, n: int, at: datetime) -> dict[str, object]:
    return {"at": at, "order_id": n + 1, "shopper_id": rng.randrange(1, 200_000),
            "country": rng.choice(COUNTRIES), "currency": "CNY", "reporting": "CNY", "rate": "1"}


def _line(rng: random.Random) -> dict[str, object]:
    merchant = rng.randrange(1, 2_000)
    brand, category = merchant % 500 + 1, rng.randrange(1, 40)
    price = rng.choice((1_990, 5_900, 12_900, 29_900, 599_900))
    qty = rng.choice((1, 1, 1, 2))
    discount = price // 10 if rng.random() < 0.3 else 0
    return {"merchant": merchant, "product": merchant * 10 + rng.randrange(10), "brand": brand,
            "brand_name": f"Brand {brand}", "category": category, "category_name": f"Category {category}",
            "luxury": brand <= 20, "debut": rng.random() < 0.2, "qty": qty, "total": price * qty - discount,
            "adjustments": [["coupon:" + str(merchant % 50), discount]] if discount else []}


def _paid(rng: random.Random, n: int, at: datetime) -> OrderPaidCounted:
    lines = tuple(_line(rng) for _ in range(rng.choice((1, 1, 2, 3))))
    source = "live:" + str(rng.randrange(1, 5)) if rng.random() < 0.1 else None
    return OrderPaidCounted(**_heading(rng, n, at), source=source, lines=lines)  # type: ignore[arg-type]  # the heading's values are typed per key


def _refund(paid: SaleCounted, at: datetime) -> OrderRefundCounted:
    line = dict(paid.lines[0])
    return OrderRefundCounted(at=at, order_id=paid.order_id, shopper_id=paid.shopper_id, country=paid.country,
                              source=paid.source, currency=paid.currency, reporting=paid.reporting,
                              rate=paid.rate, lines=({**line, "before": 0},))


def _instore(rng: random.Random, n: int, at: datetime) -> InStorePaidCounted:
    line = {"merchant": rng.randrange(2_000, 2_500), "qty": 1, "total": rng.choice((1_500, 3_800, 12_000))}
    return InStorePaidCounted(**_heading(rng, n, at), source=None, lines=(line,))  # type: ignore[arg-type]  # as in _paid


def absorb_all(runtime: Runtime, events: Sequence[Published], *, projections: Sequence[Projection],
               consumer: str, batch: int = BATCH) -> Absorbed:
    """One consumer's work for `events`, a batch at a time, as the pump does it."""
    started, cpu = time.perf_counter(), time.process_time()
    counted = 0
    for at in range(0, len(events), batch):
        counted += insights.absorb(runtime.uow(), events[at:at + batch], projections=projections,
                                   consumer=consumer)
    return _absorbed(counted, started, cpu)


def query_per_event(runtime: Runtime, events: Sequence[Published]) -> Absorbed:
    """The baseline: each sale stored in its own transaction, then the screen's figures asked again."""
    with runtime.engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_sale_lines (event_id BIGINT, order_id BIGINT, "
                          "shopper_id BIGINT, country VARCHAR(2), brand_id BIGINT, gmv_minor BIGINT)"))
    started, cpu = time.perf_counter(), time.process_time()
    for event in events:
        sale = sale_of(event)
        if sale is None:
            continue
        with UnitOfWork(runtime.engine, bus=runtime.bus, clock=runtime.clock) as uow:
            uow.conn.execute(text("INSERT INTO bench_sale_lines VALUES (:e, :o, :s, :c, :b, :g)"), [
                {"e": sale.event_id, "o": sale.order_id, "s": sale.shopper_id, "c": sale.country,
                 "b": line.brand_id, "g": line.gmv_minor} for line in sale.lines])
            uow.commit()
        _figures_by_query(runtime)
    return _absorbed(len(events), started, cpu)


def _figures_by_query(runtime: Runtime) -> None:
    with runtime.engine.connect() as conn:
        conn.execute(text("SELECT SUM(gmv_minor), COUNT(DISTINCT order_id), COUNT(DISTINCT shopper_id) "
                          "FROM bench_sale_lines")).one()
        for dimension in ("brand_id", "country"):
            conn.execute(text(f"SELECT {dimension}, SUM(gmv_minor) AS g FROM bench_sale_lines "  # noqa: S608  # a fixed name
                              f"GROUP BY {dimension} ORDER BY g DESC LIMIT 10")).all()


def _absorbed(events: int, started: float, cpu: float) -> Absorbed:
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return Absorbed(events, round(seconds, 3), round(cpu_seconds, 3),
                    round(events / cpu_seconds, 1) if cpu_seconds else 0.0)
