"""The hub carries each room's traffic to every process that has viewers in it, in one order, and keeps
the recent history a reconnecting viewer resumes from. In one process an in-memory hub; with several,
a Redis stream per room (XADD gives one order to every reader, XRANGE the history, MAXLEN its bound)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from shopfest.core import metrics
from shopfest.core.redis import async_client

log = logging.getLogger("shopfest.live")

HISTORY = 1000  # frames a room keeps for viewers who reconnect
PRESENCE_FRESH_SECONDS = 3.0  # a process's viewer count older than this is of a process gone


def stamped(frame_id: str, body: bytes) -> str:
    """The frame as viewers get it: its JSON object `body` with the hub's `id` put first."""
    return '{"id":"' + frame_id + '",' + body[1:].decode() if body != b"{}" else '{"id":"' + frame_id + '"}'


Deliver = Callable[[str, str], None]  # (frame id, the stamped frame's JSON text)
Frames = list[tuple[str, str]]  # (frame id, the stamped frame's JSON text), oldest first


class Gap(Exception):
    """The id a viewer resumes from is older than the history kept: it starts afresh."""


class Hub(Protocol):
    async def publish(self, event_id: int, frame: dict[str, Any]) -> None:
        """Send a frame to the room in every process; it reaches them through `deliver`."""

    async def open(self, event_id: int, deliver: Deliver) -> None:
        """Start delivering the room's frames (published from now on) to `deliver`, in order."""

    async def count(self, event_id: int, here: int) -> int:
        """The room's viewers in every process, given the `here` of this one (said once a tick)."""

    async def close(self, event_id: int) -> None:
        """Stop delivering the room's frames to this process."""

    async def history(self, event_id: int, *, after: str | None, limit: int = HISTORY) -> Frames:
        """The room's frames after `after` (the newest `limit` when None), oldest first.
        Raises Gap when `after` is older than what is kept (or is not an id of this hub)."""

    async def shutdown(self) -> None:
        """Release what the running event loop holds (its rooms are closed one by one before)."""


class LocalHub:
    """One process: frames go straight to the room, numbered in the order they are published."""

    def __init__(self, *, keep: int = HISTORY) -> None:
        self._numbers: dict[int, itertools.count[int]] = {}
        self._kept: dict[int, deque[tuple[int, str]]] = {}
        self._rooms: dict[int, Deliver] = {}
        self._keep = keep

    async def publish(self, event_id: int, frame: dict[str, Any]) -> None:
        number = next(self._numbers.setdefault(event_id, itertools.count(1)))
        frame_id = str(number)
        text = stamped(frame_id, orjson.dumps(frame))
        self._kept.setdefault(event_id, deque(maxlen=self._keep)).append((number, text))
        deliver = self._rooms.get(event_id)
        if deliver is not None:
            deliver(frame_id, text)

    async def open(self, event_id: int, deliver: Deliver) -> None:
        self._rooms[event_id] = deliver

    async def count(self, event_id: int, here: int) -> int:
        return here

    async def close(self, event_id: int) -> None:
        self._rooms.pop(event_id, None)

    async def history(self, event_id: int, *, after: str | None, limit: int = HISTORY) -> Frames:
        kept = list(self._kept.get(event_id, ()))
        if after is None:
            return [(str(n), text) for n, text in kept[-limit:]]
        since = int(after) if after.isdigit() and len(after) < 20 else -1
        newest = kept[-1][0] if kept else 0
        # Older than the history kept, or newer than any frame (a process restarted): start afresh.
        if since < 0 or since > newest or (kept and since < kept[0][0] - 1):
            raise Gap(after)
        return [(str(n), text) for n, text in kept if n > since][:limit]

    async def shutdown(self) -> None:
        pass  # nothing belongs to one event loop here: each room was closed on its own


class RedisHub:
    """Several processes: each room is a Redis stream; every process with viewers in a room reads it
    with a blocking XREAD of its own, so all of them deliver the same frames in the same order."""

    def __init__(self, url: str, *, prefix: str, keep: int = HISTORY, block_ms: int = 1000) -> None:
        self._url = url
        self._clients: dict[asyncio.AbstractEventLoop, Any] = {}
        self._prefix = prefix
        self._keep = keep
        self._block_ms = block_ms
        self._readers: dict[int, asyncio.Task[None]] = {}
        self._process = uuid.uuid4().hex  # this process, among those counting a room's viewers

    def _redis(self) -> Any:  # noqa: ANN401  # redis.asyncio.Redis, untyped
        """The client of the running event loop: an asyncio client belongs to the loop it first ran on."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = async_client(self._url)  # a lone Redis or a cluster
        return client

    def key(self, event_id: int) -> str:
        # One key a room; the braces keep a room's keys in one Redis Cluster slot.
        return f"{self._prefix}live:{{{event_id}}}:room"

    async def publish(self, event_id: int, frame: dict[str, Any]) -> None:
        await self._redis().xadd(self.key(event_id), {"f": orjson.dumps(frame)}, maxlen=self._keep,
                               approximate=True)

    async def open(self, event_id: int, deliver: Deliver) -> None:
        if event_id in self._readers:
            return
        # Read on from the newest frame now, not from "$" when the first XREAD is sent: what is
        # published in between would reach no viewer of this process.
        newest = await self._redis().xrevrange(self.key(event_id), count=1)
        start = _text(newest[0][0]) if newest else "0-0"
        self._readers[event_id] = asyncio.get_running_loop().create_task(
            self._read(event_id, deliver, start), name=f"live-room-{event_id}")

    async def count(self, event_id: int, here: int) -> int:
        key, now = f"{self._prefix}live:{{{event_id}}}:viewers", time.time()
        async with self._redis().pipeline(transaction=False) as pipe:
            pipe.hset(key, self._process, f"{here}:{now:.3f}")
            pipe.expire(key, 60)
            pipe.hgetall(key)
            *_, said = await pipe.execute()
        total = 0
        for process, value in said.items():
            viewers, _, at = _text(value).partition(":")
            if now - float(at) < PRESENCE_FRESH_SECONDS:
                total += int(viewers)
            else:
                await self._redis().hdel(key, process)  # a process that stopped saying: gone
        return total

    async def close(self, event_id: int) -> None:
        reader = self._readers.pop(event_id, None)
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _read(self, event_id: int, deliver: Deliver, start: str) -> None:
        key, last = self.key(event_id), start
        while True:
            try:
                found = await self._redis().xread({key: last}, block=self._block_ms, count=500)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001  # Redis away: the room waits and reads on from where it was
                metrics.redis_error("live-room.read", error)
                log.exception("reading live room %s from Redis failed", event_id)
                await asyncio.sleep(0.5)
                continue
            for _, entries in found or ():
                for entry_id, fields in entries:
                    last = _text(entry_id)
                    deliver(last, stamped(last, fields[b"f"]))

    async def history(self, event_id: int, *, after: str | None, limit: int = HISTORY) -> Frames:
        key = self.key(event_id)
        if after is None:
            entries = (await self._redis().xrevrange(key, count=limit))[::-1]
        else:
            if not _stream_id(after):
                raise Gap(after)
            redis = self._redis()
            first, newest = await redis.xrange(key, count=1), await redis.xrevrange(key, count=1)
            # Frames older than the first kept may have been trimmed; an id newer than the newest is
            # from a stream since lost: either way the viewer starts afresh.
            if not first or _order(after) < _order(_text(first[0][0])) or \
                    _order(after) > _order(_text(newest[0][0])):
                raise Gap(after)
            entries = await self._redis().xrange(key, min=f"({after}", count=limit)
        return [(_text(i), stamped(_text(i), fields[b"f"])) for i, fields in entries]

    async def shutdown(self) -> None:
        loop = asyncio.get_running_loop()
        for event_id in [e for e, reader in self._readers.items() if reader.get_loop() is loop]:
            await self.close(event_id)
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stream_id(text: str) -> bool:
    ms, _, seq = text.partition("-")
    return ms.isdigit() and seq.isdigit() and len(text) < 40


def _order(frame_id: str) -> tuple[int, int]:
    ms, _, seq = frame_id.partition("-")
    return int(ms), int(seq)


def room_redis(hub: Hub) -> tuple[Any, str] | None:
    """For a hub over Redis, the client of the running loop and the keys' prefix, for a room's other
    keys (its reaction totals, `<prefix>live:{<id>}:reactions`); None for a hub in memory."""
    if not isinstance(hub, RedisHub):
        return None
    return hub._redis(), hub._prefix  # noqa: SLF001  # this module's own class
