"""Request bodies are capped as they stream in, /price takes at most an order's lines, and pricing
runs off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.app import create_app, make_runtime
from shopfest.core.actor import Role
from shopfest.core.clock import SetClock
from shopfest.demo import hot_item
from shopfest.inventory.store import InventoryStore
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.integration.helpers import bearer, token_for

CAP = 2000
T = TypeVar("T")
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def capped(database_url: str, clock: SetClock) -> Iterator[Runtime]:
    runtime = make_runtime(Settings(database_url=database_url, pool_size=4, max_body_bytes=CAP), clock=clock)
    yield runtime
    runtime.checkout.close()
    runtime.engine.dispose()


def cart(lines: int = 1, *, pad: int = 0, promotions: int = 0) -> bytes:
    """A pricing request of `lines` lines and `promotions` promotions, `pad` bytes of white space longer."""
    body = {"currency": "CNY",
            "lines": [{"id": f"l{n}", "sku": f"k{n}", "merchant": f"m{n % 10}", "unit_price": "299.00",
                       "qty": 2} for n in range(lines)],
            "promotions": [{"id": f"p{n}", "kind": "store_threshold", "merchant": f"m{n % 10}",
                            "tiers": [{"spend": f"{100 + n}.00", "off": "5.00"}]} for n in range(promotions)]}
    return orjson.dumps(body) + b" " * pad


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on a thread of its own: the browser suite's Playwright keeps an event loop
    running on the main thread for the rest of the session."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def assert_too_large(answer: httpx.Response) -> None:
    assert answer.status_code == 413, answer.text
    assert answer.json()["type"] == "/problems/body-too-large"


def test_a_body_over_the_cap_is_refused_whatever_its_content_length_says(capped: Runtime) -> None:
    client = TestClient(create_app(runtime=capped))
    assert client.post("/api/v1/price", content=cart(), headers=JSON).status_code == 200
    # declared too large: refused before it is read
    assert_too_large(client.post("/api/v1/price", content=cart(pad=CAP), headers=JSON))
    # no Content-Length (chunked): refused as it streams past the cap
    big = cart(pad=CAP)
    assert_too_large(client.post("/api/v1/price", content=iter([big[:1000], big[1000:]]), headers=JSON))
    # a form (the sign-in page) alike
    assert client.post("/login", data={"email": "x" * CAP, "password": "p"}).status_code == 413


def test_a_body_longer_than_its_content_length_says_is_refused(capped: Runtime) -> None:
    app = create_app(runtime=capped)
    status, body = run_apart(lying_post(app, "/api/v1/price", cart(pad=CAP), declared=20))
    assert status == 413 and orjson.loads(body)["type"] == "/problems/body-too-large"


async def lying_post(app: FastAPI, path: str, body: bytes, *, declared: int,
                     headers: tuple[tuple[bytes, bytes], ...] = ()) -> tuple[int, bytes]:
    """A POST whose Content-Length says `declared` while `body` arrives in pieces, straight over ASGI."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "client": ("203.0.113.9", 1), "server": ("shop.test", 80), "app": app,
             "headers": [(b"host", b"shop.test"), (b"content-type", b"application/json"),
                         (b"content-length", str(declared).encode()), *headers]}
    pieces = [body[n:n + 500] for n in range(0, len(body), 500)]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        if pieces:
            return {"type": "http.request", "body": pieces.pop(0), "more_body": bool(pieces)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return int(status), b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")  # type: ignore[misc]


def test_the_checkout_lane_refuses_a_body_over_the_cap_and_places_nothing(capped: Runtime) -> None:
    client = TestClient(create_app(runtime=capped))
    phone = hot_item(capped, stock=5)
    accounts.create_account_unchecked(capped.uow(), email="ann@shoppers.test", password="ann-secret-1",
                                      role=Role.SHOPPER)
    ann = bearer(token_for(client, "ann@shoppers.test", "ann-secret-1"))
    line = {"lines": [{"sku_id": phone.sku_id, "qty": 1}]}
    assert client.post("/api/v1/orders", json=line, headers=ann).status_code == 201  # now the lane knows ann
    padded = orjson.dumps(line)[:-1] + b" " * CAP + b"}"
    assert_too_large(client.post("/api/v1/orders", content=iter([padded[:CAP], padded[CAP:]]),
                                 headers={**ann, **JSON}))
    status, _ = run_apart(lying_post(client.app, "/api/v1/orders", padded, declared=len(orjson.dumps(line)),  # type: ignore[arg-type]
                                       headers=((b"authorization", ann["Authorization"].encode()),)))
    assert status == 413
    with capped.engine.connect() as conn:
        assert InventoryStore(conn).levels([phone.sku_id])[phone.sku_id].reserved == 1


def test_price_takes_at_most_as_many_lines_as_an_order(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime=runtime))
    assert client.post("/api/v1/price", content=cart(100), headers=JSON).status_code == 200
    refused = client.post("/api/v1/price", content=cart(101), headers=JSON)
    assert refused.status_code == 422 and refused.json()["field"] == "lines"


def test_a_body_that_is_not_json_is_a_malformed_body_on_price(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime=runtime))
    refused = client.post("/api/v1/price", content=b"{\"currency\": ", headers=JSON)
    assert refused.status_code == 400 and refused.json()["type"] == "/problems/malformed-body"


def test_a_large_cart_is_priced_off_the_event_loop(runtime: Runtime) -> None:
    # given a cart of 100 lines and 3,000 promotions (under 1 MB) asked to be priced, then /healthz
    app = create_app(runtime=runtime)
    finished = run_apart(price_then_healthz(app, cart(100, promotions=3000)))
    # then /healthz is answered while the cart is being priced, not after
    assert finished == [("/healthz", 200), ("/api/v1/price", 200)]


async def price_then_healthz(app: FastAPI, body: bytes) -> list[tuple[str, int]]:
    finished: list[tuple[str, int]] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test") as http:

        async def ask(path: str, content: bytes | None = None) -> None:
            answer = await (http.post(path, content=content, headers=JSON) if content else http.get(path))
            finished.append((path, answer.status_code))

        await asyncio.gather(ask("/api/v1/price", body), ask("/healthz"))
    return finished


def test_the_default_cap_is_one_megabyte(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime=runtime))
    assert_too_large(client.post("/api/v1/price", content=cart(pad=1024 * 1024), headers=JSON))


def test_every_operation_taking_a_body_documents_413(runtime: Runtime) -> None:
    paths = TestClient(create_app(runtime=runtime)).get("/openapi.json").json()["paths"]
    with_body = [(path, op) for path, ops in paths.items() for op in ops.values() if "requestBody" in op]
    assert with_body and all("413" in op["responses"] for _, op in with_body)
