"""Schemathesis over every operation of /openapi.json, in process on SQLite: anonymous and signed in as
each role, then its stateful phase along the OpenAPI links (order, then pay, cancel, ship, refund).
Every check: no server error, every status documented, bodies and content types as documented,
405 with `Allow` for methods a path does not have."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis import GenerationMode
from starlette.types import ASGIApp, Receive, Scope, Send

from shopfest import demo
from shopfest.accounts import service as accounts
from shopfest.app import create_app, make_runtime
from shopfest.core.actor import Role
from shopfest.core.clock import SetClock
from shopfest.payments.provider import SandboxProvider
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.conftest import FESTIVAL_EVE

SEED = 1111
EXAMPLES = 20  # per operation and role, in the fuzzing phase
ROLES = ("anonymous", "shopper", "merchant", "operator")


@dataclass(frozen=True)
class Shop:
    """A seeded SQLite file to copy: a small demo catalog, a hot item on flash sale, a plain SKU
    with stock for every order, and a token per role."""

    template: Path
    tokens: dict[str, str]
    sku_id: int

    def headers(self, role: str) -> dict[str, str]:
        token = self.tokens.get(role)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def open(self, path: Path) -> Runtime:
        shutil.copy(self.template, path)
        return make_runtime(Settings(database_url=f"sqlite:///{path}", pool_size=4, rate_limits=UNLIMITED),
                            clock=SetClock(FESTIVAL_EVE, speed=0))


# The rate limits count in windows of real time, so with them the same calls could be answered
# differently on a fast and a slow run, and hypothesis could not replay a scenario; they have tests of
# their own (test_rate_limits.py), and here every answer depends only on the calls made.
UNLIMITED = "off"


def close(runtime: Runtime) -> None:
    runtime.checkout.close()
    runtime.engine.dispose()


def _token(runtime: Runtime, *, email: str, role: Role, merchant_id: int | None = None) -> str:
    password = "festival-secret-1"
    accounts.create_account_unchecked(runtime.uow(), email=email, password=password, role=role,
                                      merchant_id=merchant_id)
    return accounts.sign_in(runtime.uow(), email=email, password=password).secret


class CurrentFestival:
    """The app schemathesis calls: the shop the running test opened."""

    app: ASGIApp | None = None
    sku_id = 0  # the shop's plain SKU, for the bodies the stateful phase sends (see map_body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            # Without the serving lifespan (the sweeper thread, the interpreter tuned for the peak),
            # as the other in-process tests run the app: schemathesis would keep it running until
            # the test process ends.
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert self.app is not None, "no festival is open"
        await self.app(scope, receive, send)


CURRENT = CurrentFestival()


@pytest.fixture(scope="module")
def shop(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Shop:
    folder = tmp_path_factory.mktemp("schemathesis")
    shutil.copy(sqlite_template, folder / "template.db")
    runtime = make_runtime(Settings(database_url=f"sqlite:///{folder / 'template.db'}", pool_size=4,
                                    rate_limits=UNLIMITED),
                           clock=SetClock(FESTIVAL_EVE, speed=0))
    demo.seed(runtime, brands=4, products=12)
    demo.hot_item(runtime, stock=1000, flash_quantity=100, per_shopper_limit=3)
    plain = demo.hot_item(runtime, stock=1_000_000, name="Everyday")
    tokens = {
        "shopper": _token(runtime, email="mei@shopper.test", role=Role.SHOPPER),
        "merchant": _token(runtime, email="li@everyday.test", role=Role.MERCHANT,
                           merchant_id=plain.merchant_id),
        "operator": _token(runtime, email="ops@festival.test", role=Role.OPERATOR),
    }
    close(runtime)  # the last connection closed writes the WAL back: the file alone holds the shop
    CURRENT.sku_id = plain.sku_id
    return Shop(folder / "template.db", tokens, plain.sku_id)


@pytest.fixture(scope="module")
def festival(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """The shop open for the stateless phases, one database for every operation and role."""
    runtime = shop.open(tmp_path_factory.mktemp("schemathesis") / "shop.db")
    CURRENT.app = create_app(runtime=runtime)
    yield shop
    CURRENT.app = None
    close(runtime)


def _config(*, positive_only: bool = False) -> schemathesis.Config:
    config = schemathesis.Config(seed=SEED)
    config.projects.default.generation.update(max_examples=EXAMPLES, deterministic=True, database="none")
    if positive_only:
        config.projects.default.generation.update(modes=[GenerationMode.POSITIVE])
    # Literals harvested from the modules loaded so far would make what is generated depend on
    # which tests ran before: the same cases, whatever runs with this file.
    config.projects.default.analysis.constants.enabled = False
    # A valid request may still break a rule of the festival the schema cannot say (a phase ends
    # after it starts, a cursor this API gave out, an email address): a documented 422, so
    # positive_data_acceptance does not apply. Every other check does.
    config.projects.default.checks.update(excluded_check_names=["positive_data_acceptance"])
    return config


def _schema(*, positive_only: bool = False) -> schemathesis.BaseSchema:
    """The document the app serves (it does not depend on the database), calling CURRENT."""
    document = create_app(Settings(database_url="sqlite://")).openapi()
    loaded = schemathesis.openapi.from_dict(document, config=_config(positive_only=positive_only))
    loaded.app = CURRENT
    return loaded


schema = _schema()


@pytest.fixture(scope="module", params=ROLES)
def role(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@schema.parametrize()
def test_every_operation_answers_as_documented(case: Any, role: str, festival: Shop) -> None:
    case.call_and_validate(headers=festival.headers(role))


# --- the stateful phase: an order, then what its links lead to -------------------------------------

# Paid at once or declined: `sandbox_delay` pays from another thread, later, and a scenario
# hypothesis replays must answer the same.
SANDBOX_METHODS = ("sandbox_ok", "sandbox_fail")
STATEFUL_SCENARIOS = 60
STATEFUL_STEPS = 8


def _orders_schema() -> schemathesis.BaseSchema:
    """The orders' operations, with valid data only (the operations above are fuzzed with invalid
    data too), whose bodies order the plain SKU, pay through the sandbox and refund that SKU:
    random ids and methods would rarely make an order to follow."""
    loaded = _schema(positive_only=True).include(path_regex="^/api/v1/orders")

    @loaded.hook
    def map_body(context: schemathesis.HookContext, body: Any) -> Any:
        label = context.operation.label if context.operation is not None else ""
        if not isinstance(body, dict):
            return body
        if label == "POST /api/v1/orders":
            qty = min(body["lines"][0]["qty"], 3)
            return {"lines": [{"sku_id": CURRENT.sku_id, "qty": qty}], "currency": None, "coupons": []}
        if label == "POST /api/v1/orders/{order_id}/refunds" and body.get("lines"):
            return {**body, "lines": [{**line, "sku_id": CURRENT.sku_id} for line in body["lines"]]}
        if label == "POST /api/v1/orders/{order_id}/pay" and body.get("method") not in SANDBOX_METHODS:
            return {**body, "method": "sandbox_ok"}
        return body

    return loaded


orders_schema = _orders_schema()


class Shopping(orders_schema.as_state_machine()):  # type: ignore[misc]  # made at run time
    """A shopper orders and pays, cancels, or asks a refund; the merchant's staff ship. Each
    scenario starts from the seeded shop, so that hypothesis can replay one: what the links carry
    comes from the answers."""

    shop: Shop
    folder: Path
    scenarios = itertools.count()

    def setup(self) -> None:
        # A file of its own each scenario: nothing a scenario left behind (a write-ahead log) can
        # show in the next, which must answer as the seeded shop does.
        self.runtime = self.shop.open(self.folder / f"scenario-{next(self.scenarios)}.db")
        CURRENT.app = create_app(runtime=self.runtime)
        self.gateway = HeldWebhooks(self.runtime, TestClient(CURRENT.app))

    def teardown(self) -> None:
        CURRENT.app = None
        close(self.runtime)

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        staff = case.operation.label == "POST /api/v1/orders/{order_id}/shipments"
        return {"headers": self.shop.headers("merchant" if staff else "shopper")}

    def after_call(self, response: Any, case: Any) -> None:
        super().after_call(response, case)
        self.gateway.deliver()


class HeldWebhooks:
    """The sandbox gateway's webhooks, posted to the shop once the call that caused them is
    answered, before the next: the app's own inbox applies them on a thread of its own, whose
    writes could land before or after the next call, or in the next scenario's database, so that
    the same steps would not always be answered the same."""

    def __init__(self, runtime: Runtime, client: TestClient) -> None:
        self.client = client
        self.held: list[tuple[bytes, str]] = []
        provider = runtime.provider
        assert isinstance(provider, SandboxProvider)
        provider.deliver = self.hold

    def hold(self, body: bytes, signature: str) -> None:
        self.held.append((body, signature))

    def deliver(self) -> None:
        held, self.held = self.held, []
        for body, signature in held:
            answer = self.client.post("/api/v1/payments/webhooks/sandbox", content=body,
                                      headers={"Shopfest-Signature": signature})
            assert answer.status_code == 200, answer.text


def test_orders_follow_their_links_as_documented(shop: Shop, tmp_path: Path) -> None:
    Shopping.shop, Shopping.folder = shop, tmp_path
    Shopping.run(settings=hypothesis.settings(
        max_examples=STATEFUL_SCENARIOS, stateful_step_count=STATEFUL_STEPS, derandomize=True,
        database=None, deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck)))
