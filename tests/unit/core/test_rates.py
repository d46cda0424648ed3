"""The rules of rate limits and of the wrong-password lock."""

from __future__ import annotations

import pytest

from shopfest.core.errors import InvalidInput
from shopfest.core.rates import DEFAULT_RATES, LockRule, Rate, Seen, admits, parse_rates, retry_after


def test_rates_are_the_defaults_changed_by_the_setting() -> None:
    assert parse_rates(None) == DEFAULT_RATES
    assert parse_rates("off") == {}
    changed = parse_rates("order.account=30/60, search.address=off")
    assert changed["order.account"] == Rate(30, 60)
    assert "search.address" not in changed
    assert changed["login.address"] == DEFAULT_RATES["login.address"]


@pytest.mark.parametrize("setting", ["order=3/60", "orders.account=3/60", "order.account=3",
                                     "order.account=0/60", "order.account=three/60"])
def test_a_malformed_rate_setting_is_refused(setting: str) -> None:
    with pytest.raises(InvalidInput):
        parse_rates(setting)


def test_the_previous_window_counts_for_the_part_still_inside_the_sliding_window() -> None:
    ten_a_minute = Rate(10, 60)
    assert admits(ten_a_minute, Seen(previous=0, current=9, elapsed=0.1))
    assert not admits(ten_a_minute, Seen(previous=0, current=10, elapsed=0.9))
    # 10 last minute, a quarter of this one gone: 7.5 of them still count, 2 more fit, not 3
    assert admits(ten_a_minute, Seen(previous=10, current=1, elapsed=0.25))
    assert not admits(ten_a_minute, Seen(previous=10, current=2, elapsed=0.25))


def test_retry_after_is_when_one_more_request_fits() -> None:
    ten_a_minute = Rate(10, 60)
    # the previous window must slide out to 7/10 left: from 0.25 to 0.3 of this one, 3 s
    seen = Seen(previous=10, current=2, elapsed=0.25)
    wait = retry_after(ten_a_minute, seen)
    assert wait == 3
    assert admits(ten_a_minute, Seen(10, 2, 0.25 + wait / 60))
    # full now: the rest of this window (15 s), then a tenth of the next (6 s)
    assert retry_after(ten_a_minute, Seen(previous=0, current=10, elapsed=0.75)) == 21


def test_a_lock_comes_after_the_allowed_wrong_passwords_and_doubles_up_to_the_longest() -> None:
    rule = LockRule(allowed=5, first_lock=30, longest=900)
    assert [rule.lock_seconds(n) for n in range(1, 11)] == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900]
    assert rule.lock_seconds(10_000) == 900
