"""`shopfest simulate`: festival-night traffic against a running server over HTTP (plan: the scenario;
runner: the shoppers on asyncio and httpx; shoppers: preparing them; summary: what the night did)."""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from shopfest.core.clock import parse_instant
from shopfest.core.errors import InvalidInput
from shopfest.settings import Settings
from shopfest.simulate import plan, runner, shoppers
from shopfest.simulate.summary import Rush, Summary, Tally, summarize

__all__ = ["Options", "Summary", "Tally", "run", "simulate"]


@dataclass(frozen=True)
class Options:
    """What `shopfest simulate` was asked for."""

    url: str = "http://127.0.0.1:8000"
    shoppers: int = 50
    peak: float = 50.0  # requests a second at the rush
    duration: float = 30.0  # seconds
    seed: int = 11
    rush_at: datetime | None = None  # a festival instant; default 11.11's midnight, or now
    database_url: str | None = None  # where the shoppers are prepared; default SHOPFEST_DATABASE_URL


def run(url: str, *, shoppers: int, peak: float, duration: float, seed: int,
        database_url: str | None = None, rush_at: datetime | None = None,
        progress: runner.Progress | None = None) -> Summary:
    """Simulate the festival night against the server at `url` (its database at `database_url`, else
    SHOPFEST_DATABASE_URL) and summarize it. Raises InvalidInput (the server or its database unreachable)."""
    options = Options(url.rstrip("/"), shoppers, peak, duration, seed, rush_at, database_url)
    return asyncio.run(simulate(options, progress=progress))


async def simulate(options: Options, *, progress: runner.Progress | None = None) -> Summary:
    """The night: the festival clock read from the server, the shoppers prepared, the arrivals run."""
    rng = random.Random(options.seed)
    prepared = await asyncio.to_thread(
        shoppers.prepare, options.database_url or Settings.from_env().database_url, count=options.shoppers,
        festival_now=(await read_clock(options.url)).now)
    await _require_known(options.url, prepared.shoppers[0][1])
    clock = await read_clock(options.url)  # again: the night starts now, the shoppers ready
    moment = options.rush_at or clock.midnight
    until = clock.until(moment)
    curve, why = plan.curve_for(peak=options.peak, duration=options.duration, until_rush=until)
    why = "given" if options.rush_at and why == "midnight" else why
    rush_time = clock.now + timedelta(seconds=curve.rush_at * clock.speed)
    flash_skus = prepared.flash_skus(rush_time)
    addresses = runner.client_addresses(options.url, options.shoppers)
    crowd = [plan.Shopper(email, token, address, n % len(addresses))
             for n, (email, token, address) in enumerate(prepared.shoppers)]
    clients = runner.make_clients(options.url, addresses, concurrency=options.shoppers)
    night = runner.Night(clients, Tally(), curve, flash_skus)
    night.festival = (clock.now, clock.speed)
    lists = asyncio.create_task(runner.refresh_lists(night, crowd[0]))
    try:
        await runner.arrive(night, crowd, rng, progress)
    finally:
        lists.cancel()
        for client in clients:
            await client.aclose()
    rush = Rush(round(curve.rush_at, 2), round(curve.rush_s, 2), rush_time.isoformat(), why,
                flash_skus, plan.rush_orders_per_second(night.rush_order_times, curve),
                round(until, 1) if until is not None else None)
    head = {"url": options.url, "shoppers": options.shoppers, "peak": options.peak,
            "duration_s": options.duration, "seed": options.seed, "client_addresses": len(addresses)}
    return summarize(night.tally, head=head, elapsed_s=night.now(), rush=rush)


@dataclass(frozen=True)
class FestivalClock:
    """The server's festival clock as the simulator read it: now, how fast it runs, 11.11's midnight."""

    now: datetime
    speed: float
    midnight: datetime

    def until(self, moment: datetime) -> float | None:
        """Real seconds until the festival clock reaches `moment`; None when it stands still."""
        return (moment - self.now).total_seconds() / self.speed if self.speed else None


async def read_clock(url: str) -> FestivalClock:
    """The server's festival clock: now from the API, its speed (`shopfest demo --speed`) as the
    storefront's countdown states it to the pages' script (1 where no countdown shows).
    Raises InvalidInput."""
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10, trust_env=False) as client:
            answer = await client.get("/api/v1/festival")
            home = await client.get("/")
    except httpx.HTTPError as error:
        raise InvalidInput(f"no ShopFest server answers at {url}: {error}") from None
    if answer.status_code != 200:
        raise InvalidInput(f"{url}/api/v1/festival answered {answer.status_code}: is a festival scheduled?")
    festival = answer.json()
    now = parse_instant(festival["now"])
    stated = SPEED_ON_PAGE.search(home.text)
    sales = [p for p in festival["phases"] if p["kind"] == "sale"]
    return FestivalClock(now, float(stated.group(1)) if stated else 1.0,
                         parse_instant(sales[-1]["starts_at"]) if sales else now)


SPEED_ON_PAGE = re.compile(r'data-speed="([0-9]+(?:\.[0-9]+)?)"')


async def _require_known(url: str, token: str) -> None:
    """The server signs in a shopper just prepared: its database is the one they were written to.
    Raises InvalidInput."""
    async with httpx.AsyncClient(base_url=url, timeout=10, trust_env=False) as client:
        answer = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    if answer.status_code != 200:
        raise InvalidInput(f"the server at {url} does not know the shoppers prepared (GET /api/v1/me "
                           f"answered {answer.status_code}): SHOPFEST_DATABASE_URL must name its database")
