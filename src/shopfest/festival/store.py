"""Festival tables and their repository."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Connection, ForeignKey, Integer, String, Table, insert, select

from shopfest.core.db import Id, UtcDateTime, metadata
from shopfest.festival.model import Festival, Phase, PhaseKind

festivals = Table(
    "festivals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("slug", String(80), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False, index=True),
)

festival_phases = Table(
    "festival_phases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("festival_id", Id, ForeignKey("festivals.id"), nullable=False, index=True),
    Column("key", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("wave", Integer, nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
)


class FestivalStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, festival: Festival) -> Festival:
        festival_id = self.conn.execute(
            insert(festivals).values(
                slug=festival.slug,
                name=festival.name,
                timezone=festival.timezone,
                starts_at=festival.starts_at,
                ends_at=festival.ends_at,
            )
        ).inserted_primary_key[0]  # type: ignore[index]  # set by every INSERT
        self.conn.execute(
            insert(festival_phases),
            [
                {"festival_id": festival_id, "key": p.key, "name": p.name, "kind": p.kind.value,
                 "wave": p.wave, "starts_at": p.starts_at, "ends_at": p.ends_at}
                for p in festival.phases
            ],
        )
        return self.get(festival_id)

    def id_of(self, slug: str) -> int | None:
        return self.conn.scalar(select(festivals.c.id).where(festivals.c.slug == slug))

    def slug_taken(self, slug: str) -> bool:
        return self.id_of(slug) is not None

    def get(self, festival_id: int) -> Festival:
        row = self.conn.execute(select(festivals).where(festivals.c.id == festival_id)).one()
        phases = self.conn.execute(
            select(festival_phases)
            .where(festival_phases.c.festival_id == festival_id)
            .order_by(festival_phases.c.starts_at)
        ).all()
        return Festival(
            id=row.id,
            name=row.name,
            slug=row.slug,
            timezone=row.timezone,
            phases=tuple(
                Phase(p.key, p.name, PhaseKind(p.kind), p.wave, p.starts_at, p.ends_at)
                for p in phases
            ),
        )

    def current(self, now: datetime) -> Festival | None:
        """The festival not yet over that ends first; else the one that ended last."""
        upcoming = self.conn.scalar(
            select(festivals.c.id).where(festivals.c.ends_at > now).order_by(festivals.c.ends_at)
        )
        chosen = upcoming or self.conn.scalar(
            select(festivals.c.id).order_by(festivals.c.ends_at.desc())
        )
        return self.get(chosen) if chosen else None

    def exists(self, festival_id: int) -> bool:
        return self.conn.scalar(select(festivals.c.id).where(festivals.c.id == festival_id)) is not None
