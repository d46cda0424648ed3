"""Group commit: requests that arrive together are applied as one batch with one durable commit.

One writer thread per process takes every request waiting, applies them in arrival order inside
one transaction, commits, and only then answers each. While it commits, the next batch gathers.

A request comes from a thread (`submit`, a `concurrent.futures.Future`) or from an event loop
(`submit_soon`, an `asyncio.Future` of that loop). The writer answers a loop's requests of one batch
with a single call into the loop, so an event loop serving thousands of requests is woken once per
batch, not once per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

Job = TypeVar("Job")
Answer = TypeVar("Answer")

Waiter = Future[Answer] | tuple[asyncio.AbstractEventLoop, "asyncio.Future[Answer]"]


class GroupCommit(Generic[Job, Answer]):
    """Gathers jobs from any thread or event loop and applies them in batches of up to `max_batch`."""

    def __init__(self, apply: Callable[[Sequence[Job]], Sequence[Answer | BaseException]], *,
                 max_batch: int = 5000, name: str = "group-commit") -> None:
        self._apply = apply
        self._max_batch = max_batch
        self._name = name
        self._waiting: deque[tuple[Job, Waiter[Answer]]] = deque()
        self._wake = threading.Condition()
        self._asleep = False  # set by the writer, under `_wake`, before it looks for work
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0

    def submit(self, job: Job) -> Future[Answer]:
        """Queue a job; its future resolves once the batch holding it is committed."""
        future: Future[Answer] = Future()
        self._queue(job, future)
        return future

    def submit_soon(self, job: Job) -> asyncio.Future[Answer]:
        """Queue a job from a running event loop; the loop's future resolves once the batch holding
        it is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._queue(job, (loop, future))
        return future

    def _queue(self, job: Job, waiter: Waiter[Answer]) -> None:
        if self._closed:
            raise RuntimeError("the group commit is closed")
        # deque.append is atomic; the writer is woken only when it sleeps (it marks itself asleep
        # before it looks at the queue, so a job appended before that mark is seen, and after it
        # the mark is seen here).
        self._waiting.append((job, waiter))
        if self._thread is None or self._asleep:
            with self._wake:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                    self._thread.start()
                self._wake.notify()

    def close(self) -> None:
        """Finish every job already queued, then stop the writer thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        self._answer_closed()

    def _answer_closed(self) -> None:
        """A job queued while the writer stopped is told so rather than left waiting."""
        leftovers = []
        while self._waiting:
            leftovers.append(self._waiting.popleft())
        if leftovers:
            self._settle_batch(leftovers, [RuntimeError("the group commit is closed")] * len(leftovers))

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._answer(batch)

    def _next_batch(self) -> list[tuple[Job, Waiter[Answer]]] | None:
        if not self._waiting:
            with self._wake:
                self._asleep = True
                while not self._waiting:
                    if self._closed:
                        return None
                    self._wake.wait()
                self._asleep = False
        waiting = self._waiting
        return [waiting.popleft() for _ in range(min(len(waiting), self._max_batch))]

    def _answer(self, batch: list[tuple[Job, Waiter[Answer]]]) -> None:
        try:
            outcomes: Sequence[Answer | BaseException] = self._apply([job for job, _ in batch])
        except BaseException as error:  # noqa: BLE001  # the whole batch failed: each caller hears why
            outcomes = [error] * len(batch)
        else:
            self.batches += 1
        self._settle_batch(batch, outcomes)

    @staticmethod
    def _settle_batch(batch: list[tuple[Job, Waiter[Answer]]],
                      outcomes: Sequence[Answer | BaseException]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Answer], object]]] = {}
        for (_, waiter), outcome in zip(batch, outcomes, strict=True):
            if isinstance(waiter, Future):
                _settle(waiter, outcome)
            else:
                by_loop.setdefault(waiter[0], []).append((waiter[1], outcome))
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a loop closed meanwhile: nobody waits any more
                loop.call_soon_threadsafe(_settle_all, settled)


def _settle(future: Future[Answer], outcome: object) -> None:
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)  # type: ignore[arg-type]


def _settle_all(settled: list[tuple[asyncio.Future[Answer], object]]) -> None:
    """Runs in the waiters' event loop: answer every request of the batch it made."""
    for future, outcome in settled:
        if future.cancelled():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)  # type: ignore[arg-type]
