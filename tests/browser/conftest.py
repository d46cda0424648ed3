"""Fixtures of the browser tests: a seeded demo database, servers on it, Chromium and its tabs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing
from functools import partial
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, ELEVEN_ELEVEN_OPEN, EVE_OF_ELEVEN_ELEVEN, Shopper
from tests.servers import running_server, server_env, shopfest


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file migrated and seeded with the demo festival, catalog and accounts, once a session."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'shop.db'}"
    seeding = subprocess.run(
        shopfest("demo", "--no-serve", "--clock", EVE_OF_ELEVEN_ELEVEN, "--brands", "200",
                 "--products", "400"),
        env=server_env(url, EVE_OF_ELEVEN_ELEVEN), capture_output=True, text=True, timeout=300,
    )
    if seeding.returncode != 0:
        pytest.fail(f"seeding the demo failed:\n{seeding.stdout}\n{seeding.stderr}")
    return url


@pytest.fixture(scope="module")
def demo_database(demo_template: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The seeded demo as each test file starts it: its own copy, so that what one file's journeys
    change (a promotion put on, stock sold) never meets another's, in whatever order they run."""
    return copy_of(demo_template, tmp_path_factory.mktemp("demo") / "shop.db")


def copy_of(database_url: str, path: Path) -> str:
    with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as source, \
            closing(sqlite3.connect(path)) as target:
        source.backup(target)
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def server(demo_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(demo_database, clock=ELEVEN_ELEVEN_OPEN,
                        log_dir=tmp_path_factory.mktemp("logs")) as base_url:
        yield base_url


@pytest.fixture
def start_server(demo_database: str, tmp_path: Path) -> Callable[..., AbstractContextManager[str]]:
    """Another server on the same data, for a test that needs its festival clock at a known moment."""
    return partial(running_server, demo_database, log_dir=tmp_path)


@pytest.fixture
def start_private_server(demo_database: str, tmp_path: Path) -> Callable[..., AbstractContextManager[str]]:
    """Servers on a copy of the demo data, for a test whose clock must not meet the shared server's
    sweeper: at its own moment that one would let, say, a pre-sale's deposit window lapse."""
    return partial(running_server, copy_of(demo_database, tmp_path / "own.db"), log_dir=tmp_path)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is not at {CHROMIUM}. Run `make test` (it installs Debian's chromium as root) "
                    "or `apt-get install chromium`, or point SHOPFEST_CHROMIUM at a Chromium binary.")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
    # (package-scoped: Playwright's event loop stops with the browser suite, so the suites after it can
    # run their own with asyncio.run)


@pytest.fixture
def open_tab(browser: Browser) -> Iterator[Callable[..., Shopper]]:
    """Opens a fresh tab (own cookies) on a server; `javascript=False` for the no-script checks."""
    contexts = []

    def open_on(base_url: str, *, javascript: bool = True) -> Shopper:
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900},
                                      java_script_enabled=javascript)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        shopper = Shopper(page, base_url)
        page.on("request", lambda request: shopper.requests.append(request.url))
        return shopper

    yield open_on
    for context in contexts:
        context.close()


@pytest.fixture
def shopper(open_tab: Callable[..., Shopper], server: str) -> Shopper:
    return open_tab(server)
