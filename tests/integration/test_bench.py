"""`shopfest bench catalog` runs end to end at a small size (its figures are not asserted)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopfest.bench import flash_sale, places
from shopfest.cli import app
from shopfest.demo import hot_item
from shopfest.orders.store import OrderStore
from shopfest.runtime import Runtime


def test_the_catalog_benchmark_reports_search_and_its_baseline() -> None:
    result = CliRunner().invoke(app, [
        "bench", "catalog", "--brands", "20", "--products", "300", "--queries", "26",
        "--baseline-queries", "13", "--backend", "sqlite", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    (sqlite,) = report["results"]
    assert sqlite["backend"] == "sqlite" and sqlite["products"] == 300
    assert sqlite["search"]["count"] == 26 and sqlite["baseline_scan"]["count"] == 13
    assert sqlite["results_agree"] is True  # filters alone: both designs find the same page
    assert "word + luxury" in sqlite["by_kind"]


def test_an_unknown_backend_is_refused() -> None:
    result = CliRunner().invoke(app, ["bench", "catalog", "--backend", "oracle"])
    assert result.exit_code == 2 and "sqlite, postgresql or both" in result.output


def test_the_flash_sale_benchmark_sells_exactly_the_units_in_both_designs_across_workers() -> None:
    result = CliRunner().invoke(app, [
        "bench", "flash-sale", "--units", "200", "--attempts", "501", "--backend", "sqlite", "--no-http",
        "--workers", "2", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    (sqlite,) = report["results"]
    for design in ("naive", "hot_path"):
        figures = sqlite[design]
        assert figures["workers"] == 2  # the two processes' answers added up, none lost or counted twice
        assert figures["attempts"] == 501 and figures["accepted"] == 200
        assert figures["units_sold"] == 200 and figures["oversold"] == 0
        assert figures["latency"]["count"] == 501


def test_a_bench_worker_that_cannot_start_stops_the_burst_with_its_reason(tmp_path: Path) -> None:
    runtime = places.runtime_for(f"sqlite:///{tmp_path}/bench.db")
    # given workers told to open a database in a folder that does not exist
    missing = f"sqlite:///{tmp_path}/no-such-folder/bench.db"
    broken = replace(runtime, settings=replace(runtime.settings, database_url=missing))
    try:
        with pytest.raises(RuntimeError, match=r"a bench worker failed(.|\n)*No such file or directory"):
            flash_sale.hot_path(broken, units=10, attempts=20, workers=2)
    finally:
        runtime.checkout.close()
        runtime.engine.dispose()


def test_the_pricing_benchmark_prices_every_cart_three_ways() -> None:
    result = CliRunner().invoke(app, ["bench", "pricing", "--carts", "60", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for way in ("baseline_list_prices", "festival_stack", "contract_json"):
        assert report[way]["carts"] == 60 and report[way]["median_us"] > 0
    # the festival's stack takes something off: the first cart costs less than its subtotal
    assert report["example"]["total"] < report["example"]["subtotal"]
    assert "c-red" in report["example"]["coupons_used"]  # every red envelope offered is used


def test_settling_leaves_the_database_nothing_to_catch_up_on(runtime: Runtime) -> None:
    hot_item(runtime, stock=5)
    places.settle(runtime)
    url = runtime.engine.url
    if url.get_backend_name() == "sqlite":
        assert Path(f"{url.database}-wal").stat().st_size == 0  # the log is in the database
        return
    with runtime.engine.connect() as conn:
        vacuumed = conn.exec_driver_sql("SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL "
                                        "FROM pg_stat_user_tables WHERE relname = 'stock_levels'").scalar()
    assert vacuumed is True


def test_the_naive_designs_orders_hold_their_units_as_long_as_real_ones(runtime: Runtime) -> None:
    # born expired, they would keep the sweeper of the server the HTTP burst starts busy with them
    assert flash_sale.naive(runtime, units=5, attempts=8).accepted == 5
    held_until = runtime.clock.now() + timedelta(minutes=runtime.settings.reservation_minutes)
    with runtime.engine.connect() as conn:
        assert OrderStore(conn).lapsed(held_until - timedelta(seconds=1), limit=10) == []
        assert len(OrderStore(conn).lapsed(held_until, limit=10)) == 5


def test_the_live_room_benchmark_delivers_the_chat_to_every_viewer_in_each_setup(redis_url: str) -> None:
    result = CliRunner().invoke(app, [
        "bench", "live-room", "--viewers", "4", "--rate", "2", "--duration", "1", "--warmup", "0.5",
        "--client-processes", "1", "--redis-url", redis_url, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["scenario"] == "live-room" and report["load"]["viewers"] == 4
    assert [r["setup"] for r in report["results"]] == ["baseline", "queued", "queued-redis"]
    for setup in report["results"]:
        assert setup["connected"] == 4 and setup["dropped"] == 0
        assert setup["chat_sent_per_second"] > 0 and setup["delivered_per_second"] > 0
        assert setup["latency"]["count"] > 0  # the viewers read the chat, timed from its sending
        assert setup["chat_errors"] == {}  # the chatters stayed within the chat limit
        # A second of four viewers may cost the server less CPU than the clock's tick: read, not zero.
        assert setup["server_cpu_percent"] >= 0 and setup["server_rss_mb"] > 0
    assert report["results"][2]["server_processes"] == 2


def test_the_screen_benchmark_counts_every_event_and_times_paid_orders_reaching_a_screen() -> None:
    result = CliRunner().invoke(app, [
        "bench", "screen", "--events", "1000", "--baseline-events", "100", "--seconds", "2",
        "--connections", "0", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert {run["events"] for run in report["consumer"].values()} == {1000}
    assert report["query_per_event"]["events"] == 100
    latency = report["latency"]
    # each sample is one payment seen on the screen; a screen cannot show it before it was asked for
    assert latency["samples"] >= 1 and latency["from_pay_sent_p50_ms"] >= latency["from_paid_p50_ms"] >= 0
