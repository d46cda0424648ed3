"""The festival's big screen: GMV climbing in the reporting currency, orders and paying shoppers, the
orders-per-second line, countries, brands and categories as ranked bars, the pavilion, debuts, live and
local tiles, and the countdown. Operators watch it signed in; anyone holding a shared link's key
watches it read-only. The page renders the figures it was asked at; /static/screen.js keeps it live on
/screen/events (Server-Sent Events, fed by the process's one ScreenFeed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from shopfest.core.actor import Role, require_role
from shopfest.core.errors import DomainError
from shopfest.core.money import Money, minor_units
from shopfest.core.rates import Busy
from shopfest.deps import RuntimeDep, actor_of
from shopfest.insights import screen_links, service
from shopfest.runtime import Runtime
from shopfest.web.layout import render
from shopfest.web.routing import PageRoute
from shopfest.web.screen_feed import ScreenFeed
from shopfest.web.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)
# The stream answers refusals as problem details, not pages: an EventSource reads no HTML.
events_router = APIRouter(include_in_schema=False)

# uPlot (npm, pinned in package.json) draws the orders-per-second line; served from node_modules like
# hls.js, never from a CDN. Absent, the screen shows its numbers and bars without the line.
UPLOT_URL = "/static/uplot"
UPLOT_DIST = Path(__file__).resolve().parents[3] / "node_modules" / "uplot" / "dist"
PING_SECONDS = 15  # a comment line keeps proxies from closing a quiet stream
SEND_TIMEOUT_SECONDS = 30  # a screen that takes no bytes for this long is dropped
RETRY_MS = 2000  # how soon a screen reconnects
RECHECK_SECONDS = 30.0  # a revoked link, or an operator signed out, ends the screen's stream within this
TOP = 10


def has_uplot() -> bool:
    return (UPLOT_DIST / "uPlot.iife.min.js").is_file()


def uplot_assets() -> StaticFiles | None:
    """uPlot's script and style, to mount at UPLOT_URL; None where npm has not installed it."""
    return StaticFiles(directory=UPLOT_DIST) if has_uplot() else None


def screen_feed(request: Request) -> ScreenFeed:
    """The app's one feed, made by create_app."""
    feed: ScreenFeed = request.app.state.screen_feed
    return feed


# --- who may watch ------------------------------------------------------------------------------

def _key(request: Request) -> str | None:
    return request.query_params.get("key")


def _may_watch(request: Request, runtime: Runtime) -> bool:
    """Whether the screen is watched through a shared link (True) or by a signed-in operator (False).
    Raises Unauthenticated, Forbidden (a shopper, a merchant, a link that does not open)."""
    key = _key(request)
    if key is not None:
        screen_links.check_key(runtime.uow(read_only=True), key)
        return True
    require_role(actor_of(request, runtime), Role.OPERATOR)
    return False


# --- the page -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bar:
    key: str
    name: str
    money: str
    width: int  # percent of the longest bar, in steps of 5 (the stylesheet's classes: no inline style)


@dataclass(frozen=True)
class Tile:
    name: str
    money: str
    count: str


def _bars(rows: list[dict[str, Any]], currency: str, viewer: Viewer) -> list[Bar]:
    longest = max((int(r["gmv_minor"]) for r in rows), default=0) or 1
    return [Bar(str(r["key"]), str(r["name"]), viewer.money(Money(int(r["gmv_minor"]), currency)),
                5 * round(20 * max(0, int(r["gmv_minor"])) / longest))
            for r in rows]


def _tiles(figures: dict[str, Any], viewer: Viewer) -> list[Tile]:
    t, currency = viewer.t, figures["currency"]

    def money(part: dict[str, Any]) -> str:
        return viewer.money(Money(int(part["gmv_minor"]), currency))

    luxury, debuts, live, local = (figures[k] for k in ("luxury", "debuts", "live", "local"))
    return [Tile(t("screen.luxury"), money(luxury), t("screen.orders_n", n=viewer.count(luxury["orders"]))),
            Tile(t("screen.debuts"), money(debuts), t("screen.units_n", n=viewer.count(debuts["units"]))),
            Tile(t("screen.live"), money(live), t("screen.orders_n", n=viewer.count(live["orders"]))),
            Tile(t("screen.local"), money(local),
                 t("screen.local_n", payments=viewer.count(local["payments"]),
                   redemptions=viewer.count(local["redemptions"])))]


def _page(request: Request, runtime: Runtime, *, shared: bool, made_key: str | None = None) -> HTMLResponse:
    viewer = viewer_of(request)
    figures = service.screen_figures(runtime.uow(read_only=True), top=TOP,
                                     currency=runtime.settings.reporting_currency)
    currency = figures["currency"]
    key = _key(request)
    setup = {"events": "/screen/events" + (f"?key={quote(key)}" if key else ""), "lang": viewer.html_lang,
             "currency": currency, "digits": minor_units(currency), "figures": figures,
             "words": {k: viewer.t(f"screen.{k}") for k in ("orders_n", "units_n", "local_n", "none_yet")}}
    return render(request, runtime, "screen.html", figures=figures, shared=shared,
                  gmv=viewer.money(Money(int(figures["gmv_minor"]), currency)),
                  orders=viewer.count(figures["orders"]), shoppers=viewer.count(figures["shoppers"]),
                  per_now=viewer.count(figures["per_second"]["now"]),
                  per_peak=viewer.count(figures["per_second"]["peak"]),
                  countries=_bars(figures["countries"], currency, viewer),
                  brands=_bars(figures["brands"], currency, viewer),
                  categories=_bars(figures["categories"], currency, viewer),
                  tiles=_tiles(figures, viewer), uplot_url=UPLOT_URL if has_uplot() else None,
                  setup=Markup(orjson.dumps(setup).decode().replace("<", "\\u003c")),
                  made_url=_link_url(request, made_key) if made_key else None)


def _link_url(request: Request, key: str) -> str:
    return str(request.base_url).rstrip("/") + screen_links.screen_path(key)


@router.get("/screen", response_class=HTMLResponse)
def screen(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    shared = _may_watch(request, runtime)
    return _page(request, runtime, shared=shared)


@router.post("/screen/links", response_class=HTMLResponse)
def share_screen(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """A read-only link to this screen, shown once on the page that answers."""
    made = screen_links.make_link(runtime.uow(), actor_of(request, runtime))
    return _page(request, runtime, shared=False, made_key=made.key)


# --- the event stream ---------------------------------------------------------------------------

def last_event_id(header: str | None) -> int | None:
    """The version a reconnecting screen last had; anything but a plain number is no version."""
    text = (header or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _still_may_watch(request: Request, runtime: Runtime) -> Callable[[], Awaitable[bool]]:
    """Asks again every RECHECK_SECONDS whether the screen may still watch: a link revoked or expired,
    or an operator signed out or no longer one, ends the stream."""
    checked_at = time.monotonic()

    async def still_may() -> bool:
        nonlocal checked_at
        if time.monotonic() - checked_at < RECHECK_SECONDS:
            return True
        checked_at = time.monotonic()
        try:
            await run_in_threadpool(_may_watch, request, runtime)
        except DomainError:
            return False
        return True

    return still_may


async def _figures(feed: ScreenFeed, *, last: int | None,
                   still_opens: Callable[[], Awaitable[bool]] | None) -> AsyncIterator[ServerSentEvent]:
    """Every load of the figures: a new version carries its id; a refresh at the version the screen
    has carries none, so a screen that resumes with Last-Event-ID never gets a version twice. A screen
    resuming at the current version gets nothing at once: it has those figures."""
    try:
        watcher = feed.watch(asyncio.get_running_loop())
    except Busy:  # the last places went while this one was answered: it ends, and its browser retries
        return
    retry: int | None = RETRY_MS
    resumed_at = last
    try:
        while (snapshot := await watcher.next()) is not None:
            if still_opens is not None and not await still_opens():
                return
            if snapshot.version == resumed_at:  # the figures the screen had when it dropped
                resumed_at = None
                continue
            new, last, resumed_at = snapshot.version != last, snapshot.version, None
            yield ServerSentEvent(snapshot.text, event="figures", id=str(last) if new else None, retry=retry)
            retry = None
    finally:
        feed.leave(watcher)


@events_router.get("/screen/events")
async def screen_events(request: Request, runtime: RuntimeDep) -> EventSourceResponse:
    await run_in_threadpool(_may_watch, request, runtime)
    screen_feed(request).require_room()
    stream = _figures(screen_feed(request), last=last_event_id(request.headers.get("last-event-id")),
                      still_opens=_still_may_watch(request, runtime))
    return EventSourceResponse(stream, ping=PING_SECONDS, send_timeout=SEND_TIMEOUT_SECONDS,
                               headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


router.include_router(events_router)  # once its route is declared: including copies the routes there are
