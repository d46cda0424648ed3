"""The migrations build exactly the tables the stores declare, on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select

from shopfest.app import make_runtime
from shopfest.core.clock import SetClock
from shopfest.core.db import make_engine, metadata
from shopfest.core.migrate import alembic_config, upgrade
from shopfest.demo import hot_item
from shopfest.inventory.store import unpaid_units
from shopfest.orders.drafting import PlaceOrder
from shopfest.orders.store import SPARE_SECONDS, OrderStore, merchant_orders, orders
from shopfest.settings import Settings
from tests.conftest import FESTIVAL_EVE, _truncate_all


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # The full-text pieces are dialect-specific and live only in the migration.
    if type_ == "table" and name and name.startswith("product_search"):
        return False
    if type_ == "column" and name == "search_vector":
        return False
    return not (type_ == "index" and name == "ix_products_search")


def test_the_migrated_schema_matches_the_stores(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _ours,
                                                         "compare_type": False})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []


def test_rebuilding_a_sqlite_table_keeps_the_rows_that_point_at_it(tmp_path: Path) -> None:
    # given a database at revision 0003 holding a child order with a shipment and a voucher
    url = f"sqlite:///{tmp_path / 'older.db'}"
    command.upgrade(alembic_config(url), "0003")
    engine = make_engine(url, pool_size=1)
    at = "2027-11-11 00:00:01.000000"
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO orders (id, shopper_id, status, currency, total_minor, pay_currency, pay_rate, "
            "pay_total_minor, placed_at) VALUES (1, 7, 'paid', 'CNY', 100, 'CNY', '1', 100, ?)", (at,))
        conn.exec_driver_sql(
            "INSERT INTO merchant_orders (id, order_id, merchant_id, status, total_minor, "
            "settlement_currency, settlement_minor, lines) VALUES (1, 1, 3, 'paid', 100, 'CNY', 100, '[]')")
        conn.exec_driver_sql("INSERT INTO shipments (merchant_order_id, carrier, tracking, shipped_at) "
                             "VALUES (1, 'SF Express', 'SF1111', ?)", (at,))
        conn.exec_driver_sql("INSERT INTO vouchers (code, merchant_order_id, sku_id, kind, status, "
                             "issued_at) VALUES ('v-1', 1, 5, 'service_voucher', 'issued', ?)", (at,))
    engine.dispose()

    # when it is migrated to the newest schema (0004 rebuilds merchant_orders)
    upgrade(url)

    # then every row is still there, and foreign keys are enforced again
    engine = make_engine(url, pool_size=1)
    with engine.connect() as conn:
        counts = [conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
                  for table in ("orders", "merchant_orders", "shipments", "vouchers")]
        enforced = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    engine.dispose()
    assert counts == [1, 1, 1, 1]
    assert enforced == 1


def test_order_ids_stay_unique_when_the_id_blocks_are_migrated_away(postgres_url: str,
                                                                    clock: SetClock) -> None:
    # given orders placed in blocks of ids on PostgreSQL, the last block partly used
    _truncate_all(postgres_url)
    runtime = make_runtime(Settings(database_url=postgres_url, pool_size=2), clock=clock)
    try:
        item = hot_item(runtime, stock=100)
        futures = [runtime.checkout.place(PlaceOrder(s, ((item.sku_id, 1),))) for s in range(50)]
        placed = [f.result(timeout=60).receipt["id"] for f in futures]
        with runtime.engine.begin() as conn:  # read while the tables of later revisions are there
            first = OrderStore(conn).get(placed[0]) or pytest.fail("the order is gone")

        # when the schema goes back to one id per value (0004)
        command.downgrade(alembic_config(postgres_url), "0004")

        # then checkout's store refuses to draw blocks of ids, saying what to do (once the ids the
        # checkout drew before are past the moment it keeps them; checkout as a whole needs the
        # tables of later revisions too), and a row numbered by the sequence comes after every id
        # already handed out
        runtime.checkout._spare_ids.drawn_at -= SPARE_SECONDS
        with runtime.engine.begin() as conn, pytest.raises(RuntimeError, match="shopfest db upgrade"):
            store = OrderStore(conn, spare=runtime.checkout._spare_ids)
            store.add_alike(first, [9])
        with runtime.engine.begin() as conn:
            by_default = conn.execute(insert(orders).values(
                shopper_id=9999, status="cancelled", currency="CNY", total_minor=0, pay_currency="CNY",
                pay_rate="1", pay_total_minor=0, placed_at=runtime.clock.now()).returning(orders.c.id)
            ).scalar_one()
        assert by_default > max(placed)
    finally:
        runtime.checkout.close()
        runtime.engine.dispose()
        upgrade(postgres_url)


def test_flash_sale_buyers_take_their_sales_limit_when_migrated(tmp_path: Path) -> None:
    # given a database at revision 0005: a flash sale of at most 2 per shopper, a buyer within it and
    # one past it
    path = tmp_path / "older.db"
    command.upgrade(alembic_config(f"sqlite:///{path}"), "0005")
    with contextlib.closing(sqlite3.connect(path)) as db, db:  # as that revision's code wrote them
        sku_id = _a_sku_at_0005(db)
        sale = db.execute(
            "INSERT INTO flash_sales (sku_id, price_minor, currency, quantity, taken, per_shopper_limit, "
            "starts_at, ends_at) VALUES (?, 299950, 'CNY', 5, 5, 2, '2027-11-10 12:00:00.000000', "
            "'2027-11-11 12:00:00.000000')", (sku_id,)).lastrowid
        db.execute("INSERT INTO flash_buyers (flash_sale_id, shopper_id, qty) VALUES (?, 7, 2), (?, 8, 3)",
                   (sale, sale))

    # when it is migrated to the newest schema
    upgrade(f"sqlite:///{path}")

    # then each buyer row carries the limit, the one past it keeps what it holds, and no row takes more
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT shopper_id, qty, per_shopper_limit FROM flash_buyers ORDER BY shopper_id")
        assert rows.fetchall() == [(7, 2, 2), (8, 3, 3)]
        with pytest.raises(sqlite3.IntegrityError, match="flash_buyer_within_limit"):
            db.execute("UPDATE flash_buyers SET qty = qty + 1 WHERE shopper_id = 7")


def _a_sku_at_0005(db: sqlite3.Connection) -> int:
    """One SKU written as that revision's tables hold it (today's code writes columns added since)."""
    db.execute("INSERT INTO brands (id, name, tier, approved) VALUES (1, 'Acme', 'regular', 1)")
    db.execute("INSERT INTO merchants (id, name, kind, settlement_currency) "
               "VALUES (1, 'Acme', 'online', 'CNY')")
    db.execute("INSERT INTO categories (id, slug, name) VALUES (1, 'phones', 'Phones')")
    db.execute("INSERT INTO products (id, merchant_id, brand_id, category_id, title, fulfilment, debut_at, "
               "brand_tier, currency, price_minor, search_text) VALUES (1, 1, 1, 1, 'X1', 'shipped', "
               "'2027-11-01 00:00:00.000000', 'regular', 'CNY', 599900, 'x1')")
    return int(db.execute("INSERT INTO skus (product_id, code, price_minor, currency) "
                          "VALUES (1, 'x1', 599900, 'CNY')").lastrowid or 0)


def test_the_units_shoppers_hold_unpaid_are_counted_when_migrated(tmp_path: Path, postgres_url: str) -> None:
    # given databases at revision 0006 holding orders of shopper 7: two awaiting payment (one of
    # 6 units, past today's cap), a pre-sale with its deposit paid, one paid and one cancelled
    sqlite_url = f"sqlite:///{tmp_path / 'older.db'}"
    command.upgrade(alembic_config(sqlite_url), "0006")
    _truncate_all(postgres_url)
    command.downgrade(alembic_config(postgres_url), "0006")
    try:
        for url in (sqlite_url, postgres_url):
            engine = make_engine(url, pool_size=1)
            with engine.begin() as conn:
                for n, (status, sku_qty) in enumerate([
                        ("awaiting_payment", [(1, 2), (2, 6)]), ("awaiting_payment", [(1, 1)]),
                        ("deposit_paid", [(3, 1)]), ("paid", [(1, 4)]), ("cancelled", [(2, 9)])], start=1):
                    conn.execute(insert(orders).values(
                        id=n, shopper_id=7, status=status, currency="CNY", total_minor=100,
                        pay_currency="CNY", pay_rate="1", pay_total_minor=100, placed_at=FESTIVAL_EVE))
                    conn.execute(insert(merchant_orders).values(
                        id=n, order_id=n, merchant_id=3, status=status, total_minor=100,
                        settlement_currency="CNY", settlement_minor=100,
                        lines=[{"sku_id": sku, "qty": qty} for sku, qty in sku_qty]))
            engine.dispose()

            # when it is migrated to the newest schema
            upgrade(url)

            # then the units of the orders holding stock are counted, and a shopper past the cap
            # keeps what they hold
            engine = make_engine(url, pool_size=1)
            with engine.connect() as conn:
                rows = conn.execute(select(unpaid_units).order_by(unpaid_units.c.sku_id)).all()
            engine.dispose()
            assert [tuple(r) for r in rows] == [(7, 1, 3, 5), (7, 2, 6, 6), (7, 3, 1, 5)], url
    finally:
        _truncate_all(postgres_url)
        upgrade(postgres_url)
