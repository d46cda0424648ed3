"""Words of the seller centre's festival tools and orders (seller_desk.py)."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
}
