"""HTTP routes of live: the schedule, the host's start and end, and the room's WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from anyio import to_thread
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field

from shopfest.core.actor import Actor
from shopfest.core.errors import DomainError, Unauthenticated
from shopfest.deps import SESSION_COOKIE, RuntimeDep, SignedInActor, bearer_secret, runtime_of_app
from shopfest.live import service
from shopfest.live.model import LiveEvent, RoomRole, display_name, role_in
from shopfest.live.room import CLOSE_FLOOD, CLOSE_NO_EVENT, Connection, Room, dispatch, frame_id_of
from shopfest.problems import problem_responses
from shopfest.runtime import Runtime
from shopfest.schemas import IdParam

router = APIRouter(prefix="/api/v1/live", tags=["live"], responses=problem_responses(401, 403, 404, 409, 422))


class SegmentJson(BaseModel):
    kind: str = Field(examples=["brand_interview"])
    title: str
    starts_at: str
    product_ids: list[int]


class EventJson(BaseModel):
    id: int
    title: str
    language: str
    status: str = Field(examples=["scheduled", "live", "ended"])
    starts_at: str
    ends_at: str
    brand_ids: list[int]
    host_ids: list[int]
    playback_url: str | None
    poster_url: str | None
    segments: list[SegmentJson]


def _instant(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def event_json(event: LiveEvent) -> dict[str, Any]:
    """The event as the API and the room's welcome show it (UTC; pages show the viewer's zone)."""
    assert event.id is not None
    return {"id": event.id, "title": event.title, "language": event.language, "status": event.status.value,
            "starts_at": _instant(event.starts_at), "ends_at": _instant(event.ends_at),
            "brand_ids": list(event.brand_ids), "host_ids": list(event.host_ids),
            "playback_url": event.playback_url, "poster_url": event.poster_url,
            "segments": [{"kind": s.kind.value, "title": s.title, "starts_at": _instant(s.starts_at),
                          "product_ids": list(s.product_ids)} for s in event.segments]}


@router.get("/events/{event_id}", response_model=EventJson)
def get_event(event_id: IdParam, runtime: RuntimeDep) -> dict[str, Any]:
    """One live event."""
    return event_json(service.get_event(runtime.uow(read_only=True), event_id))


@router.post("/events/{event_id}/start", response_model=EventJson)
async def start_event(event_id: IdParam, runtime: RuntimeDep, actor: SignedInActor) -> dict[str, Any]:
    """Go live (a host of the event, or an operator): the room says so and replays count from now."""
    event = await to_thread.run_sync(service.go_live, runtime.uow(), actor, event_id)
    await runtime.live().publish(event_id, {"type": "status", "status": event.status.value})
    return event_json(event)


@router.post("/events/{event_id}/end", response_model=EventJson)
async def end_event(event_id: IdParam, runtime: RuntimeDep, actor: SignedInActor) -> dict[str, Any]:
    """End the show (a host of the event, or an operator): chat and buying close, the replay opens."""
    event = await to_thread.run_sync(service.end_event, runtime.uow(), actor, event_id)
    await runtime.live().publish(event_id, {"type": "status", "status": event.status.value})
    return event_json(event)


# --- the room ---------------------------------------------------------------------------------

def _same_site(websocket: WebSocket) -> bool:
    """A browser's WebSocket carries the pages' cookie wherever it was opened from: only a page of
    this site may sign in with it (no cross-site WebSocket hijacking)."""
    origin = websocket.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc == websocket.headers.get("host")


def _actor_of(runtime: Runtime, websocket: WebSocket) -> Actor | None:
    """The bearer token of the handshake, else the pages' session cookie from this site; None:
    anonymous. Raises Unauthenticated for a token that signs nobody in."""
    secret = bearer_secret(websocket.headers.get("authorization"))
    if secret is not None:
        return runtime.ports.actor_for_token(runtime.uow(read_only=True), secret)
    cookie = websocket.cookies.get(SESSION_COOKIE)
    if cookie and _same_site(websocket):
        try:
            return runtime.ports.actor_for_session(runtime.uow(read_only=True), cookie)
        except Unauthenticated:
            return None
    return None


async def _refuse(websocket: WebSocket, code: int, error: str, detail: str) -> None:
    await websocket.accept()
    await websocket.send_text(orjson.dumps([{"type": "error", "code": error, "detail": detail}]).decode())
    await websocket.close(code, error)


@router.websocket("/events/{event_id}/ws")
async def room_socket(websocket: WebSocket, event_id: int) -> None:
    """A viewer in the room: frames both ways as in docs/live.md. `?after=<id>` resumes after the
    last frame seen."""
    runtime = runtime_of_app(websocket.app)
    rooms = runtime.live()
    try:
        actor = await to_thread.run_sync(_actor_of, runtime, websocket)
    except DomainError as refused:
        await _refuse(websocket, 4001, refused.code, refused.detail)
        return
    room = await rooms.open(event_id) if 0 < event_id < 2**63 else None
    if room is None:
        await _refuse(websocket, CLOSE_NO_EVENT, "not-found", f"no live event {event_id}")
        return
    try:
        role = role_in(room.event, actor)
        await to_thread.run_sync(admit, runtime, room, actor)
        name = await to_thread.run_sync(chat_name, runtime, actor, role)
    except DomainError as refused:
        await _refuse(websocket, 4003, refused.code, refused.detail)
        return
    await websocket.accept()
    await _seat(websocket, room, Connection(
        send=websocket.send_text, close=websocket.close, actor=actor, role=role, name=name,
        queue_frames=rooms.queue_frames))


async def _seat(websocket: WebSocket, room: Room, viewer: Connection) -> None:
    rooms = room.rooms
    after = websocket.query_params.get("after")
    missed, resumed = await rooms.join(room, viewer, after=after[:40] if after else None)
    try:
        viewer.forget([frame_id_of(text) for text in missed])  # queued here while the history was read
        first = [await welcome(room, viewer, resumed=resumed), *missed]
        await websocket.send_text("[" + ",".join(first) + "]")
        pump = asyncio.get_running_loop().create_task(viewer.pump())
        try:
            await _listen(websocket, room, viewer)
        finally:
            pump.cancel()
    except WebSocketDisconnect:
        pass
    finally:
        rooms.leave(room, viewer)
        viewer.closed = True


async def _listen(websocket: WebSocket, room: Room, viewer: Connection) -> None:
    while not viewer.closed:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if not viewer.inflow.admit():
            if viewer.inflow.flooding:
                # Closed here, before the socket's handler returns: a close left to a task would find
                # the connection marked closed on the way out, and the client would get no 4029.
                await viewer.close(CLOSE_FLOOD, "flood")
                return
            viewer.fail("flood", "too many frames; slow down")
            continue
        await dispatch(room, viewer, message.get("text") or message.get("bytes"))


# What a welcome says besides the event, the viewer's role and the room's sticky frames: contexts
# add their parts (the recent chat, for one) through these hooks.
WelcomePart = Callable[[Room, Connection], Awaitable[dict[str, Any]]]
WELCOME_PARTS: list[WelcomePart] = []


async def welcome(room: Room, viewer: Connection, *, resumed: bool) -> str:
    """The first frame a viewer gets: who they are here, the event, and what the room shows now."""
    frame: dict[str, Any] = {
        "type": "welcome", "resumed": resumed, "last_id": room.last_id,
        "you": {"role": viewer.role.value, "user_id": viewer.user_id, "name": viewer.name},
        "event": event_json(room.event), "viewers": len(room.viewers)}
    for part in WELCOME_PARTS:
        frame.update(await part(room, viewer))
    text = orjson.dumps(frame).decode()
    return text[:-1] + ',"state":[' + ",".join(room.sticky.values()) + "]}"


# Checks before a viewer is seated (a ban, for one): each raises a DomainError to refuse.
Admission = Callable[[Runtime, Room, Actor | None], None]
ADMISSION_CHECKS: list[Admission] = []


def admit(runtime: Runtime, room: Room, actor: Actor | None) -> None:
    """Raises the refusal of the first admission check that refuses."""
    for check in ADMISSION_CHECKS:
        check(runtime, room, actor)


def chat_name(runtime: Runtime, actor: Actor | None, role: RoomRole = RoomRole.SHOPPER) -> str:
    """The name a viewer chats under (the account's public name; hosts and operators say what they
    are); anonymous viewers have none."""
    if actor is None:
        return ""
    found = runtime.ports.public_profile(runtime.uow(read_only=True), actor.user_id)
    public = found[1] if found is not None else f"{actor.role.value} {actor.user_id}"
    return display_name(public, role=role, operator=actor.is_operator)
