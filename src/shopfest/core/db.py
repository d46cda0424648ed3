"""Engines and shared column types. Every engine is built here, from settings, by the app."""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    literal_column,
)
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Integer primary keys that autoincrement on SQLite (INTEGER) and PostgreSQL (BIGINT).
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Stores instants in UTC and always hands back aware datetimes (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an instant is stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("published_at", UtcDateTime, nullable=True, index=True),
)


def id_in(column: ColumnElement[Any], ids: Iterable[int]) -> ColumnElement[bool]:
    """`column IN (1, 2, ...)` written out: a bulk load asks for thousands of ids, and one bound
    parameter per id costs more than the query. Safe because every id is made an int first."""
    numbers = ",".join(str(int(i)) for i in ids) or "NULL"
    return column.op("IN")(literal_column(f"({numbers})"))


T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` `size` at a time (the last chunk may be shorter): one statement or command a chunk."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def compact_json(value: Any) -> str:
    """JSON without spaces after separators, and text as it is (not escaped to ASCII): at the peak
    every order row carries some."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for `url`: SQLite gets WAL, full sync and a busy wait; PostgreSQL a pool."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               json_serializer=compact_json)
        _tune_sqlite(engine)
        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, json_serializer=compact_json)
    _ping_when_idle(engine)
    _send_pipelined_writes_first(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle a while (the server may have closed
    it meanwhile): `pool_pre_ping` pings on every checkout, a round trip per checkout batch at the
    peak, though a connection handed back a moment ago is alive."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _mark_idle(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise DisconnectionError("the pooled connection was closed") from error  # the pool reconnects
            raise


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below decide when a transaction starts (pysqlite's own is lazy).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # 64 MiB of page cache (the default is 2 MiB): search and bulk loads walk big indexes.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front, so two writers queue instead of deadlocking.
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _processors(conn: Connection, table: Table, columns: list[str]) -> list[tuple[int, Any]]:
    dialect = conn.dialect
    return [(i, p) for i, name in enumerate(columns)
            if (p := table.c[name].type._cached_bind_processor(dialect)) is not None]


def _processed(values: tuple[Any, ...], processors: list[tuple[int, Any]]) -> tuple[Any, ...]:
    changed = list(values)
    for index, process in processors:
        changed[index] = process(changed[index])
    return tuple(changed)


def bound(conn: Connection, table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """`row` as the driver receives it (each column type's bind processing done), for
    `insert_bound` to write many times without processing it again."""
    columns = list(row)
    values = _processed(tuple(row.values()), _processors(conn, table, columns))
    return dict(zip(columns, values, strict=True))


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows at the driver's own speed: COPY on PostgreSQL, one prepared INSERT on SQLite.

    Values pass through each column type's bind processing, so they are stored exactly as a
    plain `insert()` would store them.
    """
    if not rows:
        return
    columns = list(rows[0])
    row_values = itemgetter(*columns) if len(columns) > 1 else (lambda r: (r[columns[0]],))
    processors = _processors(conn, table, columns)
    tuples = [row_values(row) for row in rows]
    if processors:
        tuples = [_processed(values, processors) for values in tuples]
    insert_bound(conn, table, columns, tuples)


def insert_bound(conn: Connection, table: Table, columns: list[str], tuples: list[tuple[Any, ...]]) -> None:
    """Insert rows whose values are already bound (see `bound`): COPY on PostgreSQL, executemany on SQLite."""
    if not tuples:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        writes_sent(conn)  # a COPY cannot run in a pipeline
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]  # psycopg
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for values in tuples:
                copy.write_row(values)
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", tuples)


# Up to this many rows a table, copies on PostgreSQL go in with one statement for all their tables
# rather than a COPY each: a COPY takes two round trips, and at a few orders a batch (over HTTP) each
# round trip is also a wait for the interpreter's lock. For more rows COPY costs the client less.
FEW_ROWS = 64

Alike = tuple[Table, dict[str, Any], Mapping[str, Sequence[int]]]  # see insert_alike
Shape = tuple[Table, tuple[str, ...], tuple[str, ...]]  # a table, its varying and its fixed columns


def insert_alike_together(conn: Connection, inserts: Sequence[Alike]) -> None:
    """`insert_alike` for each of `inserts` (table, template, varying), in one round trip where that
    is cheaper: on PostgreSQL, for a few rows, one statement whose WITH queries insert `unnest`ed arrays."""
    rows = [_rows_alike(template, varying) for _, template, varying in inserts]
    if conn.dialect.name != "postgresql" or not 0 < max(rows, default=0) <= FEW_ROWS:
        for (table, template, varying), n in zip(inserts, rows, strict=True):
            if n:
                _insert_alike_checked(conn, table, template, varying)
        return
    params: dict[str, Any] = {}
    shapes = []
    for k, (table, template, varying) in enumerate(inserts):
        fixed = tuple(name for name in template if name not in varying)
        shapes.append((table, tuple(varying), fixed))
        params.update((f"a{k}_{j}", list(varying[name])) for j, name in enumerate(varying))
        params.update((f"f{k}_{j}", template[name]) for j, name in enumerate(fixed))
    run_on_driver(conn, _unnested_inserts(conn.dialect, tuple(shapes)), params)


@functools.lru_cache(maxsize=64)
def _unnested_inserts(dialect: Any, shapes: tuple[Shape, ...]) -> str:
    """The statement of `insert_alike_together` for tables whose (varying, fixed) columns are
    `shapes`: the same few at the peak, so it is written out once (the column types compiled for
    its casts cost more than the rest of the batch's Python)."""
    statements = [_unnested_insert(dialect, k, *shape) for k, shape in enumerate(shapes)]
    *first, last = statements
    with_queries = ", ".join(f"t{k} AS ({statement})" for k, statement in enumerate(first))
    return f"WITH {with_queries} {last}" if first else last


def _unnested_insert(dialect: Any, k: int, table: Table, varying: tuple[str, ...],
                     fixed: tuple[str, ...]) -> str:
    """INSERT ... SELECT of one table's copies, its values in parameters named after `k`."""
    arrays = [f"CAST(:a{k}_{j} AS bigint[])" for j in range(len(varying))]
    cells = [f"v{j}" for j in range(len(varying))]
    cells += [f"CAST(:f{k}_{j} AS {table.c[name].type.compile(dialect=dialect)})"
              for j, name in enumerate(fixed)]
    names = ", ".join(f"v{j}" for j in range(len(varying)))
    return (f"INSERT INTO {table.name} ({', '.join([*varying, *fixed])}) SELECT {', '.join(cells)} "
            f"FROM unnest({', '.join(arrays)}) AS u({names})")


def run_on_driver(conn: Connection, statement: str,
                  params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
    """Run a write whose rows nobody reads on the driver's cursor, inside the transaction `conn` has
    begun, past SQLAlchemy's execution machinery, which costs more than the round trip itself (140 us
    a statement on this 2-core machine, against 130 us for the driver's whole execute; a batch at the
    peak runs a few). `statement` names its parameters :like_this, as SQLAlchemy's `text` does.
    A driver error is raised as SQLAlchemy's (IntegrityError, ...), though without SQLAlchemy's
    events, echo or disconnect handling: the unit of work's rollback then finds a lost connection."""
    if not conn.in_transaction():  # the driver would begin one of its own, which nobody commits
        raise RuntimeError("run_on_driver writes inside a transaction begun on the connection")
    if conn.dialect.name == "postgresql":
        statement = _pyformat(statement)
    driver_error = conn.dialect.loaded_dbapi.Error
    if _SENDING_TOGETHER in conn.connection.info and _PIPELINE not in conn.connection.info:
        _open_pipeline(conn)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if isinstance(params, Mapping):
            cursor.execute(statement, params)
        else:
            cursor.executemany(statement, params)
    except driver_error as error:
        raise DBAPIError.instance(statement, params, error, driver_error, dialect=conn.dialect) from error
    finally:
        cursor.close()


@functools.lru_cache(maxsize=256)
def _pyformat(statement: str) -> str:
    """:name parameters as psycopg's %(name)s, by SQLAlchemy's rule for `text` (a name right after a
    word character or a colon, or right before a colon, as in a :: cast, is left alone), and a
    literal % doubled."""
    return re.sub(r"(?<![:\w]):(\w+)(?![:\w])", r"%(\1)s", statement.replace("%", "%%"))


def _rows_alike(template: dict[str, Any], varying: Mapping[str, Sequence[int]]) -> int:
    """How many copies `varying` asks for. Raises ValueError when it does not fit `template`."""
    if not varying or not set(varying) <= set(template):
        raise ValueError("the varying columns are some of the template's")
    counts = {len(values) for values in varying.values()}
    if len(counts) != 1:
        raise ValueError("every varying column needs one value per row")
    return counts.pop()


def insert_alike(conn: Connection, table: Table, template: dict[str, Any],
                 varying: Mapping[str, Sequence[int]]) -> None:
    """Insert copies of the bound `template` (see `bound`), the n-th with each `varying` integer
    column set to the n-th of its values. On PostgreSQL the template is written out as COPY text once and the
    rows are put together from it in C; on SQLite one statement makes every row, in C."""
    if _rows_alike(template, varying):
        _insert_alike_checked(conn, table, template, varying)


def _insert_alike_checked(conn: Connection, table: Table, template: dict[str, Any],
                          varying: Mapping[str, Sequence[int]]) -> None:
    """`insert_alike` of at least one row, its arguments checked."""
    if conn.dialect.name != "postgresql":
        _insert_alike_sqlite(conn, table, template, varying)
        return
    # The varying columns first, then the rest, written out once: the text is put together in C.
    fixed = [name for name in template if name not in varying]
    rest = "".join(f"\t{_copy_text(template[name])}" for name in fixed) + "\n"
    cells: list[Iterable[str]] = []
    for name in varying:
        cells += [map(str, varying[name]), repeat("\t")]
    cells[-1] = repeat(rest)
    text = "".join(chain.from_iterable(zip(*cells, strict=False)))  # the repeats never end
    writes_sent(conn)  # a COPY cannot run in a pipeline
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]  # psycopg
    with cursor.copy(f"COPY {table.name} ({', '.join([*varying, *fixed])}) FROM STDIN") as copy:
        copy.write(text)


def _insert_alike_sqlite(conn: Connection, table: Table, template: dict[str, Any],
                         varying: Mapping[str, Sequence[int]]) -> None:
    """INSERT ... SELECT over `json_each` of a JSON array with one element per row: SQLite makes the
    rows itself, the driver binds the template once instead of once per row (and lets other threads
    run meanwhile). Columns varying by a `range` (ids handed out in a row) are worked out from the
    row's position."""
    listed = [name for name, values in varying.items() if not isinstance(values, range)]
    if len(listed) > 1:  # several lists: one JSON array of rows, each column picked out of it
        rows: Sequence[Any] = list(zip(*(varying[name] for name in listed), strict=True))
        picked = {name: f"json_extract(value, '$[{k}]')" for k, name in enumerate(listed)}
    else:
        rows = varying[listed[0]] if listed else next(iter(varying.values()))
        picked = {name: "value" for name in listed}
    cells: list[str] = []
    params: list[Any] = []
    for name, value in template.items():
        ids = varying.get(name)
        if name in picked:
            cells.append(picked[name])
        elif isinstance(ids, range):
            cells.append("(? + ? * key)")
            params += [ids.start, ids.step]
        else:
            cells.append("?")
            params.append(value)
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(template)}) SELECT {', '.join(cells)} FROM json_each(?)",
        (*params, json.dumps(list(rows))))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """One bound value as PostgreSQL's COPY text format writes it."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "obj"):  # psycopg's Json wrapper of a JSON column's value
        value = compact_json(value.obj)
    elif isinstance(value, dict | list):
        value = compact_json(value)
    return str(value).translate(_COPY_ESCAPES)


# Writes sent together -------------------------------------------------------------------------------

_SENDING_TOGETHER = "shopfest_writes_together"  # keys of the pooled connection's `info`
_PIPELINE = "shopfest_pipeline"


@contextmanager
def writes_together(conn: Connection) -> Iterator[None]:
    """Inside, on PostgreSQL, the writes `run_on_driver` makes (and the BEGIN before them) go to the
    server together, in a psycopg pipeline opened at the first of them, and are answered all at once
    by `writes_sent`, before any statement through SQLAlchemy or the COMMIT, or at the end; elsewhere
    nothing changes. A checkout batch over HTTP so waits for the database twice (writes, COMMIT)
    instead of five times, and each wait is also one for the interpreter's lock and, on a busy
    machine, for a core: the orders' p99 (benchmarks/README.md)."""
    if conn.dialect.name != "postgresql":
        yield
        return
    info = conn.connection.info
    info[_SENDING_TOGETHER] = True
    try:
        yield
        writes_sent(conn)
    except BaseException as error:
        pipeline = info.pop(_PIPELINE, None)
        if pipeline is not None:  # the first error stands; the pipeline's own is only logged
            pipeline.__exit__(type(error), error, error.__traceback__)
        raise
    finally:
        info.pop(_SENDING_TOGETHER, None)


def writes_sent(conn: Connection) -> None:
    """Send the writes `writes_together` holds back and read their answers: a refusal (a CHECK, a
    unique key) is raised here, as SQLAlchemy's, where the caller of the writes expects it."""
    pipeline: ExitStack | None = conn.connection.info.pop(_PIPELINE, None)
    if pipeline is None:
        return
    driver_error = conn.dialect.loaded_dbapi.Error
    try:
        pipeline.close()
    except driver_error as error:
        raise DBAPIError.instance("(writes sent together)", None, error, driver_error,
                                  dialect=conn.dialect) from error


def _open_pipeline(conn: Connection) -> None:
    pipeline = ExitStack()
    pipeline.enter_context(conn.connection.driver_connection.pipeline())  # type: ignore[union-attr]
    conn.connection.info[_PIPELINE] = pipeline


def _send_pipelined_writes_first(engine: Engine) -> None:
    """A statement through SQLAlchemy or a COMMIT inside `writes_together` first has the writes held
    back sent (SQLAlchemy reads results as it executes; a pipeline holds them back)."""

    @event.listens_for(engine, "before_cursor_execute")
    @event.listens_for(engine, "commit")
    def _send_first(conn: Connection, *_: Any) -> None:
        if not conn.invalidated and _PIPELINE in conn.connection.info:
            writes_sent(conn)
