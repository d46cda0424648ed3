"""`shopfest serve` processes for tests that need a real server: started, waited for, stopped, killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 30
# `serve` starts only with a webhook secret; the test servers share this one.
WEBHOOK_SECRET = "test-servers-webhook-secret"
# ... and, on PostgreSQL, with the keys voucher codes are signed with (local/codes.py): this one.
VOUCHER_KEYS = "test1:dGVzdC1zZXJ2ZXJzLXZvdWNoZXIta2V5LTMyYnl0ZXM"
# Talk to the local server directly even where a proxy is configured for the outside world.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def shopfest(*args: str) -> list[str]:
    """The `shopfest` command of the Python running the tests (no reliance on PATH)."""
    return [sys.executable, "-c", "from shopfest.cli import app; app()", *args]


def server_env(database_url: str, clock: str) -> dict[str, str]:
    # Every browser test signs its own shoppers up from 127.0.0.1: more than one address may register
    # in ten minutes (tests/integration/test_rate_limits.py holds that rule).
    env = dict(os.environ, SHOPFEST_DATABASE_URL=database_url, SHOPFEST_CLOCK=clock,
               SHOPFEST_CLOCK_SPEED="1", SHOPFEST_WEBHOOK_SECRET=WEBHOOK_SECRET,
               SHOPFEST_RATE_LIMITS="register.address=off", SHOPFEST_VOUCHER_KEYS=VOUCHER_KEYS)
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


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as when the machine loses power under the process."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def start_server(database_url: str, *, clock: str, log_dir: Path,
                 env: dict[str, str] | None = None, workers: int = 1) -> Server:
    port = _free_port()
    log = log_dir / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(shopfest("serve", "--port", str(port), "--workers", str(workers)),
                                   env={**server_env(database_url, clock), **(env or {})},
                                   stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    _wait_until_healthy(base_url, process, log)
    return Server(base_url, process)


@contextmanager
def running_server(database_url: str, *, clock: str, log_dir: Path) -> Iterator[str]:
    """`shopfest serve` on a free port with its festival clock at `clock`; yields its base URL."""
    server = start_server(database_url, clock=clock, log_dir=log_dir)
    process = server.process
    try:
        yield server.base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


