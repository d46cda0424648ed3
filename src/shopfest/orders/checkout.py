"""Checkout at the midnight peak: orders placed at the same moment are decided and stored as one batch.

Each request waits only for the commit of the batch that holds it, so an answered order is durable,
and the hot SKU's row is written once per batch instead of once per order.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from operator import attrgetter
from typing import Any, NamedTuple

from shopfest.core import metrics
from shopfest.core.db import writes_together
from shopfest.core.errors import DomainError
from shopfest.core.group_commit import GroupCommit
from shopfest.core.uow import UnitOfWork
from shopfest.inventory.hot_path import Reservation, Run, StockGate
from shopfest.inventory.model import Claim, SoldOut
from shopfest.orders.drafting import Draft, Offered, PlaceOrder, Shelf, claims_of, draft_order
from shopfest.orders.model import DeliveryAddress
from shopfest.orders.receipts import ReceiptsAlike
from shopfest.orders.shelf import ShelfMemory
from shopfest.orders.store import AddressBook, OrderStore, SpareIds, record_sources
from shopfest.payments import service as payments
from shopfest.payments.idempotency import IdempotencyKey, KeyInUse, Remembered
from shopfest.promotions import service as promotions

log = logging.getLogger("shopfest")

SOLD_OUT_SECONDS = 0.2
# Orders waiting before a second checkout lane takes a batch: below it one writer keeps up, and
# every extra batch would cost a commit.
CROWD = 100
# A batch of a few orders waits for more while they keep coming, one at least every GATHER_PAUSE,
# for up to GATHER_SECONDS (see GroupCommit._gather). Over HTTP, at 16 connections, orders went from
# 0.62 to 0.86 of what the server answers on /healthz on PostgreSQL + Redis, 0.70 to 0.90 on SQLite
# (alternating runs, benchmarks/README.md); the wait is a fraction of a commit.
GATHER_SECONDS = 0.002
GATHER_PAUSE = 0.0003


class Answer(NamedTuple):
    """What the shopper is told: a status code (201 placed, or the replayed answer's) and the order's
    receipt, or the copies of an order it is the n-th of, which write its receipt out when first read.
    A named tuple: the peak makes one per order, thousands a batch."""

    status_code: int
    receipt_or_copies: dict[str, Any] | ReceiptsAlike
    n: int = 0

    @property
    def receipt(self) -> dict[str, Any]:
        found = self.receipt_or_copies
        return found if isinstance(found, dict) else found[self.n]


def _placed(receipts: ReceiptsAlike, count: int) -> list[Answer]:
    """201 for each of `count` copies of an order (made in C: the peak makes thousands a batch)."""
    return list(map(Answer._make, zip(repeat(201), repeat(receipts), range(count))))


@dataclass(slots=True)
class Placing:
    """Orders of a batch, one after another, placing the same priced cart with the same claims: at
    the peak one for the whole batch."""

    draft: Draft
    claims: tuple[Claim, ...]
    indexes: list[int]  # where they are in the batch
    shoppers: list[int]  # whose they are

    def run(self) -> Run:
        # Anyone's claims: the shoppers still count, for the units each holds unpaid.
        return Run(self.claims, len(self.indexes), self.shoppers if self.draft.anyones else None)


# What the checks of a whole batch read off each command (in C: a batch holds thousands).
_idempotency = attrgetter("idempotency")
_coupons = attrgetter("coupons")
_lines = attrgetter("lines")
_currency = attrgetter("currency")
_delivery = attrgetter("delivery")
_source = attrgetter("source")
Cart = tuple[tuple[tuple[int, int], ...], str | None]  # (SKU, units) lines, and the currency asked


class Checkout:
    """The hot path of one process: every order placed here goes through one group commit."""

    def __init__(self, *, uow: Callable[[], UnitOfWork], gate: StockGate, minutes: int,
                 lanes: int = 1, crowd: int = CROWD, flash_minutes: int | None = None) -> None:
        self._uow = uow
        self._gate = gate
        self._minutes = minutes
        self._flash_minutes = flash_minutes
        self._running: set[tuple[str, str]] = set()
        self._running_lock = threading.Lock()
        self._sold_out: dict[int, float] = {}  # SKU → until when it is known to be sold out
        self._shelf = ShelfMemory()
        self._spare_ids = SpareIds()
        self._batches: GroupCommit[PlaceOrder, Answer] = GroupCommit(
            self._apply_watched, name="checkout", lanes=lanes, crowd=crowd,
            gather_seconds=GATHER_SECONDS, gather_pause=GATHER_PAUSE)

    def place(self, command: PlaceOrder) -> Future[Answer]:
        """Queue an order from a thread; the future holds its answer once its batch is durable.

        Raises KeyInUse while an order with the same Idempotency-Key is still being placed here.
        """
        if self._sold_out and command.idempotency is None and self._known_sold_out(command):
            future: Future[Answer] = Future()
            future.set_exception(_sold_out(command))
            return future
        token = self._start(command.idempotency) if command.idempotency is not None else None
        future = self._batches.submit(command)
        if token is not None:
            future.add_done_callback(lambda _: self._done(token))
        return future

    def place_soon(self, command: PlaceOrder) -> asyncio.Future[Answer]:
        """`place` for an event loop: the loop's future holds the answer once its batch is durable,
        and the loop is woken once per batch, however many of its orders the batch holds. (Every
        request at the peak comes through here: its few checks are written out in it.)"""
        if self._sold_out and command.idempotency is None and self._known_sold_out(command):
            future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
            future.set_exception(_sold_out(command))
            return future
        token = self._start(command.idempotency) if command.idempotency is not None else None
        future = self._batches.submit_soon(command)
        if token is not None:
            future.add_done_callback(lambda _: self._done(token))
        return future

    async def place_async(self, command: PlaceOrder) -> Answer:
        return await self.place_soon(command)

    def _start(self, key: IdempotencyKey) -> tuple[str, str]:
        """Note an order with this Idempotency-Key as running. Raises KeyInUse when it already is."""
        token = (key.scope, key.key)
        with self._running_lock:
            if token in self._running:
                raise KeyInUse("the first request with this Idempotency-Key is still running")
            self._running.add(token)
        return token

    # An order with an Idempotency-Key is not refused from memory: it may be the retry of one placed
    # with the last units, whose answer the batch replays.
    def _known_sold_out(self, command: PlaceOrder) -> bool:
        now = time.monotonic()
        return any(self._sold_out.get(sku_id, 0.0) > now for sku_id, _ in command.lines)

    def _note_sold_out(self, sku_ids: set[int]) -> None:
        # Once a batch leaves a SKU with nothing to sell, the attempts that keep arriving for it are
        # refused here, without a batch, for a moment; then a batch looks again (a cancelled order
        # may have given units back).
        until = time.monotonic() + SOLD_OUT_SECONDS
        for sku_id in sku_ids:
            self._sold_out[sku_id] = until

    def _done(self, token: tuple[str, str]) -> None:
        with self._running_lock:
            self._running.discard(token)

    def close(self) -> None:
        self._batches.close()

    @property
    def batches(self) -> int:
        return self._batches.batches

    def restocked(self, sku_ids: Sequence[int]) -> None:
        """Units just came on hand (a merchant's intake or count): this process stops refusing the SKUs
        from memory at once, rather than after SOLD_OUT_SECONDS."""
        for sku_id in sku_ids:
            self._sold_out.pop(sku_id, None)

    def _apply(self, batch: Sequence[PlaceOrder]) -> list[Answer | BaseException]:
        outcomes: list[Answer | BaseException | None] = [None] * len(batch)
        uow = self._uow()
        with uow:
            now = uow.clock.now()
            keyed = []
            if any(map(_idempotency, batch)):  # at the peak most orders come without a key
                keyed = [(i, c.idempotency) for i, c in enumerate(batch) if c.idempotency is not None]
            fresh = self._claim_keys(uow, batch, keyed, outcomes) if keyed else range(len(batch))
            placing = self._drafts(uow, batch, fresh, outcomes, now)
            reservation = self._gate.reserve(uow, [p.run() for p in placing])
            try:
                with writes_together(uow.conn):  # at the peak: one round trip for them all, then COMMIT
                    self._store(uow, batch, _placed_by_draft(placing, reservation.outcomes, outcomes),
                                outcomes)
                    if keyed:
                        self._free_refused_keys(uow, batch, fresh, outcomes)
                    reservation.record()
                with metrics.commit_timed():
                    uow.commit()
                self._note_sold_out(reservation.sold_out)
            except BaseException:
                self._spare_ids.forget()
                _give_back(reservation)
                raise
        if None in outcomes:
            return [o if o is not None else RuntimeError("order left undecided") for o in outcomes]
        return outcomes  # type: ignore[return-value]  # every one decided

    def _apply_watched(self, batch: Sequence[PlaceOrder]) -> list[Answer | BaseException]:
        """`_apply`, its batch's size, time and stock refusals counted for /metrics."""
        started = time.perf_counter()
        try:
            outcomes = self._apply(batch)
        except BaseException as failed:
            metrics.checkout_batch(len(batch), time.perf_counter() - started, failed)
            raise
        metrics.checkout_batch(len(batch), time.perf_counter() - started, outcomes)
        return outcomes

    def _claim_keys(self, uow: UnitOfWork, batch: Sequence[PlaceOrder],
                    keyed: list[tuple[int, IdempotencyKey]],
                    outcomes: list[Answer | BaseException | None]) -> list[int]:
        """Claim the Idempotency-Keys of the `keyed` commands (index, key): a key already claimed is
        answered from what it remembers. The commands still to place."""
        taken = payments.begin(uow, [k for _, k in keyed])
        if taken:
            for i, k in keyed:
                if (first := taken.get(k)) is not None:
                    outcomes[i] = _replayed(first)
        return [i for i in range(len(batch)) if outcomes[i] is None]

    def _drafts(self, uow: UnitOfWork, batch: Sequence[PlaceOrder], fresh: Sequence[int],
                outcomes: list[Answer | BaseException | None], now: datetime) -> list[Placing]:
        """The batch's fresh commands priced, in runs of alike orders; a command refused here has its
        outcome set."""
        commands = batch if len(fresh) == len(batch) else [batch[i] for i in fresh]
        carts = set(map(_lines, commands))  # at the peak a handful, however big the batch
        shelf = self._shelf.shelf(uow, sorted({sku_id for lines in carts for sku_id, _ in lines}), now)
        if len(carts) == 1 and not any(map(_coupons, commands)) and len(set(map(_currency, commands))) == 1:
            # The peak: the whole batch places one cart. Priced once, and where no flash sale's limit
            # asks who claims, every order claims the same.
            first = commands[0]
            draft = self._draft(first, shelf, now)
            if isinstance(draft, Draft) and draft.anyones:
                return [Placing(draft, draft.claims, list(fresh), [c.shopper_id for c in commands])]
            return self._drafts_one_by_one(uow, batch, fresh, outcomes, shelf, now,
                                           priced={(first.lines, first.currency): draft})
        return self._drafts_one_by_one(uow, batch, fresh, outcomes, shelf, now)

    def _drafts_one_by_one(self, uow: UnitOfWork, batch: Sequence[PlaceOrder], fresh: Sequence[int],
                           outcomes: list[Answer | BaseException | None], shelf: Shelf, now: datetime,
                           priced: dict[Cart, Draft | DomainError] | None = None) -> list[Placing]:
        placing: list[Placing] = []
        same_cart = priced or {}  # each distinct cart is priced once, however many commands place it
        taken: set[int] = set()  # wallet coupons earlier orders of this batch use
        # Wallets locked in shopper order first, so that concurrent batches (lanes, processes)
        # queue for them instead of deadlocking.
        promotions.lock_wallets(uow, sorted({batch[i].shopper_id for i in fresh if batch[i].coupons}))
        for i in fresh:
            command = batch[i]
            cart = (command.lines, command.currency)
            draft: Draft | DomainError
            if command.coupons:  # coupons are the shopper's own: such a cart is priced alone
                draft = self._draft_with_coupons(uow, command, shelf, now, taken)
            elif (known := same_cart.get(cart)) is not None:
                draft = known
            else:
                same_cart[cart] = draft = self._draft(command, shelf, now)
            if isinstance(draft, DomainError):
                outcomes[i] = draft
                continue
            if not draft.anyones and (refusal := _unwelcome(draft, command, shelf, now)) is not None:
                outcomes[i] = refusal
                continue
            claims = draft.claims if draft.anyones else claims_of(draft, command.shopper_id)
            last = placing[-1] if placing else None
            if last is not None and last.draft is draft and last.claims == claims:
                last.indexes.append(i)
                last.shoppers.append(command.shopper_id)
            else:
                placing.append(Placing(draft, claims, [i], [command.shopper_id]))
        return placing

    def _draft(self, command: PlaceOrder, shelf: Shelf, now: datetime,
               offered: Offered | None = None) -> Draft | DomainError:
        try:
            return draft_order(command, shelf=shelf, now=now, minutes=self._minutes, offered=offered,
                               flash_minutes=self._flash_minutes)
        except DomainError as refusal:
            return refusal

    def _draft_with_coupons(self, uow: UnitOfWork, command: PlaceOrder, shelf: Shelf, now: datetime,
                            taken: set[int]) -> Draft | DomainError:
        try:
            offered = promotions.coupons_offered(uow, command.shopper_id, command.coupons, taken)
        except DomainError as refusal:
            return refusal
        draft = self._draft(command, shelf, now, offered)
        if isinstance(draft, Draft):
            taken.update(draft.grants)
        return draft

    def _store(self, uow: UnitOfWork, batch: Sequence[PlaceOrder], placed: list[tuple[Draft, list[int]]],
               outcomes: list[Answer | BaseException | None]) -> None:
        """Store the orders the gate let through, the copies of each draft together, and answer them."""
        store = OrderStore(uow.conn, spare=self._spare_ids)
        remembered = []
        deliveries: list[tuple[int, DeliveryAddress]] | None = [] if any(map(_delivery, batch)) else None
        sourced: list[tuple[int, str, int]] | None = [] if any(map(_source, batch)) else None
        for draft, indexes in placed:
            copies = store.add_alike(draft.order, [batch[i].shopper_id for i in indexes])
            if deliveries is not None:  # orders placed from the pages: most of the peak has none
                deliveries += _deliveries(batch, indexes, copies.order_ids)
            if draft.grants:  # priced alone: one order
                promotions.hold_coupons(uow, copies.order_ids[0], draft.grants)
            sources = None
            if sourced is not None:  # orders placed from a live room: alike orders may come from several
                sources = [batch[i].source for i in indexes]
                sourced += _sourced(draft, sources, copies.order_ids)
            answers = _placed(ReceiptsAlike(draft.order, copies, sources), len(indexes))
            for i, answer in zip(indexes, answers, strict=True):
                outcomes[i] = answer
                if (key := batch[i].idempotency) is not None:
                    remembered.append((key, 201, answer.receipt))
        payments.finish(uow, remembered)
        if deliveries:
            AddressBook(uow.conn).record_deliveries(deliveries)
        if sourced:
            record_sources(uow.conn, sourced)

    def _free_refused_keys(self, uow: UnitOfWork, batch: Sequence[PlaceOrder], fresh: Sequence[int],
                           outcomes: list[Answer | BaseException | None]) -> None:
        """The key of an order refused here is let go, so that the shopper may try again with it."""
        payments.forget(uow, [key for i in fresh if (key := batch[i].idempotency) is not None
                              and isinstance(outcomes[i], DomainError)])


def _unwelcome(draft: Draft, command: PlaceOrder, shelf: Shelf, now: datetime) -> DomainError | None:
    """Why a flash sale among the draft's lines does not sell to this command's shopper, if one does not."""
    for claim in draft.claims:
        sale = shelf.flash.get(claim.sku_id) if claim.flash_sale_id is not None else None
        if sale is not None:
            try:
                sale.check_buyer(command.buyer, at=now)
            except DomainError as refusal:
                return refusal
    return None


def _placed_by_draft(placing: list[Placing], decided: Sequence[DomainError | None],
                     outcomes: list[Answer | BaseException | None]) -> list[tuple[Draft, list[int]]]:
    """Each draft, and where in the batch its orders that the gate let through are, in batch order;
    the refused ones have their refusal set as their outcome."""
    placed: dict[int, tuple[Draft, list[int]]] = {}  # by the draft's id: alike orders share one
    at = 0
    for p in placing:
        told = decided[at:at + len(p.indexes)]
        at += len(p.indexes)
        let_through = placed.setdefault(id(p.draft), (p.draft, []))[1]
        if told.count(None) == len(told):  # the peak's usual run: every order took its units
            let_through.extend(p.indexes)
            continue
        for i, refusal in zip(p.indexes, told, strict=True):
            if refusal is None:
                let_through.append(i)
            else:
                outcomes[i] = refusal
    return [(draft, indexes) for draft, indexes in placed.values() if indexes]


def _deliveries(batch: Sequence[PlaceOrder], indexes: list[int],
                order_ids: Sequence[int]) -> list[tuple[int, DeliveryAddress]]:
    """The stored orders that carry a delivery address, with it."""
    return [(order_id, address) for i, order_id in zip(indexes, order_ids, strict=True)
            if (address := batch[i].delivery) is not None]


def _sold_out(command: PlaceOrder) -> SoldOut:
    metrics.stock_refused(SoldOut.code)  # refused from memory, without a batch to count it
    return SoldOut("sold out", sku_ids=[sku for sku, _ in command.lines])


def _replayed(first: Remembered | DomainError) -> Answer | DomainError:
    return first if isinstance(first, DomainError) else Answer(first.status_code, first.response)


def _sourced(draft: Draft, sources: list[str | None],
             order_ids: Sequence[int]) -> list[tuple[int, str, int]]:
    """(order id, source, units) of the stored copies of a draft that were placed from somewhere."""
    units = sum(line.qty for child in draft.order.children for line in child.lines)
    return [(order_id, source, units) for source, order_id in zip(sources, order_ids, strict=True)
            if source is not None]


def _give_back(reservation: Reservation) -> None:
    """A failed batch gives back what the gate took for it; if that fails too (Redis is what failed),
    the batch's own error is the one its orders hear, and `shopfest stock recount` gives the units back."""
    try:
        reservation.undo()
    except Exception:  # noqa: BLE001  # logged; the batch's error is raised
        log.warning("a failed checkout batch could not give its units back to the stock gate", exc_info=True)
