"""Local tables of vouchers' life after the sale: each redemption in a shop (undone ones kept, marked),
and what each item of a shop's offline uploads came to, so that an upload sent again changes nothing.
The vouchers themselves are the orders context's (its `vouchers` table, reached through the port)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Index,
    String,
    Table,
    UniqueConstraint,
    insert,
    select,
    text,
    update,
)

from shopfest.core.db import Id, UtcDateTime, metadata

local_redemptions = Table(
    "local_redemptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("voucher_code", String(40), nullable=False),
    Column("merchant_id", Id, nullable=False),
    Column("shop_id", Id, nullable=False),
    Column("staff_id", Id, nullable=False),
    Column("redeemed_at", UtcDateTime, nullable=False),  # at the counter (offline: as the console says)
    Column("recorded_at", UtcDateTime, nullable=False),  # when the festival heard of it
    Column("undone_at", UtcDateTime, nullable=True),
    Column("title", String(200), nullable=False),
    # One standing redemption per voucher, whatever the code above it: a second line of defence
    # behind the conditional update of the voucher's status.
    Index("uq_local_redemptions_standing", "voucher_code", unique=True,
          sqlite_where=text("undone_at IS NULL"), postgresql_where=text("undone_at IS NULL")),
    Index("ix_local_redemptions_merchant_id_redeemed_at", "merchant_id", "redeemed_at"),
)

local_offline_items = Table(
    "local_offline_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, nullable=False),
    Column("client_ref", String(64), nullable=False),
    Column("outcome", JSON, nullable=False),  # the report's line for it, answered again on a re-upload
    Column("recorded_at", UtcDateTime, nullable=False),
    UniqueConstraint("shop_id", "client_ref", name="uq_local_offline_items_shop_id_client_ref"),
)


class RedemptionStore:
    """The repository of redemptions and offline outcomes, on the unit of work's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, row: dict[str, Any]) -> int:
        added = self.conn.execute(insert(local_redemptions).values(row))
        return int(added.inserted_primary_key[0])  # type: ignore[index]  # an insert of one row has its key

    def get(self, redemption_id: int) -> Any:  # noqa: ANN401  # a row of local_redemptions
        return self.conn.execute(select(local_redemptions)
                                 .where(local_redemptions.c.id == redemption_id)).first()

    def standing(self, code: str) -> Any:  # noqa: ANN401  # a row of local_redemptions, or None
        """The voucher's redemption not undone, if any."""
        return self.conn.execute(select(local_redemptions).where(
            local_redemptions.c.voucher_code == code, local_redemptions.c.undone_at.is_(None))).first()

    def standing_of(self, codes: Sequence[str]) -> dict[str, Any]:
        if not codes:
            return {}
        rows = self.conn.execute(select(local_redemptions).where(
            local_redemptions.c.voucher_code.in_(set(codes)), local_redemptions.c.undone_at.is_(None)))
        return {r.voucher_code: r for r in rows}

    def undo(self, redemption_id: int, *, at: datetime) -> bool:
        """Mark it undone, unless it was already: of two undos at once, one wins."""
        done = self.conn.execute(update(local_redemptions).where(
            local_redemptions.c.id == redemption_id, local_redemptions.c.undone_at.is_(None))
            .values(undone_at=at))
        return done.rowcount == 1

    def of_merchant(self, merchant_id: int, *, since: datetime | None, before: datetime | None,
                    limit: int) -> list[Any]:
        query = select(local_redemptions).where(local_redemptions.c.merchant_id == merchant_id,
                                                local_redemptions.c.undone_at.is_(None))
        if since is not None and before is not None:
            query = query.where(local_redemptions.c.redeemed_at >= since,
                                local_redemptions.c.redeemed_at < before)
        return list(self.conn.execute(query.order_by(local_redemptions.c.redeemed_at,
                                                     local_redemptions.c.id).limit(limit)))

    def redeemed_times(self, merchant_id: int, *, since: datetime, before: datetime) -> list[datetime]:
        rows = self.conn.scalars(select(local_redemptions.c.redeemed_at).where(
            local_redemptions.c.merchant_id == merchant_id, local_redemptions.c.undone_at.is_(None),
            local_redemptions.c.redeemed_at >= since, local_redemptions.c.redeemed_at < before))
        return list(rows)

    def offline_outcomes(self, shop_id: int, refs: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not refs:
            return {}
        items = local_offline_items.c
        rows = self.conn.execute(select(items.client_ref, items.outcome).where(
            items.shop_id == shop_id, items.client_ref.in_(set(refs))))
        return {r.client_ref: r.outcome for r in rows}

    def add_offline_outcome(self, shop_id: int, client_ref: str, outcome: dict[str, Any], *,
                            at: datetime) -> None:
        self.conn.execute(insert(local_offline_items).values(shop_id=shop_id, client_ref=client_ref,
                                                             outcome=outcome, recorded_at=at))


def standing_after(conn: Connection, after_id: int, *, limit: int) -> list[Any]:
    """The redemptions not undone after `after_id`, by id (rows of local_redemptions)."""
    return list(conn.execute(select(local_redemptions).where(local_redemptions.c.id > after_id,
                                                             local_redemptions.c.undone_at.is_(None))
                             .order_by(local_redemptions.c.id).limit(limit)))
