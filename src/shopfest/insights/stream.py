"""How published events travel from the outbox to the consumers: the port, and its in-process form.
A Redis Streams form (a consumer group; a Redis Cluster too) is in `redis_stream.py`."""

from __future__ import annotations

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
