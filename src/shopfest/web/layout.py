"""What every page shares: the template set, the festival header with its countdown, the signed-in email."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shopfest.accounts import service as accounts
from shopfest.core.errors import DomainError, NotFound
from shopfest.deps import actor_of
from shopfest.festival import service as festival_service
from shopfest.festival.model import Festival, Phase
from shopfest.runtime import Runtime
from shopfest.web import csrf, prices
from shopfest.web.i18n import Translator
from shopfest.web.viewer import remember_choices, viewer_of

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,  # a misspelt name fails the page in tests instead of showing blank
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class FestivalHeader:
    """The phase on now and the countdown to the next flip, on the server's festival clock."""

    phase_key: str | None
    phase_name: str
    countdown_label: str | None = None
    countdown_text: str | None = None
    target_ms: int | None = None  # the instant the countdown reaches zero
    now_ms: int | None = None  # the server's festival "now", which may differ from the browser's
    speed: float = 1.0  # how fast the festival clock runs (demos may run it fast)


def phase_name(phase: Phase, t: Translator) -> str:
    key = f"phase.{phase.key}"
    return t(key) if t.has(key) else phase.name


def _short_name(phase: Phase, t: Translator) -> str:
    key = f"short.{phase.key}"
    return t(key) if t.has(key) else phase.name


def countdown_label(phase: Phase, event: str, t: Translator) -> str:
    special = f"countdown.{event}.{phase.key}"
    return t(special) if t.has(special) else t(f"countdown.{event}", phase=_short_name(phase, t))


def format_remaining(remaining: timedelta, t: Translator) -> str:
    """00:04:53, or 3d 04:05:06 when a day or more is left (the same shape countdown.js writes)."""
    seconds = max(0, int(remaining.total_seconds()))
    days, rest = divmod(seconds, 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{t('countdown.days', days=days)} {clock}" if days else clock


def festival_header(festival: Festival | None, now: datetime, *, t: Translator,
                    speed: float) -> FestivalHeader:
    if festival is None:
        return FestivalHeader(None, t("phase.none"))
    current, countdown = festival.phase_at(now), festival.countdown(now)
    idle = t("phase.before") if now < festival.starts_at else t("phase.between")
    name = phase_name(current, t) if current else idle
    if countdown is None:
        return FestivalHeader(None, t("phase.over"))
    return FestivalHeader(
        phase_key=current.key if current else None, phase_name=name,
        countdown_label=countdown_label(countdown.phase, countdown.event, t),
        countdown_text=format_remaining(countdown.remaining, t),
        target_ms=_ms(countdown.at), now_ms=_ms(now), speed=speed,
    )


def _ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def current_festival(runtime: Runtime) -> Festival | None:
    try:
        return festival_service.current_festival(runtime.uow(read_only=True))
    except NotFound:
        return None


@dataclass(frozen=True)
class SignedInAs:
    """Who the header greets, and which of the three sides (shopper, seller centre, control room)
    its links lead to."""

    email: str
    role: str


def signed_in_as(request: Request, runtime: Runtime) -> SignedInAs | None:
    try:
        actor = actor_of(request, runtime)
    except DomainError:  # a bad Authorization header is the API's business; a page stays anonymous
        return None
    user = accounts.get_user(runtime.uow(read_only=True), actor.user_id) if actor else None
    return SignedInAs(user.email, actor.role.value) if user and actor else None


def here(request: Request, **changes: str) -> str:
    """This page's URL with some query values replaced, for the language and currency switches."""
    values = dict(request.query_params)
    values.update(changes)
    return f"{request.url.path}?{urlencode(values)}"


def render(request: Request, runtime: Runtime, template: str, *, status: int = 200,
           **context: Any) -> HTMLResponse:
    """A page in the viewer's language and currency; remembers a language or currency just chosen."""
    viewer = viewer_of(request)
    now = runtime.clock.now()
    header = festival_header(current_festival(runtime), now, t=viewer.t,
                             speed=float(getattr(runtime.clock, "speed", 1.0)))
    who = signed_in_as(request, runtime)
    html = TEMPLATES.get_template(template).render(
        request=request, viewer=viewer, t=viewer.t, header=header, currencies=prices.VIEWER_CURRENCIES,
        user_email=who.email if who else None, user_role=who.role if who else None,
        here=lambda **c: here(request, **c),
        csrf_token=csrf.form_token(request), **context,
    )
    response = HTMLResponse(html, status_code=status)
    remember_choices(response, viewer)
    csrf.keep_token(request, response)
    return response


def error_page(request: Request, runtime: Runtime, *, status: int, detail: str) -> HTMLResponse:
    t = viewer_of(request).t
    key = f"error.{status}"
    title = t(key) if t.has(key) else t("error.other")
    return render(request, runtime, "error.html", status=status, title=title, detail=detail)
