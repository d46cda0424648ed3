"""One settings object, read from SHOPFEST_* environment variables."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from shopfest.core.clock import Clock, SetClock, parse_instant
from shopfest.core.errors import InvalidInput
from shopfest.core.rates import LONGEST_LOCK, LockRule, Rate, parse_rates
from shopfest.core.redis import check_url
from shopfest.payments.fx import CNY_PER_UNIT

MAX_CHECKOUT_LANES = 8
WEBHOOK_SECRET_MIN = 16  # characters; shorter ones can be guessed
# The secret ShopFest's source once defaulted to: public, so anyone could sign with it.
PUBLISHED_WEBHOOK_SECRET = "shopfest-sandbox-webhook-secret"
MAX_UNPAID_UNITS = 10**12  # far above any stock: a bench's few shoppers ordering again and again
MAX_AUTO_COMPLETE_DAYS = 365


def unshared_secret() -> str:
    """A random webhook secret for a process given none: nobody else can sign with it."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///shopfest.db"
    redis_url: str | None = None  # stock counters live there when set
    redis_prefix: str = "shopfest:"  # the start of every key ShopFest writes to that Redis
    clock: str | None = None  # an ISO instant the festival clock starts at
    clock_speed: float = 1.0  # how fast that clock runs; 0 stands still
    clock_anchor: float | None = None  # the real unix time at which it started
    pool_size: int = 10
    reservation_minutes: int = 15  # how long an unpaid order holds its units
    flash_reservation_minutes: int = 5  # how long an unpaid order with a flash sale's units holds them
    # The most units of one SKU a shopper may hold in unpaid orders: one order cannot take a SKU's
    # whole stock and leave every later shopper `sold-out`.
    max_unpaid_units: int = 5
    sweep_seconds: float = 5.0  # how often expired reservations are released
    # Checkout writers per process: on PostgreSQL a second one applies a batch while the one before
    # it commits, once a crowd of orders waits (SQLite has one writer at a time, so it runs one).
    # `serve --workers` with more than one worker makes it 1 unless set (see `lanes_for`).
    checkout_lanes: int = 2
    # Signs and checks the payment provider's webhooks. `serve` refuses to start without
    # SHOPFEST_WEBHOOK_SECRET (see `require_webhook_secret`); a process given none (tests, one-off
    # commands) signs its sandbox's webhooks with a random secret of its own.
    webhook_secret: str = field(default_factory=unshared_secret)
    # Per-account and per-address request limits: `off`, or changes to the defaults such as
    # `order.account=30/60,search.address=off` (core/rates.py DEFAULT_RATES, docs/security.md).
    rate_limits: str | None = None
    rate_sync_seconds: float = 0.1  # how often a worker shares its counts through Redis
    login_failures: int = 5  # wrong passwords in a row, from one address, before sign-in locks
    login_lock_seconds: int = 30  # the first lock; each wrong password after it doubles it, to 15 min
    hashing_threads: int = 2  # passwords hashed at once per process (argon2 takes a core each)
    hashing_queue: int = 16  # sign-ins waiting for those; more are answered 503 at once
    max_body_bytes: int = 1_048_576  # a larger request body is refused with 413
    # Where product pictures are kept on local disk; None: a `media` folder beside the SQLite file,
    # or ./media for another database.
    media_dir: str | None = None
    auto_complete_days: int = 10  # a shipped part its shopper did not say they received completes then
    # How a live room sends its frames: "queued" (each viewer's own bounded queue, batched), or
    # "simple" (one send per viewer per frame, awaited in turn: the benchmark's baseline only).
    live_fanout: str = "queued"
    # Words no live room's chat may hold, comma-separated, besides the defaults (live/model.py).
    live_banned_words: str | None = None
    # The Ed25519 keys voucher codes are signed with, `kid:base64url-seed,...`: the first signs, all
    # verify. None: a key file beside the SQLite database, or a key of the process's own for another
    # database, where `serve` refuses to start without them (local/codes.py). Never in the database.
    voucher_keys: str | None = None
    # How log lines read: "json" (one object a line) or "text"; None leaves logging as the host set it
    # up (tests, one-off commands). `serve` writes json unless told otherwise (logs.py).
    log_format: str | None = None
    # The bearer token that lets a client read /metrics; None: only clients on this machine (loopback)
    # may (metrics.may_read). The figures show sales rates.
    metrics_token: str | None = None
    # Which requests get a log line: "all", or "failed" (answers of 500 and more, and answers slower
    # than a second): at the peak a line per request costs about a twelfth of /healthz's rate.
    log_requests: str = "all"
    # The currency the big screen and the insights figures are in; payments/fx.py must know it.
    reporting_currency: str = "CNY"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        try:
            return cls(
                database_url=env.get("SHOPFEST_DATABASE_URL", cls.database_url),
                redis_url=env.get("SHOPFEST_REDIS_URL") or None,
                redis_prefix=env.get("SHOPFEST_REDIS_PREFIX", cls.redis_prefix),
                clock=env.get("SHOPFEST_CLOCK") or None,
                clock_speed=float(env.get("SHOPFEST_CLOCK_SPEED", "1")),
                clock_anchor=float(env["SHOPFEST_CLOCK_ANCHOR"])
                if env.get("SHOPFEST_CLOCK_ANCHOR") else None,
                pool_size=int(env.get("SHOPFEST_POOL_SIZE", "10")),
                reservation_minutes=int(env.get("SHOPFEST_RESERVATION_MINUTES", "15")),
                flash_reservation_minutes=int(env.get("SHOPFEST_FLASH_RESERVATION_MINUTES", "5")),
                max_unpaid_units=int(env.get("SHOPFEST_MAX_UNPAID_UNITS", "5")),
                sweep_seconds=float(env.get("SHOPFEST_SWEEP_SECONDS", "5")),
                checkout_lanes=int(env.get("SHOPFEST_CHECKOUT_LANES", str(cls.checkout_lanes))),
                webhook_secret=env.get("SHOPFEST_WEBHOOK_SECRET") or unshared_secret(),
                rate_limits=env.get("SHOPFEST_RATE_LIMITS") or None,
                rate_sync_seconds=float(env.get("SHOPFEST_RATE_SYNC_SECONDS", str(cls.rate_sync_seconds))),
                login_failures=int(env.get("SHOPFEST_LOGIN_FAILURES", str(cls.login_failures))),
                login_lock_seconds=int(env.get("SHOPFEST_LOGIN_LOCK_SECONDS", str(cls.login_lock_seconds))),
                hashing_threads=int(env.get("SHOPFEST_HASHING_THREADS", str(cls.hashing_threads))),
                hashing_queue=int(env.get("SHOPFEST_HASHING_QUEUE", str(cls.hashing_queue))),
                max_body_bytes=int(env.get("SHOPFEST_MAX_BODY_BYTES", str(cls.max_body_bytes))),
                media_dir=env.get("SHOPFEST_MEDIA_DIR") or None,
                auto_complete_days=int(env.get("SHOPFEST_AUTO_COMPLETE_DAYS", str(cls.auto_complete_days))),
                live_fanout=env.get("SHOPFEST_LIVE_FANOUT", cls.live_fanout),
                live_banned_words=env.get("SHOPFEST_LIVE_BANNED_WORDS") or None,
                voucher_keys=env.get("SHOPFEST_VOUCHER_KEYS") or None,
                log_format=env.get("SHOPFEST_LOG_FORMAT") or None,
                metrics_token=env.get("SHOPFEST_METRICS_TOKEN") or None,
                log_requests=env.get("SHOPFEST_LOG_REQUESTS") or cls.log_requests,
                reporting_currency=env.get("SHOPFEST_REPORTING_CURRENCY") or cls.reporting_currency,
            )
        except ValueError as error:
            raise InvalidInput(f"a SHOPFEST_* setting is not a number: {error}") from None

    def __post_init__(self) -> None:
        if not 1 <= self.checkout_lanes <= MAX_CHECKOUT_LANES:
            raise InvalidInput(f"SHOPFEST_CHECKOUT_LANES is from 1 to {MAX_CHECKOUT_LANES}")
        if not 1 <= self.auto_complete_days <= MAX_AUTO_COMPLETE_DAYS:
            raise InvalidInput(f"SHOPFEST_AUTO_COMPLETE_DAYS is from 1 to {MAX_AUTO_COMPLETE_DAYS}")
        if self.live_fanout not in ("queued", "simple"):
            raise InvalidInput("SHOPFEST_LIVE_FANOUT is queued or simple")
        if self.flash_reservation_minutes < 1:
            raise InvalidInput("SHOPFEST_FLASH_RESERVATION_MINUTES is 1 or more")
        if not 1 <= self.max_unpaid_units <= MAX_UNPAID_UNITS:
            raise InvalidInput(f"SHOPFEST_MAX_UNPAID_UNITS is from 1 to {MAX_UNPAID_UNITS}")
        self.rates()  # refuses a malformed SHOPFEST_RATE_LIMITS when the server starts
        self.lock_rule()
        if self.hashing_threads < 1 or self.hashing_queue < 0:
            raise InvalidInput("SHOPFEST_HASHING_THREADS is 1 or more, SHOPFEST_HASHING_QUEUE 0 or more")
        if self.max_body_bytes < 1 or self.rate_sync_seconds < 0:
            raise InvalidInput("SHOPFEST_MAX_BODY_BYTES is 1 or more, SHOPFEST_RATE_SYNC_SECONDS 0 or more")
        if self.log_format not in (None, "json", "text"):
            raise InvalidInput("SHOPFEST_LOG_FORMAT is json or text")
        if self.log_requests not in ("all", "failed"):
            raise InvalidInput("SHOPFEST_LOG_REQUESTS is all or failed")
        if self.redis_url is not None:
            check_url(self.redis_url)
        if "{" in self.redis_prefix or "}" in self.redis_prefix:
            # A Redis Cluster slots a key by its first {...}: the keys' own tags must be that one.
            raise InvalidInput("SHOPFEST_REDIS_PREFIX holds no braces ({ or })")
        if self.reporting_currency not in CNY_PER_UNIT:
            raise InvalidInput(f"SHOPFEST_REPORTING_CURRENCY is one of {', '.join(sorted(CNY_PER_UNIT))}")

    def rates(self) -> dict[str, Rate]:
        return parse_rates(self.rate_limits)

    def lock_rule(self) -> LockRule:
        if self.login_failures < 1 or self.login_lock_seconds < 1:
            raise InvalidInput("SHOPFEST_LOGIN_FAILURES and SHOPFEST_LOGIN_LOCK_SECONDS are 1 or more")
        return LockRule(self.login_failures, self.login_lock_seconds,
                        longest=max(LONGEST_LOCK, self.login_lock_seconds))

    @staticmethod
    def require_webhook_secret(env: Mapping[str, str]) -> str:
        """The webhook secret a server must be given: there is no default, since a secret known to
        anyone lets anyone mark an order paid. Raises InvalidInput."""
        secret = env.get("SHOPFEST_WEBHOOK_SECRET", "")
        if not secret:
            raise InvalidInput(
                "SHOPFEST_WEBHOOK_SECRET is not set: `serve` needs the secret the payment provider signs "
                f"its webhooks with, {WEBHOOK_SECRET_MIN} characters or more (for example the output of "
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`). `shopfest demo` makes "
                "one for its database by itself.")
        if len(secret) < WEBHOOK_SECRET_MIN:
            raise InvalidInput(f"SHOPFEST_WEBHOOK_SECRET is too short to be secret: use "
                               f"{WEBHOOK_SECRET_MIN} characters or more")
        if secret == PUBLISHED_WEBHOOK_SECRET:
            raise InvalidInput("SHOPFEST_WEBHOOK_SECRET is the demo secret once published in ShopFest's "
                               "source, so anyone can sign with it: choose your own")
        return secret

    @staticmethod
    def lanes_for(workers: int) -> int:
        """Checkout lanes per process when none are set: a lone server process keeps a batch
        committing while the next is applied; with a process per core, the cores are busy already and
        one lane each sells the most (benchmarks/README.md)."""
        return Settings.checkout_lanes if workers == 1 else 1

    def make_clock(self) -> Clock:
        if self.clock is None:
            return Clock()
        start = parse_instant(self.clock)
        if self.clock_anchor is None:
            return SetClock(start, self.clock_speed)
        return SetClock(start, self.clock_speed, self.clock_anchor)

    def media_root(self) -> Path:
        """SHOPFEST_MEDIA_DIR, or `media` beside the SQLite file, or ./media."""
        if self.media_dir:
            return Path(self.media_dir)
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            return Path(url.database).parent / "media"
        return Path("media")
