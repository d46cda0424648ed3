"""How long a paid order takes to reach a connected big screen while checkout runs at its HTTP peak.

`shopfest serve` in its own process; wrk places orders on a hot SKU as fast as the server takes them
(the checkout's HTTP peak, measured here too); meanwhile one probing shopper places an order, pays it,
and waits until a screen connected over Server-Sent Events shows one more paid order. Only the probe
pays, so each paid order moves the figure by exactly one and the moment it shows is unambiguous.
Each sample is timed twice: from the pay request sent, and from its answer received (the payment has
committed by then).
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from shopfest.accounts import service as accounts
from shopfest.bench import http_burst
from shopfest.core.actor import Role
from shopfest.demo import hot_item
from shopfest.runtime import Runtime

OPERATOR = ("bench-operator@shopfest.bench", "bench-operator-secret")


@dataclass(frozen=True)
class ScreenLatency:
    samples: int
    from_pay_sent_p50_ms: float
    from_pay_sent_p99_ms: float
    from_paid_p50_ms: float
    from_paid_p99_ms: float
    slowest_ms: float
    checkout_orders_per_second: float  # wrk's rate while the samples were taken
    checkout_p99_ms: float


class ScreenWatch:
    """A screen connected to `/screen/events`: the paid-order count it last showed, and when."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._orders = -1
        self._seen_at = 0.0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="screen watch", daemon=True)

    def __enter__(self) -> ScreenWatch:
        self._thread.start()
        self.wait_for(lambda orders: orders >= 0, timeout_s=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def wait_for(self, wanted: Any, *, timeout_s: float) -> float:  # noqa: ANN401  # a predicate on orders
        """The monotonic time the screen first showed a count `wanted` accepts."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not wanted(self._orders):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"the screen still shows {self._orders} paid orders after "
                                       f"{timeout_s} s")
                self._changed.wait(left)
            return self._seen_at

    @property
    def orders(self) -> int:
        with self._changed:
            return self._orders

    def _watch(self) -> None:
        with httpx.Client(timeout=httpx.Timeout(5, read=60)) as client, \
                client.stream("GET", self._url, headers={"Accept": "text/event-stream"}) as answer:
            answer.raise_for_status()
            for figures in _sse_data(answer.iter_lines()):
                seen = time.monotonic()
                with self._changed:
                    self._orders, self._seen_at = int(figures["orders"]), seen
                    self._changed.notify_all()
                if self._stop.is_set():
                    return


def _sse_data(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The data of each `figures` event on a Server-Sent Events stream."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if event == "figures" and data:
                yield json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def measure(runtime: Runtime, *, seconds: int = 10, connections: int = 16,
            shoppers: int = 16) -> ScreenLatency:
    """Screen latency samples for `seconds` while wrk places orders with `connections` shoppers."""
    item = hot_item(runtime, stock=10_000_000, name="Screen")
    tokens = http_burst.signed_in_shoppers(runtime, shoppers + 1)
    probe, crowd = tokens[0], tokens[1:]
    accounts.create_account_unchecked(runtime.uow(), email=OPERATOR[0], password=OPERATOR[1],
                                      role=Role.OPERATOR)
    operator = accounts.sign_in(runtime.uow(), email=OPERATOR[0], password=OPERATOR[1]).secret
    folder = Path(tempfile.mkdtemp(prefix="shopfest-screen-"))
    process, base = http_burst.serve_for(runtime.settings, runtime.clock.now().isoformat(),
                                         folder / "server.log")
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            key = http.post("/api/v1/insights/screen-links",
                            headers={"Authorization": f"Bearer {operator}"}).raise_for_status().json()["key"]
            with ScreenWatch(f"{base}/screen/events?key={key}") as screen:
                load = _Crowd(base, http_burst.order_script(folder, crowd, item.sku_id), connections, seconds)
                load.start()
                sent, paid = _probe(http, screen, token=probe, sku_id=item.sku_id, until=load)
                crowd_run = load.result()
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    return ScreenLatency(len(sent), _percentile(sent, 50), _percentile(sent, 99), _percentile(paid, 50),
                         _percentile(paid, 99), round(max(sent, default=0.0), 1),
                         crowd_run.requests_per_second, crowd_run.p99_ms)


class _Crowd(threading.Thread):
    """wrk placing orders for `seconds`, in a thread so the probe runs beside it (none with no
    connections: the probe is then timed on a quiet server)."""

    def __init__(self, base: str, script: Path, connections: int, seconds: int) -> None:
        super().__init__(name="wrk crowd", daemon=True)
        self._args = (base, script, connections, seconds)
        self._run: http_burst.HttpRun | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        base, script, connections, seconds = self._args
        if connections == 0:  # no crowd: the probe alone, for `seconds`
            time.sleep(seconds)
            self._run = http_burst.HttpRun("/api/v1/orders", 0, 0.0, float("nan"), float("nan"), 0)
            return
        try:
            output = http_burst.wrk(base, connections=connections, seconds=seconds, script=script)
            self._run = http_burst.parse("/api/v1/orders", output)
        except BaseException as error:  # noqa: BLE001  # handed to the caller by result()
            self._error = error

    def result(self) -> http_burst.HttpRun:
        self.join()
        if self._run is None:
            raise RuntimeError(f"wrk failed: {self._error}")
        return self._run


def _probe(http: httpx.Client, screen: ScreenWatch, *, token: str, sku_id: int,
           until: threading.Thread) -> tuple[list[float], list[float]]:
    """Place, pay and watch one order at a time while the crowd runs: ms from the pay request sent, and
    from its answer, to the screen showing it."""
    auth = {"Authorization": f"Bearer {token}"}
    sent_ms: list[float] = []
    paid_ms: list[float] = []
    while until.is_alive():
        placed = http.post("/api/v1/orders", json={"lines": [{"sku_id": sku_id, "qty": 1}]}, headers=auth)
        if placed.status_code != 201:
            time.sleep(0.05)
            continue
        before = screen.orders
        started = time.monotonic()
        answer = http.post(f"/api/v1/orders/{placed.json()['id']}/pay", json={"method": "sandbox_ok"},
                           headers={**auth, "Idempotency-Key": str(uuid.uuid4())})
        answered = time.monotonic()
        if answer.status_code != 200 or answer.json()["status"] != "paid":
            raise RuntimeError(f"the probe's payment failed: {answer.status_code} {answer.text[:200]}")
        shown = screen.wait_for(lambda orders, want=before + 1: orders >= want, timeout_s=30)
        sent_ms.append((shown - started) * 1000)
        paid_ms.append(max(0.0, shown - answered) * 1000)
    return sent_ms, paid_ms


def _percentile(values: list[float], percent: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[percent - 1], 1)
