"""The pieces the browser tests drive: a `shopfest serve` process and a tab that remembers its requests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page

# Ten seconds before the 2027 festival's 11.11 sale opens, on the server's festival clock.
EVE_OF_ELEVEN_ELEVEN = "2027-11-10T23:59:50+08:00"
CHROMIUM = os.environ.get("SHOPFEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
START_TIMEOUT_S = 30
# Talk to the local server directly even where a proxy is configured for the outside world.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def shopfest(*args: str) -> list[str]:
    """The `shopfest` command of the Python running the tests (no reliance on PATH)."""
    return [sys.executable, "-c", "from shopfest.cli import app; app()", *args]


def server_env(database_url: str, clock: str) -> dict[str, str]:
    env = dict(os.environ, SHOPFEST_DATABASE_URL=database_url, SHOPFEST_CLOCK=clock,
               SHOPFEST_CLOCK_SPEED="1")
    env.pop("SHOPFEST_CLOCK_ANCHOR", None)  # each server starts its festival clock when it starts
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with _LOCAL.open(f"{base_url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the server did not answer /healthz within {START_TIMEOUT_S} s:\n{log.read_text()}")


@contextmanager
def running_server(database_url: str, *, clock: str, log_dir: Path) -> Iterator[str]:
    """`shopfest serve` on a free port with its festival clock at `clock`; yields its base URL."""
    port = _free_port()
    log = log_dir / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(shopfest("serve", "--port", str(port)),
                                   env=server_env(database_url, clock), stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base_url, process, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Shopper:
    """One browser tab on one server, remembering every URL the page asked for."""

    page: Page
    base_url: str
    requests: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
