"""The insights pump: a thread per serving process that relays the outbox's sale events to the stream
and absorbs what the stream hands this consumer, woken right after a commit that stored a sale event
and at least every `every` seconds."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from shopfest.core.uow import UnitOfWork
from shopfest.insights import service
from shopfest.insights.model import Projection, Published
from shopfest.insights.stream import EventStream

log = logging.getLogger(__name__)


class Pump:
    """Relays and absorbs until stopped; `ring` wakes it at once."""

    def __init__(self, uow: Callable[..., UnitOfWork], stream: EventStream, *,
                 projections: Sequence[Projection], every: float = 0.1,
                 doorbell: threading.Event | None = None, republish_uncounted: bool = True) -> None:
        self.uow = uow
        self.stream = stream
        self.projections = list(projections)
        self.every = every
        self.doorbell = doorbell or threading.Event()
        self.republish_uncounted = republish_uncounted
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def ring(self) -> None:
        self.doorbell.set()

    def absorb(self, events: Sequence[Published]) -> int:
        return service.absorb(self.uow(), events, projections=self.projections)

    def catch_up(self) -> int:
        """Publish again what was relayed but never counted (an in-process stream's queue lost when
        its process stopped). Returns how many events went."""
        sent, after = 0, 0

        def publish(events: Sequence[Published]) -> None:
            nonlocal sent
            sent += len(events)
            self.stream.publish(events)
        while (after := service.uncounted(self.uow(), publish, after_id=after)) > 0:
            self.drain()
        return sent

    def drain(self) -> int:
        """Absorb every batch the stream has ready now; returns how many events."""
        total = 0
        # A moment's wait, never 0: Redis reads BLOCK 0 as "wait for ever".
        while count := self.stream.consume(self.absorb, block_ms=1):
            total += count
        return total

    def step(self) -> int:
        """Relay what the outbox holds, then absorb what the stream has ready; returns events absorbed."""
        # Until none is left, or what is left another process is relaying (PostgreSQL: SKIP LOCKED).
        while service.unpublished(self.uow(read_only=True)):
            if not service.relay(self.uow(), self.stream.publish):
                break
        return self.drain()

    def run(self) -> None:
        caught_up = not self.republish_uncounted
        while not self._stop.is_set():
            if not caught_up:  # tried again on every wake until it has gone through once
                caught_up = self._safely(self.catch_up)
            self.doorbell.wait(self.every)
            self.doorbell.clear()
            if not self._stop.is_set():
                self._safely(self.step)

    def _safely(self, action: Callable[[], int]) -> bool:
        try:
            action()
        except Exception:  # the next wake tries again: nothing is marked or counted by a failed step
            log.exception("insights pump step failed")
            return False
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="insights-pump", daemon=True)
        self._thread.start()

    def stop(self, *, timeout: float = 5.0) -> None:
        self._stop.set()
        self.doorbell.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.stream.close()
