"""Idempotency keys: a retried request gets the first answer, never a second money movement.

A key belongs to its caller (`scope`) and is kept at least 24 hours. The same key with another body
is refused; a repeat while the first is still running is told so. Only answers are remembered: a
request that failed leaves its key free for a corrected retry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import JSON, Column, Connection, Integer, String, Table, and_, delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shopfest.core.db import UtcDateTime, metadata
from shopfest.core.errors import Conflict, InvalidInput

KEPT_FOR = timedelta(hours=24)
ABANDONED_AFTER = timedelta(minutes=1)  # a "running" key this old lost its process in a crash

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(80), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(10), nullable=False),  # running | done
    Column("status_code", Integer, nullable=True),
    Column("response", JSON, nullable=True),
    Column("created_at", UtcDateTime, nullable=False, index=True),
)


class KeyInUse(Conflict):
    code = "idempotency-key-in-use"
    title = "A request with this Idempotency-Key is still running"


class KeyReused(InvalidInput):
    code = "idempotency-key-reused"
    title = "This Idempotency-Key was used with a different request"


@dataclass(frozen=True, slots=True)
class Remembered:
    status_code: int
    response: dict[str, Any]


def fingerprint(*parts: Any) -> str:
    """A digest of a request's parts, whatever they hold: equal parts give equal fingerprints."""
    try:
        text = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=repr)
    except TypeError:  # what orjson cannot write, e.g. an integer past 64 bits: Python's own words
        text = repr(parts).encode()  # "(...": never what orjson writes for a tuple, "[..."
    return hashlib.sha256(text).hexdigest()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise InvalidInput("an Idempotency-Key is 1 to 255 printable characters")
    return key


def _stored(conn: Connection, scope: str, key: str) -> Any:
    return conn.execute(select(idempotency_keys).where(
        idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)).first()


def replay(row: Any, fingerprint_: str) -> Remembered:
    """The first answer to this key. Raises KeyReused, KeyInUse."""
    if row.fingerprint != fingerprint_:
        raise KeyReused("this Idempotency-Key was first used with a different request")
    if row.state != "done":
        raise KeyInUse("the first request with this Idempotency-Key is still running")
    return Remembered(row.status_code, row.response)


def lookup(conn: Connection, *, scope: str, key: str, fingerprint_: str) -> Remembered | None:
    """The remembered answer, or None when the key is new. Raises KeyReused, KeyInUse."""
    row = _stored(conn, scope, key)
    return None if row is None else replay(row, fingerprint_)


def begin(conn: Connection, *, scope: str, key: str, fingerprint_: str, now: datetime) -> Remembered | None:
    """Hold the key for a request about to run; the remembered answer if it already ran."""
    row = _stored(conn, scope, key)
    if row is not None and row.state == "running" and now - row.created_at > ABANDONED_AFTER:
        conn.execute(delete(idempotency_keys).where(_is(scope, key)))
        row = None
    if row is not None:
        return replay(row, fingerprint_)
    claimed = claim(conn, [(scope, key, fingerprint_)], now=now, state="running")
    if not claimed:
        raise KeyInUse("the first request with this Idempotency-Key is still running")
    return None


def claim(conn: Connection, keys: Sequence[tuple[str, str, str]], *, now: datetime,
          state: str = "done") -> set[tuple[str, str]]:
    """Insert the keys no one holds yet; the (scope, key) pairs this call got."""
    if not keys:
        return set()
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    got: set[tuple[str, str]] = set()
    rows = [{"scope": s, "key": k, "fingerprint": f, "state": state, "created_at": now}
            for s, k, f in keys]
    for start in range(0, len(rows), 1000):
        statement = (insert(idempotency_keys).values(rows[start:start + 1000])
                     .on_conflict_do_nothing().returning(idempotency_keys.c.scope, idempotency_keys.c.key))
        got.update((r.scope, r.key) for r in conn.execute(statement))
    return got


def remember(conn: Connection, answers: Sequence[tuple[str, str, int, dict[str, Any]]]) -> None:
    """Store the answers given under these keys."""
    for scope, key, status_code, response in answers:
        conn.execute(update(idempotency_keys).where(_is(scope, key)).values(
            state="done", status_code=status_code, response=response))


def forget(conn: Connection, *, scope: str, key: str) -> None:
    conn.execute(delete(idempotency_keys).where(_is(scope, key)))


def purge(conn: Connection, *, now: datetime, limit: int) -> int:
    """Drop up to `limit` keys older than the time they are kept for; how many went."""
    old = (select(idempotency_keys.c.scope, idempotency_keys.c.key)
           .where(idempotency_keys.c.created_at < now - KEPT_FOR).limit(limit))
    return conn.execute(delete(idempotency_keys).where(
        tuple_(idempotency_keys.c.scope, idempotency_keys.c.key).in_(old))).rowcount


def _is(scope: str, key: str) -> Any:
    return and_(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
