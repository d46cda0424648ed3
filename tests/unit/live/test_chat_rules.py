"""The chat's pure rules: the words a room refuses, authors' names, sanctions and who may give them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopfest.accounts.model import Profile, User, public_name
from shopfest.core.actor import Role
from shopfest.core.errors import InvalidInput
from shopfest.live.model import (
    Banned,
    ChatRules,
    Muted,
    NotAllowedHere,
    RoomRole,
    banned_word_in,
    banned_words,
    check_not_sanctioned,
    check_seconds,
    clean_chat,
    display_name,
    may_sanction,
    next_allowed,
)
from tests.conftest import FESTIVAL_EVE


def test_a_rooms_words_are_the_defaults_and_the_settings_in_either_language() -> None:
    words = banned_words(" knockoff，假货 ,, ")  # a Chinese comma separates too
    assert {"knockoff", "假货", "scam", "骗子"} <= words and "" not in words
    assert banned_word_in("ＫＮＯＣＫＯＦＦ bags", words) == "knockoff"
    assert banned_word_in("knockoffs are not a word here", words) is None  # Latin words whole
    assert banned_word_in("这个是假货吗", words) == "假货"  # Chinese anywhere
    with pytest.raises(InvalidInput):  # a banned word is a refused chat message, nothing else
        clean_chat("what a scam", ChatRules(banned_words=words))


def test_an_author_is_named_without_their_whole_email_and_hosts_and_operators_say_so() -> None:
    assert public_name(User("margaret@example.com", Role.SHOPPER, Profile())) == "mar***"
    assert public_name(User("陈晨@example.cn", Role.SHOPPER, Profile())) == "陈晨***"
    assert display_name("mar***", role=RoomRole.HOST, operator=False) == "mar*** (host)"
    assert display_name("ops***", role=RoomRole.MODERATOR, operator=True) == "ops*** (operator)"
    assert display_name("mar***", role=RoomRole.MODERATOR, operator=False) == "mar***"


def test_a_mute_refuses_until_it_ends_and_a_ban_for_good() -> None:
    later = FESTIVAL_EVE + timedelta(minutes=5)
    with pytest.raises(Muted) as muted:
        check_not_sanctioned({"mute": later}, now=FESTIVAL_EVE)
    assert muted.value.data["until"] == later.isoformat().replace("+00:00", "Z")
    check_not_sanctioned({"mute": later}, now=later)
    with pytest.raises(Banned):
        check_not_sanctioned({"ban": None, "mute": later}, now=later)


@pytest.mark.parametrize(("by", "target", "operator", "allowed"), [
    (RoomRole.MODERATOR, RoomRole.SHOPPER, False, True),
    (RoomRole.HOST, RoomRole.MODERATOR, False, True),
    (RoomRole.MODERATOR, RoomRole.HOST, False, False),
    (RoomRole.MODERATOR, RoomRole.MODERATOR, False, False),
    (RoomRole.HOST, RoomRole.MODERATOR, True, False),  # nobody sanctions an operator
    (RoomRole.SHOPPER, RoomRole.SHOPPER, False, False),
])
def test_moderators_sanction_only_viewers_below_them(by: RoomRole, target: RoomRole, operator: bool,
                                                     allowed: bool) -> None:
    if allowed:
        may_sanction(by=by, target=target, target_is_operator=operator)
    else:
        with pytest.raises(NotAllowedHere):
            may_sanction(by=by, target=target, target_is_operator=operator)


def test_slow_mode_spares_moderators_but_the_burst_limit_does_not() -> None:
    rules = ChatRules(slow_mode_seconds=30)
    assert next_allowed([100.0], now=101.0, role=RoomRole.SHOPPER, rules=rules) == 130.0
    assert next_allowed([100.0], now=101.0, role=RoomRole.MODERATOR, rules=rules) is None
    five = [100.0, 100.1, 100.2, 100.3, 100.4]
    assert next_allowed(five, now=101.0, role=RoomRole.HOST, rules=rules) == 110.0


@pytest.mark.parametrize("seconds", [-1, 601, "30", 1.5, True, None])
def test_seconds_are_whole_and_in_range(seconds: object) -> None:
    with pytest.raises(InvalidInput):
        check_seconds(seconds, low=0, high=600, name="seconds")
