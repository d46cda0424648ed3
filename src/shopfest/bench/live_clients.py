"""The viewers of `shopfest bench live-room`, in client processes of their own: anonymous viewers who
read every frame and time each chat message from its sending, and the host and chatters who post.
Kept apart from the bench's set-up so that a client process imports little besides `websockets`."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import orjson

CLOSE_TOO_SLOW = 4008  # docs/live.md: the viewer fell more than 1,000 frames behind
KEPT_UP_SECONDS = 1.0  # a dropped viewer whose last chat message came this fresh was keeping up
CONNECT_SECONDS = 60
TAIL_SECONDS = 1.0  # viewers read on this long after the window, for what was sent in it


@dataclass(frozen=True)
class Load:
    viewers: int
    rate: float  # chat messages a second, in all
    duration: float  # seconds measured
    warmup: float  # seconds of chat before the window opens
    client_processes: int
    connect_rate: float  # new viewers a second, in all
    pin_every: float  # seconds between the host's pins


@dataclass(frozen=True)
class Stage:
    """What a room needs before its server starts: the event, its host's and chatters' tokens, and
    the products the host pins."""

    event_id: int
    host_token: str
    chatter_tokens: tuple[str, ...]
    product_ids: tuple[int, ...]


Window = Any  # a RawArray of two doubles: the measured window's start and end (time.time()); 0 until set


@dataclass(frozen=True)
class Part:
    """One client process's share: `viewers` anonymous viewers, or (`chat`) the host and the chatters."""

    address: str
    event_id: int
    viewers: int
    connect_rate: float
    chat: Stage | None = None
    load: Load | None = None


@dataclass
class Tally:
    """What one client process saw."""

    chat: bool = False  # the host's and chatters' process
    connected: int = 0
    refused: int = 0  # could not connect
    frames: int = 0  # frames read in the window
    chat_frames: int = 0
    latencies: list[float] = field(default_factory=list)  # chat messages read in the window
    dropped: int = 0  # closed 4008
    dropped_kept_up: int = 0
    closed_otherwise: int = 0
    sent: int = 0  # chat messages posted in the window (the chat part)
    pins: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # error frames' codes the chatters were sent
    pin_errors: dict[str, int] = field(default_factory=dict)  # and the host


def _url(part: Part) -> str:
    return f"ws://{part.address}/api/v1/live/events/{part.event_id}/ws"


async def _connect(part: Part, token: str | None = None) -> Any:  # noqa: ANN401  # a websockets ClientConnection
    from websockets.asyncio.client import connect
    headers = {"Authorization": f"Bearer {token}"} if token else None
    # Offers permessage-deflate, as browsers do.
    return await connect(_url(part), additional_headers=headers, max_size=None, open_timeout=CONNECT_SECONDS,
                         ping_interval=None)


async def _watch(part: Part, tally: Tally, window: Window) -> None:
    """One viewer: reads every message (a JSON array of frames), counts what arrives in the window and
    times each chat message from its send time (the text's first word)."""
    from websockets.exceptions import ConnectionClosed
    try:
        ws = await _connect(part)
    except Exception:  # noqa: BLE001  # counted: a viewer the server did not take
        tally.refused += 1
        return
    tally.connected += 1
    latest = 0.0
    try:
        async for message in ws:
            now = time.time()
            frames = orjson.loads(message)
            counted = window[0] <= now < window[1]
            if counted:
                tally.frames += len(frames)
            for frame in frames:
                if frame.get("type") == "chat":
                    latest = now - float(frame["text"].split(" ", 1)[0])
                    if counted:
                        tally.chat_frames += 1
                        tally.latencies.append(latest)
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else None
        if code == CLOSE_TOO_SLOW:
            tally.dropped += 1
            tally.dropped_kept_up += latest < KEPT_UP_SECONDS
        else:
            tally.closed_otherwise += 1


async def _viewers(part: Part, tally: Tally, window: Window, connected: queue.Queue[Any]) -> None:
    watching = []
    for _ in range(part.viewers):
        watching.append(asyncio.create_task(_watch(part, tally, window)))
        await asyncio.sleep(1 / part.connect_rate)
    while tally.connected + tally.refused < part.viewers:
        await asyncio.sleep(0.05)
    connected.put(("connected", tally.connected))
    await _until_over(window)
    for task in watching:
        task.cancel()


async def _until_over(window: Window) -> None:
    while not window[1] or time.time() < window[1] + TAIL_SECONDS:
        await asyncio.sleep(0.05)


async def _drain(ws: Any, errors: dict[str, int]) -> None:  # noqa: ANN401  # a websockets ClientConnection
    """The chat part reads what it is sent (or it would be dropped), counting the error codes."""
    with contextlib.suppress(Exception):
        async for message in ws:
            for frame in orjson.loads(message):
                if frame.get("type") == "error":
                    errors[frame["code"]] = errors.get(frame["code"], 0) + 1


async def _chat(part: Part, tally: Tally, window: Window, connected: queue.Queue[Any]) -> None:
    """The host pins every few seconds and the chatters post `rate` messages a second between them,
    each text starting with its send time, from the warm-up to the window's end."""
    assert part.chat is not None and part.load is not None
    host = await _connect(part, part.chat.host_token)
    chatters = [await _connect(part, token) for token in part.chat.chatter_tokens]
    readers = [asyncio.create_task(_drain(host, tally.pin_errors)),
               *(asyncio.create_task(_drain(ws, tally.errors)) for ws in chatters)]
    connected.put(("connected", 0))
    while not window[1]:
        await asyncio.sleep(0.01)
    pinning = asyncio.create_task(_pin(host, part, tally, window))
    started, n = time.time(), 0
    while (now := time.time()) < window[1]:
        await asyncio.sleep(max(0.0, started + n / part.load.rate - now))
        sent = time.time()
        await chatters[n % len(chatters)].send(orjson.dumps(
            {"type": "chat", "text": f"{sent:.6f} live bench message {n}"}).decode())
        tally.sent += window[0] <= sent < window[1]
        n += 1
    await _until_over(window)
    for task in (pinning, *readers):
        task.cancel()


async def _pin(host: Any, part: Part, tally: Tally, window: Window) -> None:  # noqa: ANN401  # a ClientConnection
    assert part.chat is not None and part.load is not None
    n = 0
    while time.time() < window[1]:
        product_id = part.chat.product_ids[n % len(part.chat.product_ids)]
        await host.send(orjson.dumps({"type": "pin", "product_id": product_id}).decode())
        tally.pins += 1
        n += 1
        await asyncio.sleep(part.load.pin_every)


def client(part: Part, window: Window, told: queue.Queue[Any]) -> None:
    """A client process: its viewers (or the host and chatters) on uvloop; its tally sent home."""
    import uvloop
    tally = Tally(chat=part.chat is not None)
    try:
        run = _chat if part.chat is not None else _viewers
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run(part, tally, window, told))
    except BaseException:  # noqa: BLE001  # told home, where the run stops with it
        told.put(("failed", traceback.format_exc()))
        return
    told.put(("tally", tally))
