"""Rate limits and sign-in locks counted in this process's memory (Redis: tests/integration)."""

from __future__ import annotations

import pytest

from shopfest.core.rates import LockRule, Rate, RateLimited, SignInLocked
from shopfest.rate_limits import Limiter, client_address, email_key


class Ticking:
    """Wall time, moved by the test."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_a_limit_refuses_past_its_count_and_lets_through_again_as_the_window_slides() -> None:
    clock = Ticking(1_800_000_000.0)  # a window starts here
    limiter = Limiter({"order.account": Rate(3, 60)}, clock=clock)
    for _ in range(3):
        limiter.hit("order", account="7", address="10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        limiter.hit("order", account="7", address="10.0.0.1")
    assert refused.value.data["retry_after"] == 80  # the rest of this minute, then a third of the next
    limiter.hit("order", account="8", address="10.0.0.1")  # another shopper is not held back
    clock.now += 80
    limiter.hit("order", account="7", address="10.0.0.1")


def test_a_refused_request_is_not_counted_under_either_limit() -> None:
    limiter = Limiter({"claim.account": Rate(1, 60), "claim.address": Rate(2, 60)}, clock=Ticking())
    limiter.hit("claim", account="7", address="10.0.0.1")
    with pytest.raises(RateLimited):
        limiter.hit("claim", account="7", address="10.0.0.1")
    limiter.hit("claim", account="8", address="10.0.0.1")  # the address counted one claim, not two
    with pytest.raises(RateLimited):
        limiter.hit("claim", account="9", address="10.0.0.1")


def test_an_action_without_a_limit_is_never_refused() -> None:
    limiter = Limiter({}, clock=Ticking())
    for _ in range(1000):
        limiter.hit("order", account="7", address="10.0.0.1")


def test_wrong_passwords_lock_one_address_first_then_the_account_for_everyone() -> None:
    clock = Ticking()
    limiter = Limiter({}, lock_rule=LockRule(allowed=2, first_lock=30), clock=clock)
    stranger, owner = limiter.lockout("203.0.113.9"), limiter.lockout("198.51.100.4")
    for _ in range(2):
        stranger.check("mei@example.com")
        stranger.failed("mei@example.com")
    with pytest.raises(SignInLocked) as locked:
        stranger.check("Mei@Example.com ")
    assert locked.value.data["retry_after"] == 30
    owner.check("mei@example.com")  # the owner's own address is not locked by a stranger's guesses
    # after 4 x 2 wrong passwords from anywhere, the account locks for every address, for a while
    for n in range(6):
        limiter.lockout(f"203.0.113.{n + 20}").failed("mei@example.com")
    with pytest.raises(SignInLocked):
        owner.check("mei@example.com")
    clock.now += 31
    owner.check("mei@example.com")  # the lock ended: the right password may be tried again
    owner.succeeded("mei@example.com")
    stranger.check("mei@example.com")


def test_each_wrong_password_after_a_lock_doubles_the_next_one() -> None:
    clock = Ticking()
    limiter = Limiter({}, lock_rule=LockRule(allowed=1, first_lock=30), clock=clock)
    guesser = limiter.lockout("203.0.113.9")
    waits = []
    for _ in range(3):
        guesser.check("mei@example.com")
        guesser.failed("mei@example.com")
        with pytest.raises(SignInLocked) as locked:
            guesser.check("mei@example.com")
        waits.append(locked.value.data["retry_after"])
        clock.now += waits[-1]
    assert waits == [30, 60, 120]


def test_the_client_address_is_the_asgi_client_and_emails_are_keyed_alike() -> None:
    assert client_address({"client": ("203.0.113.9", 5000)}) == "203.0.113.9"
    assert client_address({"client": None}) == "unknown"
    assert email_key(" Mei@Example.com") == email_key("mei@example.com") != email_key("li@example.com")
    assert email_key("\ud800@example.com")  # a lone surrogate from JSON does not break the key
