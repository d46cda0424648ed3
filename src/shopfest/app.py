"""The composition root: builds engines, the event bus, the clock and the ASGI app from settings."""

from __future__ import annotations

import gc
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from html import escape
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import Match

from shopfest import __version__, outages, problems, scrape
from shopfest.accounts import api as accounts_api
from shopfest.accounts import service as accounts
from shopfest.accounts.hashing import HashingPool
from shopfest.accounts.model import TokenKind
from shopfest.body_cap import BodyCap
from shopfest.catalog import api as catalog_api
from shopfest.catalog import service as catalog
from shopfest.catalog.service import SkusListed
from shopfest.core import metrics
from shopfest.core.actor import Actor
from shopfest.core.clock import Clock
from shopfest.core.db import make_engine
from shopfest.core.errors import DomainError, NotFound, Unavailable
from shopfest.core.events import Bus
from shopfest.core.redis import REDIS_ERRORS
from shopfest.core.redis import sync_client as redis_client
from shopfest.core.uow import UnitOfWork
from shopfest.festival import api as festival_api
from shopfest.festival import service as festival
from shopfest.insights import api as insights_api
from shopfest.insights import merchant_api as insights_merchant_api
from shopfest.insights import merchant_service as insights_merchant
from shopfest.insights import screen_api
from shopfest.insights import service as insights
from shopfest.insights.merchant import Calendar, Period
from shopfest.insights.merchant_store import MerchantProjection
from shopfest.insights.model import Projection
from shopfest.insights.pump import Consumer, Pump
from shopfest.insights.redis_stream import RedisEventStream, insights_stream_key
from shopfest.insights.store import ScreenProjection
from shopfest.insights.stream import EventStream, LocalEventStream
from shopfest.insights.visits import VisitCounter
from shopfest.inventory import api as inventory_api
from shopfest.inventory import service as inventory
from shopfest.inventory.hot_path import DatabaseGate, StockGate, WatchedGate
from shopfest.inventory.redis_gate import RedisGate
from shopfest.live import api as live_api
from shopfest.live import chat as _live_chat  # noqa: F401  registers the room's chat commands
from shopfest.live import drops as _live_drops  # noqa: F401  registers the room's coupon and deal commands
from shopfest.live import pins as _live_pins  # noqa: F401  registers the room's shopping commands
from shopfest.live import service as live
from shopfest.live.hub import Hub, LocalHub, RedisHub
from shopfest.live.model import LiveEvent, reminder_mail
from shopfest.live.room import Rooms
from shopfest.live.service import LiveEventStarted, RemindersDue
from shopfest.live_counter import LiveCounter
from shopfest.local import api as local_api
from shopfest.local import instore, voucher_api
from shopfest.local import pay_api as local_pay_api
from shopfest.local import vouchers as local_vouchers
from shopfest.local.codes import keys_for
from shopfest.local.vouchers import VoucherRedeemed
from shopfest.orders import api as orders_api
from shopfest.orders import service as orders
from shopfest.orders.checkout import Checkout
from shopfest.orders.lane import CheckoutLane
from shopfest.orders.service import OrderRefunded
from shopfest.payments import api as payments_api
from shopfest.payments import service as payments
from shopfest.payments.provider import Provider, SandboxProvider
from shopfest.payments.service import PaymentFailed, PaymentSucceeded
from shopfest.promotions import api as promotions_api
from shopfest.rate_limits import Limiter
from shopfest.request_watch import RequestWatch
from shopfest.runtime import Ports, Runtime
from shopfest.sales_feed import SalesFeed, recorded_sales
from shopfest.settings import Settings
from shopfest.text_guard import TextGuard
from shopfest.voucher_ledger import OrdersVoucherLedger
from shopfest.web import (
    account_pages,
    api_docs,
    control_pages,
    live_pages,
    live_room_pages,
    local_console,
    local_pages,
    order_pages,
    pages,
    screen_pages,
    seller_desk,
    seller_insights,
    seller_pages,
    wallet_pages,
)
from shopfest.web.headers import SecurityHeaders
from shopfest.web.layout import error_page
from shopfest.web.screen_feed import ScreenFeed
from shopfest.web.viewer import viewer_of

log = logging.getLogger("shopfest")


def make_bus(provider: Provider, gate: StockGate, feed: SalesFeed | None = None) -> Bus:
    """Every in-transaction reaction of one context to another's events; a paid order's units are
    sold through `gate`, and money captured for an order that can no longer take it goes back through
    `provider`; `feed` turns paid orders and refunds into the sales insights counts."""
    bus = Bus()
    bus.subscribe(SkusListed, inventory.receive_listed_stock)
    bus.subscribe(PaymentSucceeded, partial(orders.record_payment, provider=provider, gate=gate))
    bus.subscribe(LiveEventStarted, live.remind_on_start)
    bus.subscribe(RemindersDue, _mail_reminders)
    bus.subscribe(PaymentSucceeded, partial(instore.record_paid, provider=provider))
    bus.subscribe(PaymentFailed, instore.record_failed)
    feed = feed or SalesFeed(Settings.reporting_currency)
    bus.subscribe(PaymentSucceeded, feed.on_payment)  # after orders.record_payment: the order is paid now
    bus.subscribe(OrderRefunded, feed.on_refund)
    bus.subscribe(VoucherRedeemed, feed.on_redeemed)
    return bus


def _webhook_inbox(uow: Callable[[], UnitOfWork], secret: str) -> Callable[[bytes, str], None]:
    """The sandbox gateway's deliveries, applied one at a time off the caller's thread and
    transaction, as a webhook over HTTP would arrive."""
    inbox = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhooks")

    def receive(body: bytes, signature: str) -> None:
        try:
            payments.take_webhook(uow(), body=body, signature=signature, secret=secret)
        except DomainError as refused:
            log.warning("webhook refused: %s", refused.detail)

    def deliver(body: bytes, signature: str) -> None:
        inbox.submit(receive, body, signature)

    return deliver


def _merchant_exists(uow: UnitOfWork, merchant_id: int) -> bool:
    try:
        catalog.get_merchant(uow, merchant_id)
    except NotFound:
        return False
    return True


def _festival_start(uow: UnitOfWork) -> datetime | None:
    try:
        return festival.current_festival(uow).starts_at
    except NotFound:
        return None


def _actor(kind: TokenKind) -> Callable[[UnitOfWork, str], Actor]:
    def resolve(uow: UnitOfWork, secret: str) -> Actor:
        return accounts.resolve(uow, secret, kind).as_actor()
    return resolve


def make_ports() -> Ports:
    return Ports(
        available_stock=inventory.available_stock_in,
        merchant_exists=_merchant_exists,
        festival_start=_festival_start,
        actor_for_token=_actor(TokenKind.API),
        actor_for_session=_actor(TokenKind.SESSION),
        public_profile=accounts.public_profile,
        account_actor=_account_actor,
        account_country=_account_country,
        live_event_exists=lambda uow, event_id: live.find_event(uow, event_id) is not None,
        voucher_sales=lambda uow, merchant_id, start, end: orders.voucher_sales(uow, merchant_id, start=start,
                                                                               end=end),
        voucher_ledger=OrdersVoucherLedger(),
        insights_directory=insights_directory(),
    )


def make_runtime(settings: Settings, *, engine: Engine | None = None,
                 clock: Clock | None = None) -> Runtime:
    engine = engine or make_engine(settings.database_url, pool_size=settings.pool_size)
    clock = clock or settings.make_clock()
    provider = SandboxProvider(settings.webhook_secret, clock=clock)
    gate: StockGate = DatabaseGate(max_unpaid=settings.max_unpaid_units)
    shared = redis_client(settings.redis_url) if settings.redis_url else None  # a lone Redis or a cluster
    if shared is not None:
        gate = RedisGate(shared, prefix=settings.redis_prefix, max_unpaid=settings.max_unpaid_units)
        gate = WatchedGate(gate, (*REDIS_ERRORS, Unavailable))
    metrics.watch_engine(engine)
    insights_due = threading.Event()  # rung after a commit that stored a sale event
    bus = make_bus(provider, gate, SalesFeed(settings.reporting_currency, wake=insights_due.set))

    def uow() -> UnitOfWork:
        return UnitOfWork(engine, bus=bus, clock=clock)

    # The gateway's webhooks are applied in units of work on that bus, whose handlers may refund
    # through the gateway: it is given where to deliver once both exist.
    provider.deliver = _webhook_inbox(uow, settings.webhook_secret)
    runtime = Runtime(
        settings=settings, engine=engine, bus=bus, clock=clock, ports=make_ports(), gate=gate,
        provider=provider, checkout=Checkout(uow=uow, gate=gate, minutes=settings.reservation_minutes,
                                             lanes=_checkout_lanes(settings, engine),
                                             flash_minutes=settings.flash_reservation_minutes),
        limiter=Limiter(settings.rates(), lock_rule=settings.lock_rule(), redis_client=shared,
                        prefix=settings.redis_prefix, sync_seconds=settings.rate_sync_seconds),
        hashing=HashingPool(threads=settings.hashing_threads, queue=settings.hashing_queue),
        rooms=make_rooms(settings, uow),
        insights_due=insights_due,
    )
    runtime.live().runtime = runtime
    runtime.ports.live_counter = LiveCounter(runtime)
    _plug_vouchers(runtime)
    runtime.visits = VisitCounter(partial(_record_visits, runtime))
    return runtime


def _plug_vouchers(runtime: Runtime) -> None:
    """Local's voucher use cases reach the orders' vouchers and the signing keys for this engine."""
    runtime.voucher_keys = keys_for(runtime.settings.voucher_keys, runtime.settings.database_url)
    ledger = runtime.ports.voucher_ledger or OrdersVoucherLedger()
    local_vouchers.plug(runtime.engine, local_vouchers.VoucherDesk(ledger, runtime.voucher_keys))


def make_rooms(settings: Settings, uow: Callable[[], UnitOfWork]) -> Rooms:
    """The live rooms of this process: over Redis when there is one, so that every worker's viewers
    see one room; in memory otherwise (one process)."""
    hub: Hub = (RedisHub(settings.redis_url, prefix=settings.redis_prefix) if settings.redis_url
                else LocalHub())

    async def load_event(event_id: int) -> LiveEvent | None:
        return await run_in_threadpool(live.find_event, uow(), event_id)

    return Rooms(hub, load_event=load_event, simple_fanout=settings.live_fanout == "simple")


def _checkout_lanes(settings: Settings, engine: Engine) -> int:
    """PostgreSQL can make one batch durable while the next is applied; SQLite has one writer at a time."""
    return settings.checkout_lanes if engine.dialect.name == "postgresql" else 1


KEYS_PURGED_EVERY = 600.0  # seconds
COMPLETIONS_EVERY = 60.0  # seconds


def _sweep(runtime: Runtime, stop: threading.Event) -> None:
    """Release what unpaid orders past their expiry hold, every `sweep_seconds`; drop the
    Idempotency-Keys past the time they are kept for, every ten minutes."""
    next_purge = time.monotonic() + KEYS_PURGED_EVERY
    next_completion = time.monotonic()
    while not stop.wait(runtime.settings.sweep_seconds):
        # Parts complete days after shipping: looking for them once a minute is soon enough, and
        # spares the database a walk over every shipped part each round.
        complete_after = None
        if time.monotonic() >= next_completion:
            next_completion = time.monotonic() + COMPLETIONS_EVERY
            complete_after = timedelta(days=runtime.settings.auto_complete_days)
        try:
            orders.release_lapsed(runtime.uow(), runtime.gate, complete_after=complete_after)
        except Exception:  # noqa: BLE001  # the sweeper lives on; the next round retries
            log.exception("sweeping expired orders failed")
        try:
            live.remind_due(runtime.uow)
        except Exception:  # noqa: BLE001  # as above
            log.exception("reminding of live events failed")
        if time.monotonic() >= next_purge:
            next_purge = time.monotonic() + KEYS_PURGED_EVERY
            try:
                payments.forget_old_keys(runtime.uow)
            except Exception:  # noqa: BLE001  # as above
                log.exception("forgetting old Idempotency-Keys failed")


YOUNG_OBJECTS_PER_COLLECTION = 50_000


def tune_for_serving() -> None:
    """Set the interpreter up for the peak, once the process is started."""
    # Everything loaded so far lives as long as the process: keep it out of the collector's full
    # passes, which otherwise pause the checkout writer for tens of milliseconds at the peak.
    gc.freeze()
    # At the peak thousands of requests are in flight, each holding a few objects: collecting the
    # young generation every 700 new objects (the default) walks them again and again, and took a
    # tenth of the checkout's time. Every 50,000, a collection still takes only milliseconds.
    gc.set_threshold(YOUNG_OBJECTS_PER_COLLECTION, *gc.get_threshold()[1:])
    # The checkout writer thread waits on the database and Redis many times a batch; with Python's
    # default 5 ms switch interval each wait can cost it up to 5 ms to win the interpreter back
    # from the event loop. A shorter interval keeps batches short at the peak.
    sys.setswitchinterval(0.0005)
    # A log line per request (request_watch.py): none names its process, whose name logging would
    # otherwise look up through multiprocessing for every record, a third of the record's cost.
    logging.logMultiprocessing = False


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime: Runtime = app.state.runtime
    tune_for_serving()
    stop = threading.Event()
    sweeper = threading.Thread(target=_sweep, args=(runtime, stop), name="sweeper", daemon=True)
    sweeper.start()
    pump = make_pump(runtime)
    pump.start()
    runtime.serving += 1
    if runtime.visits is not None:
        runtime.visits.start()
    try:
        yield
    finally:
        stop.set()
        await run_in_threadpool(pump.stop)
        runtime.serving -= 1
        if not runtime.serving:
            _stop_counting_visits(runtime)
        await runtime.live().shutdown()  # the rooms of this event loop only
        await run_in_threadpool(app.state.screen_feed.close)  # ends the screens' streams
        if not runtime.serving:  # a runtime serving two apps at once (tests) closes with the last
            runtime.checkout.close()


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or make_runtime(settings or Settings.from_env())
    app = FastAPI(
        title="ShopFest",
        version=__version__,
        description="Run an 11.11-style global online shopping festival.",
        # /docs and /redoc are ShopFest's own pages (web/api_docs.py), with their scripts served here.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url="/openapi.json",
        lifespan=_lifespan,
    )
    app.state.runtime = runtime
    reporting = runtime.settings.reporting_currency
    app.state.screen_feed = ScreenFeed(  # web/screen_pages.py
        lambda: runtime.uow(read_only=True),
        figures=lambda uow: insights.screen_figures(uow, top=screen_pages.TOP, currency=reporting))
    problems.install(app)
    outages.install(app)
    app.add_exception_handler(HTTPException, _page_or_problem)  # type: ignore[arg-type]  # Starlette's handler type is too narrow
    for router in (festival_api.router, accounts_api.router, catalog_api.router, inventory_api.router,
                   orders_api.router, payments_api.router, promotions_api.router, live_api.router,
                   local_api.router, local_pay_api.router, voucher_api.router, screen_api.router,
                   insights_merchant_api.router, insights_api.router):
        app.include_router(router)
    for pages_of in (pages, account_pages, order_pages, wallet_pages, seller_pages, seller_desk,
                     control_pages, live_pages, live_room_pages, local_pages, local_console, screen_pages,
                     seller_insights):
        app.include_router(pages_of.router)
    app.include_router(api_docs.router)
    app.add_middleware(CheckoutLane)
    # Outside the lane, so no route, fast or not, sees what these refuse: text that cannot be stored,
    # then (around it, since it reads bodies) the body cap; the headers outermost, on every answer.
    app.add_middleware(TextGuard)
    app.add_middleware(BodyCap, max_bytes=runtime.settings.max_body_bytes)
    # Around all those, so that every answer carries its request id and is counted (a 413, a lane's
    # order); inside the security headers, so that its own 500 carries them.
    app.add_middleware(RequestWatch, log_all=runtime.settings.log_requests == "all")
    app.add_middleware(SecurityHeaders)
    app.mount(api_docs.ASSETS_URL, api_docs.assets(), name="api-docs")  # before /static, which it is in
    hls = live_room_pages.hls_assets()
    if hls is not None:  # as above; without it the live room plays what the browser plays itself
        app.mount(live_room_pages.HLS_URL, hls, name="hls")
    uplot = screen_pages.uplot_assets()
    if uplot is not None:  # as above; without it the big screen shows its figures without the line
        app.mount(screen_pages.UPLOT_URL, uplot, name="uplot")
    static = Path(pages.__file__).parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Alive and answering; touches nothing. Answered on the event loop, not the thread pool: a
        load balancer asking often takes no thread, and the HTTP bench's baseline is the server's
        cheapest answer (a `def` here answered 1,400–1,600 req/s on the 2-core machine, this 3,300–3,600)."""
        return {"status": "ok"}

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics_text(request: Request) -> Response:
        """The server's figures in Prometheus's text format, for whom `scrape.may_read` lets see them."""
        if not scrape.may_read(request.scope.get("client"), request.headers.get("authorization"),
                                token=runtime.settings.metrics_token):
            return problems.problem(403, "metrics-forbidden", "Forbidden", METRICS_REFUSED)
        body, media_type = scrape.exposition()
        return Response(body, media_type=media_type)

    @app.get("/problems/{code}", tags=["ops"], response_class=HTMLResponse, include_in_schema=False)
    def problem_type(code: str) -> str:
        """What a problem `type` means, so the URIs in error bodies lead somewhere."""
        known = {c.code: c.title for c in _error_classes()}
        name, title = escape(code), escape(known.get(code, "ShopFest problem type"))
        return f"<!doctype html><title>{name}</title><h1>{name}</h1><p>{title}</p>"

    return app


METRICS_REFUSED = ("/metrics is read from this machine, or with the bearer token SHOPFEST_METRICS_TOKEN "
                   "where one is set")


async def _page_or_problem(request: Request, error: HTTPException) -> Response:
    """A browser lost outside the API gets an HTML page; API clients get problem details."""
    if error.status_code == 405:
        # Starlette names the methods of the first route on the path only; GET and POST of one
        # path are two routes here. An OPTIONS request is answered, not refused.
        allow = ", ".join(allowed_methods(request))
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allow})
        error = HTTPException(405, str(error.detail), headers={**(error.headers or {}), "Allow": allow})
    wants_page = "text/html" in request.headers.get("accept", "")
    if wants_page and not request.url.path.startswith("/api/"):
        t = viewer_of(request).t  # the page's own words for a missing page or a wrong method
        said = t(f"error.http.{error.status_code}") if t.has(f"error.http.{error.status_code}") else None
        return await run_in_threadpool(error_page, request, request.app.state.runtime,
                                       status=error.status_code, detail=said or str(error.detail))
    return await problems.http_error(request, error)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on the request's path, OPTIONS included."""
    routes = request.app.router.routes
    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
            ] + ["OPTIONS"]


def _error_classes() -> list[type[DomainError]]:
    found, frontier = [], [DomainError]
    while frontier:
        cls = frontier.pop()
        found.append(cls)
        frontier.extend(cls.__subclasses__())
    return found


def _mail_reminders(uow: UnitOfWork, due: RemindersDue) -> None:
    """A live event began: each shopper who asked gets its mail in the outbox, in the same transaction."""
    accounts.mail_accounts(uow, user_ids=due.shopper_ids, mails=reminder_mail(due.title, due.event_id))


def _account_actor(uow: UnitOfWork, user_id: int) -> Actor | None:
    user = accounts.get_user(uow, user_id)
    return user.as_actor() if user is not None else None


def _account_country(uow: UnitOfWork, user_id: int) -> str | None:
    user = accounts.get_user(uow, user_id)
    return user.profile.country if user is not None else None


def _record_visits(runtime: Runtime, views: dict[tuple[int, int], int],
                   carts: dict[tuple[int, int], int]) -> None:
    """Where the pages' visit counts go every few seconds: merchant insights' funnel."""
    insights_merchant.record_visits(runtime.uow(), directory=runtime.ports.insights(), views=views,
                                    carts=carts)


def _stop_counting_visits(runtime: Runtime) -> None:
    """The last app on the runtime stops: write the visits counted since the last flush."""
    if runtime.visits is None:
        return
    try:
        runtime.visits.stop()
    except Exception:  # noqa: BLE001  # shutting down goes on; a few seconds of views are not money
        log.exception("writing the last product visit counts failed")


def insights_directory() -> insights_merchant.Directory:
    """Merchant insights' view of the catalog, the festival calendar and live events."""
    return insights_merchant.Directory(
        calendar=_calendar,
        merchant_name=lambda uow, merchant_id: catalog.get_merchant(uow, merchant_id).name,
        products=lambda uow, ids: {i: (p.merchant_id, p.title)
                                   for i, p in catalog.products_by_ids(uow, ids).items()},
        skus=lambda uow, ids: {i: (s.merchant_id, s.product_id)
                               for i, s in catalog.skus_named(uow, ids).items()},
        live_titles=_live_titles)


def _calendar(uow: UnitOfWork, festival_id: int | None) -> Calendar:
    found = festival.current_festival(uow) if festival_id is None else festival.get_festival(uow, festival_id)
    return Calendar(found.id or 0, found.name,
                    tuple(Period(p.key, p.name, p.starts_at, p.ends_at) for p in found.phases))


def _live_titles(uow: UnitOfWork, event_ids: Sequence[int]) -> dict[int, str]:
    events = {event_id: live.find_event(uow, event_id) for event_id in dict.fromkeys(event_ids)}
    return {event_id: event.title for event_id, event in events.items() if event is not None}


def insights_counting() -> dict[str, list[Projection]]:
    """Who counts the sale events, each at its own pace: the big screen's figures, and the merchants'
    (heavier: a few rows a sale), which the screen never waits for."""
    return {"screen": [ScreenProjection()], "merchants": [MerchantProjection()]}


def insights_consumers(settings: Settings) -> list[Consumer]:
    """Each of insights_counting's consumers on a stream of its own."""
    return [Consumer(name, make_stream(settings, name), projections)
            for name, projections in insights_counting().items()]


def insights_projections() -> list[Projection]:
    """Every set of figures the sales stream keeps (rebuild clears and refolds each)."""
    return [projection for projections in insights_counting().values() for projection in projections]


def make_stream(settings: Settings, consumer: str) -> EventStream:
    """How sale events travel from the outbox to one consumer in this process: in process on the
    embedded default; over a Redis stream of its own, read by a consumer group, when Redis is
    configured."""
    if settings.redis_url:
        # Each process reads its share of the group, and takes over what a process that died held
        # unacknowledged once it has been quiet for a while.
        key = f"{insights_stream_key(settings.redis_prefix)}:{consumer}"
        return RedisEventStream.from_url(settings.redis_url, key=key, group=consumer,
                                         consumer=f"{socket.gethostname()}:{os.getpid()}")
    return LocalEventStream()


def make_pump(runtime: Runtime) -> Pump:
    """This serving process's insights pump: the relay woken by the runtime's `insights_due` after a
    commit that stored a sale event, and every 100 ms. At start it publishes again what was relayed
    and never counted: an in-process stream's queue died with its process; a Redis group redelivers
    what it holds, but a Redis restarted without its data holds nothing. Counting by event id makes the
    repeats free."""
    return Pump(runtime.uow, insights_consumers(runtime.settings), doorbell=runtime.insights_due)


def rebuild_insights(runtime: Runtime) -> int:
    """Recompute every insights figure from the orders (`shopfest insights rebuild`), in one snapshot;
    returns how many sales were folded."""
    reporting = runtime.settings.reporting_currency
    uow = UnitOfWork(runtime.engine, bus=runtime.bus, clock=runtime.clock, repeatable=True)
    return insights.rebuild(uow, insights_projections(), consumers=list(insights_counting()),
                            recorded=lambda uow: recorded_sales(uow, reporting=reporting))
