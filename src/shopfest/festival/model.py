"""The festival calendar: phases in time, which one is on, what comes next, how long until it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shopfest.core.clock import HOME_ZONE, as_utc, zone
from shopfest.core.errors import InvalidInput


class PhaseKind(StrEnum):
    DEPOSIT = "deposit"  # pre-sale: shoppers pay a deposit that holds a unit
    SALE = "sale"  # balance payments and spot sales


@dataclass(frozen=True, slots=True)
class Phase:
    """One stretch of the festival, from `starts_at` up to but not including `ends_at` (UTC)."""

    key: str
    name: str
    kind: PhaseKind
    wave: int
    starts_at: datetime
    ends_at: datetime

    def contains(self, instant: datetime) -> bool:
        return self.starts_at <= instant < self.ends_at


@dataclass(frozen=True, slots=True)
class Countdown:
    """What happens next on the calendar and how long until it."""

    phase: Phase
    event: str  # "starts" or "ends"
    at: datetime
    remaining: timedelta


@dataclass(frozen=True)
class Festival:
    name: str
    slug: str
    timezone: str
    phases: tuple[Phase, ...]
    id: int | None = None

    def __post_init__(self) -> None:
        check_phases(self.phases)
        zone(self.timezone)

    @property
    def starts_at(self) -> datetime:
        return self.phases[0].starts_at

    @property
    def ends_at(self) -> datetime:
        return self.phases[-1].ends_at

    def phase_at(self, instant: datetime) -> Phase | None:
        """The phase on at `instant`, or None before, after or between phases."""
        instant = as_utc(instant)
        return next((p for p in self.phases if p.contains(instant)), None)

    def next_phase(self, instant: datetime) -> Phase | None:
        """The first phase that starts after `instant`."""
        instant = as_utc(instant)
        return next((p for p in self.phases if p.starts_at > instant), None)

    def countdown(self, instant: datetime) -> Countdown | None:
        """Until the current phase ends or, between phases, until the next starts; None when over."""
        instant = as_utc(instant)
        current = self.phase_at(instant)
        if current is not None:
            return Countdown(current, "ends", current.ends_at, current.ends_at - instant)
        upcoming = self.next_phase(instant)
        if upcoming is None:
            return None
        return Countdown(upcoming, "starts", upcoming.starts_at, upcoming.starts_at - instant)

    def balance_window(self, instant: datetime) -> Phase | None:
        """When `instant` falls in a deposit window: the sale phase of its wave, in which balances
        are paid. None outside deposit windows."""
        current = self.phase_at(instant)
        if current is None or current.kind is not PhaseKind.DEPOSIT:
            return None
        return next((p for p in self.phases if p.wave == current.wave and p.kind is PhaseKind.SALE
                     and p.starts_at >= current.ends_at), None)

    @property
    def sales(self) -> tuple[Phase, ...]:
        return tuple(p for p in self.phases if p.kind is PhaseKind.SALE)

    def sale_holding(self, starts_at: datetime, ends_at: datetime) -> Phase | None:
        """The sale phase that holds the whole span from `starts_at` to `ends_at`: the sale a
        promotion of that window belongs to. None when the span reaches outside every sale."""
        return next((p for p in self.sales if p.starts_at <= starts_at and ends_at <= p.ends_at), None)


def check_phases(phases: tuple[Phase, ...]) -> None:
    """Phases are in time order, each ends after it starts, none overlap. Raises InvalidInput."""
    if not phases:
        raise InvalidInput("a festival needs at least one phase")
    keys = [p.key for p in phases]
    if len(set(keys)) != len(keys):
        raise InvalidInput("phase keys must be unique", keys=keys)
    for phase in phases:
        if phase.ends_at <= phase.starts_at:
            raise InvalidInput(f"phase {phase.key} ends before it starts", phase=phase.key)
    for before, after in zip(phases, phases[1:], strict=False):
        if after.starts_at < before.ends_at:
            raise InvalidInput(
                f"phase {after.key} starts before {before.key} ends", phase=after.key
            )


@dataclass(frozen=True, slots=True)
class PhasePlan:
    """A phase written in local wall-clock terms: month, day and hour:minute in the festival zone."""

    key: str
    name: str
    kind: PhaseKind
    wave: int
    start: tuple[int, int, int, int]  # month, day, hour, minute
    end: tuple[int, int, int, int]  # exclusive


# The real 11.11 shape: two waves, each a deposit window and then its balance and spot sales.
ELEVEN_ELEVEN = (
    PhasePlan("wave1-deposit", "Wave 1 pre-sale deposits", PhaseKind.DEPOSIT, 1,
              (10, 21, 0, 0), (10, 31, 22, 0)),
    PhasePlan("wave1-sale", "Wave 1 sales (Nov 1–3)", PhaseKind.SALE, 1,
              (11, 1, 0, 0), (11, 4, 0, 0)),
    PhasePlan("wave2-deposit", "Wave 2 pre-sale deposits", PhaseKind.DEPOSIT, 2,
              (11, 4, 0, 0), (11, 10, 22, 0)),
    PhasePlan("wave2-sale", "11.11 Global Shopping Festival", PhaseKind.SALE, 2,
              (11, 11, 0, 0), (11, 12, 0, 0)),
)


def eleven_eleven(year: int, timezone: str = HOME_ZONE) -> Festival:
    """The two-wave 11.11 festival of `year`, on the wall clocks of `timezone`."""
    tz = zone(timezone)

    def instant(month: int, day: int, hour: int, minute: int) -> datetime:
        return as_utc(datetime(year, month, day, hour, minute, tzinfo=tz))

    phases = tuple(
        Phase(p.key, p.name, p.kind, p.wave, instant(*p.start), instant(*p.end))
        for p in ELEVEN_ELEVEN
    )
    return Festival(f"11.11 Global Shopping Festival {year}", f"1111-{year}", timezone, phases)


def festival_year_for(instant: datetime, timezone: str = HOME_ZONE) -> int:
    """The year whose festival is current or next at `instant` (after Nov 11, next year's)."""
    wall = as_utc(instant).astimezone(zone(timezone))
    return wall.year if (wall.month, wall.day) <= (11, 11) else wall.year + 1
