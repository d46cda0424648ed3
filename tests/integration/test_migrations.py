"""The migrations build exactly the tables the stores declare, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shopfest.core.db import make_engine, metadata


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
