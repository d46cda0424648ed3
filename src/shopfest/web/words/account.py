"""Words of the shopper's account: signing up, settings, addresses."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
}
