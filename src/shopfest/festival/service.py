"""Festival use cases: schedule a festival, find the one on now."""

from __future__ import annotations

from datetime import datetime

from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.errors import Conflict, NotFound
from shopfest.core.uow import UnitOfWork
from shopfest.festival.model import Festival, Phase, PhaseKind, eleven_eleven
from shopfest.festival.store import FestivalStore


def schedule_festival(uow: UnitOfWork, actor: Actor | None, festival: Festival) -> Festival:
    """Operators schedule festivals; a slug names one festival only. Raises Forbidden, Conflict."""
    require_role(actor, Role.OPERATOR)
    with uow:
        saved = _add(FestivalStore(uow.conn), festival)
        uow.commit()
    return saved


def schedule_eleven_eleven(uow: UnitOfWork, year: int) -> Festival:
    """The demo and seed path: the real two-wave shape of `year`, unless it is there already."""
    festival = eleven_eleven(year)
    with uow:
        store = FestivalStore(uow.conn)
        existing = store.id_of(festival.slug)
        if existing is not None:
            return store.get(existing)
        saved = _add(store, festival)
        uow.commit()
    return saved


def _add(store: FestivalStore, festival: Festival) -> Festival:
    if store.slug_taken(festival.slug):
        raise Conflict(f"a festival named {festival.slug!r} exists already", slug=festival.slug)
    return store.add(festival)


def current_festival(uow: UnitOfWork) -> Festival:
    """The festival on now or next; the last one when all are over. Raises NotFound."""
    with uow:
        festival = FestivalStore(uow.conn).current(uow.clock.now())
    if festival is None:
        raise NotFound("no festival is scheduled yet")
    return festival


def balance_window_now(uow: UnitOfWork) -> Phase | None:
    """In a deposit window of the current festival: the phase in which its balances are paid
    (inside the caller's transaction)."""
    now = uow.clock.now()
    festival = FestivalStore(uow.conn).current(now)
    return festival.balance_window(now) if festival is not None else None


def sale_open_at(uow: UnitOfWork, instant: datetime) -> bool:
    """Whether a sale period of the current festival is on at `instant` (inside the caller's transaction)."""
    festival = FestivalStore(uow.conn).current(instant)
    phase = festival.phase_at(instant) if festival is not None else None
    return phase is not None and phase.kind is PhaseKind.SALE


def get_festival(uow: UnitOfWork, festival_id: int) -> Festival:
    """A festival by id. Raises NotFound."""
    with uow:
        store = FestivalStore(uow.conn)
        if not store.exists(festival_id):
            raise NotFound(f"no festival {festival_id}", festival_id=festival_id)
        return store.get(festival_id)


def festival_at(uow: UnitOfWork, instant: datetime) -> Festival | None:
    """The festival on or next at `instant` (the last one when all are over), inside the caller's
    transaction; None when none is scheduled."""
    return FestivalStore(uow.conn).current(instant)
