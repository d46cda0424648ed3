"""The `shopfest` command: serve, demo, db, users, seed, bench."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from shopfest.core.actor import Role
from shopfest.core.clock import HOME_ZONE, parse_instant, zone
from shopfest.core.errors import DomainError
from shopfest.settings import Settings

if TYPE_CHECKING:
    from shopfest.bench.catalog import BackendResult
    from shopfest.festival.model import Festival
    from shopfest.runtime import Runtime

app = typer.Typer(help="Run an 11.11-style global online shopping festival.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
stock_app = typer.Typer(help="The stock the checkout sells.", no_args_is_help=True)
mail_app = typer.Typer(help="The sandbox's outgoing mail.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks, each with a baseline measured in the same run.",
                        no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(stock_app, name="stock")
app.add_typer(mail_app, name="mail")
app.add_typer(bench_app, name="bench")
console = Console(stderr=True)

DEMO_ACCOUNTS = (
    ("operator@shopfest.demo", "festival-operator", Role.OPERATOR),
    ("shopper@shopfest.demo", "festival-shopper", Role.SHOPPER),
    ("merchant@shopfest.demo", "festival-merchant", Role.MERCHANT),
)
# Staff of the demo's local merchant (a restaurant chain with shops near the demo shopper): the shop console.
DEMO_SHOP_ACCOUNT = ("shopkeeper@shopfest.demo", "festival-shopkeeper", Role.MERCHANT)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Bad input is a message on stderr and exit code 2, a store out of reach or out of space one with
    exit code 1; never a traceback."""
    try:
        yield
    except DomainError as error:
        console.print(f"[red]error:[/red] {error.detail}")
        raise typer.Exit(2) from None
    except Exception as error:
        from shopfest.outages import outage_of  # imported late so `--help` stays quick

        outage = outage_of(error)
        if outage is None:
            raise
        console.print(f"[red]error:[/red] {outage.detail}")  # not the input's fault: exit 1
        raise typer.Exit(1) from None


def _runtime() -> Runtime:
    from shopfest.app import make_runtime  # imported late so `--help` stays quick
    return make_runtime(Settings.from_env())


def _database_url() -> str:
    return Settings.from_env().database_url


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema of SHOPFEST_DATABASE_URL."""
    from shopfest.core.migrate import upgrade
    with clear_errors():
        upgrade(_database_url())
    console.print(f"database ready: {_safe(_database_url())}")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="sign-in email")],
    password: Annotated[str, typer.Option(help="at least 10 characters, not a commonly used one")],
    role: Annotated[Role, typer.Option(help="shopper, merchant or operator")],
    merchant: Annotated[int | None, typer.Option(help="the merchant id staff work for")] = None,
) -> None:
    """Open an account of any role (the machine owner needs no operator to sign in)."""
    from shopfest.accounts import service as accounts
    from shopfest.core.errors import InvalidInput
    with clear_errors():
        runtime = _runtime()
        if role is Role.MERCHANT and (
            merchant is None or not runtime.ports.merchant_exists(runtime.uow(read_only=True), merchant)
        ):
            raise InvalidInput("merchant staff need --merchant with the id of an existing merchant")
        if role is not Role.MERCHANT and merchant is not None:
            raise InvalidInput("--merchant goes with --role merchant only")
        user = accounts.create_account_unchecked(runtime.uow(), email=email, password=password,
                                                 role=role, merchant_id=merchant)
    typer.echo(f"created {user.role.value} {user.email} (id {user.id})")


@mail_app.command("outbox")
def mail_outbox(
    to: Annotated[str | None, typer.Option(help="only the mail to this address")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="how many, newest first")] = 20,
) -> None:
    """The mail ShopFest wrote (email verification links), newest first: the sandbox sends none."""
    from shopfest.accounts import service as accounts
    from shopfest.core.actor import MACHINE
    with clear_errors():
        mails = accounts.mail_outbox(_runtime().uow(read_only=True), MACHINE, to=to, limit=limit)
    for mail in mails:
        typer.echo(f"--- {mail['id']} to {mail['to_address']} at {mail['written_at'].isoformat()}\n"
                   f"Subject: {mail['subject']}\n\n{mail['body']}\n")
    if not mails:
        typer.echo("no mail")


@stock_app.command("recount")
def stock_recount() -> None:
    """After a crash, before serving again: the checkout's Redis counters are loaded again from the
    database rows. A server killed mid-checkout can leave units taken in Redis that no order holds."""
    from shopfest.core.redis import REDIS_ERRORS
    with clear_errors():
        runtime = _runtime()
        try:
            forgotten = runtime.gate.recount()
        except REDIS_ERRORS as error:
            console.print(f"[red]error:[/red] Redis at SHOPFEST_REDIS_URL did not recount: {error}")
            raise typer.Exit(1) from None
    if runtime.settings.redis_url is None:
        typer.echo("nothing to recount: without SHOPFEST_REDIS_URL the database rows are the counters")
    else:
        typer.echo(f"{forgotten} Redis counter{'' if forgotten == 1 else 's'} forgotten: each is loaded "
                   "from the database rows when an order next needs it")


@app.command("audit")
def audit(
    as_json: Annotated[bool, typer.Option("--json", help="the breaches as JSON on stdout")] = False,
) -> None:
    """Check the festival's invariants over the live database, in one snapshot: every order's payments
    add up to what it kept, every SKU's reserved and sold units to what its orders hold and sold, no
    coupon or voucher counted twice. Exit 1 when any row breaks one."""
    import json

    from shopfest.audit.service import audit as run_audit
    with clear_errors():
        runtime = _runtime()
        with progress_bar() as bar:
            task = bar.add_task("orders", total=None)
            breaches = run_audit(runtime.uow(snapshot=True), progress=lambda n: bar.advance(task, n))
    if as_json:
        typer.echo(json.dumps([{"invariant": b.invariant, "subject": b.subject, "detail": b.detail}
                               for b in breaches], indent=2, ensure_ascii=False))
    else:
        for b in breaches:
            typer.echo(f"{b.invariant}\t{b.subject}\t{b.detail}")
    console.print(f"{len(breaches)} breach{'' if len(breaches) == 1 else 'es'} of the invariants")
    if breaches:
        raise typer.Exit(1)


@app.command("seed")
def seed(
    brands: Annotated[int, typer.Option(min=1, max=10_000_000, help="brands to generate")] = 300,
    products: Annotated[int, typer.Option(min=0, max=100_000_000, help="products")] = 3000,
    seed: Annotated[int, typer.Option(help="random seed; the same seed, the same data")] = 11,
) -> None:
    """Schedule this year's 11.11 and load a generated, fictional catalog."""
    from shopfest.core.migrate import upgrade
    with clear_errors():
        upgrade(_database_url())
        runtime = _runtime()
        with progress_bar() as bar:
            fest = _seed(runtime, bar, brands=brands, products=products, seed=seed)
    typer.echo(f"seeded {fest.name}: {brands} brands, {products} products")


def _seed(runtime: Runtime, bar: Progress, *, brands: int, products: int, seed: int) -> Festival:
    from shopfest import demo
    merchants_about = brands // 3 + 1
    tasks = {"brands": bar.add_task("brands", total=brands),
             "merchants": bar.add_task("merchants", total=merchants_about),
             "products": bar.add_task("products", total=products)}
    fest = demo.seed(runtime, brands=brands, products=products, seed=seed,
                     progress=lambda what, n: bar.advance(tasks[what], n))
    bar.update(tasks["merchants"], completed=bar.tasks[tasks["merchants"]].total)
    return fest


@contextmanager
def progress_bar() -> Iterator[Progress]:
    columns = (TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        yield bar


@app.command("price")
def price(
    file: Annotated[str | None, typer.Option("--file", help="read the request from this file")] = None,
) -> None:
    """Price a cart: the pricing contract's JSON request on stdin (or --file), its JSON result on
    stdout. A request without `at` is priced as of now."""
    import json

    from shopfest.promotions.service import quote
    try:
        text = sys.stdin.read() if file is None else Path(file).read_text(encoding="utf-8")
        request = json.loads(text)
    except (OSError, ValueError, RecursionError) as error:  # not UTF-8, not JSON, nested too deep
        console.print(f"[red]error:[/red] cannot read the request: {error}")
        raise typer.Exit(2) from None
    with clear_errors():
        result = quote(request, now=datetime.now(UTC))
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


WS_MAX_BYTES = 65_536


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Serve the API and the pages with uvicorn, on a database at the newest schema."""
    from shopfest.core.migrate import is_newest
    from shopfest.local.codes import require_voucher_keys
    with clear_errors():
        Settings.require_webhook_secret(os.environ)
        require_voucher_keys(os.environ)
        # Every setting read now, so that a malformed one is a message (exit 2), not a traceback.
        log_format = Settings.from_env().log_format or "json"
    if not is_newest(_database_url()):
        console.print(f"[red]error:[/red] the database {_safe(_database_url())} is not at the newest "
                      "schema: run `shopfest db upgrade` first")
        raise typer.Exit(2)
    _anchor_clock()
    os.environ.setdefault("SHOPFEST_CHECKOUT_LANES", str(Settings.lanes_for(workers)))
    os.environ.setdefault("SHOPFEST_LOG_FORMAT", log_format)
    typer.echo(f"ShopFest on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    with _metrics_dir():
        _run_uvicorn(host=host, port=port, workers=workers, log_format=log_format)


@contextmanager
def _metrics_dir() -> Iterator[None]:
    """Every worker writes its figures to one folder, so that /metrics adds up all of theirs
    (core/metrics.py): PROMETHEUS_MULTIPROC_DIR, emptied of a past server's figures, or else a new private
    folder (0700), removed after serving. Set before the workers, and prometheus-client, start."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield
        return
    folder = tempfile.mkdtemp(prefix="shopfest-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(folder, ignore_errors=True)


def _run_uvicorn(*, host: str, port: int, workers: int, log_format: str) -> None:
    import uvicorn

    from shopfest.logs import uvicorn_log_config
    # A live room's command frame is at most 4 KB (docs/live.md); a WebSocket message past 64 KB is not
    # read at all (uvicorn closes that socket with 1009) instead of the library's default 16 MB.
    # Live rooms' sockets go uncompressed: permessage-deflate doubled the server's CPU per frame sent and
    # the memory per viewer (`shopfest bench live-room`, benchmarks/README.md).
    uvicorn.run("shopfest.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False, ws_max_size=WS_MAX_BYTES,
                ws_per_message_deflate=False, log_config=uvicorn_log_config(log_format))


def _anchor_clock() -> None:
    # Every worker process reads the same start and anchor, so they agree on the festival time.
    if os.environ.get("SHOPFEST_CLOCK") and not os.environ.get("SHOPFEST_CLOCK_ANCHOR"):
        os.environ["SHOPFEST_CLOCK_ANCHOR"] = repr(time.time())


@app.command("demo")
def demo(
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    clock: Annotated[str | None, typer.Option(
        help="festival time to start at, e.g. 2027-11-11T00:05:00+08:00; default: SHOPFEST_CLOCK, "
             "else five minutes before 00:00 on Nov 11")] = None,
    speed: Annotated[float, typer.Option(min=0, help="how fast the festival clock runs")] = 1.0,
    brands: Annotated[int, typer.Option(min=1)] = 300,
    products: Annotated[int, typer.Option(min=1)] = 3000,
    serve_it: Annotated[bool, typer.Option("--serve/--no-serve", help="serve after seeding")] = True,
    simulate_it: Annotated[bool, typer.Option(
        "--simulate", help="while serving, run the festival-night simulator against the demo in the "
                           "background, so the big screen (/screen) climbs while you watch")] = False,
) -> None:
    """Migrate, seed the demo festival if the database is empty, and serve it."""
    with clear_errors():
        if simulate_it and not serve_it:
            from shopfest.core.errors import InvalidInput
            raise InvalidInput("--simulate runs against the demo's server: leave out --no-serve")
        clock = clock or os.environ.get("SHOPFEST_CLOCK")
        start = parse_instant(clock) if clock else _five_to_midnight()
        os.environ["SHOPFEST_CLOCK"] = start.isoformat()
        os.environ["SHOPFEST_CLOCK_SPEED"] = repr(speed)
        os.environ.pop("SHOPFEST_CLOCK_ANCHOR", None)
        kept_secret = _prepare_demo(brands=brands, products=products)
    typer.echo(f"demo clock starts at {start.astimezone(zone(HOME_ZONE)).isoformat()} "
               f"({HOME_ZONE}), speed x{speed:g}")
    for email, password, role in (*DEMO_ACCOUNTS, DEMO_SHOP_ACCOUNT):
        typer.echo(f"  {role.value:<9} {email} / {password}")
    if kept_secret:
        typer.echo(f"  sandbox webhooks are signed with {kept_secret} (kept with this database)")
    if simulate_it:  # a line per simulated request would bury the server's own lines
        os.environ.setdefault("SHOPFEST_LOG_REQUESTS", "failed")
    if serve_it:
        with _night_in_background(f"http://{host}:{port}") if simulate_it else nullcontext():
            serve(host=host, port=port, workers=1)


# The demo's night: a steady crowd for an hour, the flash-sale rush at 11.11's midnight (the demo's
# clock starts five minutes before it), at a rate one laptop serves and simulates at once.
DEMO_NIGHT = ("--shoppers", "200", "--peak", "25", "--duration", "3600")


@contextmanager
def _night_in_background(url: str) -> Iterator[None]:
    """`shopfest simulate` in a process of its own, started once the server answers and stopped with
    it; what it prints goes to a log file, so the server's own lines stay readable."""
    log = Path(tempfile.gettempdir()) / f"shopfest-simulate-{os.getpid()}.log"
    typer.echo(f"the festival-night simulator starts once the server answers; its log: {log}")
    stop = threading.Event()
    keeper = threading.Thread(target=_keep_night, args=(url, log, stop), daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join(timeout=10)


def _keep_night(url: str, log: Path, stop: threading.Event) -> None:
    """Start the simulator once `url` answers, and stop it when told. This thread lives as long as the
    simulator: Linux ends the simulator when the thread that started it ends, so a demo stopped by a
    signal, which never reaches its `finally`, takes the simulator with it."""
    import subprocess
    import urllib.request
    while not stop.wait(0.5):
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                break
        except OSError:
            continue
    if stop.is_set():
        return
    with log.open("wb") as out:
        night = subprocess.Popen(
            [sys.executable, "-c", "from shopfest.cli import app; app()", "simulate", "--url", url,
             *DEMO_NIGHT], stdout=out, stderr=subprocess.STDOUT, preexec_fn=_end_with_parent)
    stop.wait()
    night.terminate()
    night.wait(timeout=10)


def _end_with_parent() -> None:
    """In the simulator's process, before it runs: be sent SIGTERM when the thread that started it ends
    (Linux's PR_SET_PDEATHSIG); elsewhere the simulator ends when its night does."""
    import ctypes
    import signal
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def _five_to_midnight() -> datetime:
    from shopfest.festival.model import festival_year_for
    year = festival_year_for(datetime.now().astimezone())
    return datetime(year, 11, 11, tzinfo=zone(HOME_ZONE)) - timedelta(minutes=5)


def _prepare_demo(*, brands: int, products: int) -> str | None:
    """Migrate, seed an empty database; the webhook secret kept with the database, unless
    SHOPFEST_WEBHOOK_SECRET names one (then None)."""
    from shopfest.accounts import service as accounts
    from shopfest.catalog import service as catalog
    from shopfest.core.migrate import upgrade
    from shopfest.orders import service as orders
    from shopfest.orders.model import DeliveryAddress
    from shopfest.payments import service as payments
    upgrade(_database_url())
    runtime = _runtime()
    kept = None
    if not os.environ.get("SHOPFEST_WEBHOOK_SECRET"):
        # The demo's server, and any demo after it on this database, sign and check with this one.
        kept = os.environ["SHOPFEST_WEBHOOK_SECRET"] = payments.demo_webhook_secret(runtime.uow())
    if catalog.count_brands(runtime.uow(read_only=True)) == 0:
        with progress_bar() as bar:
            _seed(runtime, bar, brands=brands, products=products, seed=11)
        from shopfest import demo
        demo.seed_pictures(runtime)
        for email, password, role in DEMO_ACCOUNTS:
            merchant = 1 if role is Role.MERCHANT else None
            user = accounts.create_account_unchecked(runtime.uow(), email=email, password=password,
                                                     role=role, merchant_id=merchant, verified=True)
            if role is Role.MERCHANT:  # the demo store's staff host its livestreams
                demo.seed_live(runtime, host_ids=(user.id or 0,))
            if role is Role.SHOPPER:  # shipped goods go to an address: the demo's shopper has one
                orders.add_delivery_address(runtime.uow(), user.as_actor(), DeliveryAddress.typed(
                    name="Demo Shopper", phone="+8613800138000", country="CN", city="Hangzhou",
                    line1="969 Wenyi West Road", postcode="311121"))
        email, password, role = DEMO_SHOP_ACCOUNT
        accounts.create_account_unchecked(runtime.uow(), email=email, password=password, role=role,
                                          merchant_id=demo.seed_local(runtime), verified=True)
    return kept


@bench_app.command("catalog")
def bench_catalog(
    brands: Annotated[int, typer.Option(min=10, help="brands to load")] = 250_000,
    products: Annotated[int, typer.Option(min=100, help="products to load")] = 2_000_000,
    queries: Annotated[int, typer.Option(min=13, help="searches to time")] = 1000,
    baseline_queries: Annotated[int, typer.Option(min=1, help="table-scan searches to time")] = 26,
    backend: Annotated[str, typer.Option(help="sqlite, postgresql or both")] = "both",
    pg_url: Annotated[str | None, typer.Option(
        help="an empty PostgreSQL database; default: a private server started for the run")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Load a festival-sized catalog and time product search against a table-scan baseline."""
    import json
    from dataclasses import asdict

    from shopfest.bench import catalog as bench
    from shopfest.bench.measure import machine
    results = _on_each_backend(backend, pg_url, lambda runtime, name, progress, total: bench.bench_backend(
        runtime, name, brands=brands, product_count=products, queries=queries,
        baseline_queries=baseline_queries, progress=progress, total=total))
    report = {"scenario": "catalog", "machine": machine(), "results": [asdict(r) for r in results]}
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    _print_catalog_report(results)


T = TypeVar("T")


def _on_each_backend(backend: str, pg_url: str | None, run: Callable[..., T]) -> list[T]:
    """`run(runtime, name, progress, total)` on a fresh SQLite file, a PostgreSQL database, or both, each
    with its progress bars; exit 2 on another backend."""
    from shopfest.bench import places
    if backend not in ("sqlite", "postgresql", "both"):
        console.print("[red]error:[/red] --backend is sqlite, postgresql or both")
        raise typer.Exit(2)
    results = []
    for name in ["sqlite", "postgresql"] if backend == "both" else [backend]:
        place = places.sqlite_database() if name == "sqlite" else places.postgres_database(pg_url)
        with place as url, progress_bar() as bar:
            tasks: dict[str, TaskID] = {}

            def total(what: str, n: int, bar: Progress = bar, tasks: dict[str, TaskID] = tasks,
                      name: str = name) -> None:
                tasks[what] = bar.add_task(f"{name} {what}", total=n)

            def advance(what: str, n: int, bar: Progress = bar, tasks: dict[str, TaskID] = tasks) -> None:
                bar.advance(tasks[what], n)

            runtime = places.runtime_for(url)
            try:
                results.append(run(runtime, name, advance, total))
            finally:
                runtime.engine.dispose()
    return results


def _print_catalog_report(results: list[BackendResult]) -> None:
    from rich.table import Table
    table = Table(title="catalog search (in process, 20 per page)")
    for column in ("backend", "products", "load s", "rows/s", "search p50 ms", "search p99 ms",
                   "scan p50 ms", "scan p99 ms", "p99 speed-up"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(r.backend, f"{r.products:,}", f"{r.load_seconds:,.1f}",
                      f"{r.rows_per_second:,}", f"{r.search.p50_ms:.2f}", f"{r.search.p99_ms:.2f}",
                      f"{r.baseline_scan.p50_ms:.1f}", f"{r.baseline_scan.p99_ms:.1f}",
                      f"x{r.p99_speedup:,.1f}")
    Console().print(table)
    for r in results:
        kinds = Table(title=f"{r.backend}: search by kind")
        for column in ("kind", "count", "p50 ms", "p99 ms", "max ms"):
            kinds.add_column(column, justify="right")
        for kind, lat in r.by_kind.items():
            kinds.add_row(kind, str(lat.count), f"{lat.p50_ms:.2f}", f"{lat.p99_ms:.2f}",
                          f"{lat.max_ms:.2f}")
        Console().print(kinds)


@bench_app.command("flash-sale")
def bench_flash_sale(
    units: Annotated[int, typer.Option(min=10, help="units of the hot SKU")] = 50_000,
    attempts: Annotated[int, typer.Option(min=10, help="orders attempted, sold out after units")] = 100_000,
    backend: Annotated[str, typer.Option(help="sqlite, postgresql or both")] = "both",
    pg_url: Annotated[str | None, typer.Option(
        help="an empty PostgreSQL database; default: a private server started for the run")] = None,
    redis_url: Annotated[str | None, typer.Option(
        help="a Redis for PostgreSQL's stock counters; default: a private one for the run")] = None,
    http: Annotated[bool, typer.Option("--http/--no-http", help="also burst over HTTP (needs wrk)")] = True,
    seconds: Annotated[int, typer.Option(min=1, help=(
        "length of each HTTP burst; /healthz and orders take turns, two bursts each"))] = 10,
    connections: Annotated[int, typer.Option(min=1, help="concurrent HTTP connections")] = 16,
    workers: Annotated[int | None, typer.Option(
        min=1, max=64, help="worker processes each design runs in, without HTTP (HTTP runs one "
                            "`serve` worker); default: 1 on SQLite (one writer at a time), the machine's "
                            "cores on PostgreSQL")] = None,
    checkout_lanes: Annotated[int | None, typer.Option(
        min=1, max=8, help="checkout writers per process on PostgreSQL (SHOPFEST_CHECKOUT_LANES); "
                           "default: 2 in a lone process, 1 each in several")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """The midnight burst on one hot SKU: the naive design, then the hot path, in process; then
    over HTTP against `shopfest serve`, with GET /healthz on the same server as the baseline."""
    import json
    from dataclasses import asdict

    from shopfest.bench import flash_sale as bench
    from shopfest.bench import http_burst, places
    from shopfest.bench.measure import machine
    if backend not in ("sqlite", "postgresql", "both"):
        console.print("[red]error:[/red] --backend is sqlite, postgresql or both")
        raise typer.Exit(2)
    if http and (missing := http_burst.wrk_missing()):
        console.print(f"[red]error:[/red] {missing}; or pass --no-http")
        raise typer.Exit(2)
    results: list[dict[str, Any]] = []
    for name in ["sqlite", "postgresql"] if backend == "both" else [backend]:
        place = places.sqlite_database() if name == "sqlite" else places.postgres_database(pg_url)
        counters = places.redis_server(redis_url) if name == "postgresql" else nullcontext(None)
        processes = min(workers or (1 if name == "sqlite" else os.cpu_count() or 1), attempts)
        lanes_in_process = checkout_lanes or Settings.lanes_for(processes)
        lanes_over_http = checkout_lanes or Settings.lanes_for(1)  # one `serve` worker
        with place as url, counters as redis:
            # As many connections as the naive design has threads, so none waits for the pool.
            runtime = places.runtime_for(url, redis_url=redis, pool_size=bench.NAIVE_THREADS,
                                         checkout_lanes=lanes_over_http)
            places.settle(runtime)
            naive = bench.naive(runtime, units=units, attempts=attempts, workers=processes)
            places.settle(runtime)
            hot = bench.hot_path(runtime, units=units, attempts=attempts, workers=processes,
                                 lanes=lanes_in_process)
            over_http = None
            if http:
                places.settle(runtime)
                over_http = asdict(http_burst.over_http(runtime, seconds=seconds, connections=connections))
            runtime.engine.dispose()
        ratio = round(hot.orders_per_second / naive.orders_per_second, 1)
        label = "postgresql+redis" if name == "postgresql" else name
        results.append({"backend": label, "workers": processes,
                        "checkout_lanes": {"in_process": lanes_in_process, "http": lanes_over_http}
                        if name == "postgresql" else None, "naive": asdict(naive),
                        "hot_path": asdict(hot), "ratio": ratio, "http": over_http})
    if as_json:
        report = {"scenario": "flash-sale", "machine": machine(), "units": units, "attempts": attempts,
                  "results": results}
        typer.echo(json.dumps(report, indent=2))
        return
    _print_flash_sale_report(results)


def _print_flash_sale_report(results: list[dict[str, Any]]) -> None:
    from rich.table import Table
    table = Table(title="flash sale on one hot SKU (in process, durable commits)")
    for column in ("backend", "design", "workers", "attempts", "accepted", "sold", "oversold", "sold out s",
                   "orders/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right")
    for r in results:
        for key in ("naive", "hot_path"):
            d = r[key]
            table.add_row(r["backend"], d["design"], str(d["workers"]), f"{d['attempts']:,}",
                          f"{d['accepted']:,}", f"{d['units_sold']:,}", str(d["oversold"]),
                          f"{d['sell_out_seconds']:.2f}", f"{d['orders_per_second']:,.0f}",
                          f"{d['latency']['p50_ms']:.2f}", f"{d['latency']['p99_ms']:.2f}")
        table.add_row(r["backend"], "hot / naive", "", "", "", "", "", "", f"x{r['ratio']}", "", "")
    Console().print(table)
    http = Table(title="over HTTP: one `shopfest serve` worker, wrk as the shoppers, the paths in turns")
    for column in ("backend", "path", "connections", "requests", "req/s", "p50 ms", "p99 ms", "non-2xx"):
        http.add_column(column, justify="right")
    for r in results:
        if r["http"] is None:
            continue
        for key in ("healthz", "orders"):
            d = r["http"][key]
            http.add_row(r["backend"], d["path"], str(r["http"]["connections"]), f"{d['requests']:,}",
                         f"{d['requests_per_second']:,.0f}", f"{d['p50_ms']:.1f}", f"{d['p99_ms']:.1f}",
                         str(d["not_2xx"]))
        ratio = f"x{r['http']['ratio_to_healthz']}"
        http.add_row(r["backend"], "orders / healthz", "", "", ratio, "", "", "")
    Console().print(http)


@bench_app.command("pricing")
def bench_pricing(
    carts: Annotated[int, typer.Option(min=60, help="distinct carts to price")] = 5000,
    seed: Annotated[int, typer.Option(help="random seed; the same seed, the same carts")] = 11,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Festival carts (20 lines, 5 merchants, 10 promotions, 5 coupons offered) priced in process,
    against the same carts at list prices; and the whole JSON contract."""
    import json

    from shopfest.bench import pricing
    from shopfest.bench.measure import machine
    report = {**pricing.run(carts=carts, seed=seed), "machine": machine()}
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    from rich.table import Table
    table = Table(title=f"pricing {carts:,} festival carts (in process, µs per cart)")
    for column in ("what", "median µs", "p99 µs", "carts/s"):
        table.add_column(column, justify="right")
    for label, key in (("list prices (baseline)", "baseline_list_prices"),
                       ("festival stack", "festival_stack"), ("JSON contract", "contract_json")):
        t = report[key]
        table.add_row(label, f"{t['median_us']:,.1f}", f"{t['p99_us']:,.1f}", f"{t['carts_per_second']:,.0f}")
    Console().print(table)


def _safe(url: str) -> str:
    """A database URL fit to print: the password hidden."""
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


def main() -> None:  # pragma: no cover
    sys.exit(app())


@bench_app.command("live-room")
def bench_live_room(
    viewers: Annotated[int, typer.Option(min=1, help="WebSocket viewers in the room")] = 1000,
    rate: Annotated[float, typer.Option(min=0.1, max=1000, help="chat messages a second, in all")] = 20.0,
    duration: Annotated[float, typer.Option(min=0.5, help="seconds measured, after the warm-up")] = 10.0,
    warmup: Annotated[float, typer.Option(min=0, help="seconds of chat before measuring")] = 3.0,
    client_processes: Annotated[int, typer.Option(min=1, max=16, help="processes the viewers live in")] = 2,
    connect_rate: Annotated[float, typer.Option(min=1, help="new viewers a second, in all")] = 500.0,
    pin_every: Annotated[float, typer.Option(min=0.5, help="seconds between the host's pins")] = 3.0,
    setups: Annotated[str, typer.Option(help="comma-separated: baseline, queued, queued-redis")] = (
        "baseline,queued,queued-redis"),
    redis_url: Annotated[str | None, typer.Option(
        help="a Redis for the two processes; default: a private one for the run")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """A live room under load: `shopfest serve` with real WebSocket viewers, chat at a steady rate and
    a pin every few seconds; delivery, latency, drops, CPU and memory, in one process and in two over
    Redis, beside the simple fan-out as the baseline."""
    import json
    from dataclasses import asdict

    from shopfest.bench import live_room
    from shopfest.bench.live_clients import Load
    from shopfest.bench.measure import machine
    chosen = [name.strip() for name in setups.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in live_room.SETUPS]
    if unknown or not chosen:
        console.print(f"[red]error:[/red] --setups is a list of {', '.join(live_room.SETUPS)}")
        raise typer.Exit(2)
    load = Load(viewers=viewers, rate=rate, duration=duration, warmup=warmup,
                client_processes=client_processes, connect_rate=connect_rate, pin_every=pin_every)
    results = live_room.run(load, [live_room.SETUPS[name] for name in chosen], redis_url=redis_url)
    if as_json:
        report = {"scenario": "live-room", "machine": machine(), "load": asdict(load),
                  "chatters": live_room.chatters_for(rate), "results": [asdict(r) for r in results]}
        typer.echo(json.dumps(report, indent=2))
        return
    _print_live_room_report(results, load)


def _print_live_room_report(results: list[Any], load: Any) -> None:  # noqa: ANN401  # live_room's types
    from rich.table import Table
    table = Table(title=f"live room: {load.viewers:,} viewers, {load.rate:g} chat messages/s, "
                        f"{load.duration:g} s measured (clients on the same machine)")
    for column in ("set-up", "processes", "connected", "delivered/s", "chat read", "p50 ms", "p99 ms",
                   "dropped (kept up)", "server CPU %", "RSS MB", "KB/viewer", "clients CPU %"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(r.setup, str(r.server_processes), f"{r.connected:,}", f"{r.delivered_per_second:,.0f}",
                      f"{r.chat_delivered_share:.1%}", f"{r.latency.p50_ms:,.1f}", f"{r.latency.p99_ms:,.1f}",
                      f"{r.dropped} ({r.dropped_kept_up})", f"{r.server_cpu_percent:.0f}",
                      f"{r.server_rss_mb:,.0f}", f"{r.rss_per_viewer_kb:,.1f}",
                      f"{r.clients_cpu_percent:.0f}")
    Console().print(table)
    for r in results:
        if not r.pins_available:
            console.print(f"{r.setup}: the server has no `pin` command yet: the host posted no pins")
        if r.chat_errors or (r.pin_errors and r.pins_available):
            console.print(f"{r.setup}: error frames: chatters {r.chat_errors}, host {r.pin_errors}")


@bench_app.command("nearby")
def bench_nearby(
    shops: Annotated[int, typer.Option(min=100, help="shops to load across the cities")] = 2_000_000,
    queries: Annotated[int, typer.Option(min=20, help="nearby searches to time")] = 1000,
    baseline_queries: Annotated[int, typer.Option(min=1, help="table-scan searches to time")] = 20,
    backend: Annotated[str, typer.Option(help="sqlite, postgresql or both")] = "sqlite",
    database_url: Annotated[str | None, typer.Option(
        help="an empty PostgreSQL database; default: a private server started for the run")] = None,
    vouchers: Annotated[int, typer.Option(
        min=0, help="vouchers each redemption run redeems; 0 skips them")] = 300,
    counters: Annotated[int, typer.Option(min=1, max=32, help="shop counters redeeming at once")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Load shops across the festival's cities and time the nearby search (3 km, a page of 20, with a
    filter) against a lat/lng box without the cells, on the same data; then redemptions per second on
    one merchant's vouchers, one counter (the baseline) against several at once, on a fresh database."""
    import json
    from dataclasses import asdict

    from shopfest.bench import nearby as bench
    from shopfest.bench import places
    from shopfest.bench.measure import machine
    from shopfest.bench.redemptions import measure_redemptions
    results = _on_each_backend(backend, database_url, lambda runtime, name, progress, total: (
        bench.bench_backend(runtime, name, shops=shops, query_count=queries,
                            baseline_queries=baseline_queries, progress=progress, total=total)))
    redemptions = {}
    for name in (["sqlite", "postgresql"] if backend == "both" else [backend]) if vouchers else []:
        place = places.sqlite_database() if name == "sqlite" else places.postgres_database(database_url)
        with place as url:
            redemptions[name] = measure_redemptions(url, vouchers=vouchers, workers=counters)
    report = bench.NearbyReport("nearby", machine(), shops, bench.RADIUS_M, bench.PAGE, results,
                                redemptions or None)
    if as_json:
        typer.echo(json.dumps(asdict(report), indent=2))
        return
    _print_nearby_report(report)


def _print_nearby_report(report: Any) -> None:  # noqa: ANN401  # bench.nearby.NearbyReport
    from rich.table import Table
    table = Table(title=f"nearby: {report.shops:,} shops, {report.radius_m:,} m, top {report.page}, "
                        "a filter each")
    for column in ("backend", "load s", "rows/s", "found", "nearby p50 ms", "nearby p99 ms", "scan p50 ms",
                   "scan p99 ms", "p99 speed-up", "agree"):
        table.add_column(column, justify="right")
    for r in report.results:
        table.add_row(r.backend, f"{r.load_seconds:,.1f}", f"{r.rows_per_second:,}", f"{r.mean_found:.1f}",
                      f"{r.nearby.p50_ms:.2f}", f"{r.nearby.p99_ms:.2f}", f"{r.baseline_scan.p50_ms:.1f}",
                      f"{r.baseline_scan.p99_ms:.1f}", f"x{r.p99_speedup:,.1f}", str(r.results_agree))
        for kind, latency in r.by_filter.items():
            table.add_row(f"  {kind}", "", "", "", f"{latency.p50_ms:.2f}", f"{latency.p99_ms:.2f}", "", "",
                          "", "")
    Console().print(table)
    for backend, run in (report.redemptions or {}).items():
        redeemed = Table(title=f"redemptions on {backend}: {run['vouchers']:,} vouchers, "
                               f"{run['workers']} counters")
        for column in ("run", "redemptions/s", "attempts/s", "p50 ms", "p99 ms", "redeemed twice"):
            redeemed.add_column(column, justify="right")
        for name in ("baseline_one_counter", "counters_own_codes", "counters_racing_same_codes"):
            figures = run[name]
            redeemed.add_row(name.replace("_", " "), f"{figures['redemptions_per_s']:,}",
                             f"{figures['attempts_per_s']:,}", f"{figures['p50_ms']:.1f}",
                             f"{figures['p99_ms']:.1f}", str(figures["redeemed_twice"]))
        Console().print(redeemed)


@bench_app.command("screen")
def bench_screen(
    events: Annotated[int, typer.Option(min=1000, help="sale events the consumer absorbs")] = 50_000,
    baseline_events: Annotated[int, typer.Option(
        min=100, help="events the query-per-event baseline takes")] = 2000,
    seconds: Annotated[int, typer.Option(
        min=2, help="seconds of checkout load while the screen is timed")] = 10,
    connections: Annotated[int, typer.Option(
        min=0, max=512, help="wrk's shoppers placing orders (0: none; the screen timed on a quiet "
                              "server)")] = 16,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """The big screen on SQLite: sale events a second the insights consumer counts on one core, against
    a baseline that asks the database for the figures again after every event; and how long a paid
    order takes to show on a screen connected over Server-Sent Events while checkout runs at its HTTP
    peak (wrk, one `serve` worker)."""
    import json

    from shopfest.bench import http_burst
    from shopfest.bench.measure import machine
    if connections and (missing := http_burst.wrk_missing()):
        console.print(f"[red]error:[/red] {missing}; or pass --connections 0")
        raise typer.Exit(2)
    report = {"scenario": "screen", "machine": machine(), **_screen_figures(events, baseline_events,
                                                                             seconds, connections)}
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    _print_screen_report(report)


def _screen_figures(events: int, baseline_events: int, seconds: int, connections: int) -> dict[str, Any]:
    from dataclasses import asdict

    from shopfest.app import insights_consumers
    from shopfest.bench import places, screen, screen_latency
    from shopfest.settings import Settings
    night = screen.night_events(events)
    runs = {}
    for consumer in insights_consumers(Settings()):  # each as the pump runs it, on one core
        with places.sqlite_database() as url:
            runs[consumer.name] = asdict(screen.absorb_all(places.runtime_for(url), night,
                                                           projections=consumer.projections,
                                                           consumer=consumer.name))
    with places.sqlite_database() as url:
        baseline = asdict(screen.query_per_event(places.runtime_for(url), night[:baseline_events]))
    with places.sqlite_database() as url:
        latency = asdict(screen_latency.measure(places.runtime_for(url), seconds=seconds,
                                                connections=connections))
    counted, peak = runs["screen"]["per_second"], latency["checkout_orders_per_second"]
    merchants = runs["merchants"]["per_second"]
    return {"consumer": runs, "query_per_event": baseline,
            "consumer_over_baseline": round(counted / baseline["per_second"], 1), "latency": latency,
            "consumer_over_checkout_peak": round(counted / peak, 1) if peak else None,
            "merchants_over_checkout_peak": round(merchants / peak, 1) if peak else None}


def _print_screen_report(report: dict[str, Any]) -> None:
    from rich.table import Table
    table = Table(title="screen: sale events counted on one core (SQLite)")
    for column in ("consumer", "events", "CPU s", "events/s (one core)"):
        table.add_column(column, justify="right")
    for name, run in (*report["consumer"].items(), ("query per event (baseline)", report["query_per_event"])):
        table.add_row(name, f"{run['events']:,}", f"{run['cpu_seconds']:g}", f"{run['per_second']:,.0f}")
    console.print(table)
    latency = report["latency"]
    console.print(f"the screen's consumer / baseline: x{report['consumer_over_baseline']:g}; / checkout "
                  f"peak ({latency['checkout_orders_per_second']:,.0f} orders/s over HTTP): "
                  f"x{report['consumer_over_checkout_peak']}; the merchants' / checkout peak: "
                  f"x{report['merchants_over_checkout_peak']}")
    console.print(f"paid order to screen, {latency['samples']} samples: "
                  f"p50 {latency['from_paid_p50_ms']:g} ms, "
                  f"p99 {latency['from_paid_p99_ms']:g} ms (from the pay request sent: p50 "
                  f"{latency['from_pay_sent_p50_ms']:g} ms, p99 {latency['from_pay_sent_p99_ms']:g} ms)")


@bench_app.command("scale")
def bench_scale(
    setups: Annotated[str, typer.Option(help="comma-separated: sqlite, postgresql, citus")] = (
        "sqlite,postgresql,citus"),
    shoppers: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    peak: Annotated[float, typer.Option(min=1, help="requests a second at the flash rush")] = 400,
    duration: Annotated[float, typer.Option(min=5, help="seconds each night lasts")] = 30,
    seed: Annotated[int, typer.Option()] = 11,
    citus_url: Annotated[str | None, typer.Option(
        help="an EMPTY database on a Citus coordinator and workers (../shared/dist/citus-up.sh)")] = None,
    redis_cluster_url: Annotated[str | None, typer.Option(
        help="redis+cluster://host:port of a Redis Cluster (../shared/dist/redis-cluster-up.sh)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """The same simulated festival night against one worker on SQLite, two on PostgreSQL + Redis (both
    started here) and two on Citus + Redis Cluster (given): throughput and p99 by request kind, orders
    a second at the flash rush, oversold SKUs, the CPU each part spent per order, and the nodes a
    100,000 orders/s peak would need at that cost."""
    import json

    from shopfest.bench import scale
    from shopfest.bench.measure import machine
    chosen = [name.strip() for name in setups.split(",") if name.strip()]
    if not chosen or any(name not in scale.SETUPS for name in chosen):
        console.print(f"[red]error:[/red] --setups takes some of {', '.join(scale.SETUPS)}")
        raise typer.Exit(2)
    if "citus" in chosen and not (citus_url and redis_cluster_url):
        console.print("[red]error:[/red] the citus set-up needs --citus-url and --redis-cluster-url")
        raise typer.Exit(2)
    options = scale.NightOptions(shoppers, peak, duration, seed, citus_url, redis_cluster_url)
    nights = []
    for name in chosen:
        console.print(f"night on {scale.SETUPS[name].name}...", style="dim")
        nights.append(scale.run(scale.SETUPS[name], options))
    report = {"scenario": "scale", "machine": machine(), "shoppers": shoppers, "peak": peak,
              "duration_s": duration, **scale.as_json(nights)}
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    _print_scale_report(report)


def _print_scale_report(report: dict[str, Any]) -> None:
    from rich.table import Table
    table = Table(title=f"scale: {report['shoppers']} shoppers, peak {report['peak']:g} requests/s, "
                        f"{report['duration_s']:g} s a night")
    for column in ("set-up", "requests/s", "orders", "orders/s at the rush", "checkout p99 ms", "pay p99 ms",
                   "unexpected", "oversold", "CPU ms per order by part", "nodes for 100k orders/s"):
        table.add_column(column, justify="right")
    for night in report["nights"]:
        summary, latency = night["summary"], night["summary"]["latency"]
        table.add_row(
            night["setup"], f"{summary['requests_per_second']:,.0f}", f"{summary['orders']:,}",
            f"{summary['rush']['orders_per_second']:,.0f}", _p99(latency, "checkout"), _p99(latency, "pay"),
            str(sum(summary["unexpected_errors"].values())), str(night["oversold_skus"]),
            ", ".join(f"{part} {ms:g}" for part, ms in night["cpu_per_order_ms"].items()),
            ", ".join(f"{part} {n}" for part, n in night["estimate"]["nodes"].items()))
    Console().print(table)


def _p99(latency: dict[str, Any], kind: str) -> str:
    return f"{latency[kind]['p99_ms']:,.1f}" if kind in latency else "-"


@app.command("simulate")
def simulate(
    url: Annotated[str, typer.Option(help="the running server (the demo's by default)")] = "http://127.0.0.1:8000",
    shoppers: Annotated[int, typer.Option(min=1, max=100_000, help="simulated shoppers")] = 50,
    peak: Annotated[float, typer.Option(min=0.1, max=100_000, help="requests a second at the rush")] = 50.0,
    duration: Annotated[float, typer.Option(min=1, max=86_400, help="seconds the night lasts")] = 30.0,
    seed: Annotated[int, typer.Option(help="random seed; the same seed, the same plan")] = 11,
    rush_at: Annotated[str | None, typer.Option(
        help="festival time of the flash-sale rush, e.g. 2027-11-11T00:00:00+08:00; default: 11.11's "
             "midnight when the server's festival clock is before it and it comes within the run, else "
             "now")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Festival-night traffic against a running server over HTTP: shoppers browse, search, price carts,
    claim coupons, check out and pay, rush the flash sale, watch livestreams, ask refunds. Its shoppers
    (sim-0001@shopfest.sim, ...) are prepared in SHOPFEST_DATABASE_URL, the server's database. Exit 1
    when any error other than the expected (sold out, limit reached, rate limited) occurred."""
    import json

    from shopfest import simulate as night
    from shopfest.core.errors import InvalidInput
    with clear_errors():
        if not url.startswith(("http://", "https://")):
            raise InvalidInput("--url is the server's http:// or https:// address")
        moment = parse_instant(rush_at) if rush_at else None
        with _night_display(duration) as show:
            summary = night.run(url, shoppers=shoppers, peak=peak, duration=duration, seed=seed,
                                rush_at=moment, progress=show)
    if as_json:
        typer.echo(json.dumps(summary.to_json(), indent=2))
    else:
        _print_night(summary)
    if summary.rush.why == "now" and (summary.rush.moment_in_s or 0) > 0:
        asked = "the moment asked for" if rush_at else "11.11's midnight"
        console.print(f"the rush came at once: {asked} was {summary.rush.moment_in_s:g} s away, past the "
                      "run's end (a longer --duration meets it)")
    if summary.failed:
        console.print(f"[red]unexpected errors:[/red] {summary.unexpected_errors}")
        raise typer.Exit(1)


@contextmanager
def _night_display(duration: float) -> Iterator[Callable[[Any, float], None]]:
    """A live line of the run's counts on stderr: requests, rate, errors, orders."""
    from rich.live import Live
    from rich.text import Text

    with Live(Text("preparing the shoppers ..."), console=console, refresh_per_second=4,
              transient=False) as live:
        def show(tally: Any, elapsed: float) -> None:  # noqa: ANN401  # simulate.summary.Tally
            rate = tally.total / elapsed if elapsed else 0.0
            live.update(Text(
                f"{min(elapsed, duration):5.1f}/{duration:g} s  {tally.total:,} requests  {rate:,.0f}/s  "
                f"expected errors {sum(tally.expected.values()):,}  "
                f"unexpected {sum(tally.unexpected.values()):,}"
                f"  orders {tally.orders:,}  paid {tally.paid_orders:,}  refunds {tally.refunds:,}"
                f"  missed {tally.missed:,}"))
        yield show


def _print_night(summary: Any) -> None:  # noqa: ANN401  # simulate.Summary
    from rich.table import Table
    table = Table(title=f"festival night: {summary.shoppers:,} shoppers, peak {summary.peak:g}/s, "
                        f"{summary.elapsed_s:g} s, rush at {summary.rush.at_s:g} s ({summary.rush.why})")
    for column in ("kind", "requests", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right")
    for kind, latency in summary.latency.items():
        table.add_row(kind, f"{summary.requests[kind]:,}", f"{latency.p50_ms:.1f}", f"{latency.p99_ms:.1f}",
                      f"{latency.max_ms:.1f}")
    Console().print(table)
    gmv = ", ".join(f"{minor:,} {currency} minor units" for currency, minor in summary.gmv_minor.items())
    Console().print(f"orders {summary.orders:,}, paid {summary.paid_orders:,} (GMV {gmv or 0}), refunds "
                    f"{summary.refunds:,}, rush {summary.rush.orders_per_second:g} orders/s; expected errors "
                    f"{summary.expected_errors}; unexpected {summary.unexpected_errors}")


insights_app = typer.Typer(help="The festival's figures: the big screen's GMV, orders, top lists.",
                           no_args_is_help=True)
app.add_typer(insights_app, name="insights")


@insights_app.command("rebuild")
def insights_rebuild() -> None:
    """Recompute every figure from the orders, payments and refunds, in one snapshot: what the event
    stream counted, counted again from the rows. Events relayed later still count once."""
    from shopfest.app import rebuild_insights
    from shopfest.insights import service as insights
    with clear_errors():
        runtime = _runtime()
        folded = rebuild_insights(runtime)
        figures = insights.screen_figures(runtime.uow(read_only=True),
                                          currency=runtime.settings.reporting_currency)
    typer.echo(f"rebuilt from {folded} sale{'' if folded == 1 else 's'}: {figures['orders']} paid orders, "
               f"GMV {_minor(figures['gmv_minor'], figures['currency'])}, refunded "
               f"{_minor(figures['refunded_minor'], figures['currency'])}")


@insights_app.command("show")
def insights_show(
    as_json: Annotated[bool, typer.Option("--json", help="the screen's figures as JSON on stdout")] = False,
    top: Annotated[int, typer.Option(min=1, max=50, help="how many brands, categories, countries")] = 10,
) -> None:
    """The big screen's figures as the stream has counted them."""
    import json

    from shopfest.insights import service as insights
    with clear_errors():
        runtime = _runtime()
        figures = insights.screen_figures(runtime.uow(read_only=True),
                                          currency=runtime.settings.reporting_currency, top=top)
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
        return
    currency = figures["currency"]
    typer.echo(f"GMV {_minor(figures['gmv_minor'], currency)}  orders {figures['orders']}  "
               f"shoppers {figures['shoppers']}  refunded {_minor(figures['refunded_minor'], currency)}  "
               f"peak {figures['per_second']['peak']}/s")
    for title, rows in (("brand", "brands"), ("category", "categories"), ("country", "countries")):
        for row in figures[rows]:
            typer.echo(f"  {title} {row['name'] or row['key']}: {_minor(row['gmv_minor'], currency)} "
                       f"in {row['orders']} orders")


def _minor(minor: int, currency: str) -> str:
    from shopfest.core.money import Money
    return str(Money(minor, currency))
