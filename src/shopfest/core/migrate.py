"""Bring a database to the newest schema with the package's own Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

import shopfest.migrations
from shopfest.core import citus


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(shopfest.migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """Create or migrate the schema; safe to run again."""
    command.upgrade(alembic_config(database_url), "head")
    if database_url.startswith("postgresql"):
        _distribute_on_citus(database_url)


def _distribute_on_citus(database_url: str) -> None:
    """On a Citus coordinator, place the tables the migrations made (core/citus.py's plan)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            on_citus = citus.has_citus(conn)
        if on_citus:
            citus.distribute(engine)
    finally:
        engine.dispose()


def is_newest(database_url: str) -> bool:
    """Whether the database's schema is the newest these migrations make."""
    newest = set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads()) == newest
    finally:
        engine.dispose()
