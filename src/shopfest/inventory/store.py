"""Stock tables and their repository."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import BigInteger, Column, Connection, ForeignKey, Table, select

from shopfest.core.db import Id, bulk_insert, metadata
from shopfest.inventory.model import StockLevel

stock_levels = Table(
    "stock_levels",
    metadata,
    Column("sku_id", Id, ForeignKey("skus.id"), primary_key=True, autoincrement=False),
    Column("on_hand", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False, default=0),
    Column("sold", BigInteger, nullable=False, default=0),
)


class InventoryStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def receive(self, on_hand: Mapping[int, int]) -> None:
        rows = [{"sku_id": k, "on_hand": v, "reserved": 0, "sold": 0} for k, v in on_hand.items()]
        bulk_insert(self.conn, stock_levels, rows)

    def levels(self, sku_ids: Sequence[int]) -> dict[int, StockLevel]:
        if not sku_ids:
            return {}
        rows = self.conn.execute(
            select(stock_levels).where(stock_levels.c.sku_id.in_(list(sku_ids)))
        )
        return {r.sku_id: StockLevel(r.sku_id, r.on_hand, r.reserved, r.sold) for r in rows}
