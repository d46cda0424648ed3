"""The migrations build exactly the tables the stores declare, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shopfest.core.db import make_engine, metadata
from shopfest.core.migrate import alembic_config, upgrade


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
