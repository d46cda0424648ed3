"""The festival night over HTTP: httpx.AsyncClient on asyncio, open-loop arrivals that follow the rate
curve, each taken by an idle shopper for their next step, latencies measured from the client's side."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException

from shopfest.core.clock import parse_instant
from shopfest.core.money import Money
from shopfest.simulate import plan
from shopfest.simulate.plan import Item, RateCurve, Shopper
from shopfest.simulate.summary import Tally

Progress = Callable[[Tally, float], None]  # (counts so far, seconds into the run)
MAX_CLIENT_ADDRESSES = 32
MAX_CONNECTIONS = 256
TIMEOUT_S = 30.0
SEEN_AT_MOST = 12
DRAIN_S = 30.0  # how long the requests in flight at the end may take
# An idle connection is let go well before the server's keep-alive timeout (uvicorn's 5 s) closes it:
# at httpx's default of 5 s too, a request sent as the server closes the connection fails with no answer.
KEEPALIVE_S = 2.0


@dataclass
class Night:
    """What the steps share: the clients (one per source address), the counts, the flash SKUs."""

    clients: list[httpx.AsyncClient]
    tally: Tally
    curve: RateCurve
    flash_skus: list[int]
    started: float = field(default_factory=time.perf_counter)
    coupons_on: list[int] = field(default_factory=list)
    rooms_on: list[int] = field(default_factory=list)  # live events on now, their rooms open to viewers
    rush_order_times: list[float] = field(default_factory=list)
    festival: tuple[datetime, float] | None = None  # the festival clock when the night started, its speed

    def now(self) -> float:
        return time.perf_counter() - self.started

    def festival_now(self) -> datetime:
        start, speed = self.festival or (datetime.now(UTC), 1.0)
        return start + timedelta(seconds=self.now() * speed)


def client_addresses(url: str, shoppers: int) -> list[str | None]:
    """Where the shoppers connect from: against a loopback server, spread over loopback addresses
    (127.0.0.1, .2, ...) so that the server's per-address limits see a crowd, not one client; else
    the machine's own address."""
    host = urlsplit(url).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).version == 4 and ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return [None]
    return [f"127.0.0.{n + 1}" for n in range(min(MAX_CLIENT_ADDRESSES, shoppers))]


def make_clients(url: str, addresses: list[str | None], *, concurrency: int) -> list[httpx.AsyncClient]:
    per_client = max(1, -(-min(concurrency, MAX_CONNECTIONS) // len(addresses)))
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client,
                          keepalive_expiry=KEEPALIVE_S)
    return [httpx.AsyncClient(
        base_url=url, timeout=TIMEOUT_S, trust_env=False,
        transport=httpx.AsyncHTTPTransport(limits=limits, local_address=address))
        for address in addresses]


def _problem(answer: httpx.Response) -> str:
    """The problem's stable name (`sold-out`), or the status where the answer is no problem document."""
    if answer.headers.get("content-type", "").startswith("application/problem+json"):
        try:
            kind = answer.json().get("type", "")
        except ValueError:
            kind = ""
        if isinstance(kind, str) and kind.startswith("/problems/"):
            return kind.removeprefix("/problems/")
    return str(answer.status_code)


async def request(night: Night, shopper: Shopper, kind: str, method: str, path: str,
                  **kwargs: Any) -> httpx.Response | None:  # noqa: ANN401  # httpx's own arguments
    """One request of `kind`, timed; an error answer or none is counted and gives None."""
    headers = {"Authorization": f"Bearer {shopper.token}", **kwargs.pop("headers", {})}
    began = time.perf_counter()
    try:
        answer = await night.clients[shopper.client].request(method, path, headers=headers, **kwargs)
    except httpx.HTTPError as error:
        night.tally.answered(kind, (time.perf_counter() - began) * 1000)
        night.tally.refused(kind, f"no-answer ({type(error).__name__})")
        return None
    night.tally.answered(kind, (time.perf_counter() - began) * 1000)
    if answer.status_code >= 400:
        night.tally.refused(kind, _problem(answer))
        return None
    return answer


def _minor(money: dict[str, str]) -> tuple[str, int]:
    return money["currency"], Money.exact(money["amount"], money["currency"]).minor


async def search(night: Night, shopper: Shopper, rng: random.Random) -> None:
    answer = await request(night, shopper, "search", "GET", "/api/v1/products",
                           params={"q": rng.choice(plan.SEARCH_WORDS), "limit": 20})
    for product in answer.json()["data"] if answer else []:
        in_stock = [s for s in product["skus"] if s["stock"] > 0]
        if product["fulfilment"] == "shipped" and in_stock:
            sku = rng.choice(in_stock)
            shopper.seen.append(Item(sku["id"], product["id"], product["merchant_id"], product["category"],
                                     sku["price"]["amount"], sku["price"]["currency"]))
    del shopper.seen[:-SEEN_AT_MOST]


async def browse(night: Night, shopper: Shopper, rng: random.Random) -> None:
    await request(night, shopper, "page", "GET", plan.page_path(rng, shopper))


async def price(night: Night, shopper: Shopper, rng: random.Random) -> None:
    await request(night, shopper, "price", "POST", "/api/v1/price",
                  json=plan.price_request(plan.cart_of(rng, shopper)))


async def claim(night: Night, shopper: Shopper, rng: random.Random) -> None:
    coupon_id = rng.choice(night.coupons_on)
    if await request(night, shopper, "claim", "POST", f"/api/v1/coupons/{coupon_id}/claim"):
        shopper.coupons.append(coupon_id)


async def check_out(night: Night, shopper: Shopper, kind: str, skus: list[int]) -> None:
    """An order as the storefront places it: the cart's lines, the wallet's coupons, the shopper's
    address, and an Idempotency-Key."""
    body = {"lines": [{"sku_id": sku, "qty": 1} for sku in skus], "coupons": shopper.coupons,
            "address_id": shopper.address_id}
    answer = await request(night, shopper, kind, "POST", "/api/v1/orders", json=body,
                           headers={"Idempotency-Key": str(uuid.uuid4())})
    if answer is None:
        return
    night.tally.orders += 1
    shopper.coupons = []  # held by the order now
    shopper.unpaid.append(answer.json()["id"])
    if night.curve.rushing(night.now()):
        night.rush_order_times.append(night.now())


async def pay(night: Night, shopper: Shopper, rng: random.Random) -> None:
    """The sandbox provider's `sandbox_ok` pays at once (payments/provider.py)."""
    order_id = shopper.unpaid.pop(0)
    answer = await request(night, shopper, "pay", "POST", f"/api/v1/orders/{order_id}/pay",
                           json={"method": "sandbox_ok"}, headers={"Idempotency-Key": str(uuid.uuid4())})
    if answer is None:
        return
    order = answer.json()
    if order["status"] == "paid":
        night.tally.paid_orders += 1
        currency, minor = _minor(order["total"])
        night.tally.gmv_minor[currency] += minor
        shopper.paid.append(order_id)


async def refund(night: Night, shopper: Shopper, rng: random.Random) -> None:
    """The whole order back, once (its Idempotency-Key)."""
    order_id = shopper.paid.pop(rng.randrange(len(shopper.paid)))
    answer = await request(night, shopper, "refund", "POST", f"/api/v1/orders/{order_id}/refunds", json={},
                           headers={"Idempotency-Key": str(uuid.uuid4())})
    if answer is None:
        return
    night.tally.refunds += 1
    for child in answer.json()["children"]:
        for line in child["lines"]:
            if line.get("refunded"):
                currency, minor = _minor(line["refunded"])
                night.tally.refunded_minor[currency] += minor


async def step(night: Night, shopper: Shopper, rng: random.Random) -> None:
    """The shopper's next step, as the plan chooses it."""
    rushing = night.curve.rushing(night.now())
    kind = plan.next_step(shopper, rng, rushing=rushing, flash=bool(night.flash_skus),
                          coupons_on=bool(night.coupons_on), live_on=bool(night.rooms_on))
    shopper.steps += 1
    if kind == "flash_checkout":
        await check_out(night, shopper, kind, [rng.choice(night.flash_skus)])
    elif kind == "checkout":
        await check_out(night, shopper, kind, [item.sku_id for item in plan.cart_of(rng, shopper)])
    else:
        await STEPS[kind](night, shopper, rng)


async def refresh_lists(night: Night, shopper: Shopper, *, every_s: float = 2.0) -> None:
    """The coupon centre's list and the livestreams on now, read again every few seconds (coupons
    come on with the sale, streams begin and end)."""
    while True:
        try:
            await _read_lists(night, shopper)
        except Exception as error:  # noqa: BLE001  # as a shopper's step: counted, and the night goes on
            night.tally.refused("lists", f"unreadable-answer ({type(error).__name__})")
        await asyncio.sleep(every_s)


async def _read_lists(night: Night, shopper: Shopper) -> None:
    answer = await request(night, shopper, "coupons", "GET", "/api/v1/coupons")
    if answer is not None:
        night.coupons_on = [c["id"] for c in answer.json()]
    answer = await request(night, shopper, "schedule", "GET", "/api/v1/live/events", params={"limit": 100})
    if answer is not None:
        now = night.festival_now()
        night.rooms_on = [e["id"] for e in answer.json()["data"]
                          if parse_instant(e["starts_at"]) <= now < parse_instant(e["ends_at"])]


async def watch(night: Night, shopper: Shopper, rng: random.Random) -> None:
    """A viewer in a live room on now: timed until the room's welcome arrives, then reading the
    room's frames for a while; an error frame or a refused socket is counted by its code."""
    event_id = rng.choice(night.rooms_on)
    address = str(night.clients[shopper.client].base_url).rstrip("/").replace("http", "ws", 1)
    began = time.perf_counter()
    try:
        async with connect(f"{address}/api/v1/live/events/{event_id}/ws", open_timeout=TIMEOUT_S,
                           additional_headers={"Authorization": f"Bearer {shopper.token}"},
                           ping_interval=None, max_size=None, proxy=None) as room:
            first = orjson.loads(await asyncio.wait_for(room.recv(), TIMEOUT_S))
            night.tally.answered("watch", (time.perf_counter() - began) * 1000)
            refusals = [f.get("code", "error") for f in first if f.get("type") == "error"]
            if refusals:
                night.tally.refused("watch", str(refusals[0]))
                return
            await _linger(room, rng.uniform(*plan.WATCH_S))
    except (OSError, TimeoutError, WebSocketException) as error:
        night.tally.answered("watch", (time.perf_counter() - began) * 1000)
        status = error.response.status_code if isinstance(error, InvalidStatus) else type(error).__name__
        night.tally.refused("watch", f"no-room ({status})")


async def _linger(room: Any, seconds: float) -> None:  # noqa: ANN401  # a websockets ClientConnection
    """Read what the room sends for `seconds`, as a viewer's page does."""
    try:
        async with asyncio.timeout(seconds):
            async for _ in room:
                pass
    except TimeoutError:
        pass


STEPS: dict[str, Callable[[Night, Shopper, random.Random], Awaitable[None]]] = {
    "search": search, "page": browse, "price": price, "claim": claim, "pay": pay, "refund": refund,
    "watch": watch}


async def arrive(night: Night, shoppers: list[Shopper], rng: random.Random,
                 progress: Progress | None) -> None:
    """Each arrival, when it is due, goes to an idle shopper; with none idle it is missed (counted)."""
    idle, running = list(shoppers), set()

    async def take(shopper: Shopper, seed: int) -> None:
        try:
            await step(night, shopper, random.Random(seed))
        except Exception as error:  # noqa: BLE001  # an answer the shopper could not read fails the run
            night.tally.refused("step", f"unreadable-answer ({type(error).__name__})")
        finally:
            idle.append(shopper)

    last_shown = 0.0
    for due in night.curve.arrivals(rng):
        while (ahead := due - night.now()) > 0:
            await asyncio.sleep(min(ahead, 0.25))
            last_shown = _show(night, progress, last_shown)
        if not idle:
            night.tally.missed += 1
            continue
        shopper = idle.pop(rng.randrange(len(idle)))
        task = asyncio.create_task(take(shopper, rng.getrandbits(32)))
        running.add(task)
        task.add_done_callback(running.discard)
    await asyncio.sleep(max(0.0, night.curve.duration - night.now()))
    if running:
        await asyncio.wait(running, timeout=DRAIN_S)
    _show(night, progress, 0.0)


def _show(night: Night, progress: Progress | None, last: float) -> float:
    now = night.now()
    if progress is not None and now - last >= 0.25:
        progress(night.tally, now)
        return now
    return last
