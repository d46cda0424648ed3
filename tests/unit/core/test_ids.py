from __future__ import annotations

import pytest

from shopfest.core.errors import InvalidInput
from shopfest.core.ids import MAX_ID, decode_cursor, digest, encode_cursor, is_id_text, new_secret


def test_cursors_round_trip_and_strangers_are_refused() -> None:
    assert decode_cursor(encode_cursor(2_000_000)) == 2_000_000
    assert decode_cursor(None) is None
    for bogus in ("bogus!", encode_cursor(5)[::-1], "aWQ6eHl6"):  # the last is "id:xyz"
        with pytest.raises(InvalidInput):
            decode_cursor(bogus)


def test_a_cursor_past_the_largest_id_is_refused_before_any_database_sees_it() -> None:
    assert decode_cursor(encode_cursor(MAX_ID)) == MAX_ID
    for bogus in (encode_cursor(MAX_ID + 1), encode_cursor(2**64), encode_cursor(-5), encode_cursor(0)):
        with pytest.raises(InvalidInput):
            decode_cursor(bogus)


@pytest.mark.parametrize("text, is_id", [
    ("7", True), (str(MAX_ID), True), (str(MAX_ID + 1), False), ("0", False), ("-7", False),
    ("+7", False), (" 7", False), ("7.0", False), ("1_000", False), ("\uff17", False), ("\u0667", False),
    ("\u00b2", False), ("", False),
])
def test_an_id_is_written_in_ascii_digits_within_64_bits(text: str, is_id: bool) -> None:
    assert is_id_text(text) is is_id


def test_secrets_are_long_random_and_stored_only_as_digests() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100 and all(len(s) >= 43 for s in secrets)  # 256 bits
    one = next(iter(secrets))
    assert digest(one) == digest(one) and one not in digest(one)
