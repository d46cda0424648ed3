"""Local tables: merchants' shops (with their H3 cells, see cells.py) and the deals they sell online
as vouchers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    insert,
    select,
    update,
)

from shopfest.core.db import Id, UtcDateTime, metadata
from shopfest.core.money import Money
from shopfest.local import cells
from shopfest.local.model import ALWAYS_OPEN, Deal, DealKind, Hours, Point, Shop, ShopKind, hours

COVERED = ("kind", "festival_deal", "category_id", "lat", "lng", "id")

PAY_TOKEN_MAX = 40  # what the pay_token column keeps

local_shops = Table(
    "local_shops",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, nullable=False),
    Column("name", String(80), nullable=False),
    Column("name_zh", String(80), nullable=True),
    Column("kind", String(20), nullable=False),
    Column("city_id", Integer, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    # H3 cells of the shop's place (cells.RESOLUTIONS): what a nearby search reads by
    Column("cell8", BigInteger, nullable=False),
    Column("cell6", BigInteger, nullable=False),
    Column("zone", String(40), nullable=False),
    Column("hours", JSON, nullable=True),  # None: always open
    Column("category_id", Id, nullable=True),
    Column("festival_deal", Boolean, nullable=False, default=False),
    Column("pay_token", String(PAY_TOKEN_MAX), nullable=True, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    # The nearby search's read is answered from these indexes alone (migration 0024): the cell, then
    # what it filters by, then what it reads.
    Index("ix_local_shops_cell8", "cell8", *COVERED),
    Index("ix_local_shops_cell6", "cell6", *COVERED),
    Index("ix_local_shops_merchant_id", "merchant_id"),
)

local_deals = Table(
    "local_deals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, nullable=False, index=True),
    Column("product_id", Id, nullable=False),
    Column("sku_id", Id, nullable=False, unique=True),
    Column("kind", String(12), nullable=False),
    Column("valid_days", Integer, nullable=False),
    Column("valid_until", UtcDateTime, nullable=True),
    Column("face_value", BigInteger, nullable=True),  # minor units of `currency`, for a cash voucher
    Column("currency", String(3), nullable=True),
    Column("festival", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
)


def shop_row(shop: Shop, *, at: datetime) -> dict[str, Any]:
    return {"merchant_id": shop.merchant_id, "name": shop.name, "name_zh": shop.name_zh,
            "kind": shop.kind.value, "city_id": shop.city_id, "lat": shop.place.lat, "lng": shop.place.lng,
            **cells.cells(shop.place), "zone": shop.zone,
            "hours": None if shop.hours == ALWAYS_OPEN else shop.hours.as_json(),
            "category_id": shop.category_id, "festival_deal": shop.festival_deal,
            "pay_token": shop.pay_token, "created_at": at}


def shop_of(row: Any) -> Shop:
    return Shop(merchant_id=row.merchant_id, name=row.name, kind=ShopKind(row.kind), city_id=row.city_id,
                place=Point(row.lat, row.lng), zone=row.zone, hours=week_of(row.hours), name_zh=row.name_zh,
                category_id=row.category_id, festival_deal=row.festival_deal, pay_token=row.pay_token,
                id=row.id)


def week_of(stored: Any) -> Hours:  # noqa: ANN401  # the JSON column's value
    """A shop's hours as stored; the same week is read once (most shops share a few)."""
    return ALWAYS_OPEN if stored is None else _week(orjson.dumps(stored, option=orjson.OPT_SORT_KEYS))


@lru_cache(maxsize=4096)
def _week(spec: bytes) -> Hours:
    return hours(orjson.loads(spec))


def deal_of(row: Any) -> Deal:
    face = Money(row.face_value, row.currency) if row.face_value is not None and row.currency else None
    return Deal(merchant_id=row.merchant_id, product_id=row.product_id, sku_id=row.sku_id,
                kind=DealKind(row.kind), valid_days=row.valid_days, face_value=face,
                valid_until=row.valid_until, festival=row.festival, id=row.id)


class LocalStore:
    """The repository of shops and deals, on the unit of work's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_shop(self, shop: Shop, *, at: datetime) -> int:
        added = self.conn.execute(insert(local_shops).values(shop_row(shop, at=at)))
        return int(added.inserted_primary_key[0])  # type: ignore[index]  # an insert of one row has its key

    def shop(self, shop_id: int) -> Shop | None:
        row = self.conn.execute(select(local_shops).where(local_shops.c.id == shop_id)).first()
        return shop_of(row) if row else None

    def shops_of(self, merchant_id: int) -> list[Shop]:
        rows = self.conn.execute(select(local_shops).where(local_shops.c.merchant_id == merchant_id)
                                 .order_by(local_shops.c.id))
        return [shop_of(r) for r in rows]

    def add_deal(self, deal: Deal, *, at: datetime) -> int:
        row = {"merchant_id": deal.merchant_id, "product_id": deal.product_id, "sku_id": deal.sku_id,
               "kind": deal.kind.value, "valid_days": deal.valid_days, "valid_until": deal.valid_until,
               "face_value": deal.face_value.minor if deal.face_value else None,
               "currency": deal.face_value.currency if deal.face_value else None,
               "festival": deal.festival, "created_at": at}
        added = self.conn.execute(insert(local_deals).values(row))
        return int(added.inserted_primary_key[0])  # type: ignore[index]  # an insert of one row has its key

    def deal_of_sku(self, sku_id: int) -> Deal | None:
        row = self.conn.execute(select(local_deals).where(local_deals.c.sku_id == sku_id)).first()
        return deal_of(row) if row else None

    def deals_of(self, merchant_ids: Sequence[int]) -> list[Deal]:
        if not merchant_ids:
            return []
        rows = self.conn.execute(select(local_deals).where(local_deals.c.merchant_id.in_(set(merchant_ids)))
                                 .order_by(local_deals.c.id))
        return [deal_of(r) for r in rows]

    def add_shops(self, shops: Iterable[Shop], *, at: datetime) -> int:
        """Many shops in one statement (the demo's and the benchmark's loads); how many."""
        rows = [shop_row(s, at=at) for s in shops]
        if rows:
            self.conn.execute(insert(local_shops), rows)
        return len(rows)

    def mark_festival_deal(self, merchant_id: int) -> None:
        self.conn.execute(update(local_shops).where(local_shops.c.merchant_id == merchant_id)
                          .values(festival_deal=True))

    def has_festival_deal(self, merchant_id: int) -> bool:
        return self.conn.execute(select(local_deals.c.id).where(
            local_deals.c.merchant_id == merchant_id, local_deals.c.festival.is_(True)).limit(1)).first() \
            is not None

    def candidates(self, resolution: int, cell_ids: Sequence[int], *, kind: ShopKind | None = None,
                   category_id: int | None = None, festival_deal: bool = False,
                   within: cells.Box | None = None) -> list[Any]:
        """(id, lat, lng) of the shops in these cells that pass the filters."""
        statement, values = _candidates(resolution, cell_ids, kind=kind, category_id=category_id,
                                        festival_deal=festival_deal, within=within)
        return list(self.conn.execute(statement, values))

    def weeks(self, shop_ids: Sequence[int]) -> dict[int, tuple[str, Any]]:
        """Each shop's zone and stored hours."""
        if not shop_ids:
            return {}
        t = local_shops.c
        rows = self.conn.execute(select(t.id, t.zone, t.hours).where(t.id.in_(set(shop_ids))))
        return {r.id: (r.zone, r.hours) for r in rows}

    def shop_by_pay_token(self, token: str) -> Shop | None:
        """The shop whose counter shows this pay token; a token longer than the column is no shop's."""
        if not isinstance(token, str) or not 0 < len(token) <= PAY_TOKEN_MAX:
            return None
        row = self.conn.execute(select(local_shops).where(local_shops.c.pay_token == token)).first()
        return shop_of(row) if row else None

    def shops_by_id(self, shop_ids: Sequence[int]) -> dict[int, Shop]:
        if not shop_ids:
            return {}
        rows = self.conn.execute(select(local_shops).where(local_shops.c.id.in_(set(shop_ids))))
        return {r.id: shop_of(r) for r in rows}


def candidates_select(resolution: int, cell_ids: Sequence[int], *, kind: ShopKind | None = None,
                      category_id: int | None = None, festival_deal: bool = False,
                      within: cells.Box | None = None) -> Select[Any]:
    """The nearby search's read: only the rows of the given cells (by the index of the resolution's
    column), with the filters the database can apply; the distance is the caller's to check."""
    statement, values = _candidates(resolution, cell_ids, kind=kind, category_id=category_id,
                                    festival_deal=festival_deal, within=within)
    return statement.params(values)


def _candidates(resolution: int, cell_ids: Sequence[int], *, kind: ShopKind | None,
                category_id: int | None, festival_deal: bool,
                within: cells.Box | None) -> tuple[Select[Any], dict[str, Any]]:
    values: dict[str, Any] = {"cell_ids": list(cell_ids)}
    if kind is not None:
        values["kind"] = kind.value
    if category_id is not None:
        values["category_id"] = category_id
    if within is not None:
        values.update(zip(("south", "north", "west", "east"), within, strict=True))
    return _candidates_statement(resolution, kind is not None, category_id is not None, festival_deal,
                                 within is not None), values


@lru_cache(maxsize=64)
def _candidates_statement(resolution: int, kind: bool, category: bool, festival_deal: bool,
                          boxed: bool) -> Select[Any]:
    """Built once for each shape of search: building one costs more than running it."""
    t = local_shops.c
    # One expanding parameter for the whole list: a disk is up to hundreds of cells.
    cell = t[f"cell{resolution}"]
    query = select(t.id, t.lat, t.lng).where(cell.in_(bindparam("cell_ids", expanding=True)))
    if kind:
        query = query.where(t.kind == bindparam("kind"))
    if category:
        query = query.where(t.category_id == bindparam("category_id"))
    if festival_deal:
        query = query.where(t.festival_deal.is_(True))
    if boxed:
        query = query.where(t.lat.between(bindparam("south"), bindparam("north")),
                            t.lng.between(bindparam("west"), bindparam("east")))
    return query
