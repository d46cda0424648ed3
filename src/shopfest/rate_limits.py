"""Counting requests per account and per client address, and wrong passwords per account: in this
process, or shared through Redis by every `serve` worker. The rules are in shopfest.core.rates.

A request is decided on what this process knows, without waiting on Redis: it counts locally and a
thread, every `sync_seconds`, sends what was counted and reads back every worker's totals for those
keys in one pipelined round trip. Checkout is the festival's hot path and a round trip per order
would cost more than the order (DESIGN.md: ~200 us each); the price is that the workers together
may let through up to `sync_seconds` worth of their requests past a limit. With `sync_seconds` 0
every request syncs before it is decided, exactly and slowly. Wrong passwords are rarer and slower
than a round trip, so the lockout asks Redis every time.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from shopfest.core import metrics
from shopfest.core.rates import LockRule, Rate, RateLimited, Seen, SignInLocked, admits, retry_after
from shopfest.core.redis import REDIS_ERRORS

log = logging.getLogger("shopfest")

TALLIES_BEFORE_PRUNING = 50_000


def client_address(scope: Any) -> str:  # noqa: ANN401  # an ASGI scope or a Starlette Request
    """The address the request came from, as the ASGI server tells it. Behind a proxy that is the
    proxy's, unless the server is told to trust its forwarded headers (uvicorn --forwarded-allow-ips)."""
    client = scope.get("client") if isinstance(scope, dict) else getattr(scope, "client", None)
    return str(client[0]) if client else "unknown"


def email_key(email: object) -> str:
    """An account as a login names it, kept out of Redis keys in the clear."""
    if not isinstance(email, str):
        return "-"
    return hashlib.sha256(email.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass
class _Tally:
    """One key's counts: `shared` is the total every worker had sent to Redis when last read
    (this process's included), `pending` what this process counted since."""

    rate: Rate
    window: int
    previous: int = 0
    shared: int = 0
    pending: int = 0

    def roll(self, window: int) -> None:
        if window != self.window:
            self.previous = self.shared + self.pending if window == self.window + 1 else 0
            self.window, self.shared, self.pending = window, 0, 0

    def seen_before(self, now: float) -> Seen:
        """What was counted before the request being decided, which is counted already."""
        elapsed = (now - self.window * self.rate.seconds) / self.rate.seconds
        return Seen(self.previous, self.shared + self.pending - 1, min(max(elapsed, 0.0), 1.0))


class Limiter:
    """Per-account and per-address request limits, and the wrong-password lockout."""

    def __init__(self, rates: dict[str, Rate], *, lock_rule: LockRule | None = None,
                 redis_client: redis.Redis | None = None, prefix: str = "shopfest:",
                 sync_seconds: float = 0.1, clock: Callable[[], float] = time.time) -> None:
        self._rates = rates
        self._redis = redis_client
        self._prefix = prefix
        self._sync_seconds = sync_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._tallies: dict[str, _Tally] = {}
        self._counted: dict[str, _Tally] = {}  # the tallies counted since the last sync
        self._syncing = False
        self._syncer: threading.Thread | None = None
        self.pair_rule = lock_rule or LockRule()
        # Across every address, four times the guesses before the account locks for everyone.
        self.account_rule = LockRule(self.pair_rule.allowed * 4, self.pair_rule.first_lock,
                                     self.pair_rule.longest, self.pair_rule.forgotten_after)
        self._book: LockBook = (RedisLockBook(redis_client, prefix) if redis_client is not None
                                else MemoryLockBook())

    def hit(self, action: str, *, account: str | None = None, address: str | None = None) -> None:
        """Count one `action` by `account` and from `address`; refused, nothing is counted.
        Raises RateLimited."""
        wanted = [(f"{action}.{who}", identity) for who, identity in (("account", account),
                                                                      ("address", address))
                  if identity is not None and f"{action}.{who}" in self._rates]
        if not wanted:
            return
        now = self._clock()
        with self._lock:  # counted first, so that a sync due now sends it with the rest
            tallies = [self._tally(name, identity, now) for name, identity in wanted]
            for tally in tallies:
                tally.pending += 1
        if self._redis is not None and not self._sync_seconds:
            self.sync()
        elif self._redis is not None and self._syncer is None:
            self._start_syncing()
        with self._lock:
            wait = max((retry_after(t.rate, seen) for t in tallies
                        if not admits(t.rate, seen := t.seen_before(now))), default=0)
            if wait:  # not counted after all: Redis hears of it at the next sync
                for tally in tallies:
                    tally.pending -= 1
        if wait:
            raise RateLimited(f"too many {action} requests; try again in {wait} s",
                              retry_after=wait, action=action)

    def _tally(self, name: str, identity: str, now: float) -> _Tally:
        rate = self._rates[name]
        window = int(now // rate.seconds)
        key = f"{name}:{identity}"
        tally = self._tallies.get(key)
        if tally is None:
            if len(self._tallies) >= TALLIES_BEFORE_PRUNING:
                self._prune(now)
            tally = self._tallies[key] = _Tally(rate, window)
        tally.roll(window)
        if self._redis is not None:
            self._counted[key] = tally
        return tally

    def _prune(self, now: float) -> None:
        self._tallies = {key: t for key, t in self._tallies.items()
                         if t.window >= int(now // t.rate.seconds) - 1}

    def sync(self) -> None:
        """Send what this process counted to Redis and read every worker's totals back, in one
        round trip; one thread at a time, the others go on deciding meanwhile."""
        if self._redis is None:
            return
        with self._lock:
            if self._syncing:
                return
            self._syncing = True
            # Only keys counted since the last sync: a key is read afresh whenever this process
            # counts it again. (A refusal taken back may leave one at -1.)
            counted, self._counted = self._counted, {}
            sent = [(key, t, t.window, t.pending) for key, t in counted.items() if t.pending]
            for _, tally, _, pending in sent:
                tally.shared, tally.pending = tally.shared + pending, 0
        try:
            totals = self._exchange([(key, t.rate, window, pending) for key, t, window, pending in sent])
        except REDIS_ERRORS as error:
            metrics.redis_error("rate-limit.sync", error)
            log.warning("rate limits: Redis did not answer; counting in this process meanwhile")
            totals = []
        finally:
            with self._lock:
                self._syncing = False
        with self._lock:
            for (_, tally, window, _), (current, previous) in zip(sent, totals, strict=False):
                if tally.window == window:
                    tally.shared, tally.previous = max(tally.shared, current), max(tally.previous, previous)

    def _start_syncing(self) -> None:
        with self._lock:
            if self._syncer is None:
                self._syncer = threading.Thread(target=_keep_syncing, name="rate-limits", daemon=True,
                                                args=(weakref.ref(self), self._sync_seconds))
                self._syncer.start()

    def _exchange(self, sent: list[tuple[str, Rate, int, int]]) -> list[tuple[int, int]]:
        assert self._redis is not None
        pipe = self._redis.pipeline(transaction=False)
        for key, rate, window, pending in sent:
            # The hash tag keeps a key's windows in one Redis Cluster slot.
            current = f"{self._prefix}rate:{{{key}}}:{window}"
            pipe.incrby(current, pending)
            pipe.expire(current, 2 * rate.seconds)
            pipe.get(f"{self._prefix}rate:{{{key}}}:{window - 1}")
        answers = pipe.execute()
        return [(int(answers[n]), int(answers[n + 2] or 0)) for n in range(0, len(answers), 3)]

    def lockout(self, address: str) -> AddressLockout:
        """Wrong-password bookkeeping for sign-ins from `address` (core.rates.Lockout)."""
        return AddressLockout(self, address)

    def _locks(self, email: str, address: str) -> list[tuple[str, LockRule]]:
        account = email_key(email)
        return [(f"{account}|{address}", self.pair_rule), (account, self.account_rule)]

    def check_sign_in(self, email: str, address: str) -> None:
        now = self._clock()
        try:
            until = max(self._book.locked_until([key for key, _ in self._locks(email, address)]))
        except REDIS_ERRORS as error:
            metrics.redis_error("sign-in-lock.check", error)
            log.warning("sign-in locks: Redis did not answer; the sign-in is let through")
            return
        if until > now:
            wait = max(1, int(until - now + 0.999))
            raise SignInLocked(f"too many wrong passwords; try again in {wait} s", retry_after=wait)

    def failed_sign_in(self, email: str, address: str) -> None:
        try:
            self._book.add_failure(self._locks(email, address), now=self._clock())
        except REDIS_ERRORS as error:
            metrics.redis_error("sign-in-lock.fail", error)
            log.warning("sign-in locks: Redis did not answer; a wrong password went uncounted")

    def signed_in(self, email: str, address: str) -> None:
        try:
            self._book.forget([key for key, _ in self._locks(email, address)])
        except REDIS_ERRORS as error:
            metrics.redis_error("sign-in-lock.forget", error)
            log.warning("sign-in locks: Redis did not answer; earlier wrong passwords stay counted")


def _keep_syncing(limiter: weakref.ref[Limiter], seconds: float) -> None:
    """Sync every `seconds` while the limiter lives (a test's runtime goes, and its thread with it)."""
    while True:
        time.sleep(seconds)
        alive = limiter()
        if alive is None:
            return
        alive.sync()
        del alive


class AddressLockout:
    def __init__(self, limiter: Limiter, address: str) -> None:
        self._limiter, self._address = limiter, address

    def check(self, email: str) -> None:
        self._limiter.check_sign_in(email, self._address)

    def failed(self, email: str) -> None:
        self._limiter.failed_sign_in(email, self._address)

    def succeeded(self, email: str) -> None:
        self._limiter.signed_in(email, self._address)


class LockBook:
    """Wrong passwords in a row and the lock they earned, per key."""

    def locked_until(self, keys: list[str]) -> list[float]:
        raise NotImplementedError

    def add_failure(self, keys: list[tuple[str, LockRule]], *, now: float) -> None:
        raise NotImplementedError

    def forget(self, keys: list[str]) -> None:
        raise NotImplementedError


class MemoryLockBook(LockBook):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[int, float, float]] = {}  # failures, locked until, last failure

    def locked_until(self, keys: list[str]) -> list[float]:
        with self._lock:
            return [self._entries.get(key, (0, 0.0, 0.0))[1] for key in keys]

    def add_failure(self, keys: list[tuple[str, LockRule]], *, now: float) -> None:
        with self._lock:
            if len(self._entries) >= TALLIES_BEFORE_PRUNING:
                self._entries = {k: e for k, e in self._entries.items() if e[1] > now}
            for key, rule in keys:
                failures, until, last = self._entries.get(key, (0, 0.0, now))
                failures = 1 if now - last > rule.forgotten_after else failures + 1
                self._entries[key] = (failures, max(until, now + rule.lock_seconds(failures)), now)

    def forget(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)


class RedisLockBook(LockBook):
    """One hash a key (failures, locked_until), forgotten by Redis a day after the last failure."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis, self._prefix = client, prefix

    def _name(self, key: str) -> str:
        return f"{self._prefix}sign-in:{{{key}}}"

    def locked_until(self, keys: list[str]) -> list[float]:
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.hget(self._name(key), "locked_until")
        return [float(found or 0) for found in pipe.execute()]

    def add_failure(self, keys: list[tuple[str, LockRule]], *, now: float) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for key, rule in keys:
            pipe.hincrby(self._name(key), "failures", 1)
            pipe.expire(self._name(key), rule.forgotten_after)
        failures = pipe.execute()[::2]
        pipe = self._redis.pipeline(transaction=False)
        for (key, rule), count in zip(keys, failures, strict=True):
            if rule.lock_seconds(int(count)):
                pipe.hset(self._name(key), "locked_until", now + rule.lock_seconds(int(count)))
        pipe.execute()

    def forget(self, keys: list[str]) -> None:
        self._redis.delete(*(self._name(key) for key in keys))
