"""The viewer's time zone: asked for, else the browser's, else the account's country's, else UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shopfest.core.clock import local
from shopfest.core.errors import InvalidInput
from shopfest.core.zones import COMMON_ZONES, country_zone, known_zone, pick_zone

NOV_10_1500_GMT = datetime(2027, 11, 10, 15, tzinfo=UTC)


def test_the_zone_asked_for_wins_then_the_browsers_then_the_countrys_then_utc() -> None:
    assert pick_zone(asked="Asia/Tokyo", browser="Europe/London", country="US") == "Asia/Tokyo"
    assert pick_zone(asked=None, browser="Europe/London", country="US") == "Europe/London"
    assert pick_zone(asked=None, browser="Not/AZone", country="US") == "America/New_York"
    assert pick_zone(asked=None, browser=None, country="AA") == "UTC"  # a code no country has
    assert pick_zone(asked=None, browser=None, country=None) == "UTC"


def test_a_zone_asked_for_that_nobody_knows_is_refused_and_a_browsers_passed_over() -> None:
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "", "A" * 500, "Asia/Shanghai\x00"):
        with pytest.raises(InvalidInput):
            pick_zone(asked=bad, browser=None, country=None)
        assert known_zone(bad) is None


def test_a_countrys_main_zone() -> None:
    assert country_zone("CN") == "Asia/Shanghai"
    assert country_zone("US") == "America/New_York"
    assert country_zone("GB") == "Europe/London"
    assert country_zone("FR") == "Europe/Paris"  # one zone: CLDR's
    assert all(known_zone(z) == z for z in COMMON_ZONES)


def test_three_oclock_gmt_on_nov_10_on_three_wall_clocks() -> None:
    assert f"{local(NOV_10_1500_GMT, 'Asia/Shanghai'):%d %H:%M}" == "10 23:00"
    assert f"{local(NOV_10_1500_GMT, 'America/New_York'):%d %H:%M}" == "10 10:00"
    assert f"{local(NOV_10_1500_GMT, 'Europe/London'):%d %H:%M}" == "10 15:00"
