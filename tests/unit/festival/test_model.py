from __future__ import annotations

from datetime import timedelta

import pytest

from shopfest.core.clock import parse_instant
from shopfest.core.errors import InvalidInput
from shopfest.festival.model import Festival, Phase, PhaseKind, eleven_eleven, festival_year_for

FESTIVAL = eleven_eleven(2027)


@pytest.mark.parametrize("instant, phase", [
    ("2027-10-20T23:59:59+08:00", None),
    ("2027-10-21T00:00:00+08:00", "wave1-deposit"),
    ("2027-10-31T21:59:59+08:00", "wave1-deposit"),
    ("2027-10-31T22:00:00+08:00", None),  # deposits closed, the sale not yet open
    ("2027-11-01T00:00:00+08:00", "wave1-sale"),
    ("2027-11-03T23:59:59+08:00", "wave1-sale"),
    ("2027-11-04T00:00:00+08:00", "wave2-deposit"),
    ("2027-11-10T21:59:59+08:00", "wave2-deposit"),
    ("2027-11-10T23:59:59+08:00", None),
    ("2027-11-11T00:00:00+08:00", "wave2-sale"),
    ("2027-11-11T15:00:00+00:00", "wave2-sale"),  # the English livestream hour in London
    ("2027-11-11T23:59:59+08:00", "wave2-sale"),
    ("2027-11-12T00:00:00+08:00", None),
])
def test_the_phase_at_an_instant_follows_the_two_wave_calendar(instant: str,
                                                               phase: str | None) -> None:
    found = FESTIVAL.phase_at(parse_instant(instant))
    assert (found.key if found else None) == phase


def test_between_phases_the_countdown_is_to_the_next_start() -> None:
    eve = parse_instant("2027-11-10T23:55:00+08:00")
    countdown = FESTIVAL.countdown(eve)
    assert countdown is not None
    assert (countdown.phase.key, countdown.event) == ("wave2-sale", "starts")
    assert countdown.remaining == timedelta(minutes=5)
    assert FESTIVAL.next_phase(eve) == countdown.phase


def test_inside_a_phase_the_countdown_is_to_its_end() -> None:
    countdown = FESTIVAL.countdown(parse_instant("2027-11-11T23:00:00+08:00"))
    assert countdown is not None and countdown.event == "ends"
    assert countdown.remaining == timedelta(hours=1)


def test_after_the_festival_there_is_nothing_to_count_down_to() -> None:
    after = parse_instant("2027-11-12T00:00:00+08:00")
    assert FESTIVAL.countdown(after) is None
    assert FESTIVAL.next_phase(after) is None


def test_phases_may_not_overlap_or_run_backwards() -> None:
    start = parse_instant("2027-12-12T00:00:00+08:00")
    day = timedelta(days=1)
    with pytest.raises(InvalidInput):
        Festival("x", "x", "Asia/Shanghai", (Phase("a", "A", PhaseKind.SALE, 1, start, start),))
    with pytest.raises(InvalidInput):
        Festival("x", "x", "Asia/Shanghai", (
            Phase("a", "A", PhaseKind.SALE, 1, start, start + day),
            Phase("b", "B", PhaseKind.SALE, 1, start + day / 2, start + 2 * day)))
    with pytest.raises(InvalidInput):
        Festival("x", "x", "Mars/Olympus", (Phase("a", "A", PhaseKind.SALE, 1, start, start + day),))


def test_the_festival_year_turns_after_eleven_eleven() -> None:
    assert festival_year_for(parse_instant("2026-11-11T23:00:00+08:00")) == 2026
    assert festival_year_for(parse_instant("2026-11-28T10:00:00+08:00")) == 2027


def test_a_span_belongs_to_the_sale_that_holds_it_whole() -> None:
    fest = eleven_eleven(2027)
    wave2 = fest.phases[3]
    assert fest.sale_holding(wave2.starts_at, wave2.ends_at) is wave2
    assert fest.sale_holding(wave2.starts_at - timedelta(minutes=1), wave2.ends_at) is None
    assert fest.sale_holding(fest.starts_at, fest.ends_at) is None  # the whole festival is no one sale
    deposit = fest.phases[2]
    assert fest.sale_holding(deposit.starts_at, deposit.ends_at) is None
    assert [p.key for p in fest.sales] == ["wave1-sale", "wave2-sale"]
