"""`shopfest bench scale`: the same simulated festival night (`shopfest simulate`) against one worker on
SQLite, two workers on PostgreSQL + Redis, and two workers on Citus + Redis Cluster, on one machine.

One machine cannot make a cluster faster: what the run shows is what distribution costs per request,
as the CPU each part of the system spent (the app's workers, each database node, Redis), read from the
operating system around the night. From that, `estimate` reckons the nodes a 100,000 orders/s peak
would need.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # ships no type information
from sqlalchemy import text
from sqlalchemy.engine import make_url

from shopfest import demo
from shopfest.app import make_runtime
from shopfest.bench import places
from shopfest.core.clock import SetClock, parse_instant
from shopfest.core.db import make_engine
from shopfest.core.migrate import upgrade
from shopfest.local.codes import new_key_text
from shopfest.settings import Settings

SEEDED_AT = "2027-11-10T23:50:00+08:00"  # the demo is seeded before the night...
SERVED_FROM = "2027-11-10T23:59:50+08:00"  # ...and served from ten seconds before 11.11's midnight
TARGET_ORDERS_PER_S = 100_000
CORES_PER_NODE = 16  # the node the estimate buys: 16 cores...
BUSY_SHARE = 0.6  # ...kept at most 60 % busy at the peak, room for a node lost and the tail


@dataclass(frozen=True)
class Setup:
    name: str
    workers: int
    database: str  # "sqlite", "postgresql" or "citus"
    redis: str  # "", "redis" or "cluster"


SETUPS = {
    "sqlite": Setup("1 worker, SQLite", 1, "sqlite", ""),
    "postgresql": Setup("2 workers, PostgreSQL + Redis", 2, "postgresql", "redis"),
    "citus": Setup("2 workers, Citus + Redis Cluster", 2, "citus", "cluster"),
}


@dataclass
class Night:
    """What one set-up did with the night."""

    setup: str
    workers: int
    summary: dict[str, Any]
    oversold_skus: int
    cpu_s: dict[str, float]  # by part: "app", "database", "database worker 1", ..., "redis", "simulator"
    orders_per_s: float = 0.0
    cpu_per_order_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class NightOptions:
    shoppers: int
    peak: float
    duration: float
    seed: int
    citus_url: str | None
    redis_cluster_url: str | None


def run(setup: Setup, options: NightOptions) -> Night:
    """Seed the demo in the set-up's stores, serve it with its workers, run the night at it, measure."""
    from shopfest import simulate

    with ExitStack() as stack:
        database_url, redis_url = _places(stack, setup, options)
        _seed(database_url)
        folder = Path(stack.enter_context(_temporary_folder()))
        server, base = _serve(database_url, redis_url=redis_url, workers=setup.workers,
                              log=folder / "server.log")
        stack.callback(_stop, server)
        parts = _parts(server.pid, database_url, redis_url)
        before = _cpu(parts)
        summary = simulate.run(base, shoppers=options.shoppers, peak=options.peak, duration=options.duration,
                               seed=options.seed, database_url=database_url)
        used = {part: round(after - before[part], 2) for part, after in _cpu(parts).items()}
        night = Night(setup.name, setup.workers, summary.to_json(), _oversold(database_url), used)
    night.orders_per_s = round(summary.orders / summary.elapsed_s, 1) if summary.elapsed_s else 0.0
    if summary.orders:
        night.cpu_per_order_ms = {part: round(seconds * 1000 / summary.orders, 2)
                                  for part, seconds in night.cpu_s.items()}
    return night


def estimate(night: Night) -> dict[str, Any]:
    """Nodes of CORES_PER_NODE cores, BUSY_SHARE busy, for TARGET_ORDERS_PER_S orders a second with this
    night's mix of requests: each part's CPU per order, times the orders, over what a node gives."""
    nodes: dict[str, int] = {}
    for part, ms in night.cpu_per_order_ms.items():
        if part == "simulator":
            continue
        cores = ms / 1000 * TARGET_ORDERS_PER_S
        nodes[part] = max(1, math.ceil(cores / (CORES_PER_NODE * BUSY_SHARE)))
    return {"orders_per_s": TARGET_ORDERS_PER_S, "cores_per_node": CORES_PER_NODE, "busy_share": BUSY_SHARE,
            "nodes": nodes}


def _places(stack: ExitStack, setup: Setup, options: NightOptions) -> tuple[str, str | None]:
    if setup.database == "sqlite":
        database = stack.enter_context(places.sqlite_database())
    elif setup.database == "postgresql":
        database = stack.enter_context(places.postgres_database(None))
    else:
        database = _required(options.citus_url, "--citus-url")
        _require_empty(database)
    redis: str | None = None
    if setup.redis == "redis":
        redis = stack.enter_context(places.redis_server(None))
    elif setup.redis == "cluster":
        redis = _required(options.redis_cluster_url, "--redis-cluster-url")
    return database, redis


def _required(url: str | None, option: str) -> str:
    if not url:
        raise SystemExit(f"this set-up needs {option} (../shared/dist starts one; docs/scale.md)")
    return url


def _require_empty(database_url: str) -> None:
    """A database given to the bench must be empty: its tables are written and its data is the bench's."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            found = conn.execute(text(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_name = 'alembic_version'")).scalar()
    finally:
        engine.dispose()
    if found:
        raise SystemExit(f"{make_url(database_url).render_as_string(hide_password=True)} is not empty: give "
                         "the bench a database of its own")


def _seed(database_url: str) -> None:
    upgrade(database_url)
    runtime = make_runtime(Settings(database_url=database_url),
                           clock=SetClock(parse_instant(SEEDED_AT), speed=0))
    try:
        demo.seed(runtime, brands=60, products=600)
    finally:
        runtime.engine.dispose()


@contextmanager
def _temporary_folder() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="shopfest-scale-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _serve(database_url: str, *, redis_url: str | None, workers: int,
           log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = 18500 + os.getpid() % 1000
    env = dict(os.environ, SHOPFEST_DATABASE_URL=database_url, SHOPFEST_REDIS_URL=redis_url or "",
               SHOPFEST_CLOCK=SERVED_FROM, SHOPFEST_CLOCK_SPEED="1",
               SHOPFEST_WEBHOOK_SECRET="bench-scale-webhook-secret", SHOPFEST_VOUCHER_KEYS=new_key_text())
    env.pop("SHOPFEST_CLOCK_ANCHOR", None)
    return places.serve(["--workers", str(workers)], env=env, port=port, log=log, timeout_s=60)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def _parts(server_pid: int, database_url: str, redis_url: str | None) -> dict[str, list[int]]:
    """The processes of each part: the server and its workers, each database node's postmaster, every
    Redis node; and this process, the simulator."""
    parts: dict[str, list[int]] = {"app": [server_pid], "simulator": [os.getpid()]}
    postmasters = _postmasters()
    if database_url.startswith("postgresql"):
        for label, pid in _database_nodes(database_url, postmasters).items():
            parts[label] = [pid]
    if redis_url:
        parts["redis"] = _redis_nodes(redis_url)
    return parts


def _postmasters() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "ppid"]):
        if process.info["name"] == "postgres":
            try:
                if psutil.Process(process.info["ppid"]).name() != "postgres":
                    found.append(process)
            except psutil.Error:
                continue
    return found


def _database_nodes(database_url: str, postmasters: list[psutil.Process]) -> dict[str, int]:
    """The postmaster of each node: for Citus the coordinator and every worker by port (from its
    pg_dist_node), else the one serving the URL's socket folder."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            citus = conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'citus'")).first()
            ports = ([int(p) for (p,) in conn.execute(text(
                "SELECT nodeport FROM pg_dist_node WHERE noderole = 'primary' ORDER BY groupid"))]
                if citus else [])
            folder = conn.execute(text("SHOW data_directory")).scalar()
    finally:
        engine.dispose()
    nodes: dict[str, int] = {}
    for process in postmasters:
        command = " ".join(_command(process))
        if ports:
            for n, port in enumerate(ports):
                if f"-p {port}" in command:
                    nodes["database" if n == 0 else f"database worker {n}"] = process.pid
        elif folder and str(folder) in command:
            nodes["database"] = process.pid
    return nodes


def _command(process: psutil.Process) -> list[str]:
    try:
        return list(process.cmdline())
    except psutil.Error:
        return []


def _redis_nodes(redis_url: str) -> list[int]:
    """The redis-server processes of this URL: a cluster's every node (by the ports the cluster names),
    or the one listening on a lone Redis's socket or port."""
    from shopfest.core.redis import is_cluster, sync_client
    client = sync_client(redis_url)
    try:
        if is_cluster(redis_url):
            addresses = {f"{node.host}:{node.port}" for node in client.get_nodes()}
        else:
            kwargs = client.connection_pool.connection_kwargs
            addresses = {kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"}
    finally:
        client.close()
    found = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] != "redis-server":
            continue
        with contextlib.suppress(psutil.Error):
            listening = {c.laddr if isinstance(c.laddr, str) else f"{c.laddr.ip}:{c.laddr.port}"
                         for c in process.net_connections(kind="all") if c.laddr}
            if listening & addresses:
                found.append(process.pid)
    return found


def _cpu(parts: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds each part has spent so far: its processes and all their children, living ones."""
    spent: dict[str, float] = {}
    for part, pids in parts.items():
        total = 0.0
        for pid in pids:
            try:
                root = psutil.Process(pid)
                for process in [root, *root.children(recursive=True)]:
                    times = process.cpu_times()
                    total += times.user + times.system
            except psutil.Error:
                continue
        spent[part] = total
    return spent


def _oversold(database_url: str) -> int:
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM stock_levels WHERE reserved + sold > on_hand")).scalar() or 0)
    finally:
        engine.dispose()


def as_json(nights: list[Night]) -> dict[str, Any]:
    return {"nights": [asdict(night) | {"estimate": estimate(night)} for night in nights]}
