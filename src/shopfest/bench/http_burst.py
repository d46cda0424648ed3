"""The burst over HTTP: `shopfest serve` in its own process, wrk (a C load generator) as the shoppers.

The same server is asked `GET /healthz`, the cheapest answer it has, as the baseline, and shoppers
place orders for one hot SKU with enough units that none is refused, so every request is a durable
order. The two take turns, round after round, so that a machine that slows down or speeds up during
the run (a shared VM does) weighs on both alike.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shopfest.accounts import service as accounts
from shopfest.bench import places
from shopfest.core.actor import Role
from shopfest.demo import hot_item
from shopfest.inventory.store import InventoryStore
from shopfest.local.codes import new_key_text
from shopfest.runtime import Runtime
from shopfest.settings import MAX_UNPAID_UNITS, Settings

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}
ROUNDS = 2


@dataclass(frozen=True)
class HttpRun:
    path: str
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    not_2xx: int


@dataclass(frozen=True)
class HttpResult:
    connections: int
    seconds: int  # of each path, each round
    rounds: int
    healthz: HttpRun
    orders: HttpRun
    units_sold: int
    oversold: int
    ratio_to_healthz: float


def wrk_missing() -> str | None:
    return None if shutil.which("wrk") else "wrk is not installed (Debian: apt-get install wrk)"


def parse(path: str, output: str) -> HttpRun:
    def latency(percent: str) -> float:
        found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        return round(float(found[1]) * _UNITS[found[2]], 3) if found else float("nan")

    requests = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    not_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if requests is None or rate is None:
        raise RuntimeError(f"wrk said:\n{output}")
    return HttpRun(path, int(requests[1]), float(rate[1]), latency("50"), latency("99"),
                   int(not_2xx[1]) if not_2xx else 0)


def combined(runs: Sequence[HttpRun]) -> HttpRun:
    """Rounds of one path as one run: requests over the time they took, and the worst round's
    latencies (percentiles of rounds cannot be merged; the worst does not flatter)."""
    requests = sum(r.requests for r in runs)
    seconds = sum(r.requests / r.requests_per_second for r in runs if r.requests)
    return HttpRun(runs[0].path, requests, round(requests / seconds, 2) if seconds else 0.0,
                   max(r.p50_ms for r in runs), max(r.p99_ms for r in runs), sum(r.not_2xx for r in runs))


def wrk(url: str, *, connections: int, seconds: int, script: Path | None = None) -> str:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def order_script(folder: Path, tokens: list[str], sku_id: int) -> Path:
    quoted = ", ".join(f'"{t}"' for t in tokens)
    script = folder / "orders.lua"
    script.write_text(
        f'local tokens = {{{quoted}}}\n'
        'local n = 0\n'
        f'local body = \'{{"lines": [{{"sku_id": {sku_id}, "qty": 1}}]}}\'\n'
        'request = function()\n'
        '  n = n + 1\n'
        '  local headers = {["Content-Type"] = "application/json",\n'
        '                   ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1]}\n'
        '  return wrk.format("POST", "/api/v1/orders", headers, body)\n'
        'end\n')
    return script


def signed_in_shoppers(runtime: Runtime, count: int) -> list[str]:
    tokens = []
    for n in range(count):
        email = f"bench-{n}-{time.monotonic_ns()}@shoppers.test"
        accounts.create_account_unchecked(runtime.uow(), email=email, password="bench-secret-1",
                                          role=Role.SHOPPER)
        tokens.append(accounts.sign_in(runtime.uow(), email=email, password="bench-secret-1").secret)
    return tokens


def serve_for(settings: Settings, clock: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = 18000 + os.getpid() % 1000
    env = dict(os.environ, SHOPFEST_DATABASE_URL=settings.database_url, SHOPFEST_CLOCK=clock,
               SHOPFEST_CLOCK_SPEED="0", SHOPFEST_REDIS_URL=settings.redis_url or "",
               SHOPFEST_REDIS_PREFIX=settings.redis_prefix,
               SHOPFEST_CHECKOUT_LANES=str(settings.checkout_lanes),
               SHOPFEST_WEBHOOK_SECRET=settings.webhook_secret, SHOPFEST_VOUCHER_KEYS=new_key_text(),
               # Its 16 shoppers stand for thousands, each ordering again and again: not hoarders, and
               # thousands of orders a second from one address: no rate limits here.
               SHOPFEST_MAX_UNPAID_UNITS=str(MAX_UNPAID_UNITS), SHOPFEST_RATE_LIMITS="off")
    return places.serve([], env=env, port=port, log=log)


def over_http(runtime: Runtime, *, connections: int = 32, seconds: int = 10, rounds: int = ROUNDS,
              shoppers: int = 16) -> HttpResult:
    """/healthz and orders in turns, each for `seconds` a round, against one `shopfest serve` worker
    on the same database."""
    item = hot_item(runtime, stock=10_000_000, name="Http")
    tokens = signed_in_shoppers(runtime, shoppers)
    folder = Path(tempfile.mkdtemp(prefix="shopfest-http-"))
    process, base = serve_for(runtime.settings, runtime.clock.now().isoformat(), folder / "server.log")
    try:
        script = order_script(folder, tokens, item.sku_id)
        healthz_rounds, order_rounds = [], []
        for _ in range(rounds):
            healthz_rounds.append(parse("/healthz", wrk(f"{base}/healthz", connections=connections,
                                                          seconds=seconds)))
            order_rounds.append(parse("/api/v1/orders", wrk(base, connections=connections,
                                                              seconds=seconds, script=script)))
        healthz, orders = combined(healthz_rounds), combined(order_rounds)
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    with runtime.engine.connect() as conn:
        level = InventoryStore(conn).levels([item.sku_id])[item.sku_id]
    return HttpResult(connections, seconds, rounds, healthz, orders, level.reserved + level.sold,
                      max(0, level.reserved + level.sold - level.on_hand),
                      round(orders.requests_per_second / healthz.requests_per_second, 2))
