"""Identifiers and secrets: database ids are integers; secrets are random and stored hashed."""

from __future__ import annotations

import base64
import hashlib
import secrets

from shopfest.core.errors import InvalidInput

SECRET_BYTES = 32  # 256 bits: not guessable
# Ids are 64-bit signed integers in both databases: a larger one would overflow in the driver.
MAX_ID = 2**63 - 1


def is_id_text(text: str) -> bool:
    """Whether `text` writes an id: ASCII digits only (no sign, space or other script), 1 to MAX_ID."""
    return text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ID


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    """What is stored for a secret: its SHA-256, so a leaked table leaks no token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id after which the next page starts. Raises InvalidInput for a cursor we did not make."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = text.split(":", 1)
        if prefix != "id" or not is_id_text(value):
            raise ValueError(prefix)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(f"{cursor!r} is not a cursor this API gave out") from None
