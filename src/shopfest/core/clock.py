"""Time: every instant is UTC inside; the viewer's zone is applied only when shown."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shopfest.core.errors import InvalidInput

HOME_ZONE = "Asia/Shanghai"
# The instants ShopFest takes: a festival's calendar has no business outside them, and the edges of
# Python's calendar (year 1 and 9999) overflow as soon as an offset or a duration is applied.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)  # exclusive
INSTANT_RULE = "an ISO 8601 instant with a UTC offset, from 1970-01-01T00:00:00Z up to 3000-01-01T00:00:00Z"


class Clock:
    """The real clock; subclasses set the festival's time for demos and tests."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class SetClock(Clock):
    """Starts at `start` when real time was `anchor` and runs `speed` times as fast (0 stands still).

    Every process given the same start and anchor agrees on the time, so server workers do too.
    """

    start: datetime
    speed: float = 1.0
    anchor: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.start = as_utc(self.start)
        if self.speed < 0:
            raise InvalidInput("clock speed cannot be negative")

    def now(self) -> datetime:
        elapsed = (time.time() - self.anchor) * self.speed
        return self.start + timedelta(seconds=elapsed)

    def set(self, instant: datetime) -> None:
        self.start = as_utc(instant)
        self.anchor = time.time()


def parse_instant(text: str) -> datetime:
    """Read an ISO 8601 instant; it must carry its offset. Raises InvalidInput."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise InvalidInput(f"{text!r} is not an ISO 8601 instant") from None
    if value.tzinfo is None:
        raise InvalidInput(f"{text!r} has no UTC offset; write e.g. 2027-11-11T00:00:00+08:00")
    return check_instant(value)


def instant_text(at: datetime) -> str:
    """An instant (in UTC, as ShopFest keeps them) as the API writes it: ISO 8601 with a Z."""
    return at.isoformat().replace("+00:00", "Z")


def check_instant(value: datetime) -> datetime:
    """The instant in UTC, if it is one ShopFest takes (see EARLIEST, LATEST). Raises InvalidInput."""
    if value.tzinfo is None:
        raise InvalidInput("naive datetimes are not instants; give a UTC offset")
    try:
        instant = value.astimezone(UTC)
    except OverflowError:
        instant = None
    if instant is None or not EARLIEST <= instant < LATEST:
        raise InvalidInput(f"{value.isoformat()} is out of range: give {INSTANT_RULE}")
    return instant


def as_utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise InvalidInput("naive datetimes are not instants; give a UTC offset")
    return instant.astimezone(UTC)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`. Raises InvalidInput."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}") from None


def local(instant: datetime, zone_name: str = HOME_ZONE) -> datetime:
    """The same instant on the wall clocks of `zone_name`."""
    return as_utc(instant).astimezone(zone(zone_name))
