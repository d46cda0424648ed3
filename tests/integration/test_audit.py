"""`shopfest audit` over a live database: quiet and exit 0 while every invariant holds, each breaking row
named and exit 1 once one does (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from shopfest.cli import app
from shopfest.core.actor import Actor, Role
from shopfest.demo import hot_item
from shopfest.orders import service as orders
from shopfest.orders.drafting import PlaceOrder
from shopfest.runtime import Runtime


@pytest.fixture
def audit(database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHOPFEST_DATABASE_URL", database_url)
    return lambda *args: CliRunner().invoke(app, ["audit", *args])


def a_night_of_orders(runtime: Runtime) -> tuple[int, int]:
    """A paid order of a 3.37 yuan lantern, paid in dollars, and an unpaid one; the SKU and the paid
    order."""
    lantern = hot_item(runtime, stock=6, price="3.37", name="Lantern")
    paid = runtime.checkout.place(PlaceOrder(101, ((lantern.sku_id, 3),), "USD")).result().receipt
    runtime.checkout.place(PlaceOrder(102, ((lantern.sku_id, 1),))).result()
    orders.pay_order(runtime.uow(), runtime.provider, Actor(101, Role.SHOPPER), order_id=paid["id"],
                     method="sandbox_ok")
    runtime.checkout.close()
    return lantern.sku_id, paid["id"]


def test_a_night_that_adds_up_passes_the_audit(audit, runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    a_night_of_orders(runtime)
    result = audit("--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_each_row_that_breaks_an_invariant_is_named_and_the_audit_exits_1(  # type: ignore[no-untyped-def]
        audit, runtime: Runtime) -> None:
    sku_id, order_id = a_night_of_orders(runtime)
    with runtime.engine.begin() as conn:  # a unit reserved that no order holds, a refund never paid back
        conn.execute(text("UPDATE stock_levels SET reserved = reserved + 1 WHERE sku_id = :s"),
                     {"s": sku_id})
        conn.execute(text("UPDATE payment_intents SET refunded_minor = 1 WHERE order_id = :o"),
                     {"o": order_id})
        conn.execute(text("UPDATE unpaid_units SET qty = qty + 1 WHERE shopper_id = 102"))
    result = audit("--json")
    assert result.exit_code == 1
    found = {(b["invariant"], b["subject"]) for b in json.loads(result.stdout)}
    assert found == {("stock-reserved", f"SKU {sku_id}"), ("money-kept", f"order {order_id}"),
                     ("refund-recorded", "payment 1"), ("unpaid-held", f"shopper 102, SKU {sku_id}")}
