"""The unit of work: one transaction; `with uow: ...; uow.commit()`, and leaving without commit rolls back."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, insert

from shopfest.core.citus import on_citus
from shopfest.core.clock import Clock
from shopfest.core.db import outbox
from shopfest.core.events import Bus, DomainEvent

# On Citus, writing transactions take turns, as SQLite's do (BEGIN IMMEDIATE): Citus serializes the writes
# to each reference table with a lock on the whole table, so two transactions that write two of them in
# opposite orders (a checkout batch: stock, then merchant orders; a payment: its intent, then stock)
# deadlock, and one of them fails. Taking this one lock first makes them queue instead; the checkout's
# group commit is built for one writer at a time. Read-only units of work take no lock.
CITUS_WRITERS_LOCK = 11_112_020


class UnitOfWork:
    """A transaction on `engine`; events raised inside are handled and stored before commit."""

    def __init__(self, engine: Engine, *, bus: Bus, clock: Clock, read_only: bool = False,
                 snapshot: bool = False, repeatable: bool = False) -> None:
        self.engine = engine
        self.bus = bus
        self.clock = clock
        self.read_only = read_only or snapshot
        # Every statement sees the database as it was at the first: PostgreSQL's REPEATABLE READ
        # (SQLite's read transactions do so already).
        self.snapshot = snapshot
        # A writer that must see one snapshot too (a rebuild of figures from many tables): PostgreSQL's
        # REPEATABLE READ; a concurrent write to a row it then writes fails it rather than be lost.
        self.repeatable = repeatable
        self._conn: Connection | None = None
        self._events: list[DomainEvent] = []
        self._after_commit: list[Callable[[], None]] = []

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._conn

    def __enter__(self) -> UnitOfWork:
        options: dict[str, Any] = {"sqlite_begin": "DEFERRED" if self.read_only else "IMMEDIATE"}
        if self.snapshot and self.engine.dialect.name == "postgresql":
            options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        elif self.repeatable and self.engine.dialect.name == "postgresql":
            options.update(isolation_level="REPEATABLE READ")
        self._conn = self.engine.connect().execution_options(**options)
        self._conn.begin()
        if not self.read_only and self.engine.dialect.name == "postgresql" and on_citus(self._conn):
            self._conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({CITUS_WRITERS_LOCK})")
        self._events = []
        self._after_commit = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                if conn.in_transaction():
                    conn.rollback()
            finally:  # a rollback on a lost connection fails: the connection still goes back to the pool
                conn.close()

    def emit(self, event: DomainEvent) -> None:
        self._events.append(event)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once this transaction is durable (never, if it rolls back)."""
        self._after_commit.append(action)

    def commit(self) -> None:
        """Run the handlers of every event raised, store the events, then commit all as one."""
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        self._dispatch()
        self.conn.commit()
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

    def _dispatch(self) -> None:
        handled: list[DomainEvent] = []
        while self._events:
            event = self._events.pop(0)
            for handler in self.bus.handlers_for(event):
                handler(self, event)
            handled.append(event)
        if handled:
            now = self.clock.now()
            rows = [{"name": e.name, "payload": e.payload(), "occurred_at": now} for e in handled]
            self.conn.execute(insert(outbox), rows)
