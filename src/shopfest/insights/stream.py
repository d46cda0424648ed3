"""How published events travel from the outbox to the consumers: the port, and its in-process form.
A Redis Streams form (a consumer group; a Redis Cluster too) is in `redis_stream.py`."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from shopfest.insights.model import Published

# Applies a batch in one transaction and commits it, skipping the events it has counted before;
# returns how many were new. A batch is acknowledged only after it returns.
Absorb = Callable[[Sequence[Published]], int]


class EventStream(Protocol):
    def publish(self, events: Sequence[Published]) -> None:
        """Hand `events` on, at least once: a repeat is fine, consumers count by event id."""

    def consume(self, absorb: Absorb, *, limit: int = 1000, block_ms: int = 100) -> int:
        """Give `absorb` the next batch (this consumer's unacknowledged events first, then those of a
        consumer gone quiet, then new ones), acknowledge it once `absorb` returns, and say how many
        events the batch held; 0 when nothing came within `block_ms`."""

    def close(self) -> None: ...


class LocalEventStream:
    """The stream inside one process (the embedded default): a thread-safe queue. A batch that
    `absorb` fails on goes back to the head of the queue. What the queue held when the process stopped
    is not lost: those events are published in the outbox but not counted, and the pump publishes
    them again when it starts (insights.service.uncounted)."""

    def __init__(self) -> None:
        self._events: deque[Published] = deque()
        self._ready = threading.Condition()

    def publish(self, events: Sequence[Published]) -> None:
        with self._ready:
            self._events.extend(events)
            self._ready.notify_all()

    def consume(self, absorb: Absorb, *, limit: int = 1000, block_ms: int = 100) -> int:
        with self._ready:
            if not self._events and block_ms > 0:
                self._ready.wait(block_ms / 1000)
            batch = [self._events.popleft() for _ in range(min(limit, len(self._events)))]
        if not batch:
            return 0
        try:
            absorb(batch)
        except BaseException:
            with self._ready:
                self._events.extendleft(reversed(batch))
            raise
        return len(batch)

    def close(self) -> None:
        with self._ready:
            self._events.clear()
