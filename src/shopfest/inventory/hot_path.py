"""Where a batch of orders takes its stock: the database's own rows, or Redis counters in front of them.

Either gate decides a whole batch at once with the rule in `model.Ledger`, and the database row
is always the record (its CHECK constraint refuses an oversold row whatever the gate said).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shopfest.core.errors import DomainError
from shopfest.core.uow import UnitOfWork
from shopfest.inventory.model import Claim, Ledger
from shopfest.inventory.store import InventoryStore

Outcomes = list[DomainError | None]


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
    def reserve(self, uow: UnitOfWork, orders: Sequence[Sequence[Claim]]) -> Reservation: ...

    def release(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None: ...


def sku_qty(claims: Sequence[Claim]) -> list[tuple[int, int]]:
    return [(c.sku_id, c.qty) for c in claims]


def flash_qty(claims: Sequence[Claim]) -> list[tuple[int, int, int]]:
    return [(c.flash_sale_id, c.shopper_id, c.qty) for c in claims if c.flash_sale_id is not None]


def decide(ledger: Ledger, orders: Sequence[Sequence[Claim]]) -> tuple[Outcomes, list[Claim]]:
    """Each order in turn takes all its units or none; the claims of the orders that got theirs."""
    outcomes: Outcomes = []
    taken: list[Claim] = []
    for claims in orders:
        try:
            ledger.claim(claims)
        except DomainError as refusal:
            outcomes.append(refusal)
        else:
            outcomes.append(None)
            taken.extend(claims)
    return outcomes, taken


def _ids(orders: Sequence[Sequence[Claim]]) -> tuple[list[int], list[int], list[int]]:
    claims = [c for order in orders for c in order]
    skus = sorted({c.sku_id for c in claims})
    flash = sorted({c.flash_sale_id for c in claims if c.flash_sale_id is not None})
    shoppers = sorted({c.shopper_id for c in claims if c.flash_sale_id is not None})
    return skus, flash, shoppers


class DatabaseGate:
    """The counters are the database rows, locked for the batch (PostgreSQL) or under SQLite's
    write lock; one read and one write per table per batch, however many orders it holds."""

    def reserve(self, uow: UnitOfWork, orders: Sequence[Sequence[Claim]]) -> Reservation:
        store = InventoryStore(uow.conn)
        ledger = store.ledger(*_ids(orders))
        outcomes, taken = decide(ledger, orders)
        return Reservation(outcomes, ledger.exhausted([c for order in orders for c in order]),
                           record=lambda: store.reserve(sku_qty=sku_qty(taken), flash_qty=flash_qty(taken)))

    def release(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        InventoryStore(uow.conn).release(sku_qty=sku_qty(claims), flash_qty=flash_qty(claims))
