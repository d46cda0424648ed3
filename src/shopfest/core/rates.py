"""How often one account or one client address may ask for a thing, and how wrong passwords lock an
account for a while: the pure rules. The counting itself lives in shopfest.rate_limits."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from shopfest.core.errors import DomainError, InvalidInput

ACTIONS = ("login", "register", "order", "claim", "price", "search", "nearby", "redeem")
WHO = ("account", "address")


class RateLimited(DomainError):
    code = "rate-limited"
    title = "Too many requests; try again later"


class SignInLocked(DomainError):
    code = "sign-in-locked"
    title = "Too many wrong passwords; sign-in is locked for a while"


class Busy(DomainError):
    code = "busy"
    title = "The server is busy; try again shortly"


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `count` requests in any `seconds` (a sliding window, estimated from two fixed ones)."""

    count: int
    seconds: int

    def __post_init__(self) -> None:
        if self.count < 1 or self.seconds < 1:
            raise InvalidInput("a rate limit is a count of 1 or more per 1 second or more")


# What a festival can live with: addresses are shared by many shoppers behind carrier and office
# NATs, so they get room for crowds; an account is one shopper.
DEFAULT_RATES: dict[str, Rate] = {
    "login.account": Rate(20, 60), "login.address": Rate(60, 60),
    "register.address": Rate(20, 600),
    "order.account": Rate(60, 60), "order.address": Rate(1200, 60),
    "claim.account": Rate(30, 60), "claim.address": Rate(600, 60),
    "price.address": Rate(600, 60),
    "search.address": Rate(600, 60),
    "nearby.address": Rate(600, 60),
    # Voucher redemptions and checks: the "account" counted is the shop's counter (one shop serves a
    # queue, not a crowd), so a bot guessing codes is slowed at any shop and from any address.
    "redeem.account": Rate(120, 60), "redeem.address": Rate(600, 60),
}


def parse_rates(text: str | None) -> dict[str, Rate]:
    """SHOPFEST_RATE_LIMITS: `off`, or comma-separated `action.who=count/seconds` changes to the
    defaults (`order.account=30/60,search.address=off`). Raises InvalidInput."""
    rates = dict(DEFAULT_RATES)
    if text is None or not text.strip():
        return rates
    if text.strip().lower() == "off":
        return {}
    for item in text.split(","):
        name, _, value = (part.strip() for part in item.partition("="))
        action, _, who = name.partition(".")
        if action not in ACTIONS or who not in WHO:
            raise InvalidInput(f"SHOPFEST_RATE_LIMITS: {name!r} is not action.who "
                               f"(actions {', '.join(ACTIONS)}; who {' or '.join(WHO)})")
        if value.lower() == "off":
            rates.pop(name, None)
            continue
        count, _, seconds = value.partition("/")
        if not (count.isdigit() and seconds.isdigit()):
            raise InvalidInput(f"SHOPFEST_RATE_LIMITS: {name}={value!r} is not count/seconds")
        rates[name] = Rate(int(count), int(seconds))
    return rates


@dataclass(frozen=True, slots=True)
class Seen:
    """What is known of one key: the previous fixed window's count and the current one's so far."""

    previous: int
    current: int
    elapsed: float  # the share of the current window gone by, from 0 to 1


def admits(rate: Rate, seen: Seen) -> bool:
    """Whether one more request fits: the previous window counts for the part of it still inside
    the sliding window that ends now."""
    return seen.previous * (1 - seen.elapsed) + seen.current + 1 <= rate.count + 1e-9  # float slack


def retry_after(rate: Rate, seen: Seen) -> int:
    """Whole seconds until one more request fits, counting no more requests meanwhile."""
    if seen.current + 1 <= rate.count:  # the previous window has to slide out far enough
        share = 1 - (rate.count - seen.current - 1) / seen.previous if seen.previous else seen.elapsed
        return _whole_seconds((share - seen.elapsed) * rate.seconds)
    # the current window has to end, and then slide out far enough in turn
    share = 1 - (rate.count - 1) / seen.current
    return _whole_seconds((1 - seen.elapsed + share) * rate.seconds)


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(round(seconds, 6)))  # 3.0000000000000004 s is 3 s


LONGEST_LOCK = 900  # seconds: a stranger keeps an owner out a quarter of an hour at most


@dataclass(frozen=True, slots=True)
class LockRule:
    """After `allowed` wrong passwords in a row, sign-in is locked for `first_lock` seconds, and each
    wrong password after a lock doubles it, up to `longest` seconds: a guesser slows to a crawl, and
    the owner gets in again once the lock ends, whoever caused it."""

    allowed: int = 5
    first_lock: int = 30
    longest: int = LONGEST_LOCK
    forgotten_after: int = 86_400  # a day without a wrong password starts the count again

    def lock_seconds(self, failures: int) -> int:
        """How long sign-in stays locked after the `failures`-th wrong password in a row."""
        if failures < self.allowed:
            return 0
        return min(self.longest, self.first_lock << min(failures - self.allowed, 32))


class Lockout(Protocol):
    """Wrong-password bookkeeping for one client address, as sign-in uses it."""

    def check(self, email: str) -> None:
        """Raises SignInLocked while sign-in for `email` is locked."""

    def failed(self, email: str) -> None: ...

    def succeeded(self, email: str) -> None: ...
