"""The passwords guessers try first: the 30,000 most common in leaked password sets, as the `zxcvbn`
package (pinned in pyproject.toml) ships them, lower case. Registration refuses them."""

from __future__ import annotations

from functools import cache


@cache
def common_passwords() -> frozenset[str]:
    # Loaded on the first account opened, not at import: the list is large and most processes
    # (a checkout worker, `shopfest price`) never open one.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]  # ships no types

    listed: list[str] = FREQUENCY_LISTS["passwords"]
    return frozenset(listed)
