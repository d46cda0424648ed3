# TEMPORARY stand-in for the stream helper's module
"""The screen's figures, counted naively from the paid orders until the stream's own module replaces
this one at merge: same two functions, same shape. (Plain SQL on the orders table, which insights
must not import; the real module counts the events instead.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, text

from shopfest.core.db import UtcDateTime
from shopfest.core.uow import UnitOfWork

PAID = "('paid', 'fulfilled', 'completed', 'partially_refunded')"
SERIES_SECONDS = 300
TOTALS = text(f"SELECT coalesce(sum(total_minor), 0), count(*), count(DISTINCT shopper_id) FROM orders "
              f"WHERE status IN {PAID}")
RECENT = text(f"SELECT placed_at, total_minor FROM orders WHERE status IN {PAID} AND placed_at >= :since"
              ).bindparams(bindparam("since", type_=UtcDateTime)).columns(placed_at=UtcDateTime)


def _totals(uow: UnitOfWork) -> tuple[int, int, int]:
    row = uow.conn.execute(TOTALS).one()
    return int(row[0]), int(row[1]), int(row[2])


def figures_version(uow: UnitOfWork) -> int:
    """Grows whenever a figure changes: here the paid orders' count plus their sum."""
    with uow:
        gmv, count, _ = _totals(uow)
    return count + gmv


def _series(uow: UnitOfWork) -> list[list[int]]:
    rows = uow.conn.execute(RECENT, {"since": uow.clock.now() - timedelta(seconds=SERIES_SECONDS)})
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
