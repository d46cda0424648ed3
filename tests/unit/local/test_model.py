"""Local services' pure rules: places, radii, distances, opening hours."""

from __future__ import annotations

from datetime import datetime

import pytest

from shopfest.local.model import (
    ALWAYS_OPEN,
    BadHours,
    BadPlace,
    BadRadius,
    Point,
    distance_m,
    hours,
    point,
    radius_m,
)


def test_shanghai_to_hangzhou_is_about_165_km_on_the_great_circle() -> None:
    shanghai, hangzhou = Point(31.2222, 121.4581), Point(30.2936, 120.1614)
    assert 160_000 < distance_m(shanghai, hangzhou) < 170_000
    assert distance_m(shanghai, shanghai) == 0


@pytest.mark.parametrize(("lat", "lng"), [(91, 0), (-90.5, 0), (0, 180.1), (float("nan"), 0),
                                          (0, float("inf")), ("30", 120), (True, 120), (None, 1)])
def test_a_place_off_the_globe_is_refused(lat: object, lng: object) -> None:
    with pytest.raises(BadPlace):
        point(lat, lng)


@pytest.mark.parametrize("metres", [0, -1, 100_001, 20_000_000, float("nan"), "3000", True])
def test_a_radius_of_nothing_or_half_the_world_is_refused(metres: object) -> None:
    with pytest.raises(BadRadius):
        radius_m(metres)


def test_a_night_market_open_past_midnight_is_open_on_the_next_mornings_first_hours() -> None:
    market = hours({"fri": ["18:00-02:00"], "sat": ["09:00-12:00", "18:00-00:00"]})
    friday, saturday = datetime(2027, 11, 12), datetime(2027, 11, 13)
    assert market.open_at(friday.replace(hour=23, minute=30))
    assert market.open_at(saturday.replace(hour=1, minute=59))
    assert not market.open_at(saturday.replace(hour=2))
    assert market.open_at(saturday.replace(hour=23, minute=59))
    assert not market.open_at(friday.replace(hour=17, minute=59))
    assert hours(market.as_json()) == market


def test_hours_read_back_from_what_they_write_even_open_all_day() -> None:
    assert hours(ALWAYS_OPEN.as_json()) == ALWAYS_OPEN
    assert hours({"mon": ["00:00-24:00"]}).week[0] == ((0, 24 * 60),)
    with pytest.raises(BadHours):
        hours({"mon": ["24:00-02:00"]})


@pytest.mark.parametrize("spec", [{"someday": ["09:00-10:00"]}, {"mon": "09:00-10:00"},
                                  {"mon": ["9-10"]}, {"mon": ["09:00-09:00"]}, {"mon": ["24:00-01:00"]}])
def test_hours_that_cannot_be_read_are_refused(spec: object) -> None:
    with pytest.raises(BadHours):
        hours(spec)  # type: ignore[arg-type]  # what a client may send
