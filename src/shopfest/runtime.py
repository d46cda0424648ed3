"""What the composition root (app.py) builds once per process and every entry point shares: the
runtime, with its engine, clock, bus, gates and pools, the ports between contexts, and the bearer
tokens signed in of late. Plain types, free of FastAPI, so that routes, pages, the command line and
benchmarks can all take one without importing each other."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from shopfest.accounts.hashing import HashingPool
from shopfest.catalog.images import ImageStorage, LocalDiskStorage
from shopfest.core.actor import Actor
from shopfest.core.clock import Clock
from shopfest.core.events import Bus
from shopfest.core.money import Money
from shopfest.core.uow import UnitOfWork
from shopfest.insights.merchant_service import Directory
from shopfest.insights.visits import VisitCounter
from shopfest.inventory.hot_path import StockGate
from shopfest.live.model import Counter
from shopfest.live.room import Rooms
from shopfest.local.codes import VoucherKeys
from shopfest.local.model import VoucherLedger
from shopfest.orders.checkout import Checkout
from shopfest.payments.provider import Provider
from shopfest.rate_limits import Limiter
from shopfest.settings import Settings


@dataclass
class Ports:
    """Answers one context needs from another, plugged in by the composition root (app.py)."""

    available_stock: Callable[[UnitOfWork, Sequence[int]], dict[int, int]]
    merchant_exists: Callable[[UnitOfWork, int], bool]
    festival_start: Callable[[UnitOfWork], datetime | None]
    actor_for_token: Callable[[UnitOfWork, str], Actor]
    actor_for_session: Callable[[UnitOfWork, str], Actor]
    # An account as others may know it (its actor and public name; None: no such account): a live
    # room names chat authors and checks whom a moderator sanctions.
    public_profile: Callable[[UnitOfWork, int], tuple[Actor, str] | None]
    # Live checks an event's hosts (role, merchant) and reads a viewer's country for their time zone.
    account_actor: Callable[[UnitOfWork, int], Actor | None]
    account_country: Callable[[UnitOfWork, int], str | None]
    # Orders say which live event's room they were placed from: the event must exist.
    live_event_exists: Callable[[UnitOfWork, int], bool] = lambda uow, event_id: False
    # What a live room's shoppers price, buy and pay through the checkout (live.model.Counter).
    live_counter: Counter | None = None
    # Settlement reads a merchant's voucher sales from orders (local.settlement.VoucherSales): (paid
    # at, vouchers, amount in the settlement currency) from a start until before an end.
    voucher_sales: Callable[[UnitOfWork, int, datetime, datetime], list[tuple[datetime, int, Money]]] = \
        lambda uow, merchant_id, start, end: []
    # The orders context's vouchers, which local redeems (local.model.VoucherLedger).
    voucher_ledger: VoucherLedger | None = None
    # What merchant insights reads of the catalog, the festival calendar and live events.
    insights_directory: Directory | None = None

    def insights(self) -> Directory:
        """Merchant insights' directory. Raises RuntimeError when the composition root gave none."""
        if self.insights_directory is None:
            raise RuntimeError("these ports have no insights directory; app.make_ports makes it")
        return self.insights_directory


class SignedIn:
    """Bearer tokens this process resolved in the last few seconds: at the peak a shopper's every
    request would otherwise read the token tables. Signing out here forgets at once; elsewhere a
    token lives on in this memory for at most `ttl` seconds, of real time and of festival time."""

    def __init__(self, *, ttl: float = 5.0, size: int = 100_000) -> None:
        self._ttl = ttl
        self._size = size
        self._actors: dict[str, tuple[float, datetime, Actor]] = {}

    def get(self, secret: str, *, now: datetime) -> Actor | None:
        found = self._actors.get(secret)
        if found is None or found[0] < time.monotonic() or not now < found[1]:
            return None
        return found[2]

    def put(self, secret: str, actor: Actor, *, now: datetime) -> None:
        if len(self._actors) >= self._size:
            self._actors.clear()
        self._actors[secret] = (time.monotonic() + self._ttl, now + timedelta(seconds=self._ttl), actor)

    def forget(self, secret: str) -> None:
        self._actors.pop(secret, None)

    def forget_account(self, user_id: int) -> None:
        """Forget every token of one account here: its standing changed (an email or phone verified)."""
        for secret in [s for s, (_, _, actor) in self._actors.items() if actor.user_id == user_id]:
            self._actors.pop(secret, None)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    bus: Bus
    clock: Clock
    ports: Ports
    gate: StockGate
    provider: Provider
    checkout: Checkout
    signed_in: SignedIn = field(default_factory=SignedIn)
    limiter: Limiter = field(default_factory=lambda: Limiter({}))
    hashing: HashingPool = field(default_factory=HashingPool)
    media: ImageStorage | None = None  # where product pictures are kept (app.py: local disk by default)
    rooms: Rooms | None = None  # the live rooms open in this process (app.py makes them)
    serving: int = 0  # apps serving on this runtime now (their lifespans entered and not left)
    voucher_keys: VoucherKeys | None = None  # what voucher codes are signed with (app.py, local/codes.py)
    # Product page views and add-to-cart actions of this process, written every few seconds (app.py)
    visits: VisitCounter | None = None
    # Rung after a commit that stored a sale event: the insights pump relays it at once (app.make_pump).
    insights_due: threading.Event = field(default_factory=threading.Event)

    def live(self) -> Rooms:
        """The live rooms of this process. Raises RuntimeError when the app did not make them."""
        if self.rooms is None:
            raise RuntimeError("this runtime has no live rooms; app.make_runtime makes them")
        return self.rooms

    def pictures(self) -> ImageStorage:
        """The picture storage, made on local disk under the settings' folder when none was given."""
        if self.media is None:
            self.media = LocalDiskStorage(self.settings.media_root())
        return self.media

    def uow(self, *, read_only: bool = False, snapshot: bool = False) -> UnitOfWork:
        return UnitOfWork(self.engine, bus=self.bus, clock=self.clock, read_only=read_only,
                          snapshot=snapshot)

    def voucher_signer(self) -> VoucherKeys:
        """The keys voucher codes are signed and read with. Raises RuntimeError when none were made."""
        if self.voucher_keys is None:
            raise RuntimeError("this runtime has no voucher keys; app.make_runtime makes them")
        return self.voucher_keys
