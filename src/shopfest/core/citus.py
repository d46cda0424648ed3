"""Where every table lives on Citus: reference tables copied to every node, or distributed tables
split into shards by one column. `shopfest db upgrade` applies this plan after the migrations when
the database has the `citus` extension; docs/citus.md says why each table sits where it does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text


@dataclass(frozen=True, slots=True)
class Distributed:
    """A table split by `column`; on Citus its primary key becomes `key` (it must hold the column)."""

    column: str
    key: tuple[str, ...] | None = None
    colocate_with: str | None = None


# Small or shared tables every node holds whole, so any shard joins them where it stands. Some are
# not small (the catalog, the order family): see docs/citus.md for what keeps them here for now.
REFERENCE: tuple[str, ...] = (
    "brands", "categories", "festivals", "festival_phases", "merchants", "merchant_brands",
    "stores", "products", "product_images", "skus", "stock_levels", "stock_adjustments", "flash_sales",
    "presale_offers", "promotions", "coupons", "coupon_grants", "users", "tokens", "payment_secrets",
    "mail_outbox", "outbox",
    "merchant_orders", "order_sources", "order_deliveries", "order_returns", "shipments",
    "status_changes", "vouchers", "payment_intents", "payment_events", "payment_refunds",
    "live_events", "live_segments", "live_messages", "live_moments", "live_reminders", "live_sanctions",
    "local_shops", "local_deals", "local_payments", "local_offline_items", "local_redemptions",
    "screen_links",
    "insights_counted", "insights_totals", "insights_seconds", "insights_breakdowns", "insights_shoppers",
)

# The shopper's own rows, colocated: one shopper's checkout touches one shard of each.
DISTRIBUTED: Mapping[str, Distributed] = {
    "orders": Distributed("shopper_id", key=("shopper_id", "id")),
    "unpaid_units": Distributed("shopper_id", colocate_with="orders"),
    "flash_buyers": Distributed("shopper_id", colocate_with="orders"),
    "local_discount_uses": Distributed("shopper_id", colocate_with="orders"),
    "delivery_addresses": Distributed("shopper_id", key=("shopper_id", "id"), colocate_with="orders"),
    # Text keys: a shopper's Idempotency-Keys share a scope, so they share a shard.
    "idempotency_keys": Distributed("scope"),
    # A merchant's insights, colocated: one merchant's report reads one shard of each.
    "merchant_sales": Distributed("merchant_id"),
    "merchant_promotion_sales": Distributed("merchant_id", colocate_with="merchant_sales"),
    "merchant_source_sales": Distributed("merchant_id", colocate_with="merchant_sales"),
    "merchant_product_sales": Distributed("merchant_id", colocate_with="merchant_sales"),
    "merchant_visits": Distributed("merchant_id", colocate_with="merchant_sales"),
}


def has_citus(conn: Connection) -> bool:
    """Whether this database is a Citus coordinator (the extension is installed)."""
    if conn.dialect.name != "postgresql":
        return False
    return conn.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'citus'")) is not None


def distribute(engine: Engine) -> list[str]:
    """Make every table of the plan a reference or distributed table; tables already placed are left
    alone, so this is safe to run again. The tables placed by this call."""
    placed: list[str] = []
    with engine.begin() as conn:
        # A transaction that reads shards in parallel may not then write a reference table that a
        # distributed one points at (Citus refuses): one connection per worker keeps checkout legal.
        conn.execute(text("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET citus.multi_shard_modify_mode "
                          "TO sequential', current_database()); END $$"))
        done = _placed_tables(conn)
        existing = _existing_tables(conn)
        for name in REFERENCE:
            if name in existing and name not in done:
                conn.execute(text("SELECT create_reference_table(:t)"), {"t": name})
                placed.append(name)
        for name, plan in DISTRIBUTED.items():
            if name in existing and name not in done:
                _distribute_one(conn, name, plan)
                placed.append(name)
    return placed


def _distribute_one(conn: Connection, name: str, plan: Distributed) -> None:
    if plan.key is not None:  # Citus wants the distribution column in every unique key
        conn.execute(text(f'ALTER TABLE {name} DROP CONSTRAINT pk_{name}, '
                          f'ADD CONSTRAINT pk_{name} PRIMARY KEY ({", ".join(plan.key)})'))
    conn.execute(text("SELECT create_distributed_table(:t, :c, colocate_with => :w)"),
                 {"t": name, "c": plan.column, "w": plan.colocate_with or "default"})


def _placed_tables(conn: Connection) -> set[str]:
    return set(conn.scalars(text("SELECT logicalrelid::regclass::text FROM pg_dist_partition")))


def _existing_tables(conn: Connection) -> set[str]:
    return set(conn.scalars(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")))


def on_citus(conn: Connection) -> bool:
    """`has_citus`, asked once per pooled connection (the answer lives with it)."""
    info = conn.connection.info
    if "citus" not in info:
        info["citus"] = has_citus(conn)
    return bool(info["citus"])
