"""A shared link to the big screen, as a pure rule: whoever holds its key watches the screen, read-only,
until it expires or an operator revokes it. The key is random (core.ids.new_secret) and only its
SHA-256 is kept, as the accounts keep their tokens: nothing to sign, nothing to rotate, and revoking
one link leaves the others working."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

LINK_LIFETIME = timedelta(days=7)
# What new_secret makes: URL-safe base64. Anything else is refused before the database is asked.
KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,100}")


@dataclass(frozen=True, slots=True)
class ScreenLink:
    id: int
    made_by: int
    made_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def opens_at(self, instant: datetime) -> bool:
        """A link opens the screen before it expires, and never once revoked."""
        return self.revoked_at is None and instant < self.expires_at


def plausible_key(key: str) -> bool:
    return KEY_SHAPE.fullmatch(key) is not None
