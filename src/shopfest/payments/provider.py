"""Payment gateways as the services see them, and the sandbox gateway that ships with ShopFest."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from shopfest.core.clock import Clock
from shopfest.core.errors import InvalidAmount, InvalidInput
from shopfest.core.money import Money
from shopfest.payments.model import IntentStatus
from shopfest.payments.webhooks import event_body, sign

log = logging.getLogger(__name__)

Deliver = Callable[[bytes, str], None]


@dataclass(frozen=True, slots=True)
class ProviderOutcome:
    """What a gateway answered to a charge: succeeded, failed (with a reason) or still processing."""

    status: IntentStatus
    provider_ref: str
    reason: str | None = None


class Provider(Protocol):
    """A payment gateway; both calls are idempotent, so a transaction that rolls back may ask again."""

    name: str

    def charge(self, *, intent_ref: str, amount: Money, method: str) -> ProviderOutcome: ...

    def refund(self, *, provider_ref: str, amount: Money, refund_key: str) -> str: ...


@dataclass
class _Charge:
    provider_ref: str
    amount: Money
    outcome: ProviderOutcome
    refunded_minor: int = 0


SANDBOX_METHODS = ("sandbox_ok", "sandbox_fail", "sandbox_delay")
_DECLINED = "card declined (sandbox_fail)"


class SandboxProvider:
    """A gateway in memory whose outcome the payment method chooses; every change it makes is also
    sent as a signed webhook through `deliver`, and kept in `sent` so tests can replay it.

    `deliver` is called on the charging thread for immediate events (inside the caller's
    transaction) and on a timer thread for the late success of "sandbox_delay"; with `delay_seconds`
    None, that success waits for `settle_pending`, so that a test chooses when the gateway answers.
    """

    name = "sandbox"

    def __init__(self, secret: str, deliver: Deliver | None = None, delay_seconds: float | None = 0.2, *,
                 clock: Clock | None = None) -> None:
        self.secret = secret
        self.deliver = deliver
        self.delay_seconds = delay_seconds
        self.clock = clock or Clock()
        self.sent: list[tuple[bytes, str]] = []
        self._charges: dict[str, _Charge] = {}  # by intent_ref
        self._by_ref: dict[str, _Charge] = {}  # by provider_ref
        self._refunds: dict[str, str] = {}  # refund_key -> refund ref
        self._pending: list[_Charge] = []  # delayed charges left to `settle_pending`
        self._lock = threading.Lock()

    def charge(self, *, intent_ref: str, amount: Money, method: str) -> ProviderOutcome:
        """Charge once per intent_ref: asking again answers the first outcome, unless it failed.

        Raises InvalidInput for a method the sandbox does not know.
        """
        if method not in SANDBOX_METHODS:
            raise InvalidInput(f"the sandbox takes {', '.join(SANDBOX_METHODS)}", method=method)
        with self._lock:
            known = self._charges.get(intent_ref)
            if known is not None and known.outcome.status is not IntentStatus.FAILED:
                return known.outcome
            # A retry after a decline is a new attempt at the same gateway payment.
            ref = known.provider_ref if known else f"sbx_pi_{secrets.token_hex(8)}"
            outcome = _outcome(method, ref)
            charge = _Charge(ref, amount, outcome)
            self._charges[intent_ref] = self._by_ref[ref] = charge
        self._send(f"payment.{outcome.status.value}", charge, reason=outcome.reason)
        if outcome.status is IntentStatus.PROCESSING:
            self._later(charge)
        return outcome

    def _later(self, charge: _Charge) -> None:
        if self.delay_seconds is None:
            with self._lock:
                self._pending.append(charge)
            return
        timer = threading.Timer(self.delay_seconds, self._settle, args=(charge,))
        timer.daemon = True
        timer.start()

    def settle_pending(self) -> int:
        """Capture every delayed charge still processing (with `delay_seconds` None); how many."""
        with self._lock:
            pending, self._pending = self._pending, []
        for charge in pending:
            self._settle(charge)
        return len(pending)

    def _settle(self, charge: _Charge) -> None:
        with self._lock:
            charge.outcome = replace(charge.outcome, status=IntentStatus.SUCCEEDED)
        self._send("payment.succeeded", charge)

    def refund(self, *, provider_ref: str, amount: Money, refund_key: str) -> str:
        """Give back `amount` of a payment; the same refund_key refunds once and answers the same ref.

        Raises InvalidAmount, InvalidInput (more than this gateway captured).
        """
        if amount.minor <= 0:
            raise InvalidAmount("a refund is for more than nothing", amount=amount.amount)
        with self._lock:
            done = self._refunds.get(refund_key)
            if done is not None:
                return done
            # A payment this process never saw was captured before a restart; the sandbox trusts it.
            charge = self._by_ref.get(provider_ref) or _Charge(
                provider_ref, amount, ProviderOutcome(IntentStatus.SUCCEEDED, provider_ref))
            if charge.outcome.status is not IntentStatus.SUCCEEDED:
                raise InvalidInput("only a captured payment is refunded", provider_ref=provider_ref)
            if charge.refunded_minor + amount.minor > charge.amount.minor:
                raise InvalidInput("the refund is more than the gateway captured", provider_ref=provider_ref)
            charge.refunded_minor += amount.minor
            refund_ref = self._refunds[refund_key] = f"sbx_re_{secrets.token_hex(8)}"
        self._send("refund.succeeded", replace(charge, amount=amount), refund_ref=refund_ref)
        return refund_ref

    def _send(self, event_type: str, charge: _Charge, *, refund_ref: str | None = None,
              reason: str | None = None) -> None:
        at = int(self.clock.now().timestamp())
        body = event_body(event_type, provider_ref=charge.provider_ref, amount=charge.amount,
                          created=at, refund_ref=refund_ref, reason=reason)
        header = sign(body, secret=self.secret, at=at)
        self.sent.append((body, header))
        if self.deliver is None:
            log.info("sandbox webhook (not delivered): %s", body.decode())
            return
        try:
            self.deliver(body, header)
        except Exception:
            # A real gateway's charge stands whatever the webhook endpoint answers.
            log.exception("sandbox webhook delivery failed: %s", event_type)


def _outcome(method: str, provider_ref: str) -> ProviderOutcome:
    if method == "sandbox_ok":
        return ProviderOutcome(IntentStatus.SUCCEEDED, provider_ref)
    if method == "sandbox_fail":
        return ProviderOutcome(IntentStatus.FAILED, provider_ref, _DECLINED)
    return ProviderOutcome(IntentStatus.PROCESSING, provider_ref)
