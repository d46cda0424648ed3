from __future__ import annotations

import pytest

from shopfest.core.errors import InvalidInput
from shopfest.core.ids import decode_cursor, digest, encode_cursor, new_secret


def test_cursors_round_trip_and_strangers_are_refused() -> None:
    assert decode_cursor(encode_cursor(2_000_000)) == 2_000_000
    assert decode_cursor(None) is None
    for bogus in ("bogus!", encode_cursor(5)[::-1], "aWQ6eHl6"):  # the last is "id:xyz"
        with pytest.raises(InvalidInput):
            decode_cursor(bogus)


def test_secrets_are_long_random_and_stored_only_as_digests() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100 and all(len(s) >= 43 for s in secrets)  # 256 bits
    one = next(iter(secrets))
    assert digest(one) == digest(one) and one not in digest(one)
