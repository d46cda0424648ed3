"""The big screen against a real `shopfest serve`: who may watch /screen and its event stream (an
operator, a shared link's holder; not the signed-out, shoppers, or a bad, expired or revoked link), the
stream's figures with their versions as event ids, resuming with Last-Event-ID (nothing twice when
nothing changed, the newer figures at once when something did, a garbage id ignored), and the stream
ending when the server shuts down."""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from shopfest.accounts import service as accounts
from shopfest.app import make_runtime
from shopfest.core.actor import Role
from shopfest.core.clock import SetClock
from shopfest.core.ids import digest, new_secret
from shopfest.demo import hot_item
from shopfest.insights.screen_link_store import ScreenLinkStore
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from shopfest.web.csrf import CSRF_COOKIE
from tests.conftest import at
from tests.servers import Server, start_server

SERVER_CLOCK = "2027-11-11T00:00:30+08:00"  # the 11.11 sale just open
WITHIN = 10.0  # seconds any one answer or event may take: a bound, not a speed


@dataclass
class Screen:
    server: Server
    runtime: Runtime
    http: httpx.Client
    ops: dict[str, str]


def _token(http: httpx.Client, runtime: Runtime, email: str, role: Role) -> dict[str, str]:
    accounts.create_account_unchecked(runtime.uow(), email=email, password="screen-secret-1", role=role)
    answer = http.post("/api/v1/auth/token", json={"email": email, "password": "screen-secret-1"})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture(scope="module")
def screen(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Screen]:
    folder = tmp_path_factory.mktemp("screen")
    shutil.copy(sqlite_template, folder / "shop.db")
    url = f"sqlite:///{folder / 'shop.db'}"
    runtime = make_runtime(Settings(database_url=url, pool_size=2), clock=SetClock(at(SERVER_CLOCK), speed=0))
    server = start_server(url, clock=SERVER_CLOCK, log_dir=folder)
    http = httpx.Client(base_url=server.base_url, timeout=WITHIN, trust_env=False)
    try:
        yield Screen(server, runtime, http, _token(http, runtime, "ops@screen.test", Role.OPERATOR))
    finally:
        http.close()
        if server.process.poll() is None:
            server.process.terminate()
            server.process.wait(timeout=WITHIN)
        runtime.checkout.close()
        runtime.engine.dispose()


def events(http: httpx.Client, path: str, *, count: int, headers: dict[str, str] | None = None,
           until_new: bool = False) -> list[dict[str, str]]:
    """The first `count` events of the stream at `path` (or, `until_new`, up to the first with an id
    past the Last-Event-ID sent), each as its fields."""
    found: list[dict[str, str]] = []
    with http.stream("GET", path, headers=headers or {}) as answer:
        assert answer.status_code == 200, answer.read()
        assert answer.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in answer.iter_lines():
            if line.startswith(":"):
                continue  # a ping
            if line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
                continue
            if "data" in fields:
                found.append(fields)
                if until_new and "id" in fields and fields["id"] != (headers or {}).get("Last-Event-ID"):
                    break
                if len(found) == count:
                    break
            fields = {}
    return found


def version_of(event: dict[str, str]) -> int:
    assert event["event"] == "figures"
    return int(orjson.loads(event["data"])["version"])


def pay_an_order(screen: Screen) -> int:
    """A shopper orders a phone and pays for it through the API; its total in minor units."""
    phone = hot_item(screen.runtime, stock=5, price="5999.00")
    ann = _token(screen.http, screen.runtime, f"ann-{phone.sku_id}@screen.test", Role.SHOPPER)
    placed = screen.http.post("/api/v1/orders", headers=ann,
                              json={"lines": [{"sku_id": phone.sku_id, "qty": 1}]})
    assert placed.status_code == 201, placed.text
    paid = screen.http.post(f"/api/v1/orders/{placed.json()['id']}/pay", headers=ann,
                            json={"method": "sandbox_ok"})
    assert paid.status_code == 200, paid.text
    return 599900


def test_operators_and_link_holders_watch_and_nobody_else(screen: Screen) -> None:
    http, ops = screen.http, screen.ops
    # the signed-out go to sign in; the stream tells them 401
    assert http.get("/screen").headers["location"] == "/login?next=%2Fscreen"
    assert http.get("/screen/events").status_code == 401
    # a shopper gets the 403 page and a 403 problem, and may make no link
    shopper = _token(http, screen.runtime, "bea@screen.test", Role.SHOPPER)
    assert http.get("/screen", headers=shopper).status_code == 403
    assert http.get("/screen/events", headers=shopper).status_code == 403
    assert http.post("/api/v1/insights/screen-links", headers=shopper).status_code == 403
    # an operator sees the figures, rendered before any script runs, under the pages' CSP
    page = http.get("/screen", headers=ops)
    assert page.status_code == 200 and 'data-figure="gmv"' in page.text and "CN¥" in page.text
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert "/static/uplot/uPlot.iife.min.js" in page.text
    assert http.get("/static/uplot/uPlot.iife.min.js").status_code == 200
    # and makes a link: whoever holds it watches without signing in, read-only (no share form)
    made = http.post("/api/v1/insights/screen-links", headers=ops)
    assert made.status_code == 201 and made.json()["open"] is True
    shared = http.get(made.json()["path"])
    assert shared.status_code == 200 and 'action="/screen/links"' not in shared.text
    assert version_of(events(http, f"/screen/events?key={made.json()['key']}", count=1)[0]) >= 0
    # the page's own button makes one too, shown once on the page that answers; not for a shopper
    form = {"csrf_token": http.cookies[CSRF_COOKIE]}
    assert http.post("/screen/links", headers=shopper, data=form).status_code == 403
    button = http.post("/screen/links", headers=ops, data=form)
    shown = re.search(r"/screen\?key=([\w-]+)", button.text)
    assert button.status_code == 200 and shown is not None
    assert http.get("/screen", params={"key": shown.group(1)}).status_code == 200
    # a made-up key, a malformed one, an expired one and a revoked one open nothing, and nothing fails
    expired = new_secret()
    with screen.runtime.engine.begin() as conn:
        ScreenLinkStore(conn).add(key_digest=digest(expired), made_by=1, made_at=at("2027-11-01T00:00:00Z"),
                                  expires_at=at(SERVER_CLOCK) - timedelta(days=1))
    revoked = http.delete(f"/api/v1/insights/screen-links/{made.json()['id']}", headers=ops)
    assert revoked.status_code == 200 and revoked.json()["open"] is False
    for key in (new_secret(), "%00<script>", "x" * 5000, expired, made.json()["key"]):
        assert http.get("/screen", params={"key": key}).status_code == 403
        assert http.get("/screen/events", params={"key": key}).status_code == 403
    assert http.delete("/api/v1/insights/screen-links/999999", headers=ops).status_code == 404


def test_the_stream_carries_versions_and_resumes_with_last_event_id(screen: Screen) -> None:
    http, ops = screen.http, screen.ops
    # a new screen gets the figures at once, with their version as the event's id
    first = events(http, "/screen/events", count=1, headers=ops)[0]
    version = version_of(first)
    assert first["id"] == str(version) and "retry" in first
    # a screen resuming at that version gets nothing twice: nothing at once, then refreshes without an id
    again = events(http, "/screen/events", count=2, headers={**ops, "Last-Event-ID": str(version)})
    assert [version_of(e) for e in again] == [version, version] and all("id" not in e for e in again)
    # a garbage Last-Event-ID is no version: the screen starts afresh
    for garbage in ("abc", "-5", "1" * 40, "12 34"):
        fresh = events(http, "/screen/events", count=1, headers={**ops, "Last-Event-ID": garbage})[0]
        assert fresh["id"] == str(version)
    # when an order is paid, a watching screen gets the new figures with their new version
    with http.stream("GET", "/screen/events", headers=ops) as watching:
        next(watching.iter_lines())  # connected
        total = pay_an_order(screen)
    after = events(http, "/screen/events", count=30, headers={**ops, "Last-Event-ID": str(version)},
                   until_new=True)[-1]
    figures = orjson.loads(after["data"])
    assert int(after["id"]) == figures["version"] > version
    assert figures["gmv_minor"] == orjson.loads(first["data"])["gmv_minor"] + total
    # and a screen that dropped before it resumes with the newer figures as its first event
    resumed = events(http, "/screen/events", count=1, headers={**ops, "Last-Event-ID": str(version)})[0]
    assert resumed["id"] == after["id"]


def test_open_streams_end_when_the_server_shuts_down(screen: Screen) -> None:
    with screen.http.stream("GET", "/screen/events", headers=screen.ops) as watching:
        lines = watching.iter_lines()
        next(lines)
        screen.server.process.terminate()
        # the stream ends (a read past WITHIN would fail the test): sse-starlette cancels it mid-body,
        # which an EventSource takes as a dropped connection and reconnects, to the next server
        with contextlib.suppress(httpx.RemoteProtocolError):
            for _ in lines:
                pass
    # and the server stops (uvicorn raises the SIGTERM again once it has shut down): an open stream
    # would otherwise hold its graceful shutdown for ever
    assert screen.server.process.wait(timeout=WITHIN) in (0, -signal.SIGTERM)
