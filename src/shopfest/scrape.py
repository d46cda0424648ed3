"""What a scrape of GET /metrics is given (the figures of every worker of this server, core/metrics.py),
and who may have it."""

from __future__ import annotations

import glob
import ipaddress
import os
import re
import secrets

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from shopfest.core.metrics import MULTIPROCESS_DIR


def may_read(client: tuple[str, int] | None, authorization: str | None, *, token: str | None) -> bool:
    """With SHOPFEST_METRICS_TOKEN set, a request that bears it; without, a client on this machine
    (loopback): the figures show sales rates, which are not for the public."""
    if token:
        scheme, _, given = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), token.encode())
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:  # a Unix socket's or a test client's name
        return False


def exposition() -> tuple[bytes, str]:
    """The figures of every worker of this server, and their media type."""
    if MULTIPROCESS_DIR is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    forget_dead_workers(MULTIPROCESS_DIR)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=MULTIPROCESS_DIR)  # type: ignore[no-untyped-call]  # untyped in the library
    return generate_latest(registry), CONTENT_TYPE_LATEST


_LIVE_FILE = re.compile(r"gauge_live(?:all|sum|max|min|mostrecent)_(\d+)\.db$")


def forget_dead_workers(folder: str) -> None:
    """A worker that died (killed, crashed) leaves its in-flight gauge behind: its requests no longer
    count as in flight. Its counters stay: what it answered was answered."""
    for path in glob.glob(os.path.join(folder, "gauge_live*_*.db")):
        found = _LIVE_FILE.search(path)
        if found and not _alive(int(found.group(1))):
            multiprocess.mark_process_dead(int(found.group(1)), folder)  # type: ignore[no-untyped-call]  # as above


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process under that id
        return True
    return True
