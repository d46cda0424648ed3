from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shopfest.core.clock import (
    EARLIEST,
    LATEST,
    SetClock,
    check_instant,
    local,
    parse_instant,
)
from shopfest.core.errors import InvalidInput
from shopfest.settings import Settings


def test_instants_are_read_with_their_offset_and_kept_in_utc() -> None:
    midnight = parse_instant("2027-11-11T00:00:00+08:00")
    assert midnight == datetime(2027, 11, 10, 16, 0, tzinfo=UTC)
    assert local(midnight, "Europe/London").hour == 16
    assert local(midnight).isoformat() == "2027-11-11T00:00:00+08:00"


@pytest.mark.parametrize("text", ["2027-11-11T00:00:00", "yesterday", ""])
def test_an_instant_without_an_offset_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_instant(text)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                  "1969-12-31T23:59:59Z", "3000-01-01T00:00:00Z",
                                  "3000-01-01T08:00:00+08:00"])
def test_an_instant_at_the_edge_of_the_calendar_is_refused_not_overflowed(text: str) -> None:
    with pytest.raises(InvalidInput, match="out of range"):
        parse_instant(text)


def test_instants_from_1970_up_to_the_year_3000_are_taken() -> None:
    assert parse_instant("1970-01-01T08:00:00+08:00") == EARLIEST
    assert parse_instant("2999-12-31T23:59:59.999999Z") < LATEST
    with pytest.raises(InvalidInput, match="out of range"):
        check_instant(datetime.max.replace(tzinfo=timezone(timedelta(hours=-14))))


def test_a_stopped_clock_stands_still_and_can_be_moved() -> None:
    clock = SetClock(parse_instant("2027-11-10T23:59:00+08:00"), speed=0)
    first = clock.now()
    assert clock.now() == first
    clock.set(first + timedelta(minutes=2))
    assert clock.now() - first == timedelta(minutes=2)


def test_a_fast_clock_runs_from_its_anchor() -> None:
    start = parse_instant("2027-11-11T00:00:00+08:00")
    clock = SetClock(start, speed=60, anchor=time.time() - 10)
    assert timedelta(seconds=599) <= clock.now() - start <= timedelta(seconds=700)


def test_settings_build_the_clock_from_the_environment() -> None:
    settings = Settings.from_env({"SHOPFEST_CLOCK": "2027-11-11T00:05:00+08:00",
                                  "SHOPFEST_CLOCK_SPEED": "0"})
    assert settings.make_clock().now() == parse_instant("2027-11-10T16:05:00Z")
    assert settings.database_url == "sqlite:///shopfest.db"
    with pytest.raises(InvalidInput):
        Settings.from_env({"SHOPFEST_CLOCK_SPEED": "fast"})


def test_a_lone_server_process_runs_two_checkout_lanes_and_a_process_per_core_one_each() -> None:
    assert Settings.lanes_for(1) == 2 == Settings().checkout_lanes
    assert Settings.lanes_for(2) == Settings.lanes_for(8) == 1


def test_checkout_lanes_out_of_range_are_refused() -> None:
    assert Settings.from_env({"SHOPFEST_CHECKOUT_LANES": "2"}).checkout_lanes == 2
    with pytest.raises(InvalidInput, match="SHOPFEST_CHECKOUT_LANES is from 1 to 8"):
        Settings.from_env({"SHOPFEST_CHECKOUT_LANES": "0"})


def test_the_scalping_settings_are_read_and_checked() -> None:
    assert (Settings().max_unpaid_units, Settings().flash_reservation_minutes) == (5, 5)
    settings = Settings.from_env({"SHOPFEST_MAX_UNPAID_UNITS": "3",
                                  "SHOPFEST_FLASH_RESERVATION_MINUTES": "2"})
    assert (settings.max_unpaid_units, settings.flash_reservation_minutes) == (3, 2)
    with pytest.raises(InvalidInput, match="SHOPFEST_MAX_UNPAID_UNITS is from 1"):
        Settings.from_env({"SHOPFEST_MAX_UNPAID_UNITS": "0"})
    with pytest.raises(InvalidInput, match="SHOPFEST_FLASH_RESERVATION_MINUTES is 1 or more"):
        Settings.from_env({"SHOPFEST_FLASH_RESERVATION_MINUTES": "0"})
