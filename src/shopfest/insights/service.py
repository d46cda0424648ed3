"""Insights use cases: relay the outbox's sale events to the stream, absorb each event once into the
figures, rebuild the figures from the orders, and read the big screen's figures."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from babel import Locale
from sqlalchemy import exists, select, update

from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.db import chunks, id_in, outbox
from shopfest.core.events import DomainEvent
from shopfest.core.uow import UnitOfWork
from shopfest.insights import store
from shopfest.insights.model import SALE_KINDS, Projection, Published, sale_of

Publish = Callable[[Sequence[Published]], None]
SERIES_SECONDS = 300
REBUILT_AT_ONCE = 5000  # sales folded, and outbox events marked counted, a statement at a time
_ENGLISH = Locale("en")


def relay(uow: UnitOfWork, publish: Publish, *, limit: int = 1000) -> int:
    """Hand the oldest unpublished outbox rows' sale events to `publish` and mark every row taken as
    published, in one transaction; nothing is marked when `publish` fails (they go again later).
    Two processes never take the same rows (PostgreSQL: SKIP LOCKED). Returns how many rows were taken."""
    with uow:
        query = select(outbox).where(outbox.c.published_at.is_(None)).order_by(outbox.c.id).limit(limit)
        if uow.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = uow.conn.execute(query).all()
        if not rows:
            return 0
        sales = [_published(r) for r in rows if r.name in SALE_KINDS]
        if sales:
            publish(sales)
        uow.conn.execute(update(outbox).where(id_in(outbox.c.id, [r.id for r in rows]))
                         .values(published_at=uow.clock.now()))
        uow.commit()
        return len(rows)


def unpublished(uow: UnitOfWork) -> bool:
    """Whether the outbox holds a row not relayed yet: a read, so that a pump with nothing to relay
    never takes SQLite's one writer's turn."""
    with uow:
        waiting = select(outbox.c.id).where(outbox.c.published_at.is_(None)).limit(1)
        return uow.conn.scalar(waiting) is not None


def _published(row: Any) -> Published:  # noqa: ANN401  # an outbox row
    return Published(event_id=int(row.id), name=row.name, payload=row.payload, occurred_at=row.occurred_at)


def uncounted(uow: UnitOfWork, publish: Publish, *, consumer: str, after_id: int = 0,
              limit: int = 1000) -> int:
    """Publish again the sale events relayed but not counted by `consumer`, oldest first from
    `after_id`: what an in-process stream held when its process stopped. Returns the last outbox id
    looked at (0: none)."""
    counted = store.insights_counted.c
    with uow:
        rows = uow.conn.execute(
            select(outbox).where(outbox.c.id > after_id, outbox.c.published_at.is_not(None),
                                 outbox.c.name.in_(list(SALE_KINDS)),
                                 ~exists().where(counted.consumer == consumer,
                                                 counted.event_id == outbox.c.id))
            .order_by(outbox.c.id).limit(limit)).all()
        if rows:
            publish([_published(r) for r in rows])
        return int(rows[-1].id) if rows else 0


def absorb(uow: UnitOfWork, events: Sequence[Published], *, projections: Sequence[Projection],
           consumer: str) -> int:
    """Count each event once for `consumer`: those it counted before are skipped, the rest become
    sales that each of its projections adds, all in one transaction. Returns how many were new."""
    with uow:
        new = store.newly_counted(uow.conn, sorted({e.event_id for e in events}), consumer=consumer)
        if not new:
            return 0
        fresh: dict[int, Published] = {e.event_id: e for e in events if e.event_id in new}
        sales = [s for s in (sale_of(e) for e in fresh.values()) if s is not None]
        for projection in projections:
            projection.project(uow.conn, sales)
        uow.commit()
        return len(new)


def rebuild(uow: UnitOfWork, projections: Sequence[Projection], *,
            recorded: Callable[[UnitOfWork], Iterable[DomainEvent]], consumers: Sequence[str]) -> int:
    """Forget every figure and fold again the sales `recorded` reads from the rows; every sale event
    in the outbox now counts as counted by every one of `consumers`, so the stream does not add it
    again (those relayed later
    still count once). Give it a `repeatable` unit of work: on PostgreSQL the rows it reads and the
    outbox events it marks are then one snapshot. Returns how many sales were folded."""
    with uow:
        store.hold_counting(uow.conn)
        for projection in projections:
            projection.clear(uow.conn)
        folded = 0
        for chunk in chunks(recorded(uow), REBUILT_AT_ONCE):  # the projections add up, chunk by chunk
            sales = [s for s in (sale_of(Published(0, e.name, e.payload(), uow.clock.now())) for e in chunk)
                     if s is not None]
            for projection in projections:
                projection.project(uow.conn, sales)
            folded += len(sales)
        ids = uow.conn.scalars(select(outbox.c.id).where(outbox.c.name.in_(list(SALE_KINDS))))
        for marked in chunks(ids, REBUILT_AT_ONCE):
            store.count_as_counted(uow.conn, marked, consumers=consumers)
        store.bump_version(uow.conn, folded + 1)
        uow.commit()
        return folded


def figures_version(uow: UnitOfWork) -> int:
    """A number that grows whenever a figure changes."""
    with uow:
        return store.version(uow.conn)


def screen_figures(uow: UnitOfWork, *, top: int = 10, currency: str = "CNY") -> dict[str, Any]:
    """The big screen's figures, as its page and `shopfest insights show` read them; `currency` names
    the one they were counted in (the settings' reporting_currency)."""
    with uow:
        conn, now = uow.conn, int(uow.clock.now().timestamp())
        totals = store.totals(conn)
        series = store.seconds_from(conn, now - SERIES_SECONDS, now)
        peak = store.busiest_second(conn)
        figures = {
            "version": totals.get("version", 0), "currency": currency,
            "gmv_minor": totals.get("gmv", 0), "orders": totals.get("orders", 0),
            "shoppers": store.shoppers(conn), "refunded_minor": totals.get("refunded", 0),
            "per_second": {
                "now": next((o for s, o, _ in series if s == now - 1), 0),
                "peak": peak[1] if peak else 0,
                "peak_at": datetime.fromtimestamp(peak[0], UTC).isoformat() if peak else None,
                "series": [list(s) for s in series]},
            "brands": _top(store.top(conn, "brand", limit=top)),
            "categories": _top(store.top(conn, "category", limit=top)),
            "countries": _top(store.top(conn, "country", limit=top), name=_country_name),
            "luxury": {"gmv_minor": totals.get("luxury_gmv", 0), "orders": totals.get("luxury_orders", 0)},
            "debuts": {"gmv_minor": totals.get("debut_gmv", 0), "units": totals.get("debut_units", 0)},
            "live": {"gmv_minor": totals.get("live_gmv", 0), "orders": totals.get("live_orders", 0)},
            "local": {"gmv_minor": totals.get("local_gmv", 0), "payments": totals.get("local_payments", 0),
                      "redemptions": totals.get("local_redemptions", 0)},
        }
    return figures


def _top(rows: Sequence[tuple[str, str, int, int]],
         name: Callable[[str, str], str] = lambda key, kept: kept) -> list[dict[str, Any]]:
    return [{"key": key, "name": name(key, kept), "gmv_minor": gmv, "orders": orders}
            for key, kept, gmv, orders in rows]


def _country_name(code: str, kept: str) -> str:
    return str(_ENGLISH.territories.get(code, code))


def operator_screen(uow: UnitOfWork, actor: Actor | None, *, currency: str, top: int = 10) -> dict[str, Any]:
    """Operators read the big screen's figures. Raises Unauthenticated, Forbidden."""
    require_role(actor, Role.OPERATOR)
    return screen_figures(uow, currency=currency, top=top)
