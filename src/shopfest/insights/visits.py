"""Product page views and add-to-cart actions, counted in this process's memory and written every few
seconds in one bulk upsert: at the festival's peak a database write per view would cost more than
the page. A process that dies loses at most its last few seconds of counts; they are not money."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from shopfest.insights.merchant import hour_of

log = logging.getLogger("shopfest.insights")

FLUSH_SECONDS = 5.0
# Who the storefront pages do not count: crawlers and monitors that say what they are.
BOT_MARKS = ("bot", "crawl", "spider", "slurp", "monitor", "headless", "curl", "wget", "python-")

# Writes a flush: the views and carts of each (product id, UTC day), and of each (SKU id, UTC day);
# the composition root (app.py) resolves SKUs to their products and merchants and stores the counts.
Flush = Callable[[dict[tuple[int, int], int], dict[tuple[int, int], int]], None]


def is_bot(user_agent: str | None) -> bool:
    """Whether a request's User-Agent names a bot (no User-Agent at all: a script)."""
    if not user_agent:
        return True
    lowered = user_agent.lower()
    return any(mark in lowered for mark in BOT_MARKS)


class VisitCounter:
    """Views by product and add-to-cart actions by SKU, per UTC day, since the last flush."""

    def __init__(self, flush: Flush, *, every: float = FLUSH_SECONDS) -> None:
        self._write = flush
        self._every = every
        self._lock = threading.Lock()
        self._views: dict[tuple[int, int], int] = {}
        self._carts: dict[tuple[int, int], int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def viewed(self, product_id: int, at: datetime) -> None:
        key = (product_id, hour_of(at) // 24)
        with self._lock:
            self._views[key] = self._views.get(key, 0) + 1

    def carted(self, sku_id: int, at: datetime) -> None:
        key = (sku_id, hour_of(at) // 24)
        with self._lock:
            self._carts[key] = self._carts.get(key, 0) + 1

    def flush(self) -> int:
        """Write what was counted since the last flush; on failure keep it for the next. How many
        (product or SKU, day) counts were written."""
        with self._lock:
            views, carts, self._views, self._carts = self._views, self._carts, {}, {}
        if not views and not carts:
            return 0
        try:
            self._write(views, carts)
        except Exception:
            with self._lock:
                _merge(self._views, views)
                _merge(self._carts, carts)
            raise
        return len(views) + len(carts)

    def start(self) -> None:
        """Flush every few seconds on a thread of its own, until `stop`."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="visit-counter", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write what is left (at shutdown)."""
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=self._every + 5)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.flush()
            except Exception:  # noqa: BLE001  # kept for the next round
                log.exception("writing the product visit counts failed")


def _merge(into: dict[tuple[int, int], int], counts: dict[tuple[int, int], int]) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n

