"""Words of the deals: coupon and red-envelope centre, flash-sale zone."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
}
