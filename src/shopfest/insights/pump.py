"""The insights pump of a serving process: one thread relays the outbox's sale events to every
consumer's stream, woken right after a commit that stored a sale event and at least every `every`
seconds; each consumer (the screen's figures, the merchants') absorbs what its stream hands it in a
thread of its own, so the big screen never waits for the merchants' heavier figures."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shopfest.core.uow import UnitOfWork
from shopfest.insights import service
from shopfest.insights.model import Projection, Published
from shopfest.insights.stream import EventStream

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumer:
    """Figures counted at their own pace: `name` keeps its own record of the events it counted."""

    name: str
    stream: EventStream
    projections: Sequence[Projection]


class Pump:
    """Relays and absorbs until stopped; `ring` wakes the relay at once."""

    def __init__(self, uow: Callable[..., UnitOfWork], consumers: Sequence[Consumer], *, every: float = 0.1,
                 doorbell: threading.Event | None = None, republish_uncounted: bool = True) -> None:
        self.uow = uow
        self.consumers = list(consumers)
        self.every = every
        self.doorbell = doorbell or threading.Event()
        self.republish_uncounted = republish_uncounted
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def ring(self) -> None:
        self.doorbell.set()

    def absorb(self, consumer: Consumer, events: Sequence[Published]) -> int:
        return service.absorb(self.uow(), events, projections=consumer.projections, consumer=consumer.name)

    def publish(self, events: Sequence[Published]) -> None:
        for consumer in self.consumers:
            consumer.stream.publish(events)

    def catch_up(self) -> int:
        """Publish again what was relayed but never counted (an in-process stream's queue lost when
        its process stopped; a Redis restarted without its data), each consumer what it missed.
        Returns how many events went."""
        sent = 0
        for consumer in self.consumers:
            def publish(events: Sequence[Published], stream: EventStream = consumer.stream) -> None:
                nonlocal sent
                sent += len(events)
                stream.publish(events)
            after = 0
            while after := service.uncounted(self.uow(), publish, consumer=consumer.name, after_id=after):
                self.drain(consumer)
        return sent

    def drain(self, consumer: Consumer | None = None) -> int:
        """Absorb every batch the streams (or `consumer`'s) have ready now; returns how many events."""
        total = 0
        for each in [consumer] if consumer else self.consumers:
            # A moment's wait, never 0: Redis reads BLOCK 0 as "wait for ever".
            while count := each.stream.consume(self._absorber(each), block_ms=1):
                total += count
        return total

    def _absorber(self, consumer: Consumer) -> Callable[[Sequence[Published]], int]:
        return lambda events: self.absorb(consumer, events)

    def relay(self) -> None:
        """Relay what the outbox holds to every consumer's stream."""
        # Until none is left, or what is left another process is relaying (PostgreSQL: SKIP LOCKED).
        while service.unpublished(self.uow(read_only=True)):
            if not service.relay(self.uow(), self.publish):
                break

    def step(self) -> int:
        """Relay, then absorb what the streams have ready; returns events absorbed (for tests and the
        command line: the serving pump absorbs in each consumer's own thread)."""
        self.relay()
        return self.drain()

    def _relaying(self) -> None:
        caught_up = not self.republish_uncounted
        while not self._stop.is_set():
            if not caught_up:  # tried again on every wake until it has gone through once
                caught_up = self._safely(self.catch_up)
            self.doorbell.wait(self.every)
            self.doorbell.clear()
            if not self._stop.is_set():
                self._safely(self.relay)

    def _consuming(self, consumer: Consumer) -> None:
        while not self._stop.is_set():
            failed = not self._safely(lambda: consumer.stream.consume(
                self._absorber(consumer), block_ms=int(self.every * 1000)))
            if failed:  # the database or Redis away: not a tight loop of failures
                self._stop.wait(self.every)

    def _safely(self, action: Callable[[], object]) -> bool:
        try:
            action()
        except Exception:  # the next round tries again: nothing is marked or counted by a failed step
            log.exception("insights pump step failed")
            return False
        return True

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._relaying, name="insights-relay", daemon=True)]
        self._threads += [threading.Thread(target=self._consuming, args=(consumer,), daemon=True,
                                           name=f"insights-{consumer.name}") for consumer in self.consumers]
        for thread in self._threads:
            thread.start()

    def stop(self, *, timeout: float = 5.0) -> None:
        self._stop.set()
        self.doorbell.set()
        for thread in self._threads:
            thread.join(timeout)
        for consumer in self.consumers:
            consumer.stream.close()
