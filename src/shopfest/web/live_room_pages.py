"""A live event's pages: the room around the video (anyone watches; signed-in shoppers chat, claim and
buy), the host's console, and the replay with its shoppable timestamps. The room's moving parts travel
on its WebSocket (docs/live.md), driven by /static/live.js; each page renders its first state here, so
the title, the programme and the poster read without JavaScript."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from shopfest.catalog import service as catalog
from shopfest.catalog.model import Product
from shopfest.core.actor import Actor, shopper_id
from shopfest.core.clock import HOME_ZONE
from shopfest.core.errors import NotFound, Unauthenticated
from shopfest.deps import RuntimeDep, actor_of
from shopfest.live import service as live
from shopfest.live.model import (
    CHAT_MAX_CHARS,
    REACTIONS,
    EventStatus,
    LiveEvent,
    RoomRole,
    require_room_role,
    role_in,
)
from shopfest.runtime import Runtime
from shopfest.web.i18n import LANGUAGES, STRINGS
from shopfest.web.layout import current_festival, render
from shopfest.web.routing import PageRoute
from shopfest.web.showcase import ProductCard, listed, product_cards
from shopfest.web.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)

# The demo's stream and poster, for events that name none (no request leaves the site).
DEMO_VIDEO = "/static/live/demo-stream.webm"
DEMO_POSTER = "/static/live/poster.jpg"
# hls.js (npm, pinned in package.json) plays HLS where the browser cannot (all but Safari); served
# from node_modules like the API docs' scripts, never from a CDN. Absent, HLS plays natively or not.
HLS_URL = "/static/hls"
HLS_DIST = Path(__file__).resolve().parents[3] / "node_modules" / "hls.js" / "dist"
REACTION_ORDER = ("heart", "like", "fire", "clap", "wow", "laugh")
assert set(REACTION_ORDER) == REACTIONS


def hls_assets() -> StaticFiles | None:
    """hls.min.js, to mount at HLS_URL; None where npm has not installed it."""
    return StaticFiles(directory=HLS_DIST) if (HLS_DIST / "hls.min.js").is_file() else None


# --- what the pages show ----------------------------------------------------------------------

@dataclass(frozen=True)
class SegmentView:
    kind: str
    title: str
    starts: str


@dataclass(frozen=True)
class Stage:
    """The event as every one of its pages heads it: title, status, time, video."""

    id: int
    title: str
    status: str
    status_word: str
    when: str
    video_url: str | None
    hls: bool
    poster_url: str
    segments: list[SegmentView]


def _zone(runtime: Runtime) -> str:
    festival = current_festival(runtime)
    return festival.timezone if festival else HOME_ZONE


def _is_hls(url: str | None) -> bool:
    return url is not None and urlsplit(url).path.lower().endswith(".m3u8")


def stage_of(event: LiveEvent, viewer: Viewer, runtime: Runtime) -> Stage:
    zone, t = _zone(runtime), viewer.t
    video = event.playback_url or DEMO_VIDEO
    return Stage(
        id=event.id or 0, title=event.title, status=event.status.value,
        status_word=t(f"room.status.{event.status.value}"),
        when=t("room.when", span=viewer.span(event.starts_at, event.ends_at, zone)),
        video_url=video, hls=_is_hls(video), poster_url=event.poster_url or DEMO_POSTER,
        segments=[SegmentView(t(f"room.segment.{s.kind.value}"), s.title, viewer.wall(s.starts_at, zone))
                  for s in event.segments])


def _event_id(text: str) -> int:
    """The id in a page's path; anything but a plausible id is the same 404 as an unknown one."""
    if not text.isdigit() or len(text) > 18 or int(text) == 0:
        raise NotFound(f"no live event {text[:40]}")
    return int(text)


def _event(runtime: Runtime, text: str) -> LiveEvent:
    """Raises NotFound."""
    return live.get_event(runtime.uow(read_only=True), _event_id(text))


def _products(runtime: Runtime, product_ids: list[int]) -> dict[int, Product]:
    """The products still in the catalog, by id (one gone since is left out)."""
    found = {}
    for product_id in product_ids:
        try:
            found[product_id] = catalog.get_product(runtime.uow(read_only=True), product_id)
        except NotFound:
            continue
    return found


def _cards(runtime: Runtime, products: dict[int, Product], viewer: Viewer,
           actor: Actor | None) -> dict[int, ProductCard]:
    """Each product's card, priced now for the one looking (the festival's promotions, their coupons)."""
    shown = list(products.values())
    cards = product_cards(runtime, shown, viewer, shopper_id=shopper_id(actor))
    return {p.id or 0: card for p, card in zip(shown, cards, strict=True)}


def server_clock(runtime: Runtime) -> dict[str, Any]:
    """The server's festival "now" and its speed: coupons and deals end on that clock, which need not
    be the browser's (the demo runs on the eve of 11.11 whatever the date)."""
    return {"now_ms": int(runtime.clock.now().timestamp() * 1000),
            "speed": float(getattr(runtime.clock, "speed", 1.0))}


def page_words(viewer: Viewer) -> Markup:
    """The words live.js writes (room.*, the discounts' deal.<label>, and every problem.<code> an error
    frame may carry), as JSON for a data block: the page's script reads them, nothing runs inline."""
    column = LANGUAGES.index(viewer.lang)
    words = {key: pair[column] for key, pair in STRINGS.items()
             if key.startswith(("room.", "problem.", "deal."))}
    # No `<` at all (`</script`, `<!--` could end or bend the data block): JSON writes it \u003c.
    return Markup(json.dumps(words, ensure_ascii=False).replace("<", "\\u003c"))


# --- the room ---------------------------------------------------------------------------------

@router.get("/live/{event_id}", response_class=HTMLResponse)
def room_page(request: Request, runtime: RuntimeDep, event_id: str) -> HTMLResponse:
    event = _event(runtime, event_id)
    viewer, actor = viewer_of(request), actor_of(request, runtime)
    hosting = role_in(event, actor) is RoomRole.HOST or (actor is not None and actor.is_operator)
    pinned = None
    if event.pinned_product_id is not None and event.status is not EventStatus.ENDED:
        pinned = _cards(runtime, _products(runtime, [event.pinned_product_id]), viewer, actor).get(
            event.pinned_product_id)
    return render(request, runtime, "live/room.html", stage=stage_of(event, viewer, runtime), pinned=pinned,
                  signed_in=actor is not None, shops=shopper_id(actor) is not None, host=hosting,
                  sign_in_url=f"/login?next={quote(f'/live/{event.id}', safe='')}",
                  reactions=REACTION_ORDER, chat_max=CHAT_MAX_CHARS, words=page_words(viewer),
                  hls_url=HLS_URL, clock=server_clock(runtime))


# --- the host's console -----------------------------------------------------------------------

def _console_event(request: Request, runtime: Runtime, event_id: str) -> tuple[LiveEvent, Actor]:
    """The event, when the one asking is one of its hosts or an operator. Raises NotFound,
    Unauthenticated (the page sends them to sign in), NotAllowedHere (403)."""
    event = _event(runtime, event_id)
    actor = actor_of(request, runtime)
    if actor is None:
        raise Unauthenticated("sign in to open the host's console")
    if not actor.is_operator:
        require_room_role(role_in(event, actor), RoomRole.HOST)
    return event, actor


@dataclass(frozen=True)
class ConsoleProduct:
    id: int
    title: str
    skus: list[tuple[int, str]]  # (sku id, "code · price")


@router.get("/live/{event_id}/console", response_class=HTMLResponse)
def console_page(request: Request, runtime: RuntimeDep, event_id: str) -> HTMLResponse:
    event, actor = _console_event(request, runtime, event_id)
    viewer = viewer_of(request)
    featured = _products(runtime, list(event.product_ids))
    products = [_console_product(p, viewer) for p in featured.values()]
    # Coupons and deals cover the host's own store's products (all of them for an operator).
    own = [p for p in featured.values() if actor.merchant_id in (None, p.merchant_id)]
    return render(request, runtime, "live/console.html", stage=stage_of(event, viewer, runtime),
                  products=products, own_products=[_console_product(p, viewer) for p in own],
                  currency=_settlement_currency(runtime, own), words=page_words(viewer), hls_url=HLS_URL,
                  reactions=REACTION_ORDER, chat_max=CHAT_MAX_CHARS, clock=server_clock(runtime))


def _console_product(product: Product, viewer: Viewer) -> ConsoleProduct:
    return ConsoleProduct(product.id or 0, viewer.name(product.title, product.title_zh),
                          [(s.id or 0, f"{viewer.name(s.code, s.name_zh)} · {viewer.money(s.price)}")
                           for s in product.skus])


def _settlement_currency(runtime: Runtime, products: list[Product]) -> str:
    """The currency a host's amounts are in: their store's settlement currency (docs/live.md)."""
    with runtime.uow(read_only=True) as uow:
        found = (catalog.settlement_currency_of(uow, p.merchant_id) for p in products)
        return next((currency for currency in found if currency is not None), "CNY")


async def _host_move(request: Request, runtime: Runtime, event_id: str, *,
                     going_live: bool) -> RedirectResponse:
    """Go live or end from the console's form, and tell the room as the API does."""
    event, actor = await run_in_threadpool(_console_event, request, runtime, event_id)
    move = live.go_live if going_live else live.end_event
    changed = await run_in_threadpool(move, runtime.uow(), actor, event.id or 0)
    await runtime.live().publish(changed.id or 0, {"type": "status", "status": changed.status.value})
    return RedirectResponse(f"/live/{changed.id}/console", status_code=303)


@router.post("/live/{event_id}/console/go-live")
async def go_live(request: Request, runtime: RuntimeDep, event_id: str) -> RedirectResponse:
    return await _host_move(request, runtime, event_id, going_live=True)


@router.post("/live/{event_id}/console/end")
async def end_event(request: Request, runtime: RuntimeDep, event_id: str) -> RedirectResponse:
    return await _host_move(request, runtime, event_id, going_live=False)


# --- the replay -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PinView:
    """A shoppable timestamp: the moment a product was shown, and what it costs now."""

    offset_ms: int
    time: str
    product_id: int
    card: ProductCard | None  # None: the product has left the catalog since
    sku_id: int | None  # the first of its SKUs with units left; None: sold out


@dataclass(frozen=True)
class MarkerView:
    offset_ms: int
    time: str
    label: str


@dataclass(frozen=True)
class ChatView:
    offset_ms: int
    time: str
    author: str
    text: str


def clock_of(offset_ms: int) -> str:
    """An offset into the video as a player shows it: 12:34, or 1:02:03 past the hour."""
    seconds = max(0, offset_ms) // 1000
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def _pinned_id(payload: dict[str, Any]) -> int | None:
    """The product a pin moment names (`product_id`, or the card's `product.id`)."""
    found = payload.get("product_id", (payload.get("product") or {}).get("id"))
    return found if isinstance(found, int) and not isinstance(found, bool) else None


MARKED = {"coupon": "coupon", "coupon_dropped": "coupon", "drop_coupon": "coupon", "deal": "deal",
          "start_deal": "deal"}


def _pins(runtime: Runtime, replay: live.Replay, viewer: Viewer, actor: Actor | None) -> list[PinView]:
    pins = [(m, pid) for m in replay.pins if (pid := _pinned_id(m.payload)) is not None]
    products = _products(runtime, list(dict.fromkeys(pid for _, pid in pins)))
    cards = _cards(runtime, products, viewer, actor)
    on_sale = {shown.product.id: next((s.id for s in shown.product.skus if shown.stock.get(s.id or 0, 0) > 0),
                                      None)
               for shown in listed(runtime, list(products.values()))}
    return [PinView(m.offset_ms, clock_of(m.offset_ms), pid, cards.get(pid), on_sale.get(pid))
            for m, pid in pins]


@router.get("/live/{event_id}/replay", response_class=HTMLResponse)
def replay_page(request: Request, runtime: RuntimeDep, event_id: str) -> HTMLResponse:
    event = _event(runtime, event_id)
    viewer = viewer_of(request)
    stage = stage_of(event, viewer, runtime)
    if event.status is not EventStatus.ENDED:
        return render(request, runtime, "live/replay.html", stage=stage, ended=False, pins=[], markers=[],
                      chat=[], words=page_words(viewer), hls_url=HLS_URL)
    replay = live.replay_of(runtime.uow(read_only=True), event.id or 0)
    t = viewer.t
    markers = [MarkerView(m.offset_ms, clock_of(m.offset_ms), t(f"room.marker.{MARKED[m.kind]}"))
               for m in replay.moments if m.kind in MARKED]
    chat = [ChatView(m.offset_ms, clock_of(m.offset_ms), m.author_name, m.text) for m in replay.messages]
    return render(request, runtime, "live/replay.html", stage=stage, ended=True,
                  pins=_pins(runtime, replay, viewer, actor_of(request, runtime)), markers=markers,
                  chat=chat, words=page_words(viewer), hls_url=HLS_URL)
