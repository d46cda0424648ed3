"""The live pages' words: every error code a room's frame may carry (docs/live.md) reads in words on the
room page, in both languages, and every room.* word has its Chinese."""

from __future__ import annotations

import re
from pathlib import Path

from shopfest.web.i18n import STRINGS
from shopfest.web.live_room_pages import clock_of
from shopfest.web.words.live_room import WORDS

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "live.md"
HAN = re.compile("[\u4e00-\u9fff]")


def error_codes() -> set[str]:
    table = PROTOCOL.read_text().split("### Error codes", 1)[1].split("###", 1)[0]
    return {code for row in table.splitlines() if row.startswith("| `")
            for code in re.findall(r"`([a-z-]+)`", row.split("|")[1])}


def test_every_error_frame_of_the_room_reads_in_words() -> None:
    codes = error_codes()
    assert {"malformed-frame", "coupons-gone", "slow-down", "internal-error"} <= codes
    assert sorted(c for c in codes if f"problem.{c}" not in STRINGS) == []


def test_every_room_word_is_said_in_chinese_too() -> None:
    assert all(key.startswith("room.") and HAN.search(chinese) for key, (_, chinese) in WORDS.items())


def test_a_moment_reads_as_the_players_clock() -> None:
    assert [clock_of(ms) for ms in (0, 754_000, 3_723_000, -5)] == ["00:00", "12:34", "1:02:03", "00:00"]
