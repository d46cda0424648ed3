"""What an operator may put on the live schedule: segments inside the event, a few of everything, and
media URLs that lead somewhere safe; and the reminder mail in both languages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shopfest.core.errors import InvalidInput
from shopfest.live.model import (
    LiveEvent,
    Segment,
    SegmentKind,
    check_media_url,
    check_plan,
    reminder_mail,
    segment_kind,
)

STARTS = datetime(2027, 11, 10, 15, tzinfo=UTC)
NIGHT = LiveEvent("Global Brands Night", "en", STARTS, STARTS + timedelta(minutes=90), brand_ids=(1,),
                  segments=(Segment(SegmentKind.EXECUTIVE, "A word from the chief", STARTS, (7,)),))


def test_a_well_made_event_passes() -> None:
    check_plan(NIGHT)
    check_plan(replace(NIGHT, poster_url="/static/live/poster.svg", playback_url="https://cdn.example/x.m3u8"))


@pytest.mark.parametrize("changes", [
    {"segments": (Segment(SegmentKind.SHOWCASE, "Late", STARTS + timedelta(hours=2)),)},
    {"segments": (Segment(SegmentKind.SHOWCASE, "Early", STARTS - timedelta(minutes=1)),)},
    {"segments": (Segment(SegmentKind.SHOWCASE, " ", STARTS),)},
    {"segments": (Segment(SegmentKind.SHOWCASE, "Many", STARTS, tuple(range(1, 30))),)},
    {"segments": tuple(Segment(SegmentKind.SHOWCASE, "S", STARTS) for _ in range(21))},
    {"brand_ids": ()}, {"brand_ids": (1, 1)}, {"host_ids": tuple(range(1, 30))}, {"moderator_ids": (0,)},
    {"poster_url": "javascript:alert(1)"}, {"poster_url": "/static/../settings.py"},
    {"playback_url": "//evil.example/x"}, {"playback_url": "http:///x"}, {"poster_url": "/etc/passwd"},
    {"poster_url": "/media/a b.png"}, {"poster_url": "https://x.example/" + "a" * 500},
])
def test_an_event_badly_made_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        check_plan(replace(NIGHT, **changes))  # type: ignore[arg-type]  # the changes are typed above


def test_media_urls_may_be_absent_local_or_http() -> None:
    for good in (None, "/static/live/demo.mp4", "/media/p/1.png", "http://media.example/live/1.m3u8"):
        check_media_url(good, field_name="playback_url")


def test_a_segment_kind_is_one_the_schedule_knows() -> None:
    assert segment_kind("behind_the_scenes") is SegmentKind.BEHIND_THE_SCENES
    with pytest.raises(InvalidInput):
        segment_kind("karaoke")


def test_the_reminder_mail_names_the_event_and_its_room_in_both_languages() -> None:
    mails = reminder_mail("Global Brands Night", 12)
    assert set(mails) == {"en", "zh"}
    for subject, body in mails.values():
        assert "Global Brands Night" in subject and "/live/12" in body
