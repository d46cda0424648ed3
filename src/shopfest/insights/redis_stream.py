"""The event stream in production: a Redis stream read by a consumer group, on one Redis or a Redis
Cluster (the stream's key holds a hash tag, so it and anything kept beside it share one slot).

An entry is acknowledged only after `absorb` has committed it; until then it stays pending and comes
back: to the same consumer (its own pending entries are read first), or to another one once its
consumer has been quiet for `claim_idle_ms`. Consumers count by event id, so a repeat costs nothing.
The stream is trimmed only below what every group has acknowledged, so a group that was down reads
on from where it stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
from redis.exceptions import ResponseError

from shopfest.core.errors import Unavailable
from shopfest.core.redis import REDIS_ERRORS, sync_client
from shopfest.insights.model import Published
from shopfest.insights.stream import Absorb

log = logging.getLogger("shopfest.insights")

RETRY_AFTER_SECONDS = 1  # a restarted Redis, or a replica taking a master's slots, is back within seconds
TRIM_EVERY_SECONDS = 5.0  # trimming reads every group's progress: a few times a minute is plenty
Entry = tuple[bytes, dict[bytes, bytes] | None]  # (stream id, fields); fields empty/None once deleted


def insights_stream_key(prefix: str) -> str:
    """The stream's key: the `{insights}` hash tag puts it, and whatever sits beside it, in one slot."""
    return f"{prefix}{{insights}}:events"


def entry_fields(event: Published) -> dict[str, bytes]:
    """What an event is written as: its outbox id, name, payload as JSON, and when it happened."""
    return {"id": str(event.event_id).encode(), "name": event.name.encode(),
            "payload": orjson.dumps(event.payload), "at": event.occurred_at.isoformat().encode()}


def parse_entry(fields: dict[bytes, bytes] | None) -> Published | None:
    """The event an entry holds; None when it holds none (deleted, or not written by `publish`)."""
    if not fields:  # a deleted entry comes back with no fields
        return None
    try:
        return Published(event_id=int(fields[b"id"]), name=fields[b"name"].decode(),
                         payload=orjson.loads(fields[b"payload"]),
                         occurred_at=datetime.fromisoformat(fields[b"at"].decode()))
    except (KeyError, ValueError, UnicodeDecodeError, orjson.JSONDecodeError):
        return None


def stream_id(text: bytes | str) -> tuple[int, int]:
    """A stream id as a pair that orders as Redis orders ids."""
    raw = text.decode() if isinstance(text, bytes) else text
    ms, _, seq = raw.partition("-")
    return int(ms), int(seq or 0)


@contextmanager
def reached(doing: str) -> Iterator[None]:
    """Redis out of reach (or the stream deleted under its group) becomes Unavailable: the caller's
    pump backs off and tries again, and nothing is lost (the outbox rows stay unpublished, the
    entries stay pending)."""
    try:
        yield
    except REDIS_ERRORS as error:
        raise Unavailable(f"the insights stream (Redis) failed while {doing}: nothing was lost; "
                          "try again shortly", retry_after=RETRY_AFTER_SECONDS) from error


class RedisEventStream:
    """EventStream over a Redis stream and one consumer group; `consumer` names this reader in it."""

    def __init__(self, client: Any, *, key: str, group: str, consumer: str,  # noqa: ANN401  # sync_client's
                 claim_idle_ms: int = 5000, trim_every_s: float = TRIM_EVERY_SECONDS,
                 owned: bool = False) -> None:
        self._redis = client
        self.key, self.group, self.consumer = key, group, consumer
        self._claim_idle_ms = claim_idle_ms
        self._trim_every_s = trim_every_s
        self._owned = owned
        self._group_ready = False
        # A consumer (re)started may hold entries it never acknowledged: while this is set, a batch
        # is read from those first (`_next_batch` clears it when there are none).
        self._own_pending = True
        self._claim_from = "0-0"
        self._next_claim = 0.0
        self._next_trim = 0.0

    @classmethod
    def from_url(cls, url: str, *, key: str, group: str, consumer: str, claim_idle_ms: int = 5000,
                 trim_every_s: float = TRIM_EVERY_SECONDS) -> RedisEventStream:
        """A stream on a client of its own (`redis://`, `unix://`, `redis+cluster://`), closed with it."""
        return cls(sync_client(url), key=key, group=group, consumer=consumer, claim_idle_ms=claim_idle_ms,
                   trim_every_s=trim_every_s, owned=True)

    def publish(self, events: Sequence[Published]) -> None:
        """XADD each event, the batch in one round trip (its keys share a slot, so a cluster too)."""
        if not events:
            return
        with reached("publishing"):
            pipe = self._redis.pipeline(transaction=False)
            for event in events:
                pipe.xadd(self.key, entry_fields(event))
            pipe.execute()

    def consume(self, absorb: Absorb, *, limit: int = 1000, block_ms: int = 100) -> int:
        """Give `absorb` this consumer's own pending entries, else a quiet consumer's, else new ones;
        acknowledge them once it returns (if it raises they stay pending and come back)."""
        with reached("reading"):
            try:
                entries, mine = self._next_batch(limit=limit, block_ms=block_ms)
            except ResponseError as error:
                if "NOGROUP" in str(error):  # the stream was deleted under us: made again on the next call
                    self._group_ready = False
                raise
        if not entries:
            self._trim_now_and_then()
            return 0
        more_of_mine, self._own_pending = self._own_pending, True  # ours to read again if absorb fails
        self._absorb_and_ack(absorb, entries)
        # Read our own pending entries first again if a full batch of them may have left more
        # behind, or if a claim took deleted entries, which only reading our own shows.
        self._own_pending = more_of_mine and (not mine or len(entries) >= limit)
        self._trim_now_and_then()
        return len(entries)

    def close(self) -> None:
        if self._owned:
            self._redis.close()

    def ensure_group(self) -> None:
        """Create the group (and the stream) unless there: at start-up, so that trimming, which waits
        for every group, waits for this one from the first event on."""
        if self._group_ready:
            return
        with reached("creating its group"):
            try:
                self._redis.xgroup_create(self.key, self.group, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
        self._group_ready = True

    def trim(self) -> int:
        """Drop the entries below what every group has delivered and acknowledged; how many went."""
        with reached("trimming"):
            floor = self._acknowledged_floor()
            # Exact, not `~`: it costs what it evicts, and an approximate trim of a stream a few
            # hundred entries long frees nothing (Redis drops whole nodes of 100 entries only).
            return 0 if floor is None else int(self._redis.xtrim(self.key, minid=floor, approximate=False))

    def _acknowledged_floor(self) -> bytes | None:
        """The oldest id some group still needs: its oldest pending entry, else its last delivered."""
        floors = []
        for group in self._redis.xinfo_groups(self.key):
            if group["pending"]:
                floors.append(self._redis.xpending(self.key, group["name"])["min"])
            else:
                floors.append(group["last-delivered-id"])
        return min(floors, key=stream_id) if floors else None

    def _trim_now_and_then(self) -> None:
        now = time.monotonic()
        if now >= self._next_trim:
            self._next_trim = now + self._trim_every_s
            self.trim()

    def _next_batch(self, *, limit: int, block_ms: int) -> tuple[list[Entry], bool]:
        """The next entries, and whether they are this consumer's own pending ones."""
        self.ensure_group()
        if self._own_pending:
            mine = self._read("0", limit=limit, block_ms=None)
            if mine:
                return mine, True
            self._own_pending = False
        return self._claim(limit) or self._read(">", limit=limit, block_ms=block_ms or None), False

    def _read(self, after: str, *, limit: int, block_ms: int | None) -> list[Entry]:
        found = self._redis.xreadgroup(self.group, self.consumer, {self.key: after}, count=limit,
                                       block=block_ms)
        return list(found[0][1]) if found else []

    def _claim(self, limit: int) -> list[Entry]:
        """Take over entries another consumer has held unacknowledged for `claim_idle_ms`."""
        now = time.monotonic()
        if now < self._next_claim:
            return []
        answer = self._redis.xautoclaim(self.key, self.group, self.consumer,
                                        min_idle_time=self._claim_idle_ms, start_id=self._claim_from,
                                        count=limit)
        self._claim_from, claimed = answer[0], answer[1]
        if stream_id(self._claim_from) == (0, 0):  # scanned every pending entry: look again in a while
            self._next_claim = now + self._claim_idle_ms / 2000
        if any(entry_id is None for entry_id, _ in claimed):
            # Redis 6.2 claims a deleted entry without naming it: it is now in our own pending list,
            # where reading "0" shows it (with no fields) and it gets acknowledged.
            self._own_pending = True
        return [entry for entry in claimed if entry[0] is not None]

    def _absorb_and_ack(self, absorb: Absorb, entries: list[Entry]) -> None:
        events: dict[int, Published] = {}
        for entry_id, fields in entries:
            event = parse_entry(fields)
            if event is None:  # acknowledged with the batch, so it cannot hold the group up
                log.error("insights stream %s: entry %r holds no event; acknowledged and skipped",
                          self.key, entry_id)
            else:
                events.setdefault(event.event_id, event)  # a repeat in one batch goes to absorb once
        if events:
            absorb(list(events.values()))
        with reached("acknowledging"):
            self._redis.xack(self.key, self.group, *[entry_id for entry_id, _ in entries])
