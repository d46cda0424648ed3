"""The big screen's shared links: a row per link an operator made, holding the SHA-256 of its key (the
key itself is shown once, to its maker), when it expires and whether it was revoked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Row, String, Table, insert, select, update

from shopfest.core.db import Id, UtcDateTime, metadata
from shopfest.insights.screen_link import ScreenLink

screen_links = Table(
    "screen_links",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key_digest", String(64), nullable=False, unique=True),
    Column("made_by", Id, nullable=False),
    Column("made_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)


class ScreenLinkStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, *, key_digest: str, made_by: int, made_at: datetime, expires_at: datetime) -> ScreenLink:
        new_id = self.conn.execute(insert(screen_links).values(
            key_digest=key_digest, made_by=made_by, made_at=made_at, expires_at=expires_at,
        )).inserted_primary_key
        assert new_id is not None
        return ScreenLink(int(new_id[0]), made_by, made_at, expires_at, None)

    def by_digest(self, key_digest: str) -> ScreenLink | None:
        row = self.conn.execute(select(screen_links).where(screen_links.c.key_digest == key_digest)).first()
        return _link(row) if row is not None else None

    def get(self, link_id: int) -> ScreenLink | None:
        row = self.conn.execute(select(screen_links).where(screen_links.c.id == link_id)).first()
        return _link(row) if row is not None else None

    def revoke(self, link_id: int, *, at: datetime) -> None:
        self.conn.execute(update(screen_links).where(screen_links.c.id == link_id,
                                                     screen_links.c.revoked_at.is_(None))
                          .values(revoked_at=at))

    def recent(self, *, limit: int) -> list[ScreenLink]:
        rows = self.conn.execute(select(screen_links).order_by(screen_links.c.id.desc()).limit(limit))
        return [_link(row) for row in rows]


def _link(row: Row[Any]) -> ScreenLink:
    return ScreenLink(row.id, row.made_by, row.made_at, row.expires_at, row.revoked_at)
