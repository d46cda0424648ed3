"""A pooled PostgreSQL connection the server closed while it sat idle is replaced, not handed out."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from shopfest.core import db


def test_a_connection_closed_while_idle_is_replaced(postgres_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # given a pool holding one connection, which the server then closes
    engine, killer = db.make_engine(postgres_url, pool_size=1), db.make_engine(postgres_url, pool_size=1)
    try:
        with engine.connect() as conn:
            first = conn.scalar(text("SELECT pg_backend_pid()"))
        with killer.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        # when it is checked out after sitting idle
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
        with engine.connect() as conn:
            # then the pool pinged it and connected anew
            assert conn.scalar(text("SELECT pg_backend_pid()")) != first
    finally:
        engine.dispose()
        killer.dispose()

