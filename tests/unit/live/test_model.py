"""The live context's pure rules: the schedule, room roles, and what a chat message must be."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shopfest.core.actor import Actor, Role
from shopfest.core.errors import Conflict, InvalidInput
from shopfest.live.model import (
    BannedWords,
    ChatRefused,
    ChatRules,
    EventStatus,
    LiveEvent,
    MessageTooLong,
    NotAllowedHere,
    RoomClosed,
    RoomRole,
    Segment,
    SegmentKind,
    clean_chat,
    next_allowed,
    require_room_role,
    role_in,
)

NOV_10_1500_GMT = datetime(2027, 11, 10, 15, 0, tzinfo=UTC)


def global_night(**changes: object) -> LiveEvent:
    event = LiveEvent("Global Brands Night", "en", NOV_10_1500_GMT, NOV_10_1500_GMT + timedelta(minutes=90),
                      host_ids=(7,), moderator_ids=(8,), segments=(
                          Segment(SegmentKind.EXECUTIVE, "Welcome", NOV_10_1500_GMT, (1, 2)),
                          Segment(SegmentKind.SHOWCASE, "Showcase", NOV_10_1500_GMT + timedelta(minutes=30),
                                  (2, 3))),
                      id=1)
    return replace(event, **changes)  # type: ignore[arg-type]  # test data: any field


def test_an_event_needs_a_title_a_known_language_and_a_span_of_at_most_a_day() -> None:
    with pytest.raises(InvalidInput):
        global_night(title="  ")
    with pytest.raises(InvalidInput):
        global_night(language="fr")
    with pytest.raises(InvalidInput):
        global_night(ends_at=NOV_10_1500_GMT)
    with pytest.raises(InvalidInput):
        global_night(ends_at=NOV_10_1500_GMT + timedelta(hours=25))


def test_the_products_of_an_event_come_once_each_in_the_order_the_segments_show_them() -> None:
    assert global_night().product_ids == (1, 2, 3)


def test_going_live_sets_the_start_replays_count_from_and_ending_closes_the_room() -> None:
    went_live = NOV_10_1500_GMT + timedelta(minutes=2)
    live = global_night().go_live(went_live)
    assert live.status is EventStatus.LIVE and live.went_live_at == went_live
    assert live.go_live(went_live + timedelta(minutes=5)) is live  # going live twice changes nothing
    assert live.offset_ms(went_live + timedelta(seconds=90)) == 90_000
    ended = live.end(went_live + timedelta(hours=1))
    assert ended.status is EventStatus.ENDED
    with pytest.raises(RoomClosed):
        ended.go_live(went_live + timedelta(hours=2))
    with pytest.raises(Conflict):
        global_night().end(went_live)


def test_room_roles_follow_the_event_and_the_account() -> None:
    event = global_night()
    assert role_in(event, None) is RoomRole.VIEWER
    assert role_in(event, Actor(5, Role.SHOPPER)) is RoomRole.SHOPPER
    assert role_in(event, Actor(8, Role.SHOPPER)) is RoomRole.MODERATOR
    assert role_in(event, Actor(9, Role.OPERATOR)) is RoomRole.MODERATOR
    assert role_in(event, Actor(7, Role.MERCHANT, merchant_id=3)) is RoomRole.HOST
    assert role_in(event, Actor(6, Role.MERCHANT, merchant_id=3)) is RoomRole.SHOPPER  # not its host
    require_room_role(RoomRole.HOST, RoomRole.MODERATOR)
    with pytest.raises(NotAllowedHere):
        require_room_role(RoomRole.SHOPPER, RoomRole.HOST)


def test_a_chat_message_is_trimmed_normalised_and_refused_when_empty_long_or_odd() -> None:
    rules = ChatRules(max_chars=10)
    assert clean_chat("  Cafe\u0301 ", rules) == "Café"
    assert clean_chat("你好，直播间！", rules) == "你好，直播间！"
    for bad in ("   ", 42, "bell\x07"):
        with pytest.raises(ChatRefused):
            clean_chat(bad, rules)
    with pytest.raises(MessageTooLong):
        clean_chat("x" * 11, rules)


def test_banned_words_match_whole_latin_words_in_any_width_and_chinese_anywhere() -> None:
    rules = ChatRules(banned_words=frozenset({"spam", "骗子"}))
    for bad in ("buy SPAM now", "ｓｐａｍ!", "你是骗子吗"):
        with pytest.raises(BannedWords):
            clean_chat(bad, rules)
    assert clean_chat("spammy is fine", rules) == "spammy is fine"


def test_a_viewer_waits_after_a_burst_and_in_slow_mode_moderators_do_not() -> None:
    rules = ChatRules(burst=3, per_seconds=10, slow_mode_seconds=0)
    assert next_allowed([0.0, 1.0], now=2.0, role=RoomRole.SHOPPER, rules=rules) is None
    assert next_allowed([0.0, 1.0, 2.0], now=3.0, role=RoomRole.SHOPPER, rules=rules) == 10.0
    assert next_allowed([0.0, 1.0, 2.0], now=10.5, role=RoomRole.SHOPPER, rules=rules) is None
    slow = replace(rules, slow_mode_seconds=30)
    assert next_allowed([5.0], now=6.0, role=RoomRole.SHOPPER, rules=slow) == 35.0
    assert next_allowed([5.0], now=6.0, role=RoomRole.MODERATOR, rules=slow) is None
