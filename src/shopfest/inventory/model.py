"""Stock per SKU and the one rule it keeps: never sell what is not there, nor hand it to a hoarder.

A `Ledger` holds the counters of the SKUs, flash sales and shoppers one batch of orders touches;
each order claims all its units or none, in the order the orders arrived, and no shopper holds more
than a set number of unpaid units of one SKU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shopfest.core.errors import Conflict, DomainError, Forbidden, InvalidInput
from shopfest.core.money import Money

MAX_UNITS_PER_LINE = 999  # more than any shopper buys of one SKU; 10^9 is a typing slip
MAX_ACCOUNT_AGE_HOURS = 24 * 366  # a flash sale asks at most for accounts a year old


class SoldOut(Conflict):
    code = "sold-out"
    title = "Sold out"


class LimitExceeded(Conflict):
    code = "limit-exceeded"
    title = "Over the per-shopper limit"


class TooManyUnpaid(Conflict):
    code = "too-many-unpaid"
    title = "Too many unpaid units of one SKU; pay or cancel an order first"


class AccountNotVerified(Forbidden):
    code = "account-not-verified"
    title = "This flash sale sells to verified accounts only"


class AccountTooNew(Forbidden):
    code = "account-too-new"
    title = "This flash sale sells to older accounts only"


@dataclass(frozen=True, slots=True)
class Buyer:
    """What a flash sale may ask of the shopper claiming its units: a verified email or phone, and
    when the account was opened."""

    verified: bool
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class StockLevel:
    """Units of one SKU: on hand in all, reserved by unpaid orders, sold. reserved + sold ≤ on hand."""

    sku_id: int
    on_hand: int
    reserved: int = 0
    sold: int = 0

    def __post_init__(self) -> None:
        if min(self.on_hand, self.reserved, self.sold) < 0:
            raise InvalidInput("stock figures cannot be negative", sku_id=self.sku_id)
        if self.reserved + self.sold > self.on_hand:
            raise InvalidInput("reserved and sold units exceed the units on hand",
                               sku_id=self.sku_id)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.sold


@dataclass(frozen=True, slots=True)
class FlashSale:
    """A slot in which `quantity` units of a SKU sell at `price`, at most `per_shopper_limit` each."""

    sku_id: int
    price: Money
    quantity: int
    starts_at: datetime
    ends_at: datetime
    per_shopper_limit: int
    taken: int = 0
    id: int | None = None
    # Against scalpers' fresh accounts: only verified shoppers, and only accounts this old, buy.
    requires_verified: bool = False
    min_account_age_hours: int = 0

    def __post_init__(self) -> None:
        if self.ends_at <= self.starts_at:
            raise InvalidInput("a flash sale ends after it starts")
        if not 0 < self.quantity <= 10_000_000:
            raise InvalidInput("a flash sale sells between 1 and 10,000,000 units")
        if not 0 < self.per_shopper_limit <= MAX_UNITS_PER_LINE:
            raise InvalidInput(f"the per-shopper limit is between 1 and {MAX_UNITS_PER_LINE}")
        if self.price.minor <= 0:
            raise InvalidInput("a flash price is above zero")
        if not 0 <= self.taken <= self.quantity:
            raise InvalidInput("a flash sale cannot give more units than it has")
        if not 0 <= self.min_account_age_hours <= MAX_ACCOUNT_AGE_HOURS:
            raise InvalidInput(f"the minimum account age is 0 to {MAX_ACCOUNT_AGE_HOURS} hours")

    def is_on(self, instant: datetime) -> bool:
        return self.starts_at <= instant < self.ends_at

    def overlaps(self, other: FlashSale) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at

    def check_buyer(self, buyer: Buyer | None, *, at: datetime) -> None:
        """A shopper this sale sells to; an unknown account (None) qualifies for no requirement.

        Raises AccountNotVerified, AccountTooNew.
        """
        if self.requires_verified and (buyer is None or not buyer.verified):
            raise AccountNotVerified("verify your email (or have your phone verified) to buy in this "
                                     "flash sale", sku_id=self.sku_id)
        old_enough = timedelta(hours=self.min_account_age_hours)
        if old_enough and (buyer is None or at - buyer.joined_at < old_enough):
            raise AccountTooNew(f"this flash sale sells to accounts at least {self.min_account_age_hours} "
                                "hours old", sku_id=self.sku_id, hours=self.min_account_age_hours)


def check_quantity(qty: int) -> int:
    if not 1 <= qty <= MAX_UNITS_PER_LINE:
        raise InvalidInput(f"a line orders between 1 and {MAX_UNITS_PER_LINE} units", qty=qty)
    return qty


@dataclass(frozen=True, slots=True)
class Claim:
    """Units of one SKU an order takes, from a flash sale's units when `flash_sale_id` is set."""

    sku_id: int
    qty: int
    shopper_id: int
    flash_sale_id: int | None = None


@dataclass
class Ledger:
    """The counters one batch decides on: available units per SKU, flash units left per sale,
    units each shopper holds of each flash sale, and units each shopper holds unpaid of each SKU
    (at most `max_unpaid`; None: not asked)."""

    available: dict[int, int]
    flash_left: dict[int, int] = field(default_factory=dict)
    flash_limit: dict[int, int] = field(default_factory=dict)
    bought: dict[tuple[int, int], int] = field(default_factory=dict)
    unpaid: dict[tuple[int, int], int] = field(default_factory=dict)  # (shopper, SKU) -> units
    max_unpaid: int | None = None

    def claim(self, claims: Sequence[Claim]) -> None:
        """Take every claim of one order, or none. Raises SoldOut, LimitExceeded, TooManyUnpaid."""
        if self.claim_alike(claims, 1) == 0:
            raise self.why_refused(claims)

    def claim_alike(self, claims: Sequence[Claim], count: int) -> int:
        """`count` orders in a row making the very same claims: the first ones take theirs, as many as
        the units and limits allow, as `claim` one after another would; returns how many did. Each
        later one is refused, for the reason `why_refused` gives."""
        if len(claims) == 1 and claims[0].flash_sale_id is None and self.max_unpaid is None:
            sku_id, qty = claims[0].sku_id, claims[0].qty
            fits = max(0, min(count, self.available.get(sku_id, 0) // qty))
            if fits:
                self.available[sku_id] -= qty * fits
            return fits
        fits = count
        for sku_id, qty in total_by_sku(claims).items():
            fits = min(fits, self.available.get(sku_id, 0) // qty)
        wanted = _summed(claims)
        for (_, flash_id, shopper_id), qty in wanted.items():
            if flash_id is not None:
                room = self.flash_limit.get(flash_id, 0) - self.bought.get((flash_id, shopper_id), 0)
                fits = min(fits, self.flash_left.get(flash_id, 0) // qty, room // qty)
        if self.max_unpaid is not None:
            for (shopper_id, sku_id), qty in _held_by_shopper(claims).items():
                fits = min(fits, (self.max_unpaid - self.unpaid.get((shopper_id, sku_id), 0)) // qty)
        fits = max(fits, 0)  # a counter below zero (never written so by the rows) grants nothing
        if fits:
            for (sku_id, flash_id, shopper_id), qty in wanted.items():
                self.available[sku_id] -= qty * fits
                held = (shopper_id, sku_id)
                self.unpaid[held] = self.unpaid.get(held, 0) + qty * fits
                if flash_id is not None:
                    self.flash_left[flash_id] -= qty * fits
                    key = (flash_id, shopper_id)
                    self.bought[key] = self.bought.get(key, 0) + qty * fits
        return fits

    def claim_for_each(self, claims: Sequence[Claim], shoppers: Sequence[int]) -> list[DomainError | None]:
        """Orders making the same claims of no flash sale, one for each of `shoppers` in turn (the
        claims' own shopper stands for any): what each is told, None for those that took their units.
        The peak's usual run: thousands of shoppers placing the same cart."""
        wanted = total_by_sku(claims)
        told: list[DomainError | None] = []
        unpaid, cap, available = self.unpaid, self.max_unpaid, self.available
        for shopper_id in shoppers:
            if any(available.get(sku_id, 0) < qty for sku_id, qty in wanted.items()):
                told.append(self._sold_out(wanted))
                continue
            over = None if cap is None else next((sku_id for sku_id, qty in wanted.items()
                                                  if unpaid.get((shopper_id, sku_id), 0) + qty > cap), None)
            if over is not None:
                told.append(self._too_many_unpaid(shopper_id, over))
                continue
            for sku_id, qty in wanted.items():
                available[sku_id] -= qty
                unpaid[(shopper_id, sku_id)] = unpaid.get((shopper_id, sku_id), 0) + qty
            told.append(None)
        return told

    def why_refused(self, claims: Sequence[Claim]) -> SoldOut | LimitExceeded | TooManyUnpaid:
        """Why an order that cannot take all its units is refused: the first check it fails, its
        SKUs' units before its flash sales' units and limits, and those before the unpaid units."""
        wanted = total_by_sku(claims)
        if any(self.available.get(sku_id, 0) < qty for sku_id, qty in wanted.items()):
            return self._sold_out(wanted)
        for (sku_id, flash_id, shopper_id), qty in _summed(claims).items():
            if flash_id is None:
                continue
            if self.flash_left.get(flash_id, 0) < qty:
                return SoldOut(f"the flash sale of SKU {sku_id} is sold out", sku_id=sku_id)
            held = self.bought.get((flash_id, shopper_id), 0)
            limit = self.flash_limit.get(flash_id, 0)
            if held + qty > limit:
                return LimitExceeded(f"at most {limit} units of SKU {sku_id} per shopper",
                                     sku_id=sku_id, limit=limit, held=held)
        if self.max_unpaid is not None:
            for (shopper_id, sku_id), qty in _held_by_shopper(claims).items():
                if self.unpaid.get((shopper_id, sku_id), 0) + qty > self.max_unpaid:
                    return self._too_many_unpaid(shopper_id, sku_id)
        raise AssertionError("asked why an order that can take its units is refused")

    def _sold_out(self, wanted: Mapping[int, int]) -> SoldOut:
        sku_id, qty = next((s, q) for s, q in wanted.items() if self.available.get(s, 0) < q)
        return SoldOut(f"SKU {sku_id} has fewer than {qty} units left", sku_id=sku_id)

    def _too_many_unpaid(self, shopper_id: int, sku_id: int) -> TooManyUnpaid:
        cap, held = self.max_unpaid or 0, self.unpaid.get((shopper_id, sku_id), 0)
        return TooManyUnpaid(f"at most {cap} unpaid units of SKU {sku_id} per shopper; you hold {held}",
                             sku_id=sku_id, limit=cap, held=held)

    def exhausted(self, claims: Sequence[Claim]) -> set[int]:
        """The SKUs among `claims` with nothing left to sell: no units, or none left in their flash sale."""
        return {c.sku_id for c in claims if self.available.get(c.sku_id, 0) == 0
                or (c.flash_sale_id is not None and self.flash_left.get(c.flash_sale_id, 0) == 0)}


def _held_by_shopper(claims: Sequence[Claim]) -> dict[tuple[int, int], int]:
    """Units the claims hold per (shopper, SKU)."""
    held: dict[tuple[int, int], int] = {}
    for c in claims:
        held[(c.shopper_id, c.sku_id)] = held.get((c.shopper_id, c.sku_id), 0) + c.qty
    return held


def _summed(claims: Sequence[Claim]) -> dict[tuple[int, int | None, int], int]:
    wanted: dict[tuple[int, int | None, int], int] = {}
    for c in claims:
        key = (c.sku_id, c.flash_sale_id, c.shopper_id)
        wanted[key] = wanted.get(key, 0) + c.qty
    return wanted


def total_by_sku(claims: Sequence[Claim]) -> Mapping[int, int]:
    totals: dict[int, int] = {}
    for c in claims:
        totals[c.sku_id] = totals.get(c.sku_id, 0) + c.qty
    return totals


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Why a claim, on its own, cannot be had now, and the most units of it that can: `reason` is
    the code of the refusal the gate would give (sold-out, flash-sold-out, limit-exceeded)."""

    sku_id: int
    reason: str
    most: int


def shortfall(ledger: Ledger, claim: Claim) -> Shortfall | None:
    """What `Ledger.claim` would refuse of this claim alone, read without taking anything: None when
    it fits. The tightest of the SKU's units, its flash sale's units and the shopper's room under
    the sale's limit decides."""
    most, reason = ledger.available.get(claim.sku_id, 0), SoldOut.code
    if claim.flash_sale_id is not None:
        flash_left = ledger.flash_left.get(claim.flash_sale_id, 0)
        room = (ledger.flash_limit.get(claim.flash_sale_id, 0)
                - ledger.bought.get((claim.flash_sale_id, claim.shopper_id), 0))
        if flash_left < most:
            most, reason = flash_left, "flash-sold-out"
        if room < most:
            most, reason = room, LimitExceeded.code
    most = max(most, 0)
    return None if claim.qty <= most else Shortfall(claim.sku_id, reason, most)


@dataclass(frozen=True, slots=True)
class StockFigures:
    """The stock rows as an audit reads them: per SKU (on hand, reserved, sold), per flash sale the
    units taken, per (flash sale, shopper) the units bought."""

    levels: Mapping[int, tuple[int, int, int]]
    flash_taken: Mapping[int, int]
    flash_bought: Mapping[tuple[int, int], int]
    unpaid: Mapping[tuple[int, int], int]  # (shopper, SKU) → units held in orders not paid in full


LOW_SHARE = 5  # a SKU runs low once a fifth or less of its units is left


def running_low(level: StockLevel) -> bool:
    """Whether a SKU is running low: a fifth or less of its units on hand still available."""
    return level.available * LOW_SHARE <= level.on_hand


# --- a merchant's intake and stock-take corrections --------------------------------------------

MAX_ON_HAND = 1_000_000_000
MAX_REASON = 200


class CountBelowHeld(Conflict):
    code = "count-below-held"
    title = "The count is below the units reserved and sold"


def intake_change(level: StockLevel, units: int) -> int:
    """Units received go on hand: 1 or more, and on hand stays within MAX_ON_HAND. Raises InvalidInput."""
    if not 1 <= units <= MAX_ON_HAND - level.on_hand:
        raise InvalidInput(f"receive 1 to {MAX_ON_HAND - level.on_hand} units", field="units",
                           most=MAX_ON_HAND - level.on_hand)
    return units


def correction_change(level: StockLevel, counted: int, reason: str) -> int:
    """A stock-take sets on hand to the units counted, never below those reserved by unpaid orders
    and already sold (they are promised), with a reason. Returns the change to on hand.

    Raises InvalidInput, CountBelowHeld.
    """
    if not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidInput(f"say why, in 1 to {MAX_REASON} characters", field="reason", most=MAX_REASON)
    if not 0 <= counted <= MAX_ON_HAND:
        raise InvalidInput(f"the count is 0 to {MAX_ON_HAND}", field="counted", most=MAX_ON_HAND)
    held = level.reserved + level.sold
    if counted < held:
        raise CountBelowHeld(f"{level.reserved} units are reserved and {level.sold} sold: the count "
                             f"must be {held} or more", field="counted", reserved=level.reserved,
                             sold=level.sold, least=held)
    return counted - level.on_hand
