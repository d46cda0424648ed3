"""`shopfest simulate` against a real `shopfest serve` on a small demo: a short festival night with no
unexpected error, whose orders and money agree with what the server's database holds."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from shopfest import demo
from shopfest.accounts.store import users
from shopfest.app import make_runtime
from shopfest.cli import app
from shopfest.core.clock import SetClock, parse_instant
from shopfest.orders.store import orders
from shopfest.settings import Settings
from shopfest.simulate.summary import EXPECTED
from tests.servers import Server, start_server

PAID = ("paid", "refunded", "partially_refunded", "fulfilled", "completed")


@pytest.fixture(scope="module")
def demo_server(sqlite_template: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Server]]:
    """A small demo festival on SQLite, served a few seconds before 11.11's midnight."""
    folder = tmp_path_factory.mktemp("simulate")
    shutil.copy(sqlite_template, folder / "demo.db")
    url = f"sqlite:///{folder / 'demo.db'}"
    seeding = SetClock(parse_instant("2027-11-10T23:50:00+08:00"), speed=0)
    runtime = make_runtime(Settings(database_url=url), clock=seeding)
    demo.seed(runtime, brands=30, products=200)
    runtime.engine.dispose()
    server = start_server(url, clock="2027-11-10T23:59:55+08:00", log_dir=folder)
    yield url, server
    server.process.terminate()
    server.process.wait(timeout=10)


def held_by_server(url: str) -> dict[str, object]:
    """The simulated shoppers' orders as the database holds them."""
    engine = create_engine(url)
    mine = select(users.c.id).where(users.c.email.like("sim-%@shopfest.sim"))
    with engine.connect() as conn:
        rows = conn.execute(
            select(orders.c.status, orders.c.currency, func.count(), func.sum(orders.c.total_minor))
            .where(orders.c.shopper_id.in_(mine)).group_by(orders.c.status, orders.c.currency)).all()
    engine.dispose()
    gmv: dict[str, int] = {}
    for status, currency, _, total in rows:
        if status in PAID:
            gmv[currency] = gmv.get(currency, 0) + int(total)
    return {"orders": sum(n for _, _, n, _ in rows), "paid": sum(n for s, _, n, _ in rows if s in PAID),
            "refunded": sum(n for s, _, n, _ in rows if s == "refunded"), "gmv": gmv}


def test_a_short_festival_night_meets_only_expected_errors_and_adds_up(
        demo_server: tuple[str, Server]) -> None:
    url, server = demo_server
    cli = CliRunner()
    # given a served demo, when the simulator runs a short night at it
    result = cli.invoke(app, ["simulate", "--url", server.base_url, "--shoppers", "8", "--peak", "30",
                              "--duration", "5", "--seed", "7", "--json"], env={"SHOPFEST_DATABASE_URL": url})
    # then nothing failed, shoppers ordered, paid and rushed the flash sale
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["unexpected_errors"] == {}
    assert summary["orders"] > 0 and summary["paid_orders"] > 0
    assert summary["requests"].get("flash_checkout", 0) > 0 and summary["rush"]["flash_skus"]
    assert summary["rush"]["why"] in ("midnight", "now")
    assert set(summary["latency"]) == set(summary["requests"])
    assert {k.split(":")[1] for k in summary["expected_errors"]} <= EXPECTED
    # and the summary's orders and money are what the server's database holds
    held = held_by_server(url)
    assert summary["orders"] == held["orders"]
    assert summary["paid_orders"] == held["paid"]
    assert summary["refunds"] == held["refunded"]
    assert summary["gmv_minor"] == held["gmv"]


def test_bad_options_exit_2(demo_server: tuple[str, Server], tmp_path: Path) -> None:
    url, server = demo_server
    cli = CliRunner()
    for bad in (["--shoppers", "0"], ["--peak", "-1"], ["--duration", "0"], ["--url", "ftp://example.test"],
                ["--rush-at", "midnight"], ["--url", "http://127.0.0.1:9"]):
        result = cli.invoke(app, ["simulate", *bad], env={"SHOPFEST_DATABASE_URL": url})
        assert result.exit_code == 2, (bad, result.output)
    # a database that is not the server's is said to be, not made
    elsewhere = f"sqlite:///{tmp_path / 'none.db'}"
    result = cli.invoke(app, ["simulate", "--url", server.base_url, "--duration", "1"],
                        env={"SHOPFEST_DATABASE_URL": elsewhere})
    assert result.exit_code == 2 and "SHOPFEST_DATABASE_URL" in result.output
    assert not (tmp_path / "none.db").exists()
    # the demo's background night needs the demo's server
    result = cli.invoke(app, ["demo", "--no-serve", "--simulate"], env={"SHOPFEST_DATABASE_URL": elsewhere})
    assert result.exit_code == 2 and "--no-serve" in result.output
    assert not (tmp_path / "none.db").exists()
