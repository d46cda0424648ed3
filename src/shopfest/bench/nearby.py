"""`shopfest bench nearby`: load millions of shops across the festival's cities, then time the nearby
search (3 km, a page of 20, with a filter) from random points in the cities.

The baseline, measured in the same run on the same data, is the same search answered without the
cells: a latitude and longitude box the database checks row by row (the columns have no index, so it
reads the whole table), then the same exact distances, order and filters. Both answers are compared.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text

from shopfest.bench import places
from shopfest.bench.measure import Latency
from shopfest.core.clock import local
from shopfest.local import cells, service
from shopfest.local.cities import City, festival_cities
from shopfest.local.model import DAYS, Point, ShopKind, distance_m, hours
from shopfest.local.service import NearbyQuery
from shopfest.local.store import local_shops
from shopfest.runtime import Runtime

RADIUS_M = 3000
PAGE = 20
SHOPS_PER_MERCHANT = 20
CATEGORIES = 12  # category ids the shops are spread over (the filter asks for one)
FESTIVAL_SHARE = 0.3  # shops of merchants with a festival deal
BATCH = 20_000
# A week per kind of shop: a night market past midnight, a 24-hour grocery, office hours, weekends.
WEEKS: tuple[dict[str, list[str]] | None, ...] = (
    None,
    {day: ["18:00-02:00"] for day in DAYS},
    {day: ["10:00-22:00"] for day in DAYS},
    {day: ["09:00-18:00"] for day in DAYS[:5]},
    {**{day: ["11:00-14:00", "17:00-22:00"] for day in DAYS}},
)
FILTERS = ("kind", "festival_deal", "category", "open_now")


@dataclass
class NearbyResult:
    backend: str
    shops: int
    load_seconds: float
    rows_per_second: int
    nearby: Latency
    by_filter: dict[str, Latency]
    mean_found: float  # shops on the first page, on average (at most PAGE)
    baseline_scan: Latency
    baseline_queries: int
    p99_speedup: float
    results_agree: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class NearbyReport:
    scenario: str
    machine: dict[str, object]
    shops: int
    radius_m: int
    page: int
    results: list[NearbyResult]
    # Filled by the vouchers' bench (local-vouchers): redemptions per second on one merchant's vouchers.
    redemptions: dict[str, Any] | None = None


def weights(towns: tuple[City, ...]) -> list[float]:
    """How the shops spread over cities: by population, so Shanghai has the most."""
    return [float(t.population) for t in towns]


def spread_m(town: City) -> float:
    """How far a city's shops reach from its centre (a standard deviation): wider for bigger cities."""
    return 3000 * math.sqrt(max(town.population, 200_000) / 1_000_000)


def scatter(rng: random.Random, town: City) -> Point:
    sigma = spread_m(town)
    lat = town.centre.lat + rng.gauss(0, sigma) / 111_000
    across = 111_000 * max(0.2, math.cos(math.radians(town.centre.lat)))  # metres in a degree of longitude
    lng = town.centre.lng + rng.gauss(0, sigma) / across
    return Point(max(-89.9, min(89.9, lat)), max(-179.9, min(179.9, lng)))


COLUMNS = ("merchant_id", "name", "kind", "city_id", "lat", "lng", "cell8", "cell6", "zone", "hours",
           "category_id", "festival_deal", "created_at")


def shop_rows(count: int, *, seed: int, stored: Callable[[str, Any], Any]) -> Iterator[tuple[Any, ...]]:
    """`count` shops as rows of COLUMNS, each value as the driver takes it (`stored`): cities by
    population, kinds and hours mixed, a merchant for every SHOPS_PER_MERCHANT shops, festival deals
    on FESTIVAL_SHARE of the merchants."""
    rng = random.Random(seed)
    towns = festival_cities()
    picks = rng.choices(range(len(towns)), weights=weights(towns), k=count)
    kinds = [k.value for k in ShopKind]
    weeks = [stored("hours", w) for w in WEEKS]
    yes, no = stored("festival_deal", True), stored("festival_deal", False)
    for n, index in enumerate(picks):
        town = towns[index]
        place = scatter(rng, town)
        merchant = 1 + n // SHOPS_PER_MERCHANT
        festival = (merchant * 2654435761) % 1000 < FESTIVAL_SHARE * 1000
        yield (merchant, f"Shop {n + 1}", kinds[rng.randrange(len(kinds))], town.id, place.lat, place.lng,
               cells.cell(place, 8), cells.cell(place, 6), town.zone, weeks[rng.randrange(len(weeks))],
               1 + rng.randrange(CATEGORIES), yes if festival else no, None)


def load(runtime: Runtime, count: int, *, seed: int, progress: Callable[[int], None]) -> float:
    """Insert the shops in batches straight through the driver (a bulk load, as `COPY` or `.import`
    would be: SQLAlchemy's per-row work would take longer than the database's); the seconds it took."""
    engine, started = runtime.engine, time.perf_counter()
    dialect = engine.dialect

    def stored(column: str, value: Any) -> Any:  # noqa: ANN401  # whatever the column's type takes
        process = local_shops.c[column].type.bind_processor(dialect)
        return process(value) if process else value

    at = stored("created_at", runtime.clock.now())
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO local_shops ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join([marker] * len(COLUMNS))})")
    rows = shop_rows(count, seed=seed, stored=stored)
    # As a bulk load does: the cells' indexes are built once the rows are in, by sorting them, rather
    # than grown one random cell at a time.
    cell_indexes = [i for i in local_shops.indexes if str(i.name).startswith("ix_local_shops_cell")]
    with engine.begin() as conn:
        for index in cell_indexes:
            index.drop(conn)
    raw = engine.raw_connection()
    try:
        while batch := [(*row[:-1], at) for _, row in zip(range(BATCH), rows, strict=False)]:
            cursor = raw.cursor()
            if dialect.name == "sqlite":  # its driver is left in autocommit (core.db): a batch, one commit
                cursor.execute("BEGIN")
            cursor.executemany(sql, batch)
            raw.commit()
            progress(len(batch))
    finally:
        raw.close()
    with engine.begin() as conn:
        for index in cell_indexes:
            index.create(conn)
    seconds = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return seconds


def queries(count: int, *, seed: int) -> list[tuple[str, NearbyQuery]]:
    """Searches from random points in the cities (people search where the shops are), each with one
    filter, in turn: a kind, a festival deal, a category, open now."""
    rng = random.Random(seed)
    towns = festival_cities()
    chosen = rng.choices(towns, weights=weights(towns), k=count)
    made = []
    for n, town in enumerate(chosen):
        kind = FILTERS[n % len(FILTERS)]
        made.append((kind, NearbyQuery(
            place=scatter(rng, town), radius_m=RADIUS_M, limit=PAGE,
            kind=rng.choice(list(ShopKind)) if kind == "kind" else None,
            festival_deal=kind == "festival_deal",
            category_id=1 + rng.randrange(CATEGORIES) if kind == "category" else None,
            open_now=kind == "open_now")))
    return made


def timed_nearby(runtime: Runtime, query: NearbyQuery, now: datetime) -> tuple[list[int], float]:
    started = time.perf_counter()
    page = service.nearby(runtime.uow(read_only=True), query, now=now)
    return [s.shop.id or 0 for s in page.shops], time.perf_counter() - started


def timed_scan(runtime: Runtime, query: NearbyQuery, now: datetime) -> tuple[list[int], float]:
    """The baseline: the same search through a box on lat/lng (no index: the whole table is read)."""
    started = time.perf_counter()
    centre = query.place or Point(0, 0)
    south, north, west, east = cells.box(centre, query.radius_m) or (-90, 90, -180, 180)
    t = local_shops.c
    statement = select(t.id, t.lat, t.lng, t.zone, t.hours).where(
        t.lat.between(south, north), t.lng.between(west, east))
    if query.kind is not None:
        statement = statement.where(t.kind == query.kind.value)
    if query.category_id is not None:
        statement = statement.where(t.category_id == query.category_id)
    if query.festival_deal:
        statement = statement.where(t.festival_deal.is_(True))
    with runtime.uow(read_only=True) as uow:
        rows = list(uow.conn.execute(statement))
    ranked = sorted((distance_m(centre, Point(r.lat, r.lng)), r.id, r) for r in rows)
    kept = [i for d, i, r in ranked if d <= query.radius_m
            and (not query.open_now or hours(r.hours).open_at(local(now, r.zone)))][:query.limit]
    return kept, time.perf_counter() - started


def bench_backend(runtime: Runtime, backend: str, *, shops: int, query_count: int, baseline_queries: int,
                  progress: Callable[[str, int], None], total: Callable[[str, int], None]) -> NearbyResult:
    total("shops", shops)
    load_seconds = load(runtime, shops, seed=11, progress=lambda n: progress("shops", n))
    places.settle(runtime)  # PostgreSQL's vacuum marks the pages visible: its index-only scans need that
    now = runtime.clock.now()
    mix = queries(query_count, seed=7)
    for _, query in mix[:20]:  # warm the caches the way a running server's are warm
        timed_nearby(runtime, query, now)
    total("nearby", len(mix))
    timings: dict[str, list[float]] = {}
    found = 0
    for kind, query in mix:
        ids, seconds = timed_nearby(runtime, query, now)
        timings.setdefault(kind, []).append(seconds)
        found += len(ids)
        progress("nearby", 1)
    total("baseline", baseline_queries)
    baseline, agree = [], True
    for _, query in mix[:baseline_queries]:
        scanned, seconds = timed_scan(runtime, query, now)
        baseline.append(seconds)
        agree = agree and scanned == timed_nearby(runtime, query, now)[0]
        progress("baseline", 1)
    every = [t for kind in timings.values() for t in kind]
    nearby_latency, baseline_latency = Latency.of(every), Latency.of(baseline)
    return NearbyResult(
        backend=backend, shops=shops, load_seconds=round(load_seconds, 1),
        rows_per_second=round(shops / max(load_seconds, 1e-9)), nearby=nearby_latency,
        by_filter={k: Latency.of(v) for k, v in timings.items()},
        mean_found=round(found / max(len(mix), 1), 1), baseline_scan=baseline_latency,
        baseline_queries=len(baseline),
        p99_speedup=round(baseline_latency.p99_ms / max(nearby_latency.p99_ms, 1e-6), 1),
        results_agree=agree)
