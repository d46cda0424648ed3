"""A live room in one process: the viewers connected here, the frames the hub brings them, and the
commands they send. A viewer's frames wait in a bounded queue of their own and go out in batches, so a
slow viewer never slows the room: one that falls too far behind is dropped and resumes on reconnect.
The protocol is in docs/live.md."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from shopfest.core.actor import Actor
from shopfest.core.errors import DomainError
from shopfest.live.hub import Gap, Hub
from shopfest.live.model import LiveEvent, RoomRole

log = logging.getLogger("shopfest.live")

# WebSocket close codes (docs/live.md)
CLOSE_NO_EVENT = 4004
CLOSE_BANNED = 4003
CLOSE_TOO_SLOW = 4008
CLOSE_FLOOD = 4029

MAX_FRAME_BYTES = 4096  # a bigger command is refused with `frame-too-large`
QUEUE_FRAMES = 1000  # frames a viewer may fall behind before it is dropped (`too-slow`)
TICK_SECONDS = 1.0  # the viewer count and the reaction totals go out this often
ROOM_LINGERS = 30.0  # seconds an empty room stays open here, for viewers who come straight back
# After a send, a viewer's next batch waits this long, gathering what arrives meanwhile: a socket's
# send costs the same for one frame or twenty, and at thousands of viewers the sends are the room's
# work (benchmarks/README.md, `shopfest bench live-room`). The first frame after a lull goes at once.
SEND_GAP_SECONDS = 0.1
FLUSH_SECONDS = 1.0  # the longest a closing socket waits to send its last frames


@dataclass(slots=True)
class Inflow:
    """A token bucket on what one connection sends: `rate` frames a second, `burst` at once. A
    connection refused `strikes` times in a row is a flood and is closed."""

    rate: float = 10.0
    burst: float = 30.0
    strikes: int = 100
    tokens: float = 30.0
    at: float = field(default_factory=time.monotonic)
    refused: int = 0

    def admit(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused = 0
            return True
        self.refused += 1
        return False

    @property
    def flooding(self) -> bool:
        return self.refused >= self.strikes


Send = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]


class Connection:
    """One viewer's socket in a room: who they are, and the frames on their way to them."""

    def __init__(self, *, send: Send, close: Close, actor: Actor | None, role: RoomRole, name: str,
                 queue_frames: int = QUEUE_FRAMES) -> None:
        self.actor = actor
        self.role = role
        self.name = name
        self.inflow = Inflow()
        self.sent_at: deque[float] = deque(maxlen=32)  # when this viewer's chat messages went out
        self._send = send
        self._close = close
        self._queue: deque[str] = deque()
        self._limit = queue_frames
        self._wake = asyncio.Event()
        self.closed = False

    @property
    def user_id(self) -> int | None:
        return None if self.actor is None else self.actor.user_id

    def push(self, text: str) -> bool:
        """Queue a frame for this viewer; False when it has fallen too far behind to keep."""
        if self.closed:
            return True
        if len(self._queue) >= self._limit:
            return False
        self._queue.append(text)
        self._wake.set()
        return True

    def forget(self, frame_ids: list[str | None]) -> None:
        """Take frames off the queue that the viewer is getting another way (the history resumed)."""
        if frame_ids and self._queue:
            known = set(frame_ids)
            self._queue = deque(t for t in self._queue if frame_id_of(t) not in known)

    def tell(self, frame: dict[str, Any]) -> None:
        """A frame for this viewer alone (a reply, an error): it carries no id and is not kept."""
        self.push(orjson.dumps(frame).decode())

    def fail(self, code: str, detail: str, *, ref: object = None, **data: Any) -> None:
        """An error frame with a stable `code`; the room goes on."""
        frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail, **data}
        if ref is not None:
            frame["ref"] = ref
        self.tell(frame)

    async def pump(self) -> None:
        """Send what is queued, everything pending as one message (a JSON array of frames)."""
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            if not self._queue:
                continue
            batch, self._queue = self._queue, deque()
            await self._send("[" + ",".join(batch) + "]")
            if SEND_GAP_SECONDS:
                await asyncio.sleep(SEND_GAP_SECONDS)

    async def close(self, code: int, reason: str, *, flush: bool = False) -> None:
        """Close the socket; with `flush`, send what is queued first (its pump may be waiting out
        SEND_GAP_SECONDS), for at most FLUSH_SECONDS."""
        if not self.closed:
            self.closed = True
            self._wake.set()
            try:
                if flush and self._queue:
                    batch, self._queue = self._queue, deque()
                    await asyncio.wait_for(self._send("[" + ",".join(batch) + "]"), FLUSH_SECONDS)
                await self._close(code, reason)
            except Exception:  # noqa: BLE001  # the socket may already be gone; closing is best effort
                log.debug("closing a live socket failed", exc_info=True)


def frame_id_of(text: str) -> str | None:
    """The hub's id of a stamped frame (see hub.stamped); None for a frame to one viewer."""
    if not text.startswith('{"id":"'):
        return None
    return text[7:text.index('"', 7)]


# A command's handler: the room, the connection it came from, and the frame as sent (a dict with a
# `type`). It answers the sender through `connection.tell`/`fail` and everyone through `room.publish`;
# a DomainError it raises becomes an error frame with the error's code.
Command = Callable[["Room", Connection, dict[str, Any]], Awaitable[None]]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    """Register a handler for the command frames of type `name`."""
    def register(handler: Command) -> Command:
        COMMANDS[name] = handler
        return handler
    return register


# Frames that say what the room shows now (the product pinned, the coupon dropped, the deal on): a
# newcomer's welcome carries the latest frame of each slot. Contexts register their types here.
STICKY: dict[str, str] = {"status": "status"}
# Hooks run for every frame the hub delivers, in this process, with the frame parsed once.
Watcher = Callable[["Room", dict[str, Any]], None]
WATCHERS: list[Watcher] = []
# Hooks run once a tick per room (reaction totals, a deal's stock left).
Ticker = Callable[["Room"], Awaitable[None]]
TICKERS: list[Ticker] = []


class Room:
    """One event's room in this process."""

    def __init__(self, event: LiveEvent, *, rooms: Rooms) -> None:
        assert event.id is not None
        self.event_id = event.id
        self.event = event
        self.rooms = rooms
        self.viewers: set[Connection] = set()
        self.sticky: dict[str, str] = {}
        self.last_id: str | None = None
        self.state: dict[str, Any] = {}  # what the registered hooks keep per room
        self.emptied_at: float | None = None
        self._in_turn: asyncio.Queue[str] | None = None

    async def publish(self, frame: dict[str, Any]) -> None:
        """Send a frame to every viewer of the event, in every process."""
        await self.rooms.hub.publish(self.event_id, frame)

    def deliver(self, frame_id: str, text: str) -> None:
        """A frame from the hub: to every viewer here, the ones too far behind dropped."""
        self.last_id = frame_id
        frame = orjson.loads(text)
        slot = STICKY.get(frame.get("type", ""))
        if slot is not None:
            self.sticky[slot] = text
        for watch in WATCHERS:
            watch(self, frame)
        if self.rooms.simple_fanout:
            self._send_each_in_turn(text)
            return
        for viewer in list(self.viewers):
            if not viewer.push(text):
                self.drop(viewer, CLOSE_TOO_SLOW, "too-slow")

    def _send_each_in_turn(self, text: str) -> None:
        """The baseline of `shopfest bench live-room`: one send per viewer per frame, awaited in turn,
        frame after frame, with nothing bounding what waits."""
        if self._in_turn is None:
            self._in_turn = asyncio.Queue()
            self.rooms.tasks.add(asyncio.get_running_loop().create_task(self._sending_in_turn()))
        self._in_turn.put_nowait(text)

    async def _sending_in_turn(self) -> None:
        assert self._in_turn is not None
        while True:
            text = await self._in_turn.get()
            for viewer in list(self.viewers):
                if not viewer.closed:
                    try:
                        await viewer._send("[" + text + "]")  # noqa: SLF001  # the baseline skips the queue
                    except Exception:  # noqa: BLE001  # a viewer gone: the next one
                        self.viewers.discard(viewer)

    def drop(self, viewer: Connection, code: int, reason: str, *, last_words: bool = False) -> None:
        """Disconnect a viewer; with `last_words`, what is queued for them (the error that says why)
        goes first. A viewer too slow to keep up gets nothing more."""
        self.viewers.discard(viewer)
        asyncio.get_running_loop().create_task(viewer.close(code, reason, flush=last_words))

    def close_user(self, user_id: int, code: int, reason: str) -> None:
        """Disconnect every socket of one account here (a ban)."""
        for viewer in [v for v in self.viewers if v.user_id == user_id]:
            viewer.fail(reason, "a moderator banned you from this room")
            self.drop(viewer, code, reason, last_words=True)

    def to_everyone_here(self, frame: dict[str, Any]) -> None:
        """A frame for this process's viewers alone, not kept (the viewer count, which each counts)."""
        text = orjson.dumps(frame).decode()
        for viewer in list(self.viewers):
            if not viewer.push(text):
                self.drop(viewer, CLOSE_TOO_SLOW, "too-slow")

    async def tick(self) -> None:
        count = await self.rooms.hub.count(self.event_id, len(self.viewers))
        self.to_everyone_here({"type": "viewers", "count": count})
        for hook in TICKERS:
            try:
                await hook(self)
            except Exception:  # noqa: BLE001  # one hook failing must not stop the room's clock
                log.exception("a live room's tick failed")


LoadEvent = Callable[[int], Awaitable[LiveEvent | None]]


class Rooms:
    """Every room open in this process, over one hub."""

    def __init__(self, hub: Hub, *, load_event: LoadEvent, simple_fanout: bool = False) -> None:
        self.hub = hub
        self.load_event = load_event
        self.simple_fanout = simple_fanout
        self.queue_frames = QUEUE_FRAMES  # how far a viewer may fall behind here (tests make it small)
        self.tasks: set[asyncio.Task[None]] = set()  # the baseline's senders, cancelled on shutdown
        # The process's Runtime (set by app.make_runtime; Any, since runtime.py imports this module):
        # command handlers reach services, the checkout and the clock through it.
        self.runtime: Any = None
        self._rooms: dict[int, Room] = {}
        self._opening: dict[int, asyncio.Lock] = {}
        self._clock: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the rooms run on

    def here(self, event_id: int) -> Room | None:
        return self._rooms.get(event_id)

    async def publish(self, event_id: int, frame: dict[str, Any]) -> None:
        """Send a frame to the event's room in every process (from a route or a service's caller)."""
        await self.hub.publish(event_id, frame)

    async def open(self, event_id: int) -> Room | None:
        """The event's room here, opened (from the hub's history) if it was not; None: no such event."""
        room = self._rooms.get(event_id)
        if room is not None:
            return room
        self._loop = self._loop or asyncio.get_running_loop()
        async with self._opening.setdefault(event_id, asyncio.Lock()):
            room = self._rooms.get(event_id)
            if room is not None:
                return room
            event = await self.load_event(event_id)
            if event is None:
                return None
            room = Room(event, rooms=self)
            for frame_id, text in await self.hub.history(event_id, after=None):
                slot = STICKY.get(orjson.loads(text).get("type", ""))
                if slot is not None:
                    room.sticky[slot] = text
                room.last_id = frame_id
            await self.hub.open(event_id, room.deliver)
            self._rooms[event_id] = room
            self._start_clock()
            return room

    async def join(self, room: Room, viewer: Connection, *, after: str | None) -> tuple[list[str], bool]:
        """Seat a viewer; the frames they missed since `after` (ids kept in order) and whether they
        resumed (False: `after` was too old or unknown, they start afresh from the welcome)."""
        room.viewers.add(viewer)
        room.emptied_at = None
        if after is None:
            return [], False
        try:
            return [text for _, text in await self.hub.history(room.event_id, after=after)], True
        except Gap:
            return [], False

    def leave(self, room: Room, viewer: Connection) -> None:
        room.viewers.discard(viewer)
        if not room.viewers:
            room.emptied_at = time.monotonic()

    def _start_clock(self) -> None:
        if self._clock is None or self._clock.done():
            self._clock = asyncio.get_running_loop().create_task(self._run_clock(), name="live-rooms-clock")

    async def _run_clock(self) -> None:
        while self._rooms:
            await asyncio.sleep(TICK_SECONDS)
            for room in list(self._rooms.values()):
                if room.emptied_at is not None and time.monotonic() - room.emptied_at > ROOM_LINGERS:
                    await self._close(room)
                    continue
                try:
                    await room.tick()
                except Exception:  # noqa: BLE001  # as in Room.tick: the clock goes on
                    log.exception("live room %s tick failed", room.event_id)

    async def _close(self, room: Room) -> None:
        self._rooms.pop(room.event_id, None)
        await self.hub.close(room.event_id)

    async def shutdown(self) -> None:
        """Close the rooms if they run on this event loop (an app served twice on one runtime, as
        tests do, shuts its other loop's rooms down there), and release what the hub holds for it."""
        if self._loop is asyncio.get_running_loop():
            for room in list(self._rooms.values()):
                for viewer in list(room.viewers):
                    await viewer.close(1001, "server-shutting-down")
                await self._close(room)
            for task in [*self.tasks, *([self._clock] if self._clock else [])]:
                task.cancel()
            self._loop = None
        await self.hub.shutdown()


async def dispatch(room: Room, viewer: Connection, raw: str | bytes | None) -> None:
    """Read one command frame and run its handler; every refusal is an error frame to the sender."""
    if raw is None or len(raw) > MAX_FRAME_BYTES:
        viewer.fail("frame-too-large", f"a command frame has at most {MAX_FRAME_BYTES} bytes")
        return
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        viewer.fail("malformed-frame", "a command frame is one JSON object")
        return
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        viewer.fail("malformed-frame", "a command frame is a JSON object with a `type`")
        return
    ref = frame.get("ref") if isinstance(frame.get("ref"), str | int) else None
    handler = COMMANDS.get(frame["type"])
    if handler is None:
        viewer.fail("unknown-type", "no such command", ref=ref, command=frame["type"][:40])
        return
    try:
        await handler(room, viewer, frame)
    except DomainError as refused:
        viewer.fail(refused.code, refused.detail, ref=ref, **_plain(refused.data))
    except Exception:  # noqa: BLE001  # a bug in one handler answers that command, not the room
        log.exception("live command %s failed", frame["type"])
        viewer.fail("internal-error", "that did not work; try again", ref=ref)


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if isinstance(v, str | int | float | bool | None)}


@command("ping")
async def ping(room: Room, viewer: Connection, frame: dict[str, Any]) -> None:
    viewer.tell({"type": "pong", "ref": frame.get("ref")})
