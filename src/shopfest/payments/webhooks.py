"""Gateway webhooks signed in the Stripe style: `t=<unix seconds>,v1=<hex HMAC-SHA256>`.

The signature covers the timestamp and the exact body bytes, so a replayed old event or an edited
body is refused before anything is read from it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from shopfest.core.errors import InvalidInput, Unauthenticated
from shopfest.core.money import Money

TOLERANCE_SECONDS = 300
EVENT_TYPES = frozenset({"payment.processing", "payment.succeeded", "payment.failed", "refund.succeeded"})


class BadSignature(Unauthenticated):
    code = "bad-signature"
    title = "The webhook signature does not check out"


def _digest(body: bytes, *, secret: str, at: int) -> str:
    return hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, *, secret: str, at: int) -> str:
    """The signature header for `body` sent at unix second `at`."""
    return f"t={at},v1={_digest(body, secret=secret, at=at)}"


def _parse_header(header: str) -> tuple[int, list[str]]:
    stamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise BadSignature("the signature header is malformed")
        if key == "t" and value.isascii() and value.isdigit():
            stamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if stamp is None or not signatures:
        raise BadSignature("the signature header needs t= and v1=")
    return stamp, signatures


def verify(body: bytes, header: str, *, secret: str, now: int,
           tolerance: int = TOLERANCE_SECONDS) -> dict[str, Any]:
    """The event in `body`, if `header` signs it with `secret` within `tolerance` seconds of `now`.

    Raises BadSignature, InvalidInput (a signed body that is not a JSON object).
    """
    stamp, signatures = _parse_header(header)
    expected = _digest(body, secret=secret, at=stamp)
    # Several v1 values are allowed while a secret is rotated; any one may match.
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise BadSignature("the webhook signature does not match")
    if abs(now - stamp) > tolerance:
        raise BadSignature("the webhook was signed too long ago", signed_at=stamp, now=now)
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise InvalidInput("the webhook body is not JSON") from None
    if not isinstance(event, dict):
        raise InvalidInput("the webhook body is not a JSON object")
    return event


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """What one verified webhook says happened to the payment `provider_ref` at the gateway."""

    id: str
    type: str
    created: int
    provider_ref: str
    amount: Money
    refund_ref: str | None = None
    reason: str | None = None


def read_event(event: dict[str, Any]) -> GatewayEvent:
    """The fields a verified event must carry. Raises InvalidInput."""
    data = event.get("data")
    if not isinstance(data, dict):
        raise InvalidInput("the webhook event has no data")
    try:
        found = GatewayEvent(
            id=_text(event["id"]), type=_text(event["type"]), created=int(event["created"]),
            provider_ref=_text(data["provider_ref"]),
            amount=Money(data["amount_minor"], _text(data["currency"])),
            refund_ref=data.get("refund_ref"), reason=data.get("reason"))
    except (KeyError, TypeError, ValueError):
        raise InvalidInput("the webhook event lacks a field it needs") from None
    if found.type not in EVENT_TYPES:
        raise InvalidInput(f"unknown webhook event type {found.type!r}", type=found.type)
    return found


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(value)
    return value


def event_body(event_type: str, *, provider_ref: str, amount: Money, created: int,
               refund_ref: str | None = None, reason: str | None = None) -> bytes:
    """A new event, with a random id, as the bytes a gateway sends."""
    data: dict[str, Any] = {"provider_ref": provider_ref, "amount_minor": amount.minor,
                            "currency": amount.currency}
    if refund_ref is not None:
        data["refund_ref"] = refund_ref
    if reason is not None:
        data["reason"] = reason
    event = {"id": f"evt_{secrets.token_hex(12)}", "type": event_type, "created": created, "data": data}
    return json.dumps(event, separators=(",", ":")).encode()
