"""Group commit: requests that arrive together are applied as one batch with one durable commit.

One writer thread per process takes every request waiting, applies them in arrival order inside
one transaction, commits, and only then answers each. While it commits, the next batch gathers.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

Job = TypeVar("Job")
Answer = TypeVar("Answer")



class GroupCommit(Generic[Job, Answer]):
    """Gathers jobs from any thread or event loop and applies them in batches of up to `max_batch`."""

    def __init__(self, apply: Callable[[Sequence[Job]], Sequence[Answer | BaseException]], *,
                 max_batch: int = 5000, name: str = "group-commit") -> None:
        self._apply = apply
        self._max_batch = max_batch
        self._name = name
        self._waiting: deque[tuple[Job, Future[Answer]]] = deque()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0

    def submit(self, job: Job) -> Future[Answer]:
        """Queue a job; its future resolves once the batch holding it is committed."""
        future: Future[Answer] = Future()
        with self._wake:
            if self._closed:
                raise RuntimeError("the group commit is closed")
            self._waiting.append((job, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._wake.notify()
        return future

    def close(self) -> None:
        """Finish every job already queued, then stop the writer thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._answer(batch)

    def _next_batch(self) -> list[tuple[Job, Future[Answer]]] | None:
        with self._wake:
            while not self._waiting:
                if self._closed:
                    return None
                self._wake.wait()
            count = min(len(self._waiting), self._max_batch)
            return [self._waiting.popleft() for _ in range(count)]

    def _answer(self, batch: list[tuple[Job, Future[Answer]]]) -> None:
        try:
            outcomes = self._apply([job for job, _ in batch])
        except BaseException as error:  # noqa: BLE001  # the whole batch failed: each caller hears why
            for _, future in batch:
                future.set_exception(error)
            return
        self.batches += 1
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
