"""HTTP routes of live: the schedule, the host's start and end, and the room's WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from anyio import to_thread
from fastapi import APIRouter, Query, Request, Response, WebSocket, WebSocketDisconnect
from icalendar import Calendar, Event
from pydantic import BaseModel, Field

from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.clock import instant_text, local
from shopfest.core.errors import DomainError, InvalidInput, Unauthenticated
from shopfest.core.ids import decode_cursor, encode_cursor
from shopfest.core.zones import pick_zone
from shopfest.deps import (
    SESSION_COOKIE,
    AccountFirstRoute,
    Cursor,
    Limit,
    RuntimeDep,
    SignedInActor,
    actor_of,
    bearer_secret,
    runtime_of_app,
)
from shopfest.live import service
from shopfest.live.model import (
    PEOPLE_MAX,
    PRODUCTS_PER_SEGMENT_MAX,
    SEGMENTS_MAX,
    TITLE_MAX,
    URL_MAX,
    EventStatus,
    LiveEvent,
    RoomRole,
    Segment,
    display_name,
    role_in,
    room_path,
    segment_kind,
)
from shopfest.live.room import CLOSE_FLOOD, CLOSE_NO_EVENT, Connection, Room, dispatch, frame_id_of
from shopfest.problems import problem_responses
from shopfest.runtime import Runtime
from shopfest.schemas import Id, IdParam, InputModel, Instant

# Account first: a stranger is told to sign in before any rule of a body is checked (deps.AccountFirstRoute).
router = APIRouter(prefix="/api/v1/live", tags=["live"], responses=problem_responses(401, 403, 404, 409, 422),
                   route_class=AccountFirstRoute)


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


def event_json(event: LiveEvent) -> dict[str, Any]:
    """The event as the API and the room's welcome show it (UTC; pages show the viewer's zone)."""
    assert event.id is not None
    return {"id": event.id, "title": event.title, "language": event.language, "status": event.status.value,
            "starts_at": instant_text(event.starts_at), "ends_at": instant_text(event.ends_at),
            "brand_ids": list(event.brand_ids), "host_ids": list(event.host_ids),
            "playback_url": event.playback_url, "poster_url": event.poster_url,
            "segments": [{"kind": s.kind.value, "title": s.title, "starts_at": instant_text(s.starts_at),
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


# --- the schedule: in the viewer's time zone, planned by operators, in calendars ----------------

class LocalTimesJson(BaseModel):
    zone: str = Field(examples=["Asia/Shanghai"])
    starts_at: str = Field(examples=["2027-11-10T23:00:00+08:00"])
    ends_at: str | None = None


class LocalSegmentJson(SegmentJson):
    local: LocalTimesJson


class ScheduledEventJson(EventJson):
    segments: list[LocalSegmentJson]  # type: ignore[assignment]  # each with its local time besides
    local: LocalTimesJson


class SchedulePage(BaseModel):
    zone: str
    data: list[ScheduledEventJson]
    next_cursor: str | None


def scheduled_json(event: LiveEvent, zone_name: str) -> dict[str, Any]:
    """The event as `event_json` shows it, with every time also on the wall clocks of `zone_name`."""
    shown = event_json(event)
    shown["local"] = {"zone": zone_name, "starts_at": local(event.starts_at, zone_name).isoformat(),
                      "ends_at": local(event.ends_at, zone_name).isoformat()}
    for segment, json in zip(event.segments, shown["segments"], strict=True):
        json["local"] = {"zone": zone_name, "starts_at": local(segment.starts_at, zone_name).isoformat()}
    return shown


SHOWN_BEFORE, SHOWN_AHEAD = timedelta(days=1), timedelta(days=30)


def api_zone(runtime: Runtime, actor: Actor | None, asked: str | None) -> str:
    """`?tz=` (raises InvalidInput when unknown), else the signed-in account's country's, else UTC."""
    country = runtime.ports.account_country(runtime.uow(read_only=True), actor.user_id) if actor else None
    return pick_zone(asked=asked, browser=None, country=country)


@router.get("/events", response_model=SchedulePage)
def list_events(
    request: Request, runtime: RuntimeDep,
    start: Annotated[Instant | None, Query(alias="from", description="default: a day ago")] = None,
    end: Annotated[Instant | None, Query(alias="to", description="default: 30 days ahead")] = None,
    status: EventStatus | None = None,
    tz: Annotated[str | None, Query(max_length=64, description="an IANA zone, e.g. Asia/Shanghai")] = None,
    cursor: Cursor = None, limit: Limit = 20,
) -> dict[str, Any]:
    """The schedule: events overlapping [from, to), earliest first, each time in UTC and in the
    viewer's zone (`tz`, else the signed-in account's country's, else UTC); cursor paged."""
    # The account is read here, not declared: the schedule is public, and OpenAPI would say a
    # declared bearer scheme is needed. A token that signs nobody in is still refused (401).
    zone_name = api_zone(runtime, actor_of(request, runtime), tz)
    now = runtime.clock.now()
    start, end = start or now - SHOWN_BEFORE, end or now + SHOWN_AHEAD
    if not start < end:
        raise InvalidInput("`from` is before `to`")
    found = service.schedule_page(runtime.uow(read_only=True), start=start, end=end, status=status,
                                  after_id=decode_cursor(cursor), limit=limit + 1)
    page = found[:limit]
    return {"zone": zone_name, "data": [scheduled_json(e, zone_name) for e in page],
            "next_cursor": encode_cursor(page[-1].id or 0) if len(found) > limit else None}


class SegmentIn(InputModel):
    kind: str = Field(max_length=40, examples=["brand_interview"])
    title: str = Field(max_length=TITLE_MAX)
    starts_at: Instant
    product_ids: list[Id] = Field(default_factory=list, max_length=PRODUCTS_PER_SEGMENT_MAX)


class EventIn(InputModel):
    title: str = Field(max_length=TITLE_MAX)
    language: str = Field(max_length=5, examples=["en", "zh"])
    starts_at: Instant
    ends_at: Instant
    brand_ids: list[Id] = Field(max_length=PEOPLE_MAX)
    host_ids: list[Id] = Field(default_factory=list, max_length=PEOPLE_MAX)
    moderator_ids: list[Id] = Field(default_factory=list, max_length=PEOPLE_MAX)
    playback_url: str | None = Field(None, max_length=URL_MAX, examples=["/static/live/demo.mp4"])
    poster_url: str | None = Field(None, max_length=URL_MAX)
    segments: list[SegmentIn] = Field(default_factory=list, max_length=SEGMENTS_MAX)


class EventChangesIn(InputModel):
    """Only the fields given change."""

    title: str | None = Field(None, max_length=TITLE_MAX)
    language: str | None = Field(None, max_length=5)
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    brand_ids: list[Id] | None = Field(None, max_length=PEOPLE_MAX)
    host_ids: list[Id] | None = Field(None, max_length=PEOPLE_MAX)
    moderator_ids: list[Id] | None = Field(None, max_length=PEOPLE_MAX)
    playback_url: str | None = Field(None, max_length=URL_MAX)
    poster_url: str | None = Field(None, max_length=URL_MAX)
    segments: list[SegmentIn] | None = Field(None, max_length=SEGMENTS_MAX)


def _segments(given: list[SegmentIn]) -> tuple[Segment, ...]:
    return tuple(Segment(segment_kind(s.kind), s.title, s.starts_at, tuple(s.product_ids)) for s in given)


def _changes(body: EventChangesIn) -> dict[str, Any]:
    """The fields the body gives, as the event holds them; None for a URL clears it."""
    changes: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if name == "segments":
            value = _segments(value or [])
        elif name.endswith("_ids"):
            value = tuple(value or ())
        elif value is None and not name.endswith("_url"):
            raise InvalidInput(f"{name} cannot be null", field=name)
        changes[name] = value
    return changes


@router.post("/events", status_code=201, response_model=EventJson)
def plan_event(body: EventIn, runtime: RuntimeDep, actor: SignedInActor) -> dict[str, Any]:
    """Put an event on the schedule (operators): its brands exist; its hosts are operators or staff
    of a merchant that sells one of them; its products are theirs; its segments start inside it;
    its URLs are http(s) or a path under /static/ or /media/."""
    require_role(actor, Role.OPERATOR)
    event = LiveEvent(body.title, body.language, body.starts_at, body.ends_at, tuple(body.brand_ids),
                      tuple(body.host_ids), tuple(body.moderator_ids), _segments(body.segments),
                      body.playback_url, body.poster_url)
    return event_json(service.plan_event(runtime.uow(), actor, event,
                                         account_of=runtime.ports.account_actor))


@router.patch("/events/{event_id}", response_model=EventJson)
def change_event(event_id: IdParam, body: EventChangesIn, runtime: RuntimeDep,
                 actor: SignedInActor) -> dict[str, Any]:
    """Change an event still on the schedule (operators), checked as when planned; 409 once live."""
    require_role(actor, Role.OPERATOR)
    return event_json(service.change_event(runtime.uow(), actor, event_id, _changes(body),
                                           account_of=runtime.ports.account_actor))


@router.get("/events/{event_id}/calendar.ics", response_class=Response,
            responses={200: {"content": {"text/calendar": {}}}})
def calendar(event_id: IdParam, request: Request, runtime: RuntimeDep) -> Response:
    """The event for a calendar (iCalendar): one VEVENT, times in UTC, linking to its room."""
    event = service.get_event(runtime.uow(read_only=True), event_id)
    room = str(request.base_url).rstrip("/") + room_path(event_id)
    return Response(calendar_ics(event, room_url=room, now=runtime.clock.now()),
                    media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="live-{event_id}.ics"'})


def calendar_ics(event: LiveEvent, *, room_url: str, now: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//ShopFest//Live schedule//EN")
    calendar.add("version", "2.0")
    entry = Event()
    entry.add("uid", f"live-{event.id}@shopfest")
    entry.add("dtstamp", now)
    entry.add("dtstart", event.starts_at)
    entry.add("dtend", event.ends_at)
    entry.add("summary", event.title)
    entry.add("description", "\n".join(
        f"{s.starts_at:%H:%M} UTC · {s.title}" for s in event.segments) or event.title)
    entry.add("url", room_url)
    calendar.add_component(entry)
    ics: bytes = calendar.to_ical()
    return ics


class ReminderJson(BaseModel):
    event_id: int
    reminded: bool


@router.post("/events/{event_id}/reminder", response_model=ReminderJson)
def ask_reminder(event_id: IdParam, runtime: RuntimeDep, actor: SignedInActor) -> dict[str, Any]:
    """Be told (through the notification outbox) when the event begins, once; asking again is the
    same. Shoppers; 409 once the event is live or over."""
    service.ask_reminder(runtime.uow(), actor, event_id)
    return {"event_id": event_id, "reminded": True}


@router.delete("/events/{event_id}/reminder", status_code=204, response_class=Response)
def forget_reminder(event_id: IdParam, runtime: RuntimeDep, actor: SignedInActor) -> Response:
    """No longer be told; forgetting twice is the same."""
    service.forget_reminder(runtime.uow(), actor, event_id)
    return Response(status_code=204)


class TotalsJson(BaseModel):
    orders: int
    units: int
    totals: list[dict[str, str]] = Field(description="per currency: {amount, currency}")


class SalesJson(BaseModel):
    source: str = Field(examples=["live:12"])
    paid: TotalsJson
    unpaid: TotalsJson = Field(description="placed, holding units unpaid (a pre-sale until its balance)")


@router.get("/events/{event_id}/sales", response_model=SalesJson)
def event_sales(event_id: IdParam, runtime: RuntimeDep, actor: SignedInActor) -> dict[str, Any]:
    """What the orders placed in the event's room sold (its hosts and operators): paid orders, their
    units and totals per currency, and the unpaid ones apart."""
    counter = runtime.ports.live_counter
    if counter is None:
        raise RuntimeError("this runtime has no live counter; app.make_runtime plugs it in")
    return service.event_sales(runtime.uow(read_only=True), actor, event_id, counter=counter)
