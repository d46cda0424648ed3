"""Alembic's entry: migrate the database named in the config (from SHOPFEST_DATABASE_URL)."""

from __future__ import annotations

from alembic import context

import shopfest.accounts.store
import shopfest.catalog.store
import shopfest.festival.store
import shopfest.insights.merchant_store
import shopfest.insights.screen_link_store
import shopfest.insights.store
import shopfest.inventory.store
import shopfest.live.store
import shopfest.local.store
import shopfest.orders.store
import shopfest.payments.store
import shopfest.promotions.store  # noqa: F401  every store registers its tables
from shopfest.core.db import make_engine, metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]  # Alembic's Connection
    sqlite = connection.dialect.name == "sqlite"
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=sqlite)
    if not sqlite:
        with context.begin_transaction():
            context.run_migrations()
        return
    # Batch mode rebuilds a SQLite table (copy, drop, rename): with foreign keys on, the drop would
    # delete or refuse the rows of other tables that point at it. They are off during the migration
    # (a pragma that only takes effect outside a transaction) and checked before it commits.
    driver = connection.connection.driver_connection
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            context.run_migrations()
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"the migration left rows pointing nowhere: {broken[:5]}")
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


run_migrations_online()
