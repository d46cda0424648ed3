"""Promotion tables: for now, which SKUs sell on pre-sale and for what deposit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, Column, Connection, String, Table, delete, select

from shopfest.core.db import Id, id_in, metadata
from shopfest.core.money import Money

presale_offers = Table(
    "presale_offers",
    metadata,
    Column("sku_id", Id, primary_key=True, autoincrement=False),
    Column("deposit_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
)


class PromotionStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def offer_presale(self, sku_id: int, deposit: Money) -> None:
        self.conn.execute(delete(presale_offers).where(presale_offers.c.sku_id == sku_id))
        self.conn.execute(presale_offers.insert().values(sku_id=sku_id, deposit_minor=deposit.minor,
                                                         currency=deposit.currency))

    def deposits(self, sku_ids: Sequence[int]) -> dict[int, Money]:
        """The deposit of one unit of each SKU sold on pre-sale."""
        if not sku_ids:
            return {}
        rows = self.conn.execute(select(presale_offers).where(id_in(presale_offers.c.sku_id, sku_ids)))
        return {r.sku_id: Money(r.deposit_minor, r.currency) for r in rows}
