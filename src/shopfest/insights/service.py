# TEMPORARY stand-in for the stream helper's module
"""The screen's figures, counted naively from the paid orders until the stream's own module replaces
this one at merge: same two functions, same shape."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from shopfest.core.uow import UnitOfWork
from shopfest.orders.store import orders

PAID = ("paid", "fulfilled", "completed", "partially_refunded")
SERIES_SECONDS = 300


def _totals(uow: UnitOfWork) -> tuple[int, int, int]:
    row = uow.conn.execute(select(func.coalesce(func.sum(orders.c.total_minor), 0), func.count(),
                                  func.count(func.distinct(orders.c.shopper_id)))
                           .where(orders.c.status.in_(PAID))).one()
    return int(row[0]), int(row[1]), int(row[2])


def figures_version(uow: UnitOfWork) -> int:
    """Grows whenever a figure changes: here the paid orders' count plus their sum."""
    with uow:
        gmv, count, _ = _totals(uow)
    return count + gmv


def _series(uow: UnitOfWork) -> list[list[int]]:
    since = uow.clock.now() - timedelta(seconds=SERIES_SECONDS)
    rows = uow.conn.execute(select(orders.c.placed_at, orders.c.total_minor)
                            .where(orders.c.status.in_(PAID), orders.c.placed_at >= since))
    seconds: dict[int, list[int]] = {}
    for placed_at, total in rows:
        second = seconds.setdefault(int(placed_at.timestamp()), [0, 0])
        second[0] += 1
        second[1] += int(total)
    return [[at, n, gmv] for at, (n, gmv) in sorted(seconds.items())]


def screen_figures(uow: UnitOfWork, *, top: int = 10) -> dict[str, Any]:
    """The big screen's figures, in the shape the stream's module gives them."""
    with uow:
        gmv, count, shoppers = _totals(uow)
        series = _series(uow)
        now = int(uow.clock.now().timestamp())
    peak = max(series, key=lambda s: s[1], default=None)
    current = next((s[1] for s in series if s[0] == now - 1), 0)
    zero = {"gmv_minor": 0, "orders": 0}
    return {"version": count + gmv, "currency": "CNY", "gmv_minor": gmv, "orders": count,
            "shoppers": shoppers, "refunded_minor": 0,
            "per_second": {"now": current, "peak": peak[1] if peak else 0, "peak_at": None,
                           "series": series},
            "brands": [], "categories": [], "countries": [], "luxury": dict(zero),
            "debuts": {"gmv_minor": 0, "units": 0}, "live": dict(zero),
            "local": {"gmv_minor": 0, "payments": 0, "redemptions": 0}}
