"""Words of the shopper's orders: paying, the list and detail, cancelling, refunds and returns, pre-sales."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
}
