"""`shopfest price` and `POST /api/v1/price` answer the pricing contract, and refuse bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shopfest.app import create_app
from shopfest.cli import app
from shopfest.runtime import Runtime

# The deposit example with a store threshold in front of it: 1000.00 less 50.00 off 800.00,
# then 100.00 paid counting for 200.00.
REQUEST: dict[str, Any] = {
    "currency": "CNY", "at": "2026-11-11T00:30:00+08:00", "shopper": "s1",
    "lines": [{"id": "l1", "sku": "k1", "merchant": "m1", "brand": "b1", "category": "home",
               "tier": "regular", "unit_price": "1000.00", "qty": 1}],
    "promotions": [{"id": "p1", "kind": "store_threshold", "merchant": "m1",
                    "tiers": [{"spend": "800.00", "off": "50.00"}, {"spend": "2000.00", "off": "150.00"}]}],
    "coupons": [],
    "deposits": [{"line": "l1", "paid": "100.00", "worth": "200.00"}],
}


def test_the_api_prices_a_cart_and_explains_every_amount(runtime: Runtime) -> None:
    answer = TestClient(create_app(runtime=runtime)).post("/api/v1/price", json=REQUEST)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["subtotal"], result["discount"], result["total"]) == ("1000.00", "150.00", "850.00")
    assert (result["deposit_paid"], result["balance_due"]) == ("100.00", "750.00")
    assert result["lines"] == [{"id": "l1", "subtotal": "1000.00", "discount": "150.00", "total": "850.00",
                                "adjustments": [{"source": "p1", "amount": "50.00"},
                                                {"source": "deposit:l1", "amount": "100.00"}]}]
    assert result["merchants"] == [{"merchant": "m1", "subtotal": "1000.00", "discount": "150.00",
                                    "total": "850.00"}]
    assert result["applied"] == [
        {"source": "p1", "kind": "store_threshold", "amount": "50.00", "funded_by": "merchant"},
        {"source": "deposit:l1", "kind": "deposit", "amount": "100.00", "funded_by": "merchant"}]
    # the next tier: its spend 2000.00 less the threshold's base 1000.00, to save 150.00 - 50.00 more
    assert result["hints"] == [{"source": "p1", "missing": "1000.00", "would_save": "100.00"}]


@pytest.mark.parametrize(("change", "words"), [
    ({"promotions": [{"id": "p1", "kind": "buy_one_get_one"}]}, "kind"),
    ({"deposits": [{"line": "l9", "paid": "1.00", "worth": "2.00"}]}, "l9"),
    ({"deposits": [{"line": "l1", "paid": "20.00", "worth": "10.00"}]}, "worth"),
    ({"lines": [{**REQUEST["lines"][0], "unit_price": "-1.00"}]}, "unit_price"),
    ({"lines": [{**REQUEST["lines"][0], "currency": "USD"}]}, "USD"),
])
def test_bad_input_is_a_422_problem_never_a_price(runtime: Runtime, change: dict[str, Any],
                                                  words: str) -> None:
    answer = TestClient(create_app(runtime=runtime)).post("/api/v1/price", json={**REQUEST, **change})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert words in answer.json()["detail"]


def shopfest(*args: str, stdin: str = "") -> Result:
    return CliRunner().invoke(app, list(args), input=stdin)


def test_the_cli_prints_the_same_result_as_the_api(runtime: Runtime, tmp_path: Path) -> None:
    api = TestClient(create_app(runtime=runtime)).post("/api/v1/price", json=REQUEST).json()
    piped = shopfest("price", stdin=json.dumps(REQUEST))
    assert piped.exit_code == 0, piped.stderr
    assert json.loads(piped.stdout) == api
    request_file = tmp_path / "cart.json"
    request_file.write_text(json.dumps(REQUEST))
    from_file = shopfest("price", "--file", str(request_file))
    assert json.loads(from_file.stdout) == api


@pytest.mark.parametrize("stdin", [
    "{not json",
    json.dumps({**REQUEST, "lines": [REQUEST["lines"][0], REQUEST["lines"][0]]}),
    json.dumps({**REQUEST, "promotions": [{"id": "p2", "kind": "percent_off", "percent": 140}]}),
    json.dumps({**REQUEST, "at": "0001-01-01T00:00:00+14:00"}),
    json.dumps({**REQUEST, "at": "9999-12-31T23:59:59-14:00"}),
    json.dumps({**REQUEST, "promotions": [{"id": "p2", "kind": "percent_off", "percent": 5,
                                           "ends": "9999-12-31T23:59:59-14:00"}]}),
    json.dumps({**REQUEST, "lines": [{**REQUEST["lines"][0], "unit_price": "1.5"}]}),
    json.dumps({**REQUEST, "lines": [{**REQUEST["lines"][0], "colour": "red"}]}),
    "[" * 10_000 + "]" * 10_000,
])
def test_the_cli_refuses_bad_input_with_a_message_and_exit_code_2(stdin: str) -> None:
    refused = shopfest("price", stdin=stdin)
    assert refused.exit_code == 2
    assert refused.stdout == "" and "error" in refused.stderr
