"""Live shopping's schedule for everyone, by day in the viewer's time zone, with calendars and
reminders; and the control room's list of live events with the form that schedules one. (The room
page, /live/<id>, is another module's.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import unquote

from babel.dates import format_date
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopfest.accounts import service as accounts
from shopfest.catalog import service as catalog
from shopfest.core.actor import Role
from shopfest.core.clock import local, parse_instant
from shopfest.core.errors import DomainError, InvalidInput
from shopfest.core.zones import COMMON_ZONES, known_zone, pick_zone
from shopfest.deps import RuntimeDep, actor_of
from shopfest.live import service as live
from shopfest.live.model import EventStatus, LiveEvent, Segment, room_path, segment_kind
from shopfest.runtime import Runtime
from shopfest.web.control_pages import operator
from shopfest.web.forms import FormErrors
from shopfest.web.i18n import Translator
from shopfest.web.layout import render
from shopfest.web.routing import PageRoute
from shopfest.web.viewer import CHOICE_MAX_AGE, Viewer, viewer_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)

TZ_COOKIE = "shopfest_tz"  # the browser's zone, as static/tz.js reads it, or the one last picked
SHOWN_AHEAD = timedelta(days=30)
EVENTS_SHOWN = 100


def viewer_zone(request: Request, runtime: Runtime) -> str:
    """The zone the viewer reads times in: `?tz=` (InvalidInput when unknown), else the browser's
    (its cookie), else the signed-in account's country's, else UTC."""
    asked, browser = request.query_params.get("tz"), unquote(request.cookies.get(TZ_COOKIE) or "")
    country = None
    if asked is None and known_zone(browser) is None:
        country = _account_country(request, runtime)
    return pick_zone(asked=asked, browser=browser, country=country)


def _account_country(request: Request, runtime: Runtime) -> str | None:
    try:
        actor = actor_of(request, runtime)
    except DomainError:  # a bad Authorization header: the page stays anonymous
        return None
    user = accounts.get_user(runtime.uow(read_only=True), actor.user_id) if actor else None
    return user.profile.country if user else None


@dataclass(frozen=True)
class SegmentLine:
    at: str  # its start on the viewer's wall clock
    kind: str
    title: str


@dataclass(frozen=True)
class EventCard:
    id: int
    title: str
    starts_utc: str
    when: str
    language: str
    live: bool
    brands: str | None
    segments: list[SegmentLine]
    poster_url: str | None
    watch_url: str
    reminded: bool | None  # None: not a signed-in shopper


@dataclass(frozen=True)
class Day:
    heading: str
    events: list[EventCard]


def _clock(instant: datetime, zone_name: str) -> str:
    return f"{local(instant, zone_name):%H:%M}"


def _card(event: LiveEvent, viewer: Viewer, *, zone_name: str, brand_names: dict[int, str],
          reminded: set[int] | None) -> EventCard:
    t, event_id = viewer.t, event.id or 0
    names = [brand_names[b] for b in event.brand_ids if b in brand_names]
    return EventCard(
        id=event_id, title=event.title, starts_utc=event.starts_at.isoformat(),
        when=f"{_clock(event.starts_at, zone_name)} – {_clock(event.ends_at, zone_name)}",
        language=t(f"live.language.{event.language}"), live=event.status is EventStatus.LIVE,
        brands=t("live.brands", names=", ".join(names)) if names else None,
        segments=[SegmentLine(_clock(s.starts_at, zone_name), t(f"live.kind.{s.kind.value}"), s.title)
                  for s in event.segments],
        poster_url=event.poster_url, watch_url=room_path(event_id),
        reminded=None if reminded is None else event_id in reminded)


def _days(events: list[LiveEvent], viewer: Viewer, *, zone_name: str, runtime: Runtime,
          reminded: set[int] | None) -> list[Day]:
    brand_ids = sorted({b for e in events for b in e.brand_ids})
    brand_names = {b.id or 0: viewer.name(b.name, b.name_zh)
                   for b in catalog.brands_by_ids(runtime.uow(read_only=True), brand_ids)}
    days: dict[str, list[EventCard]] = {}
    for event in events:
        heading = format_date(local(event.starts_at, zone_name).date(), "full", locale=viewer.locale)
        days.setdefault(heading, []).append(
            _card(event, viewer, zone_name=zone_name, brand_names=brand_names, reminded=reminded))
    return [Day(heading, cards) for heading, cards in days.items()]


@router.get("/live", response_class=HTMLResponse)
def schedule(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The events live now and coming in the next weeks, by day on the viewer's wall clocks."""
    zone_name, viewer, now = viewer_zone(request, runtime), viewer_of(request), runtime.clock.now()
    events = [e for e in live.schedule_page(runtime.uow(read_only=True), start=now, end=now + SHOWN_AHEAD,
                                            limit=EVENTS_SHOWN) if e.status is not EventStatus.ENDED]
    actor = actor_of(request, runtime)
    reminded = (live.reminded_of(runtime.uow(read_only=True), actor, [e.id or 0 for e in events])
                if actor is not None and actor.role is Role.SHOPPER else None)
    zones = COMMON_ZONES if zone_name in COMMON_ZONES else (zone_name, *COMMON_ZONES)
    response = render(request, runtime, "live/schedule.html", zone_name=zone_name, zones=zones,
                      days=_days(events, viewer, zone_name=zone_name, runtime=runtime, reminded=reminded),
                      signed_out=actor is None, said=_said(request, viewer))
    if request.query_params.get("tz") is not None:  # a zone picked is kept, as a language is
        response.set_cookie(TZ_COOKIE, zone_name, max_age=CHOICE_MAX_AGE, samesite="lax", path="/")
    return response


def _said(request: Request, viewer: Viewer) -> str | None:
    done = request.query_params.get("done")
    return viewer.t(f"live.{done}") if done in ("reminded", "forgotten") else None


@router.post("/live/{event_id}/remind")
def remind(request: Request, runtime: RuntimeDep, event_id: int) -> Response:
    """Tell the signed-in shopper when the event starts; signed out: sign in, then back."""
    return _reminder(request, runtime, event_id, ask=True)


@router.post("/live/{event_id}/forget")
def forget(request: Request, runtime: RuntimeDep, event_id: int) -> Response:
    return _reminder(request, runtime, event_id, ask=False)


def _reminder(request: Request, runtime: Runtime, event_id: int, *, ask: bool) -> Response:
    actor = actor_of(request, runtime)
    if actor is None:
        return RedirectResponse("/login?next=%2Flive", status_code=303)
    if not 0 < event_id < 2**62:
        event_id = 0  # found by nobody: the service says so (404)
    if ask:
        live.ask_reminder(runtime.uow(), actor, event_id)
    else:
        live.forget_reminder(runtime.uow(), actor, event_id)
    done = "reminded" if ask else "forgotten"
    return RedirectResponse(f"/live?done={done}#event-{event_id}", status_code=303)


# --- the control room -------------------------------------------------------------------------

Text = Annotated[str, Form(max_length=500)]
Lines = Annotated[str, Form(max_length=8000)]
LISTED_BEFORE, LISTED_AHEAD = timedelta(days=7), timedelta(days=366)


@dataclass
class EventForm:
    title: str = ""
    language: str = "en"
    starts_at: str = ""
    ends_at: str = ""
    brand_ids: str = ""
    host_ids: str = ""
    playback_url: str = ""
    poster_url: str = ""
    segments: str = ""


@dataclass(frozen=True)
class EventRow:
    id: int
    title: str
    language: str
    when: str
    status: str
    hosts: str
    watch_url: str


def _control(request: Request, runtime: Runtime, *, form: EventForm, errors: FormErrors | None = None,
             status: int = 200) -> HTMLResponse:
    viewer, now = viewer_of(request), runtime.clock.now()
    events = live.schedule_page(runtime.uow(read_only=True), start=now - LISTED_BEFORE,
                                end=now + LISTED_AHEAD, limit=EVENTS_SHOWN)
    rows = [EventRow(e.id or 0, e.title, e.language, viewer.span(e.starts_at, e.ends_at, "UTC"),
                     viewer.t(f"live.status.{e.status.value}"), ", ".join(map(str, e.host_ids)),
                     room_path(e.id or 0)) for e in events]
    return render(request, runtime, "live/control.html", status=status, section="live", rows=rows,
                  form=form, errors=errors or FormErrors(),
                  scheduled=request.query_params.get("scheduled") == "1")


@router.get("/control/live", response_class=HTMLResponse)
def control(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """Live events from last week on (operators), and the form that schedules one."""
    operator(request, runtime)
    return _control(request, runtime, form=EventForm())


@router.post("/control/live", response_class=HTMLResponse)
def plan(request: Request, runtime: RuntimeDep, title: Text = "", language: Text = "en", starts_at: Text = "",
         ends_at: Text = "", brand_ids: Text = "", host_ids: Text = "", playback_url: Text = "",
         poster_url: Text = "", segments: Lines = "") -> Response:
    """Put an event on the schedule, checked as the API checks it; a refusal comes back beside its field."""
    actor = operator(request, runtime)
    form = EventForm(title, language, starts_at, ends_at, brand_ids, host_ids, playback_url, poster_url,
                     segments)
    t, errors = viewer_of(request).t, FormErrors()
    try:
        event = _event_of(form, t)
        live.plan_event(runtime.uow(), actor, event, account_of=runtime.ports.account_actor)
    except FormRefused as refused:
        errors.by_field[refused.field_name] = refused.message
    except DomainError as refused:
        errors.add(refused, t)
    if errors:
        return _control(request, runtime, form=form, errors=errors, status=422)
    return RedirectResponse("/control/live?scheduled=1", status_code=303)


class FormRefused(Exception):
    """A field of the form that cannot be read, with what to write instead."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name, self.message = field_name, message


def _event_of(form: EventForm, t: Translator) -> LiveEvent:
    """The event the form describes. Raises FormRefused, InvalidInput."""
    return LiveEvent(
        form.title.strip(), form.language.strip(), _instant(form.starts_at, "starts_at", t),
        _instant(form.ends_at, "ends_at", t), brand_ids=_ids(form.brand_ids, "brand_ids", t),
        host_ids=_ids(form.host_ids, "host_ids", t), segments=_segment_lines(form.segments, t),
        playback_url=form.playback_url.strip() or None, poster_url=form.poster_url.strip() or None)


def _instant(text: str, field_name: str, t: Translator) -> datetime:
    try:
        return parse_instant(text)
    except InvalidInput:
        raise FormRefused(field_name, t("control.live.bad_instant")) from None


def _ids(text: str, field_name: str, t: Translator) -> tuple[int, ...]:
    parts = [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]
    if not all(p.isdigit() and len(p) <= 18 for p in parts):
        raise FormRefused(field_name, t("control.live.bad_ids"))
    return tuple(int(p) for p in parts)


def _segment_lines(text: str, t: Translator) -> tuple[Segment, ...]:
    """kind | start | title | product ids, one a line."""
    found = []
    for number, line in enumerate((ln for ln in text.splitlines() if ln.strip()), start=1):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) not in (3, 4):
            raise FormRefused("segments", t("control.live.bad_segment", line=number))
        try:
            products = _ids(parts[3] if len(parts) == 4 else "", "segments", t)
            found.append(Segment(segment_kind(parts[0]), parts[2], parse_instant(parts[1]), products))
        except (InvalidInput, FormRefused):
            raise FormRefused("segments", t("control.live.bad_segment", line=number)) from None
    return tuple(found)
