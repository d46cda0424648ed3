"""Password hashing and checking in a pool of its own, a few at a time, with a short queue.

Argon2 is slow on purpose and takes a core while it runs: 48 sign-ins at once on the request
threads took every core and every thread, and a product page went from 13 ms to 11.7 s. In this
pool at most `threads` hash at once, at most `queue` more wait, and a sign-in beyond that is
answered 503 at once; the routes await it without holding a request thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from shopfest.core.rates import Busy

T = TypeVar("T")


class HashingPool:
    def __init__(self, *, threads: int = 2, queue: int = 16) -> None:
        self.size = threads
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="passwords")
        self._room = threads + queue
        self._lock = threading.Lock()
        self._taken = 0
        self._running = 0
        self.most_at_once = 0  # the most jobs that ever ran together; never more than `size`

    def submit(self, work: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:  # noqa: ANN401  # passed through
        """Run `work` in the pool. Raises Busy when `threads` run and `queue` wait already."""
        with self._lock:
            if self._taken >= self._room:
                raise Busy("too many sign-ins at once; try again in a moment", retry_after=1)
            self._taken += 1
        future = self._executor.submit(self._counted, partial(work, *args, **kwargs))
        future.add_done_callback(self._release)
        return future

    async def run(self, work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:  # noqa: ANN401  # passed through
        """`submit`, awaited on the event loop: no request thread waits for the pool."""
        return await asyncio.wrap_future(self.submit(work, *args, **kwargs))

    def _counted(self, job: Callable[[], T]) -> T:
        with self._lock:
            self._running += 1
            self.most_at_once = max(self.most_at_once, self._running)
        try:
            return job()
        finally:
            with self._lock:
                self._running -= 1

    def _release(self, _: Future[Any]) -> None:
        with self._lock:
            self._taken -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
