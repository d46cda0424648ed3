"""The big screen's figures for every screen this process serves: one thread asks for the figures'
version every POLL_SECONDS, loads the figures once per change (and once a second anyway, so "orders
per second now" decays on screens nobody buys in front of), and hands each load to every connected
screen. A thousand screens cost the database what one does.

Each screen has a mailbox of one: a newer snapshot replaces one it has not sent yet, so a slow screen
skips stale figures and never holds up the others or the thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from shopfest.core.rates import Busy
from shopfest.core.uow import UnitOfWork
from shopfest.insights import service

log = logging.getLogger("shopfest.screen")

POLL_SECONDS = 0.1
REFRESH_SECONDS = 1.0
RETRY_SECONDS = 1.0  # after the database failed to answer
# Screens one process feeds at most: each is a connection, a task and a send per load; a wall of
# screens is a few dozen, and more than this is someone holding a shared link open in a loop.
MOST_SCREENS = 500
RETRY_SCREEN_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The figures at one version, encoded once for every screen; `loaded_at` is monotonic time."""

    version: int
    figures: dict[str, Any]
    text: str
    loaded_at: float


def snapshot_of(figures: dict[str, Any]) -> Snapshot:
    return Snapshot(int(figures["version"]), figures, orjson.dumps(figures).decode(), time.monotonic())


class Watcher:
    """One connected screen, on its event loop; `next` waits for the newest snapshot, None once closed."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: Snapshot | None = None
        self._closed = False
        self._ready = asyncio.Event()

    def offer(self, snapshot: Snapshot | None) -> None:
        """From any thread: `snapshot` replaces any not yet taken; None closes the watcher."""
        with contextlib.suppress(RuntimeError):  # its loop is closed: the screen is long gone
            self._loop.call_soon_threadsafe(self._put, snapshot)

    def _put(self, snapshot: Snapshot | None) -> None:
        if snapshot is None:
            self._closed = True
        else:
            self._pending = snapshot
        self._ready.set()

    async def next(self) -> Snapshot | None:
        while self._pending is None and not self._closed:
            self._ready.clear()
            await self._ready.wait()
        if self._closed:
            return None
        snapshot, self._pending = self._pending, None
        return snapshot


class ScreenFeed:
    """The process's one poller of the figures (see the module's docstring); it polls only while a
    screen is connected, and `close` stops it and ends every screen's stream."""

    def __init__(self, uow: Callable[[], UnitOfWork], *, poll: float = POLL_SECONDS,
                 refresh: float = REFRESH_SECONDS,
                 version: Callable[[UnitOfWork], int] = service.figures_version,
                 figures: Callable[[UnitOfWork], dict[str, Any]] = service.screen_figures,
                 most: int = MOST_SCREENS) -> None:
        self._uow = uow
        self._most = most
        self._version = version
        self._figures = figures
        self._poll = poll
        self._refresh = refresh
        self._watchers: set[Watcher] = set()
        self._latest: Snapshot | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, loop: asyncio.AbstractEventLoop) -> Watcher:
        """A new screen: it gets the latest figures at once while they are fresh, then every load.
        Raises Busy when `most` screens watch already (each costs this process a little)."""
        watcher = Watcher(loop)
        with self._lock:
            self._require_room()
            if self._stop.is_set():
                watcher.offer(None)
                return watcher
            self._watchers.add(watcher)
            latest = self._latest
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="screen-feed", daemon=True)
                self._thread.start()
        if latest is not None and time.monotonic() - latest.loaded_at < self._refresh:
            watcher.offer(latest)
        self._wake.set()
        return watcher

    def require_room(self) -> None:
        """Raises Busy when `most` screens watch already (a new screen is then refused at once)."""
        with self._lock:
            self._require_room()

    def _require_room(self) -> None:
        if len(self._watchers) >= self._most:
            raise Busy(f"{self._most} screens watch from this server already; try again later",
                       retry_after=RETRY_SCREEN_SECONDS)

    def leave(self, watcher: Watcher) -> None:
        with self._lock:
            self._watchers.discard(watcher)

    def close(self) -> None:
        """Stop polling and end every screen's stream (at shutdown)."""
        with self._lock:
            self._stop.set()
            watchers, self._watchers = list(self._watchers), set()
            thread = self._thread
        self._wake.set()
        for watcher in watchers:
            watcher.offer(None)
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._watching():
                self._wake.wait()
                self._wake.clear()
                continue
            try:
                self._round()
            except Exception:  # noqa: BLE001  # the screens keep their figures; the next round retries
                log.exception("loading the screen's figures failed")
                self._stop.wait(RETRY_SECONDS)
                continue
            self._stop.wait(self._poll)

    def _watching(self) -> bool:
        with self._lock:
            return bool(self._watchers)

    def _round(self) -> None:
        """Load the figures when their version moved, or the last load is a refresh period old."""
        latest = self._latest
        fresh = latest is not None and time.monotonic() - latest.loaded_at < self._refresh
        if fresh and latest is not None and self._version(self._uow()) == latest.version:
            return
        snapshot = snapshot_of(self._figures(self._uow()))
        with self._lock:
            self._latest = snapshot
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher.offer(snapshot)
