"""Live rooms under test: the app served by a real uvicorn on a loopback port (in a thread, sharing the
test's runtime), and real WebSocket clients (the `websockets` library) that read its frames."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI
from websockets.sync.client import ClientConnection, connect

from shopfest.accounts import service as accounts
from shopfest.cli import WS_MAX_BYTES
from shopfest.core.actor import MACHINE, Role
from shopfest.live import service as live
from shopfest.live.model import LiveEvent, Segment, SegmentKind
from shopfest.runtime import Runtime

WAIT_S = 5.0


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The app on a free loopback port, in a thread of its own; yields `host:port`."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws_max_size=WS_MAX_BYTES,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class Viewer:
    """A real WebSocket client in a room: sends command frames, reads the room's frames in order."""

    def __init__(self, address: str, event_id: int, *, token: str | None = None, after: str | None = None,
                 origin: str | None = None, cookie: str | None = None) -> None:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if cookie:
            headers["Cookie"] = cookie
        query = f"?after={after}" if after else ""
        # Entered by hand: a viewer is closed by the test, whenever the story says it leaves.
        self.ws: ClientConnection = connect(
            f"ws://{address}/api/v1/live/events/{event_id}/ws{query}", additional_headers=headers,
            origin=origin, max_size=None, open_timeout=WAIT_S).__enter__()  # type: ignore[arg-type]
        self.seen: deque[dict[str, Any]] = deque()
        self.last_id: str | None = None
        self.welcome = self.wait_for("welcome")

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def read(self, timeout: float = WAIT_S) -> dict[str, Any]:
        """The next frame, in order (the server sends them in batches)."""
        while not self.seen:
            batch = json.loads(self.ws.recv(timeout=timeout))
            assert isinstance(batch, list), batch
            self.seen.extend(batch)
        frame = self.seen.popleft()
        if "id" in frame:
            self.last_id = frame["id"]
        return frame

    def wait_for(self, kind: str, *, where: Callable[[dict[str, Any]], bool] = lambda f: True,
                 timeout: float = WAIT_S) -> dict[str, Any]:
        """The next frame of type `kind` (that `where` holds for), those before it read and passed by."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no {kind} frame within {timeout} s"
            frame = self.read(timeout=left)
            if frame.get("type") == kind and where(frame):
                return frame

    def close(self) -> None:
        self.ws.close()


def an_event(runtime: Runtime, *, host_ids: tuple[int, ...] = (), product_ids: tuple[int, ...] = (),
             brand_ids: tuple[int, ...] = (), title: str = "Global Brands Night") -> LiveEvent:
    """An event starting now on the runtime's clock, an hour and a half long, scheduled by the platform."""
    now = runtime.clock.now()
    return live.schedule_event(runtime.uow(), MACHINE, LiveEvent(
        title, "en", now, now + timedelta(minutes=90), brand_ids=brand_ids, host_ids=host_ids,
        segments=(Segment(SegmentKind.SHOWCASE, "Showcase", now, product_ids),)))


def sign_up(runtime: Runtime, names: tuple[str, ...], *,
            operators: tuple[str, ...] = ()) -> tuple[dict[str, str], dict[str, int]]:
    """Accounts `<name>@festival.test` (shoppers, or operators), each signed in: tokens and user ids
    by name."""
    tokens, ids = {}, {}
    for name in names:
        email = f"{name}@festival.test"
        user = accounts.create_account_unchecked(
            runtime.uow(), email=email, password="room-secret-1",
            role=Role.OPERATOR if name in operators else Role.SHOPPER)
        ids[name] = user.id or 0
        tokens[name] = accounts.sign_in(runtime.uow(), email=email, password="room-secret-1").secret
    return tokens, ids


def a_moderated_event(runtime: Runtime, *, host_id: int, moderator_id: int) -> int:
    """An event starting now with one host and one moderator; its id."""
    now = runtime.clock.now()
    event = live.schedule_event(runtime.uow(), MACHINE, LiveEvent(
        "Global Brands Night", "en", now, now + timedelta(minutes=90), host_ids=(host_id,),
        moderator_ids=(moderator_id,), segments=(Segment(SegmentKind.SHOWCASE, "Showcase", now),)))
    assert event.id is not None
    return event.id
