"""Where a batch of orders takes its stock: the database's own rows, or Redis counters in front of them.

Either gate decides a whole batch at once with the rule in `model.Ledger`, and the database row
is always the record (its CHECK constraint refuses an oversold row whatever the gate said).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from shopfest.core import metrics
from shopfest.core.errors import DomainError
from shopfest.core.uow import UnitOfWork
from shopfest.inventory.model import Claim, Ledger
from shopfest.inventory.store import AdjustmentStore, InventoryStore

Outcomes = list[DomainError | None]
# Unpaid units one shopper may hold of one SKU, unless SHOPFEST_MAX_UNPAID_UNITS says otherwise.
DEFAULT_MAX_UNPAID = 5


@dataclass
class Reservation:
    """What a gate decided for each order of a batch, and how to take it back if the batch fails."""

    outcomes: Outcomes
    sold_out: set[int] = field(default_factory=set)  # SKUs this batch left with nothing to sell
    undo: Callable[[], None] = field(default=lambda: None)
    # Writes the units taken in the batch's transaction: called last, just before the commit, so with
    # Redis deciding, a concurrent batch waits for the stock rows' locks only while this one commits
    # (the database gate locks them from the start).
    record: Callable[[], None] = field(default=lambda: None)


class StockGate(Protocol):
    def reserve(self, uow: UnitOfWork, runs: Sequence[Run]) -> Reservation:
        """Decide each run's orders in turn: an order takes all its units or none. The outcomes
        are one per order, run after run."""

    def release(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None: ...

    def sell(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        """Paid orders: their reserved units become sold, and their shoppers no longer hold them unpaid."""

    def recount(self) -> int:
        """Forget the counters kept apart from the rows, so that each is loaded from the rows when a
        batch next needs it; how many were forgotten. For after a crash, before serving again."""

    def change_on_hand(self, uow: UnitOfWork, sku_id: int, change: int) -> Callable[[], None]:
        """Add `change` units (fewer than none: take them off) to a SKU's units on hand, with the rows
        in the caller's transaction; the counters kept apart never count more than the rows. Returns
        what gives the counters back if that transaction fails."""


@dataclass(frozen=True, slots=True)
class Run:
    """`count` orders in a row of a batch that make the very same claims: at the peak, thousands of
    shoppers placing the same cart. Where no flash sale's limit asks who they are, `shoppers` names
    the shopper of each order (the claims' own shopper standing for any), whose unpaid units the cap
    still counts; None: every order is the claims' shopper's."""

    claims: Sequence[Claim]
    count: int
    shoppers: Sequence[int] | None = None


def times(claims: Sequence[Claim], count: int) -> list[Claim]:
    """The units `count` orders making `claims` take, as one claim per claim of one order."""
    if count <= 0:
        return []
    return [Claim(c.sku_id, c.qty * count, c.shopper_id, c.flash_sale_id) for c in claims]


def taken_by_each(claims: Sequence[Claim], shoppers: Sequence[int], told: Sequence[object]) -> list[Claim]:
    """The units the orders of a run with `shoppers` that were let through (told None) take, each by
    its shopper."""
    return [Claim(c.sku_id, c.qty, shopper_id, c.flash_sale_id)
            for shopper_id, refusal in zip(shoppers, told, strict=True) if refusal is None for c in claims]


def sku_qty(claims: Sequence[Claim]) -> list[tuple[int, int]]:
    return [(c.sku_id, c.qty) for c in claims]


def flash_qty(claims: Sequence[Claim]) -> list[tuple[int, int, int]]:
    return [(c.flash_sale_id, c.shopper_id, c.qty) for c in claims if c.flash_sale_id is not None]


def unpaid_qty(claims: Sequence[Claim]) -> list[tuple[int, int, int]]:
    return [(c.shopper_id, c.sku_id, c.qty) for c in claims]


def decide(ledger: Ledger, runs: Sequence[Run]) -> tuple[Outcomes, list[Claim]]:
    """Each order in turn takes all its units or none: what each was told, and the units taken."""
    outcomes: Outcomes = []
    taken: list[Claim] = []
    for run in runs:
        if run.shoppers is not None:
            told = ledger.claim_for_each(run.claims, run.shoppers)
            outcomes += told
            taken += taken_by_each(run.claims, run.shoppers, told)
            continue
        granted = ledger.claim_alike(run.claims, run.count)
        outcomes += [None] * granted
        taken += times(run.claims, granted)
        outcomes += [ledger.why_refused(run.claims) for _ in range(run.count - granted)]
    return outcomes, taken


def claims_of_runs(runs: Sequence[Run]) -> list[Claim]:
    return [c for run in runs for c in run.claims]


def shoppers_of_runs(runs: Sequence[Run]) -> list[int]:
    """Every shopper whose orders the runs hold."""
    found = {c.shopper_id for run in runs for c in run.claims}
    for run in runs:
        if run.shoppers is not None:
            found.update(run.shoppers)
    return sorted(found)


def _ids(claims: Sequence[Claim]) -> tuple[list[int], list[int], list[int]]:
    skus = sorted({c.sku_id for c in claims})
    flash = sorted({c.flash_sale_id for c in claims if c.flash_sale_id is not None})
    shoppers = sorted({c.shopper_id for c in claims if c.flash_sale_id is not None})
    return skus, flash, shoppers


class DatabaseGate:
    """The counters are the database rows, locked for the batch (PostgreSQL) or under SQLite's
    write lock; one read and one write per table per batch, however many orders it holds. No
    shopper holds more than `max_unpaid` unpaid units of one SKU."""

    def __init__(self, *, max_unpaid: int = DEFAULT_MAX_UNPAID) -> None:
        self.max_unpaid = max_unpaid

    def reserve(self, uow: UnitOfWork, runs: Sequence[Run]) -> Reservation:
        store = InventoryStore(uow.conn)
        claims = claims_of_runs(runs)
        ledger = store.ledger(*_ids(claims), holders=shoppers_of_runs(runs), max_unpaid=self.max_unpaid)
        outcomes, taken = decide(ledger, runs)
        return Reservation(outcomes, ledger.exhausted(claims), record=lambda: store.reserve(
            sku_qty=sku_qty(taken), flash_qty=flash_qty(taken), unpaid_qty=unpaid_qty(taken),
            max_unpaid=self.max_unpaid))

    def release(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        InventoryStore(uow.conn).release(sku_qty=sku_qty(claims), flash_qty=flash_qty(claims),
                                         unpaid_qty=unpaid_qty(claims))

    def sell(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        InventoryStore(uow.conn).sell(sku_qty(claims), unpaid_qty(claims))

    def recount(self) -> int:
        return 0  # the rows are the counters

    def change_on_hand(self, uow: UnitOfWork, sku_id: int, change: int) -> Callable[[], None]:
        AdjustmentStore(uow.conn).change_on_hand(sku_id, change)
        return lambda: None  # the rows roll back with the transaction


class WatchedGate:
    """A stock gate whose Redis errors are counted by operation before they go on to the caller."""

    def __init__(self, gate: StockGate, errors: tuple[type[BaseException], ...]) -> None:
        self.gate = gate
        self.errors = errors

    def reserve(self, uow: UnitOfWork, runs: Sequence[Run]) -> Reservation:
        with self._counted("reserve"):
            return self.gate.reserve(uow, runs)

    def release(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        with self._counted("release"):
            self.gate.release(uow, claims)

    def sell(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        with self._counted("sell"):
            self.gate.sell(uow, claims)

    def recount(self) -> int:
        with self._counted("recount"):
            return self.gate.recount()

    def change_on_hand(self, uow: UnitOfWork, sku_id: int, change: int) -> Callable[[], None]:
        with self._counted("change-on-hand"):
            return self.gate.change_on_hand(uow, sku_id, change)

    @contextmanager
    def _counted(self, operation: str) -> Iterator[None]:
        try:
            yield
        except self.errors as error:
            # the gate's own 503 carries the Redis error it met as its cause: that is the kind counted
            metrics.redis_error(f"stock.{operation}", error.__cause__ or error)
            raise
