"""Group commit: requests that arrive together are applied as one batch with one durable commit.

A writer thread takes every request waiting, applies them in arrival order inside one
transaction, commits, and only then answers each. While it commits, the next batch gathers. With
`lanes=2`, two writers take turns: one applies a batch while the other waits for the database to
make its batch durable (for a database that runs transactions side by side, such as PostgreSQL).
A lane past the first takes a batch only once `crowd` jobs are waiting: a few requests at a time
are best served by one writer (each extra batch costs a commit), a crowd by writers side by side.
With `gather_seconds`, the first lane, after a batch of a few jobs, waits a moment for more while
they keep coming (see `_gather`), so that a server reading requests a few at a time commits them
together rather than a few at a time.

A request comes from a thread (`submit`, a `concurrent.futures.Future`) or from an event loop
(`submit_soon`, an `asyncio.Future` of that loop). The writer answers a loop's requests of one batch
with a single call into the loop, so an event loop serving thousands of requests is woken once per
batch, not once per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from operator import itemgetter
from typing import Generic, TypeVar

Job = TypeVar("Job")
Answer = TypeVar("Answer")

# A lane gathers (see `GroupCommit._gather`) only below this many jobs: a crowd is a batch already.
GATHER_UP_TO = 64

# A job waits with the future its answer goes to, and that future's event loop (None: a thread's).
Waiting = tuple[Job, asyncio.AbstractEventLoop | None, "Future[Answer] | asyncio.Future[Answer]"]
_job, _loop, _future = itemgetter(0), itemgetter(1), itemgetter(2)


class GroupCommit(Generic[Job, Answer]):
    """Gathers jobs from any thread or event loop and applies them in batches of up to `max_batch`,
    on `lanes` writer threads, the lanes past the first once `crowd` jobs wait; after a batch of a
    few, the first lane waits for more while one at least each `gather_pause` comes, up to
    `gather_seconds` (0: never). `apply` must be safe to call from several lanes at once, and must
    not change the sequence of outcomes it returns (an event loop reads it later)."""

    def __init__(self, apply: Callable[[Sequence[Job]], Sequence[Answer | BaseException]], *,
                 max_batch: int = 5000, name: str = "group-commit", lanes: int = 1, crowd: int = 1,
                 gather_seconds: float = 0.0, gather_pause: float = 0.0) -> None:
        if lanes < 1 or crowd < 1:
            raise ValueError("a group commit has at least one lane, and a crowd of at least one job")
        self._apply = apply
        self._max_batch = max_batch
        self._name = name
        self._lanes = lanes
        self._crowd = crowd
        self._waiting: deque[Waiting[Job, Answer]] = deque()
        lock = threading.Lock()
        self._wake = threading.Condition(lock)  # the first lane's
        self._wake_helpers = threading.Condition(lock)  # the other lanes'
        # Writers that, under the lock, are about to look for work or wait for it, or gather: [the
        # first lane, the others]. While the first lane gathers, each job queued wakes it (and not a
        # helper lane: gathering stops short of a crowd).
        self._asleep = [0, 0]
        self._gather_seconds = gather_seconds
        self._gather_pause = gather_pause
        self._last_batch = 0  # jobs in the first lane's last batch
        self._threads: list[threading.Thread] = []
        self._closed = False
        self.batches = 0

    def submit(self, job: Job) -> Future[Answer]:
        """Queue a job; its future resolves once the batch holding it is committed."""
        future: Future[Answer] = Future()
        self._queue((job, None, future))
        return future

    def submit_soon(self, job: Job) -> asyncio.Future[Answer]:
        """Queue a job from a running event loop; the loop's future resolves once the batch holding
        it is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._queue((job, loop, future))
        return future

    def _queue(self, waiting: Waiting[Job, Answer]) -> None:
        if self._closed:
            raise RuntimeError("the group commit is closed")
        # deque.append is atomic; a writer is woken only when one sleeps (it marks itself asleep
        # before it looks at the queue, so a job appended before that mark is seen, and after it
        # the mark is seen here).
        self._waiting.append(waiting)
        if self._closed:  # closed meanwhile: the writers may be gone, so answer what is left here
            self._answer_closed()
            return
        if not self._threads or self._asleep[0]:
            with self._wake:
                if not self._threads:
                    self._threads = [threading.Thread(target=self._run, args=(lane,),
                                                      name=f"{self._name}-{lane}", daemon=True)
                                     for lane in range(self._lanes)]
                    for thread in self._threads:
                        thread.start()
                self._wake.notify()
        elif self._asleep[1] and len(self._waiting) >= self._crowd:
            with self._wake_helpers:
                self._wake_helpers.notify()

    def close(self) -> None:
        """Finish every job already queued, then stop the writer thread."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
            self._wake_helpers.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join()
        self._answer_closed()

    def _answer_closed(self) -> None:
        """A job queued while the writer stopped is told so rather than left waiting."""
        leftovers = []
        with self._wake:  # a writer may still be taking its last batch
            while self._waiting:
                leftovers.append(self._waiting.popleft())
        if leftovers:
            self._settle_batch(leftovers, [RuntimeError("the group commit is closed")] * len(leftovers))

    def _run(self, lane: int) -> None:
        while (batch := self._next_batch(helper=lane > 0)) is not None:
            self._answer(batch)

    def _next_batch(self, *, helper: bool) -> list[Waiting[Job, Answer]] | None:
        """The first lane takes whatever waits, the others a crowd (closing, whatever is left); None
        once closed with nothing left."""
        enough = self._crowd if helper else 1
        wake = self._wake_helpers if helper else self._wake
        waiting = self._waiting
        with wake:  # lanes take their batches one at a time
            while True:
                if len(waiting) < enough:
                    self._asleep[helper] += 1
                    while len(waiting) < enough and not (self._closed and waiting):
                        if self._closed:
                            self._asleep[helper] -= 1
                            return None
                        wake.wait()
                    self._asleep[helper] -= 1
                if helper or not self._gather_seconds:
                    break
                self._gather(wake)
                if waiting:  # (a helper lane may have taken them meanwhile)
                    break
            batch = [waiting.popleft() for _ in range(min(len(waiting), self._max_batch))]
            if not helper:
                self._last_batch = len(batch)
            if self._asleep[1] and len(waiting) >= self._crowd:  # a crowd is left behind
                self._wake_helpers.notify()
            return batch

    def _gather(self, wake: threading.Condition) -> None:
        """The first lane, holding the lock, after a batch of a few jobs (2 to GATHER_UP_TO - 1):
        while fewer than GATHER_UP_TO wait and more keep coming, at least one each `gather_pause`,
        it waits for them, up to `gather_seconds`. An event loop that queues jobs a few at a time (a
        server over HTTP) gets the interpreter meanwhile to read the requests already sent, and they
        go in one batch, at the cost of one commit, instead of a batch and a commit every few. After
        a batch of one (a lone caller) nothing waits; after a crowd neither, nor when a crowd waits;
        a job that comes alone after a few waits one pause."""
        waiting = self._waiting
        if not 2 <= self._last_batch < GATHER_UP_TO or len(waiting) >= GATHER_UP_TO:
            return
        deadline = time.monotonic() + self._gather_seconds
        seen = len(waiting)
        self._asleep[0] += 1
        try:
            while seen < GATHER_UP_TO and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                wake.wait(min(left, self._gather_pause))
                if len(waiting) == seen:  # a pause with none: the crowd is in
                    return
                seen = len(waiting)
        finally:
            self._asleep[0] -= 1

    def _answer(self, batch: list[Waiting[Job, Answer]]) -> None:
        try:
            outcomes: Sequence[Answer | BaseException] = self._apply(list(map(_job, batch)))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(batch)} jobs")
        except BaseException as error:  # noqa: BLE001  # the whole batch failed: each caller hears why
            outcomes = [error] * len(batch)
        else:
            with self._wake:
                self.batches += 1
        self._settle_batch(batch, outcomes)

    @staticmethod
    def _settle_batch(batch: list[Waiting[Job, Answer]], outcomes: Sequence[Answer | BaseException]) -> None:
        loops = set(map(_loop, batch))
        if len(loops) == 1 and None not in loops:  # the peak: every job came from one event loop
            _call_in(loops.pop(), list(map(_future, batch)), outcomes)
            return
        by_loop: dict[asyncio.AbstractEventLoop, tuple[list[asyncio.Future[Answer]], list[object]]] = {}
        for (_, loop, future), outcome in zip(batch, outcomes, strict=True):
            if loop is None:
                _settle(future, outcome)  # type: ignore[arg-type]  # a thread's future
            else:
                futures, told = by_loop.setdefault(loop, ([], []))
                futures.append(future)  # type: ignore[arg-type]  # the loop's future
                told.append(outcome)
        for loop, (futures, told) in by_loop.items():
            _call_in(loop, futures, told)


def _call_in(loop: asyncio.AbstractEventLoop, futures: list[asyncio.Future[Answer]],
             outcomes: Sequence[object]) -> None:
    """Answer a loop's requests of one batch with one call into the loop."""
    with contextlib.suppress(RuntimeError):  # a loop closed meanwhile: nobody waits any more
        loop.call_soon_threadsafe(_settle_all, futures, outcomes)


def _settle(future: Future[Answer], outcome: object) -> None:
    if not future.set_running_or_notify_cancel():  # cancelled by its caller: nobody waits
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)  # type: ignore[arg-type]


def _settle_all(futures: list[asyncio.Future[Answer]], outcomes: Sequence[object]) -> None:
    """Runs in the waiters' event loop: answer every request of the batch it made."""
    for future, outcome in zip(futures, outcomes, strict=True):
        if future.cancelled():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)  # type: ignore[arg-type]
