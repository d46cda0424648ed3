"""/metrics and the request log: every answer carries its request id, the figures move with what the
server does, only those allowed read them, and `serve --workers 2` adds up the figures of both."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from shopfest.accounts import service as accounts
from shopfest.app import create_app, make_runtime
from shopfest.core.actor import Role
from shopfest.core.clock import SetClock
from shopfest.demo import hot_item
from shopfest.inventory.hot_path import WatchedGate
from shopfest.inventory.redis_gate import RedisGate
from shopfest.logs import JsonFormatter
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.conftest import FESTIVAL_EVE
from tests.integration.helpers import bearer, token_for
from tests.servers import _LOCAL, _free_port, _wait_until_healthy, server_env, shopfest

LOOPBACK = ("127.0.0.1", 50000)


@pytest.fixture(scope="module")
def shop(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[TestClient, Runtime]]:
    """One SQLite shop for the module, its app reached from loopback, with a route that fails."""
    path = tmp_path_factory.mktemp("metrics") / "shop.db"
    shutil.copy(sqlite_template, path)
    runtime = make_runtime(Settings(database_url=f"sqlite:///{path}", pool_size=4),
                           clock=SetClock(FESTIVAL_EVE, speed=0))
    app = create_app(runtime=runtime)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    yield TestClient(app, client=LOOPBACK, raise_server_exceptions=False), runtime
    runtime.checkout.close()
    runtime.engine.dispose()


def figure(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and labels.items() <= sample.labels.items())


def test_every_answer_carries_a_request_id_kept_when_sane(shop: tuple[TestClient, Runtime]) -> None:
    client, _ = shop
    assert client.get("/healthz", headers={"X-Request-ID": "lb:7f3a.9-x_1"}).headers["x-request-id"] == \
        "lb:7f3a.9-x_1"
    for insane in ("a" * 65, "has space", "semi;colon", ""):
        made = client.get("/healthz", headers={"X-Request-ID": insane}).headers["x-request-id"]
        assert made != insane and re.fullmatch(r"[0-9a-f]{32}", made)
    missing = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and re.fullmatch(r"[0-9a-f]{32}", missing.headers["x-request-id"])
    too_big = client.post("/api/v1/orders", content=b"x" * 2_000_000, headers={"X-Request-ID": "big"})
    assert too_big.status_code == 413 and too_big.headers["x-request-id"] == "big"
    failed = client.get("/boom", headers={"X-Request-ID": "bug-1"})
    assert failed.status_code == 500 and failed.headers["x-request-id"] == "bug-1"
    assert failed.headers["content-type"] == "application/problem+json"
    assert failed.json()["request_id"] == "bug-1" and failed.json()["type"] == "/problems/internal-error"
    assert failed.headers["x-content-type-options"] == "nosniff"  # the security headers too
    with client.websocket_connect("/api/v1/live/events/999/ws", headers={"X-Request-ID": "ws-1"}) as ws:
        assert ws.receive_json()[0]["code"] == "not-found"
        assert (b"x-request-id", b"ws-1") in ws.extra_headers


def test_one_json_line_per_request_and_per_error(shop: tuple[TestClient, Runtime],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    client, _ = shop
    with caplog.at_level(logging.INFO, logger="shopfest"):
        client.get("/api/v1/products/123456", headers={"X-Request-ID": "look-1"})
        client.get("/boom", headers={"X-Request-ID": "bug-2"})
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    seen = next(line for line in lines if line["logger"] == "shopfest.access" and line["status"] == 404)
    assert seen["request_id"] == "look-1" and seen["method"] == "GET" and seen["level"] == "info"
    assert seen["route"] == "/api/v1/products/{product_id}" and seen["client"] == "127.0.0.1:50000"
    assert isinstance(seen["duration_ms"], float) and seen["time"].endswith("Z")
    error = next(line for line in lines if line["logger"] == "shopfest.errors")
    assert error["request_id"] == "bug-2" and error["level"] == "error"
    assert "RuntimeError: a bug" in error["traceback"]


def test_figures_move_with_a_checkout_and_a_sold_out_refusal(shop: tuple[TestClient, Runtime]) -> None:
    client, runtime = shop
    phone = hot_item(runtime, stock=1, name="Solo")
    before = client.get("/metrics").text
    for name in ("ann", "bob"):
        accounts.create_account_unchecked(runtime.uow(), email=f"{name}@shoppers.test",
                                          password="shop-secret-1", role=Role.SHOPPER)
        answer = client.post("/api/v1/orders", json={"lines": [{"sku_id": phone.sku_id, "qty": 1}]},
                             headers=bearer(token_for(client, f"{name}@shoppers.test", "shop-secret-1")))
        assert answer.status_code == (201 if name == "ann" else 409), answer.text
    assert client.get("/no/such/page").status_code == 404
    after = client.get("/metrics").text

    def moved(name: str, **labels: str) -> float:
        return figure(after, name, **labels) - figure(before, name, **labels)

    assert moved("shopfest_http_requests_total", route="/api/v1/orders", method="POST", status="201") == 1
    assert moved("shopfest_http_requests_total", route="/api/v1/orders", status="409") == 1
    assert moved("shopfest_http_request_duration_seconds_count", route="/api/v1/orders") == 2
    # The refusal comes from a batch, or from memory when it follows the sold-out batch closely.
    assert moved("shopfest_checkout_batch_size_count") in (1, 2)
    assert moved("shopfest_checkout_batch_size_sum") == moved("shopfest_checkout_batch_size_count")
    assert moved("shopfest_checkout_commit_seconds_count") == moved("shopfest_checkout_batch_size_count")
    assert moved("shopfest_stock_refusals_total", reason="sold-out") == 1
    for name in ("shopfest_http_requests_in_flight", "shopfest_redis_errors_total",
                 "shopfest_database_errors_total", "shopfest_unhandled_errors_total"):
        assert f"# TYPE {name.removesuffix('_total')}" in after
    assert 'route="/no/such/page"' not in after  # a raw path is never a label
    assert figure(after, "shopfest_http_requests_total", route="unmatched") >= 1


def test_redis_and_database_errors_are_counted_by_operation_and_kind(
        shop: tuple[TestClient, Runtime]) -> None:
    client, runtime = shop
    before = client.get("/metrics").text
    nobody = redis.Redis(port=_free_port(), socket_connect_timeout=1)  # a port nothing listens on
    with pytest.raises(redis.ConnectionError):
        WatchedGate(RedisGate(nobody), redis.RedisError).recount()
    with pytest.raises(OperationalError), runtime.engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    after = client.get("/metrics").text
    for name, labels in (("shopfest_redis_errors_total", {"operation": "stock.recount",
                                                          "kind": "ConnectionError"}),
                         ("shopfest_database_errors_total", {"operation": "select",
                                                             "kind": "OperationalError"})):
        assert figure(after, name, **labels) - figure(before, name, **labels) == 1


def test_metrics_are_for_loopback_or_the_bearer_of_the_token(shop: tuple[TestClient, Runtime]) -> None:
    client, runtime = shop
    outside = TestClient(client.app, client=("203.0.113.9", 40000))
    refused = outside.get("/metrics")
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/metrics-forbidden"
    assert refused.headers["x-request-id"]
    settings = runtime.settings
    runtime.settings = dataclasses.replace(settings, metrics_token="s3cret-token")
    try:
        assert outside.get("/metrics", headers=bearer("s3cret-token")).status_code == 200
        assert outside.get("/metrics", headers=bearer("wrong")).status_code == 403
        assert client.get("/metrics").status_code == 403  # with a token set, loopback needs it too
    finally:
        runtime.settings = settings


def _get(url: str, headers: dict[str, str] | None = None) -> str:
    with _LOCAL.open(urllib.request.Request(url, headers=headers or {}), timeout=10) as answer:
        return str(answer.read().decode())


def _healthz_by_worker(folder: Path) -> dict[int, float]:
    """Requests to /healthz each worker counted, read from its own file."""
    counted: dict[int, float] = {}
    for path in folder.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for family in MultiProcessCollector.merge([str(path)]):  # type: ignore[no-untyped-call]  # untyped
            for sample in family.samples:
                if sample.name == "shopfest_http_requests_total" and sample.labels["route"] == "/healthz":
                    counted[pid] = counted.get(pid, 0) + sample.value
    return counted


def test_two_workers_figures_add_up(sqlite_template: Path, tmp_path: Path) -> None:
    """Given `serve --workers 2`, when /healthz is asked until both workers have answered, then /metrics
    (from either) counts every one, also once one is killed, and the log is one JSON object a line."""
    shutil.copy(sqlite_template, tmp_path / "shop.db")
    folder, port, log = tmp_path / "figures", _free_port(), tmp_path / "server.log"
    env = {**server_env(f"sqlite:///{tmp_path / 'shop.db'}", "2027-11-10T23:55:00+08:00"),
           "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    with log.open("wb") as out:
        process = subprocess.Popen(shopfest("serve", "--port", str(port), "--workers", "2"), env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base, process, log)
        sent = 1 + _ask_until_both_answered(base, folder)  # and the one that found it started
        shown = _get(f"{base}/metrics")
        assert figure(shown, "shopfest_http_requests_total", route="/healthz", status="200") == sent
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        assert any(line.get("route") == "/healthz" and line["status"] == 200 and line["request_id"]
                   for line in lines)
        # A worker killed: its requests stay counted, its in-flight gauge goes at the next scrapes.
        dead = min(_healthz_by_worker(folder))
        os.kill(dead, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while (folder / f"gauge_livesum_{dead}.db").exists() and time.monotonic() < deadline:
            shown = _get(f"{base}/metrics")
            time.sleep(0.2)
        assert not (folder / f"gauge_livesum_{dead}.db").exists()
        assert figure(shown, "shopfest_http_requests_total", route="/healthz", status="200") == sent
    finally:
        process.terminate()
        process.wait(timeout=20)


def _ask_until_both_answered(base: str, folder: Path) -> int:
    """Ask /healthz in bursts of 16 at once until two workers have counted some; how many were asked."""
    sent, deadline = 0, time.monotonic() + 30
    with ThreadPoolExecutor(16) as pool:
        while time.monotonic() < deadline:
            list(pool.map(lambda _: _get(f"{base}/healthz", {"Connection": "close"}), range(16)))
            sent += 16
            if len([c for c in _healthz_by_worker(folder).values() if c]) >= 2:
                break
        else:
            pytest.fail(f"both workers did not answer within 30 s: {_healthz_by_worker(folder)}")
    # A request is counted as its answer ends, a moment after the client has read it.
    while sum(_healthz_by_worker(folder).values()) <= sent and time.monotonic() < deadline:
        time.sleep(0.05)
    return sent


def test_serve_refuses_a_log_format_it_does_not_know(sqlite_template: Path, tmp_path: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "shop.db")
    env = {**server_env(f"sqlite:///{tmp_path / 'shop.db'}", "2027-11-10T23:55:00+08:00"),
           "SHOPFEST_LOG_FORMAT": "xml"}
    done = subprocess.run(shopfest("serve", "--port", str(_free_port())), env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "SHOPFEST_LOG_FORMAT is json or text" in done.stdout + done.stderr


def test_with_failed_only_a_failed_or_slow_answer_gets_a_line(caplog: pytest.LogCaptureFixture) -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from shopfest import request_watch

    async def ok(_: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def down(_: object) -> PlainTextResponse:
        return PlainTextResponse("down", status_code=503)

    inner = Starlette(routes=[Route("/ok", ok), Route("/down", down)])
    client = TestClient(request_watch.RequestWatch(inner, log_all=False))
    with caplog.at_level(logging.INFO, logger="shopfest"):
        # given only failures logged, when a request succeeds, one is refused 503 and one is not found
        assert client.get("/ok", headers={"X-Request-ID": "fine-1"}).status_code == 200
        assert client.get("/down", headers={"X-Request-ID": "down-2"}).status_code == 503
        assert client.get("/nowhere", headers={"X-Request-ID": "lost-3"}).status_code == 404
    # then the 503 alone has a line; every answer still carries its id
    logged = [getattr(r, "request_id", None) for r in caplog.records if r.name == "shopfest.access"]
    assert logged == ["down-2"]
    # and a bad setting is refused by name
    with pytest.raises(Exception, match="SHOPFEST_LOG_REQUESTS"):
        Settings.from_env({"SHOPFEST_DATABASE_URL": "sqlite://", "SHOPFEST_LOG_REQUESTS": "some"})
