"""Idempotency keys: a retried request gets the first answer, never a second money movement.

A key belongs to its caller (`scope`) and is kept at least 24 hours. The same key with another body
is refused; a repeat while the first is still running is told so. Only answers are remembered: a
request that failed leaves its key free for a corrected retry. The keys are stored by
`payments.store.KeyStore`; `payments.service` holds the protocol (`begin`, `finish`, `forget`, `once`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from shopfest.core.errors import Conflict, InvalidInput

KEPT_FOR = timedelta(hours=24)
ABANDONED_AFTER = timedelta(minutes=1)  # a "running" key this old lost its process in a crash


class KeyInUse(Conflict):
    code = "idempotency-key-in-use"
    title = "A request with this Idempotency-Key is still running"


class KeyReused(InvalidInput):
    code = "idempotency-key-reused"
    title = "This Idempotency-Key was used with a different request"


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A caller's key (`scope`: whose it is) and the fingerprint of the request it came with."""

    scope: str
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Remembered:
    status_code: int
    response: dict[str, Any]


@dataclass(frozen=True, slots=True)
class KeptKey:
    """A key as stored: running (its request has not answered yet) or done, with the answer."""

    fingerprint: str
    state: str  # running | done
    status_code: int | None
    response: dict[str, Any] | None
    created_at: datetime

    def first_answer(self, fingerprint_: str) -> Remembered:
        """The first answer to this key. Raises KeyReused, KeyInUse."""
        if self.fingerprint != fingerprint_:
            raise KeyReused("this Idempotency-Key was first used with a different request")
        if self.state != "done" or self.status_code is None or self.response is None:
            raise KeyInUse("the first request with this Idempotency-Key is still running")
        return Remembered(self.status_code, self.response)


def fingerprint(*parts: Any) -> str:
    """A digest of a request's parts, whatever they hold: equal parts give equal fingerprints."""
    try:
        text = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=repr)
    except TypeError:  # what orjson cannot write, e.g. an integer past 64 bits: Python's own words
        text = repr(parts).encode()  # "(...": never what orjson writes for a tuple, "[..."
    return hashlib.sha256(text).hexdigest()


def check_key(key: str) -> str:
    """The key, if it is one a client may send. Raises InvalidInput."""
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise InvalidInput("an Idempotency-Key is 1 to 255 printable characters")
    return key


def key_of(scope: str, key: str, *request: Any) -> IdempotencyKey:
    """The client's `key` in `scope`, for the request made of these parts. Raises InvalidInput."""
    return IdempotencyKey(scope, check_key(key), fingerprint(*request))
