"""Which time zone a viewer reads times in: the pure choice among what a request tells (an asked
zone, the browser's, the account's country), and a country's main zone."""

from __future__ import annotations

from zoneinfo import available_timezones

from babel.core import get_global

from shopfest.core.errors import InvalidInput

UTC_ZONE = "UTC"
ZONE_NAME_MAX = 64
# Countries of several zones, where CLDR's first is not where most people live (CLDR lists the US
# from America/Adak); a country of one zone is found in CLDR's territory zones.
MAIN_ZONES = {
    "US": "America/New_York", "CA": "America/Toronto", "AU": "Australia/Sydney", "BR": "America/Sao_Paulo",
    "RU": "Europe/Moscow", "MX": "America/Mexico_City", "ID": "Asia/Jakarta", "KZ": "Asia/Almaty",
    "CN": "Asia/Shanghai", "ES": "Europe/Madrid", "PT": "Europe/Lisbon",
    "AR": "America/Argentina/Buenos_Aires", "CL": "America/Santiago", "NZ": "Pacific/Auckland",
    "DE": "Europe/Berlin", "MY": "Asia/Kuala_Lumpur",
}
# The zone picker's choices: where the festival's audiences watch from.
COMMON_ZONES = (
    "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Singapore", "Asia/Tokyo", "Asia/Seoul", "Asia/Kolkata",
    "Asia/Dubai", "Europe/Moscow", "Europe/Berlin", "Europe/Paris", "Europe/London", "UTC",
    "America/Sao_Paulo", "America/New_York", "America/Chicago", "America/Los_Angeles",
    "Australia/Sydney", "Pacific/Auckland",
)


def known_zone(name: object) -> str | None:
    """`name` when it is an IANA time zone this machine knows, else None."""
    if not isinstance(name, str) or not 0 < len(name) <= ZONE_NAME_MAX:
        return None
    return name if name in _zones() else None


def checked_zone(name: str) -> str:
    """`name`, an IANA time zone. Raises InvalidInput."""
    if known_zone(name) is None:
        raise InvalidInput(f"unknown time zone {name[:ZONE_NAME_MAX]!r}: give an IANA zone such as "
                           "Asia/Shanghai", zone=name[:ZONE_NAME_MAX])
    return name


def country_zone(country: str | None) -> str | None:
    """The main time zone of an ISO 3166 country (CN: Asia/Shanghai, GB: Europe/London); None when
    the country is unknown."""
    if not country:
        return None
    found = MAIN_ZONES.get(country) or next(iter(get_global("territory_zones").get(country, ())), None)
    return known_zone(found)


def pick_zone(*, asked: str | None, browser: str | None, country: str | None) -> str:
    """The zone a viewer reads times in: the one asked for (`?tz=`), else the browser's (a cookie
    its script set), else the account's country's, else UTC. A zone asked for must be known (raises
    InvalidInput); an unknown browser zone is passed over."""
    if asked is not None:
        return checked_zone(asked)
    return known_zone(browser) or country_zone(country) or UTC_ZONE


_KNOWN: frozenset[str] = frozenset()


def _zones() -> frozenset[str]:
    global _KNOWN  # noqa: PLW0603  # read from the system's zone files once, on first use
    if not _KNOWN:
        _KNOWN = frozenset(available_timezones())
    return _KNOWN
