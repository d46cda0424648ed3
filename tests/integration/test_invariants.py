"""Festival night as random sequences of what shoppers, merchants, the gateway and the clock do, over the
real services on SQLite and PostgreSQL; after every step the audit finds no row breaking an invariant.
A night: orders (some paid at once), payments that succeed, are declined or wait on the gateway, its
webhooks early, late and repeated, cancels, lapses, shipments, refunds, returns asked and decided."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from shopfest.app import make_runtime
from shopfest.audit.service import audit
from shopfest.core.actor import Actor, Role
from shopfest.core.clock import SetClock
from shopfest.core.errors import DomainError
from shopfest.demo import HotItem, hot_item
from shopfest.orders import service as orders
from shopfest.orders.drafting import PlaceOrder
from shopfest.payments import service as payments
from shopfest.payments.provider import SandboxProvider
from shopfest.settings import Settings
from tests.conftest import DATABASE_KINDS, FESTIVAL_EVE, _truncate_all

SHOPPERS = (101, 102, 103)
CURRENCIES = ("CNY", "USD", "JPY")
METHODS = ("sandbox_ok", "sandbox_fail", "sandbox_delay")


class FestivalNight(RuleBasedStateMachine):
    """Two SKUs, one in a flash sale; three shoppers; a gateway that answers when the machine says."""

    placed = Bundle("placed")

    def __init__(self, fresh_database: Callable[[], str]) -> None:
        super().__init__()
        self.clock = SetClock(FESTIVAL_EVE, speed=0)
        self.runtime = make_runtime(Settings(database_url=fresh_database(), pool_size=2), clock=self.clock)
        secret = self.runtime.settings.webhook_secret
        self.gateway = SandboxProvider(secret, deliver=None, delay_seconds=None, clock=self.clock)
        self.runtime.provider = self.gateway
        self.items: list[HotItem] = [
            hot_item(self.runtime, stock=12, price="3.37", name="Lantern"),
            hot_item(self.runtime, stock=5, price="1999.99", flash_quantity=3, per_shopper_limit=2,
                     name="Comet"),
        ]

    def teardown(self) -> None:
        self.runtime.checkout.close()
        self.runtime.engine.dispose()

    def _try(self, action: Callable[[], Any]) -> Any:
        """Refusals are part of the night; anything else fails the run."""
        try:
            return action()
        except DomainError:
            return None

    @initialize(target=placed, qty=st.integers(1, 3), currency=st.sampled_from(CURRENCIES))
    def a_paid_and_shipped_order(self, qty: int, currency: str) -> MultipleResults[int]:
        placed = self.place_and_pay(SHOPPERS[0], 0, qty, currency, "sandbox_ok")
        for order_id in placed.values:
            self.merchant_ships(order_id)
        return placed

    @initialize(target=placed, qty=st.integers(1, 2), currency=st.sampled_from(CURRENCIES))
    def a_paid_flash_order(self, qty: int, currency: str) -> MultipleResults[int]:
        return self.place_and_pay(SHOPPERS[1], 1, qty, currency, "sandbox_ok")

    @rule(target=placed, shopper=st.sampled_from(SHOPPERS), item=st.integers(0, 1), qty=st.integers(1, 3),
          currency=st.sampled_from(CURRENCIES))
    def place(self, shopper: int, item: int, qty: int, currency: str) -> MultipleResults[int]:
        command = PlaceOrder(shopper, ((self.items[item].sku_id, qty),), currency)
        answer = self._try(lambda: self.runtime.checkout.place(command).result(timeout=30))
        return multiple() if answer is None else multiple(int(answer.receipt["id"]))

    @rule(target=placed, shopper=st.sampled_from(SHOPPERS), item=st.integers(0, 1), qty=st.integers(1, 3),
          currency=st.sampled_from(CURRENCIES), method=st.sampled_from(METHODS))
    def place_and_pay(self, shopper: int, item: int, qty: int, currency: str,
                      method: str) -> MultipleResults[int]:
        placed = self.place(shopper, item, qty, currency)
        for order_id in placed.values:
            self.pay(order_id, method)
        return placed

    @rule(order_id=placed, method=st.sampled_from(METHODS))
    def pay(self, order_id: int, method: str) -> None:
        self._try(lambda: orders.pay_order(self.runtime.uow(), self.gateway, self._shopper_of(order_id),
                                           order_id=order_id, method=method))

    @rule()
    def gateway_settles_delayed_charges(self) -> None:
        self.gateway.settle_pending()

    @rule(pick=st.integers(0, 10_000))
    def a_webhook_arrives(self, pick: int) -> None:
        """Any event the gateway sent, again or late or before one sent earlier."""
        if self.gateway.sent:
            body, signature = self.gateway.sent[pick % len(self.gateway.sent)]
            self._try(lambda: self._receive(body, signature))

    def _receive(self, body: bytes, signature: str) -> None:
        with self.runtime.uow() as uow:
            payments.receive_webhook(uow, body=body, signature=signature,
                                     secret=self.runtime.settings.webhook_secret)
            uow.commit()

    @rule(order_id=placed)
    def cancel(self, order_id: int) -> None:
        self._try(lambda: orders.cancel_order(self.runtime.uow(), self.runtime.gate,
                                              self._shopper_of(order_id), order_id))

    @rule(minutes=st.sampled_from((1, 16, 16, 60 * 24)))
    def time_passes(self, minutes: int) -> None:
        self.clock.set(self.clock.now() + timedelta(minutes=minutes))
        orders.release_lapsed(self.runtime.uow(), self.runtime.gate)

    @rule(order_id=placed)
    def merchant_ships(self, order_id: int) -> None:
        for item in self.items:
            staff = Actor(0, Role.MERCHANT, item.merchant_id)
            self._try(lambda staff=staff: orders.ship(self.runtime.uow(), staff, order_id=order_id,
                                                      carrier="SF Express", tracking="SF1111"))

    @rule(order_id=placed, item=st.integers(0, 1), units=st.integers(1, 2), by_merchant=st.booleans(),
          back_on_shelf=st.booleans())
    def refund(self, order_id: int, item: int, units: int, by_merchant: bool, back_on_shelf: bool) -> None:
        sold = self.items[item]
        actor = Actor(0, Role.MERCHANT, sold.merchant_id) if by_merchant else self._shopper_of(order_id)
        self._try(lambda: orders.refund_order(
            self.runtime.uow(), self.gateway, actor, order_id=order_id, lines=[(sold.sku_id, units)],
            back_on_shelf=back_on_shelf, refund_key=uuid.uuid4().hex))

    @rule(order_id=placed, item=st.integers(0, 1), units=st.integers(1, 2))
    def shopper_asks_for_a_return(self, order_id: int, item: int, units: int) -> None:
        self._try(lambda: orders.ask_for_return(
            self.runtime.uow(), self._shopper_of(order_id), order_id=order_id,
            lines=[(self.items[item].sku_id, units)], reason="not as pictured"))

    @rule(order_id=placed, accept=st.booleans(), goods_back=st.booleans())
    def merchant_decides_returns(self, order_id: int, accept: bool, goods_back: bool) -> None:
        for item in self.items:
            staff = Actor(0, Role.MERCHANT, item.merchant_id)
            seen = self._try(lambda staff=staff: orders.get_order(self.runtime.uow(), staff, order_id))
            for child in (seen or {}).get("children", []):
                for asked in child["returns"]:
                    self._decide(staff, order_id, asked["id"], accept=accept, goods_back=goods_back)

    def _decide(self, staff: Actor, order_id: int, return_id: int, *, accept: bool, goods_back: bool) -> None:
        if accept:
            self._try(lambda: orders.accept_return(self.runtime.uow(), self.gateway, staff, order_id=order_id,
                                                   return_id=return_id, goods_back=goods_back))
        else:
            self._try(lambda: orders.reject_return(self.runtime.uow(), staff, order_id=order_id,
                                                   return_id=return_id, reason="worn"))

    def _shopper_of(self, order_id: int) -> Actor:
        with self.runtime.uow(read_only=True) as uow:
            found = orders.orders_after(uow, order_id - 1, limit=1)
        shopper = found[0].shopper_id if found and found[0].id == order_id else SHOPPERS[0]
        return Actor(shopper, Role.SHOPPER)

    @invariant()
    def every_invariant_holds(self) -> None:
        assert audit(self.runtime.uow(snapshot=True)) == []


@pytest.fixture(params=DATABASE_KINDS)
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """A clean, migrated database for each run of the machine."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")

        def fresh_file() -> str:
            path = tmp_path / f"night-{uuid.uuid4().hex}.db"
            shutil.copy(template, path)
            return f"sqlite:///{path}"
        return fresh_file
    url: str = request.getfixturevalue("citus_url" if request.param == "citus" else "postgres_url")

    def truncated() -> str:
        _truncate_all(url)
        return url
    return truncated


def test_no_night_breaks_an_invariant(
        fresh_database: Callable[[], str], request: pytest.FixtureRequest) -> None:
    # On Citus each write to a reference table is a two-phase commit on every node: fewer, as long, nights.
    nights = 12 if request.node.callspec.params["fresh_database"] == "citus" else 60
    run_state_machine_as_test(
        lambda: FestivalNight(fresh_database),
        settings=settings(max_examples=nights, stateful_step_count=30, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow]))
