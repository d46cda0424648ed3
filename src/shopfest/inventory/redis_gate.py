"""Stock counters in Redis in front of the database rows: one Lua script decides a whole batch.

Redis answers "is there a unit?" for every process at once without touching the database; the
batch's transaction then writes the same changes to the rows, which stay the record (and whose
CHECK constraints refuse an oversold row whatever Redis said). Counters missing from Redis (a
fresh or restarted Redis) are loaded from the rows; a batch whose transaction fails gives its
units back to Redis.

The script applies the rule of `model.Ledger`: each order takes all its units or none; a flash
sale's units and its per-shopper limit are checked with the SKU's, and so are the units each shopper
holds unpaid of each SKU (given back when an order is paid, cancelled or lapses).

On a Redis Cluster every counter of a SKU (its flash sales' too) shares the hash tag {sku:N}, so one
slot holds them: a batch is decided one script a slot, the slots at once, and an order whose SKUs span
slots slot by slot (what an earlier slot took is given back when a later one refuses). A node that does
not answer fails the batch with nothing taken (503, try again).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from redis.crc import key_slot
from sqlalchemy.exc import IntegrityError

from shopfest.core.db import chunks
from shopfest.core.errors import DomainError, Unavailable
from shopfest.core.rates import Busy
from shopfest.core.redis import REDIS_ERRORS, is_cluster_client
from shopfest.core.uow import UnitOfWork
from shopfest.inventory.hot_path import (
    DEFAULT_MAX_UNPAID,
    Outcomes,
    Reservation,
    Run,
    claims_of_runs,
    flash_qty,
    sku_qty,
    taken_by_each,
    times,
    unpaid_qty,
)
from shopfest.inventory.model import Claim, LimitExceeded, SoldOut, TooManyUnpaid
from shopfest.inventory.store import AdjustmentStore, InventoryStore

# ARGV: the key prefix, then the batch as one string (one argument is far cheaper to send than
# four per claim), then the most unpaid units a shopper holds of one SKU. The batch: runs of orders
# making the same claims separated by "|", each "count:", the claims of one of its orders separated
# by ";", each claim "sku,qty,flash sale (0: none),shopper", and, when the run's orders are different
# shoppers', "@" and the shopper of each order separated by ",". Every key is derived from ARGV and
# carries its SKU's hash tag ({sku:42}; a flash sale's keys carry its SKU's); on a Redis Cluster the
# batch holds only SKUs of one slot and KEYS[1], one of their keys, routes it there (a lone Redis is
# given no KEYS). Returns, per run, a string with what each of its orders was told (0 took its units,
# 1 sold out, 2 over a flash sale's limit, 3 counters missing: then that run and every later one took
# nothing, so that once the counters are loaded they are decided in the order they arrived; 4 too
# many unpaid units); then the SKUs left with nothing to sell.
_RESERVE = """
local p, cap = ARGV[1], tonumber(ARGV[3])
local function key(sku, kind) return p .. '{sku:' .. sku .. '}:' .. kind end
local answer = {}
local touched = {}
local missing = false
for count, run in string.gmatch(ARGV[2], '(%d+):([^|]+)') do
  local n = tonumber(count)
  local body, who = string.match(run, '^([^@]*)@?(.*)$')
  local claims = {}
  for sku, qty, sale, shopper in string.gmatch(body, '(%d+),(%d+),(%d+),(%d+)') do
    claims[#claims + 1] = {sku, tonumber(qty), sale, shopper}
  end
  local want, flash, left = {}, {}, {}
  for _, c in ipairs(claims) do
    want[c[1]] = (want[c[1]] or 0) + c[2]
    if c[3] ~= '0' then flash[c[3]] = {(flash[c[3]] and flash[c[3]][1] or 0) + c[2], c[4], c[1]} end
    touched[c[1]] = true
  end
  for sku, _ in pairs(want) do
    if missing then break end
    left[sku] = tonumber(redis.call('GET', key(sku, 'stock')))
    if not left[sku] then missing = true end
  end
  for sale, taken in pairs(flash) do
    if missing then break end
    if redis.call('EXISTS', key(taken[3], 'flash:' .. sale)) == 0 then missing = true end
  end
  if missing then
    answer[#answer + 1] = string.rep('3', n)
  elseif who == '' then
    -- Orders of one shopper: how many fit, the units of each SKU, each flash sale's units and the
    -- shopper's room under its limit and under the unpaid cap, each divided by what one order
    -- takes; the first that binds says why the others are refused.
    local shopper = claims[1][4]
    local fits, code = n, 0
    local function bound(room, per_order, why)
      local k = math.max(math.floor(room / per_order), 0)
      if k < fits then fits, code = k, why end
    end
    for sku, qty in pairs(want) do bound(left[sku], qty, 1) end
    for sale, taken in pairs(flash) do
      local sale_key = key(taken[3], 'flash:' .. sale)
      bound(tonumber(redis.call('HGET', sale_key, 'left')), taken[1], 1)
      local held = tonumber(redis.call('HGET', key(taken[3], 'buyers:' .. sale), taken[2]) or '0')
      bound(tonumber(redis.call('HGET', sale_key, 'limit')) - held, taken[1], 2)
    end
    for sku, qty in pairs(want) do
      bound(cap - tonumber(redis.call('HGET', key(sku, 'unpaid'), shopper) or '0'), qty, 4)
    end
    if fits > 0 then
      for _, c in ipairs(claims) do
        redis.call('DECRBY', key(c[1], 'stock'), c[2] * fits)
        redis.call('HINCRBY', key(c[1], 'unpaid'), shopper, c[2] * fits)
        if c[3] ~= '0' then
          redis.call('HINCRBY', key(c[1], 'flash:' .. c[3]), 'left', -c[2] * fits)
          redis.call('HINCRBY', key(c[1], 'buyers:' .. c[3]), c[4], c[2] * fits)
        end
      end
    end
    answer[#answer + 1] = string.rep('0', fits) .. string.rep(tostring(code), n - fits)
  else
    -- Orders of many shoppers, no flash sale among the claims: each in turn, the SKUs' units
    -- first, then its shopper's unpaid units.
    local told, taken = {}, {}
    for shopper in string.gmatch(who, '(%d+)') do
      local code = 0
      for sku, qty in pairs(want) do
        if left[sku] < qty then code = 1 break end
      end
      if code == 0 then
        for sku, qty in pairs(want) do
          if tonumber(redis.call('HGET', key(sku, 'unpaid'), shopper) or '0') + qty > cap then
            code = 4 break
          end
        end
      end
      if code == 0 then
        for sku, qty in pairs(want) do
          left[sku] = left[sku] - qty
          taken[sku] = (taken[sku] or 0) + qty
          redis.call('HINCRBY', key(sku, 'unpaid'), shopper, qty)
        end
      end
      told[#told + 1] = code
    end
    for sku, qty in pairs(taken) do redis.call('DECRBY', key(sku, 'stock'), qty) end
    answer[#answer + 1] = table.concat(told)
  end
end
for sku, _ in pairs(touched) do
  if tonumber(redis.call('GET', key(sku, 'stock')) or '1') <= 0 then answer[#answer + 1] = sku end
end
return answer
"""

# ARGV: prefix, whether the units go back on sale ("1") or were sold ("0"), then per claim: sku, qty,
# flash sale (0: none), shopper. Changes the counters that exist (a missing one will be loaded from
# the rows, which already have the change); a shopper's unpaid units never go below zero.
_GIVE_BACK = """
local p, back = ARGV[1], ARGV[2] == '1'
local function key(sku, kind) return p .. '{sku:' .. sku .. '}:' .. kind end
for i = 3, #ARGV, 4 do
  local sku, qty, sale, shopper = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]
  if redis.call('EXISTS', key(sku, 'stock')) == 1 then
    if back then redis.call('INCRBY', key(sku, 'stock'), qty) end
    if redis.call('HINCRBY', key(sku, 'unpaid'), shopper, -qty) <= 0 then
      redis.call('HDEL', key(sku, 'unpaid'), shopper)
    end
  end
  if back and sale ~= '0' and redis.call('EXISTS', key(sku, 'flash:' .. sale)) == 1 then
    redis.call('HINCRBY', key(sku, 'flash:' .. sale), 'left', qty)
    redis.call('HINCRBY', key(sku, 'buyers:' .. sale), shopper, -qty)
  end
end
return 1
"""

# KEYS[1]: a SKU's units counter; ARGV[1]: units to add (less than 0: to take off), only if the
# counter exists (a missing one is loaded from the rows, which have the change already).
_SHIFT_STOCK = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end
return false
"""


KEYS_PER_COMMAND = 1000  # a recount asks for and forgets keys a thousand at a time


def _claim_args(claims: Sequence[Claim]) -> list[Any]:
    args: list[Any] = []
    for c in claims:
        args += [c.sku_id, c.qty, c.flash_sale_id or 0, c.shopper_id]
    return args


class StockCountersBehind(Busy):
    code = "stock-counters-behind"
    title = "The stock counters counted more than the rows hold; they are reloaded, try again"


RETRY_AFTER_SECONDS = 1
SLOTS_AT_ONCE = 8  # on a Redis Cluster, a batch's slots asked at once (each a thread's round trip)


def counter_key(prefix: str, sku_id: int, kind: str) -> str:
    """A SKU's counter: `kind` "stock" or "unpaid", or "flash:<sale>" and "buyers:<sale>" for a flash
    sale of it. The hash tag puts all of a SKU's counters in one Redis Cluster slot."""
    return f"{prefix}{{sku:{sku_id}}}:{kind}"


def sku_slot(sku_id: int) -> int:
    """The Redis Cluster slot of every counter of a SKU."""
    return key_slot(f"sku:{sku_id}".encode())


def slot_groups(runs: Sequence[Run]) -> tuple[dict[int, list[int]], list[int]]:
    """The runs (by index, in their order) whose SKUs all share a Redis Cluster slot, per slot; and those
    whose SKUs span slots."""
    in_slot: dict[int, list[int]] = {}
    spanning: list[int] = []
    for k, run in enumerate(runs):
        slots = {sku_slot(c.sku_id) for c in run.claims}
        (in_slot.setdefault(slots.pop(), []) if len(slots) == 1 else spanning).append(k)
    return in_slot, spanning


class RedisGate:
    """Counters in Redis or a Redis Cluster (any redis-py client); the database rows written in the same
    batch. No shopper holds more than `max_unpaid` unpaid units of one SKU."""

    def __init__(self, client: Any, *, prefix: str = "shopfest:",
                 max_unpaid: int = DEFAULT_MAX_UNPAID) -> None:
        self._redis = client
        self._prefix = prefix
        self.max_unpaid = max_unpaid
        self._reserve = client.register_script(_RESERVE)
        self._give_back = client.register_script(_GIVE_BACK)
        self._shift_stock = client.register_script(_SHIFT_STOCK)
        self._cluster = is_cluster_client(client)
        self._slots_pool = ThreadPoolExecutor(SLOTS_AT_ONCE, thread_name_prefix="redis-slots") \
            if self._cluster else None

    def reserve(self, uow: UnitOfWork, runs: Sequence[Run]) -> Reservation:
        try:
            return self._reserve_runs(uow, runs)
        except REDIS_ERRORS as error:
            # A node down, or a replica taking its slots over: the batch took nothing (what its first
            # calls took was given back), so its orders may simply be tried again.
            raise Unavailable("the stock counters (Redis) did not answer: nothing was done; try again "
                              "shortly", retry_after=RETRY_AFTER_SECONDS) from error

    def _reserve_runs(self, uow: UnitOfWork, runs: Sequence[Run]) -> Reservation:
        decided, sold_out = self._decide(runs)
        again = [k for k, told in enumerate(decided) if MISSING in told]
        # Those runs took nothing (on one Redis: the first and every later one): load, decide them again.
        if again:
            try:
                self._load(uow, claims_of_runs([runs[k] for k in again]))
                redecided, more_sold_out = self._decide([runs[k] for k in again])
            except BaseException:
                # The batch fails: Redis gets back what its other runs took (had the second decision
                # taken units and its reply been lost, Redis keeps those: it undercounts, never
                # oversells). If Redis is what failed, the first error is the one raised.
                with contextlib.suppress(Exception):
                    self._give(_taken(runs, decided))
                raise
            for k, told in zip(again, redecided, strict=True):
                decided[k] = told
            sold_out |= more_sold_out
        outcomes: Outcomes = []
        for run, told in zip(runs, decided, strict=True):
            outcomes += [_refusal(code, run.claims, self.max_unpaid) for code in told]
        taken = _taken(runs, decided)
        reservation = Reservation(outcomes, sold_out, undo=lambda: self._give(taken))
        reservation.record = self._recorder(uow, reservation, taken)
        return reservation

    def _recorder(self, uow: UnitOfWork, reservation: Reservation, taken: list[Claim]) -> Callable[[], None]:
        store = InventoryStore(uow.conn)

        def record() -> None:
            try:
                store.reserve(sku_qty=sku_qty(taken), flash_qty=flash_qty(taken),
                              unpaid_qty=unpaid_qty(taken), max_unpaid=self.max_unpaid)
            except BaseException as error:
                # The rows refuse what Redis let through (counters that missed a batch, a write a
                # failed-over master never passed on, or a shopper past a limit): the counters this
                # batch touched are forgotten rather than given back, and the next batch that needs
                # them loads them from the rows.
                reservation.undo = lambda: self._forget(taken)
                if isinstance(error, IntegrityError):
                    raise StockCountersBehind("the stock counters were behind the database; try again",
                                              retry_after=RETRY_AFTER_SECONDS) from error
                raise

        return record

    def release(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        InventoryStore(uow.conn).release(sku_qty=sku_qty(claims), flash_qty=flash_qty(claims),
                                         unpaid_qty=unpaid_qty(claims))
        uow.after_commit(lambda: self._give(list(claims)))

    def sell(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        InventoryStore(uow.conn).sell(sku_qty(claims), unpaid_qty(claims))
        uow.after_commit(lambda: self._give(list(claims), back_on_sale=False))

    def recount(self) -> int:
        """A process killed between its Redis decision and its commit leaves units taken in Redis
        that no row holds, and they would never sell: forgotten here (on every master of a cluster),
        the counters are loaded from the rows again. Run it while no server places orders: counters
        loaded again while a batch is between its decision and its row write miss that batch, and let
        through more than the rows hold; the rows then refuse (fail) the batch that takes it, and its
        counters are reloaded."""
        forgotten = 0
        # A SKU's units and its shoppers' unpaid units are forgotten together, as a flash sale's
        # units and its buyers are (one UNLINK, one slot): no batch may load the units again while the
        # others of before are still counted, or the other way round.
        for kind in ("stock", "flash:*"):
            for chunk in self._counters(kind):
                forgotten += self._unlink_pairs([(_text(key), _partner(_text(key))) for key in chunk])
        for kind in ("unpaid", "buyers:*"):  # whose partner was gone already
            for chunk in self._counters(kind):
                forgotten += self._redis.unlink(*chunk)
        return forgotten

    def change_on_hand(self, uow: UnitOfWork, sku_id: int, change: int) -> Callable[[], None]:
        """Units taken off leave Redis at once, before the rows (which may still refuse: then they are
        given back); units added join it once the rows are committed. So Redis does not count units
        the rows lack, and a counter Redis lacks is loaded from the rows when a batch next needs it.
        (One narrow case counts added units twice: a counter loaded from the committed rows just
        before the units join it. The rows then refuse the batch that would oversell, and its
        counters are loaded again, as after any miscount; see `reserve`.)"""
        AdjustmentStore(uow.conn).change_on_hand(sku_id, change)
        if change >= 0:
            uow.after_commit(lambda: self._shift(sku_id, change))
            return lambda: None
        self._shift(sku_id, change)
        return lambda: self._shift(sku_id, -change)

    def _key(self, sku_id: int, kind: str) -> str:
        return counter_key(self._prefix, sku_id, kind)

    def _slot(self, sku_id: int) -> int:
        """Where a SKU's counters live: its slot on a cluster; one place on a lone Redis."""
        return sku_slot(sku_id) if self._cluster else 0

    def _routed(self, sku_id: int) -> list[str]:
        """The KEYS a script about this SKU's slot is given: one of its keys on a cluster (which routes
        it), none on a lone Redis."""
        return [self._key(sku_id, "stock")] if self._cluster else []

    def _shift(self, sku_id: int, change: int) -> None:
        if change:
            self._shift_stock(keys=[self._key(sku_id, "stock")], args=[change])

    def _forget(self, claims: Sequence[Claim]) -> None:
        """Forget the counters of these claims' SKUs and flash sales (a SKU's units and unpaid units
        at once, a sale's units and buyers at once)."""
        self._unlink_pairs([(self._key(sku_id, "stock"), self._key(sku_id, "unpaid"))
                            for sku_id in sorted({c.sku_id for c in claims})] +
                           [(self._key(sku_id, f"flash:{sale}"), self._key(sku_id, f"buyers:{sale}"))
                            for sale, sku_id in _sales(claims)])

    def _unlink_pairs(self, pairs: list[tuple[str, str]]) -> int:
        """Forget each pair of keys at once (one UNLINK); how many keys were there."""
        if self._cluster:  # one UNLINK a slot, pipelined to the masters; a pair shares a slot
            return int(self._redis.unlink(*(key for pair in pairs for key in pair))) if pairs else 0
        pipe = self._redis.pipeline(transaction=False)
        for pair in pairs:
            pipe.unlink(*pair)
        return sum(pipe.execute())

    def _counters(self, kind: str) -> Iterator[list[bytes | str]]:
        """The keys of one kind of counter ("stock", "unpaid", "flash:*" or "buyers:*"), a thousand at a
        time; on a cluster, from every master."""
        keys: Iterable[bytes | str] = self._redis.scan_iter(
            match=f"{_glob_escaped(self._prefix)}{{sku:*}}:{kind}", count=KEYS_PER_COMMAND)
        return chunks(keys, KEYS_PER_COMMAND)

    def _decide(self, runs: Sequence[Run]) -> tuple[list[str], set[int]]:
        """Per run, what each of its orders was told (a digit each, see _RESERVE); the SKUs left with
        nothing to sell."""
        if not self._cluster:
            return self._decide_in_slot(runs, keys=[])  # one round trip for the whole batch
        return self._decide_by_slot(runs)

    def _decide_in_slot(self, runs: Sequence[Run], *, keys: list[str]) -> tuple[list[str], set[int]]:
        batch = "|".join(_run_text(run) for run in runs)
        answer = self._reserve(keys=keys, args=[self._prefix, batch, self.max_unpaid])
        return [_text(told) for told in answer[:len(runs)]], {int(x) for x in answer[len(runs):]}

    def _decide_by_slot(self, runs: Sequence[Run]) -> tuple[list[str], set[int]]:
        """On a cluster: the runs whose SKUs share a slot, one script a slot, the slots at once; then
        each run whose SKUs span slots, slot by slot. A slot that fails fails the batch, and what the
        others took is given back first."""
        in_slot, spanning = slot_groups(runs)
        decided = [""] * len(runs)
        sold_out: set[int] = set()
        failed: BaseException | None = None
        for indices, result in zip(in_slot.values(), self._each_slot(
                [[runs[k] for k in indices] for indices in in_slot.values()]), strict=True):
            if isinstance(result, BaseException):
                failed = failed or result
                continue
            told, more_sold_out = result
            sold_out |= more_sold_out
            for k, answer in zip(indices, told, strict=True):
                decided[k] = answer
        try:
            if failed is not None:
                raise failed
            for k in spanning:
                decided[k], more_sold_out = self._decide_spanning(runs[k])
                sold_out |= more_sold_out
        except BaseException:
            with contextlib.suppress(Exception):
                self._give(_taken(runs, decided))
            raise
        return decided, sold_out

    def _each_slot(self, groups: list[list[Run]]) -> list[tuple[list[str], set[int]] | BaseException]:
        """Each group of runs (all of one slot) decided by its master, the groups at once."""
        def decide(group: list[Run]) -> tuple[list[str], set[int]]:
            return self._decide_in_slot(group, keys=self._routed(group[0].claims[0].sku_id))

        pool = self._slots_pool
        assert pool is not None
        jobs: list[Callable[[], tuple[list[str], set[int]]]] = (
            [partial(decide, groups[0])] if len(groups) == 1  # the hot SKU's batch: no thread to wait on
            else [pool.submit(decide, group).result for group in groups])
        results: list[tuple[list[str], set[int]] | BaseException] = []
        for job in jobs:
            try:
                results.append(job())
            except Exception as error:  # noqa: BLE001  # handed back: the other slots' units go back
                results.append(error)
        return results

    def _decide_spanning(self, run: Run) -> tuple[str, set[int]]:
        """A run whose SKUs live in several slots, one slot after another: an order goes on to the next
        slot only if the slots before let it through, and gets back what they took if a later one
        refuses it. A slot lacking counters: the whole run took nothing (it is loaded, decided again)."""
        parts: dict[int, list[Claim]] = {}
        for c in run.claims:
            parts.setdefault(sku_slot(c.sku_id), []).append(c)
        told = ["0"] * run.count
        alive = list(range(run.count))
        took: list[tuple[list[Claim], list[int]]] = []  # per slot: its claims, the orders that took them
        sold_out: set[int] = set()
        try:
            for claims in parts.values():
                shoppers = None if run.shoppers is None else [run.shoppers[i] for i in alive]
                (answer,), more_sold_out = self._decide_in_slot(
                    [Run(claims, len(alive), shoppers)], keys=self._routed(claims[0].sku_id))
                sold_out |= more_sold_out
                for i, code in zip(alive, answer, strict=True):
                    told[i] = code
                alive = [i for i, code in zip(alive, answer, strict=True) if code == "0"]
                took.append((claims, alive))
                if not alive:
                    break
        except BaseException:
            with contextlib.suppress(Exception):
                self._give(_given_back(run, took, kept=set()))
            raise
        if MISSING in told:
            self._give(_given_back(run, took, kept=set()))
            return MISSING * run.count, set()
        back = _given_back(run, took, kept=set(alive))
        self._give(back)
        return "".join(told), sold_out - {c.sku_id for c in back}

    def _give(self, claims: list[Claim], *, back_on_sale: bool = True) -> None:
        for group in self._by_slot(claims):
            self._give_back(keys=self._routed(group[0].sku_id),
                            args=[self._prefix, int(back_on_sale), *_claim_args(group)])

    def _by_slot(self, claims: Sequence[Claim]) -> list[list[Claim]]:
        """The claims grouped by where their SKUs' counters live (one group on a lone Redis)."""
        groups: dict[int, list[Claim]] = {}
        for c in claims:
            groups.setdefault(self._slot(c.sku_id), []).append(c)
        return list(groups.values())

    def _load(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        """Counters Redis lacks, from the rows (locked, so every batch that wrote them is counted);
        SET NX, so a process that loaded them first wins. A batch between its Redis decision and its
        row write is missed: Redis then counts more than the rows until the rows refuse a batch, whose
        counters are forgotten and so loaded again; it never lets the rows oversell."""
        store = InventoryStore(uow.conn)
        sku_ids = sorted({c.sku_id for c in claims})
        sales = _sales(claims)
        ledger = store.ledger(sku_ids, [sale for sale, _ in sales], [])
        missing = [s for s in sku_ids if not self._redis.exists(self._key(s, "stock"))]
        held = store.unpaid_of(missing) if missing else {}
        # All of a slot at once (MULTI; a cluster runs none across slots, and a SKU's counters share
        # one): no batch may see a SKU's units before all its unpaid units, nor a flash sale's units
        # before all its buyers.
        pipes: dict[int, Any] = {}

        def pipe(sku_id: int) -> Any:  # noqa: ANN401  # a redis-py pipeline, untyped
            slot = self._slot(sku_id)
            if slot not in pipes:
                pipes[slot] = self._redis.pipeline(transaction=True)
            return pipes[slot]

        for (shopper_id, sku_id), qty in held.items():
            pipe(sku_id).hsetnx(self._key(sku_id, "unpaid"), str(shopper_id), qty)
        for sku_id in sku_ids:
            pipe(sku_id).set(self._key(sku_id, "stock"), ledger.available.get(sku_id, 0), nx=True)
        for flash_id, sku_id in sales:
            if self._redis.exists(self._key(sku_id, f"flash:{flash_id}")):
                continue
            for shopper_id, qty in store.buyers_of(flash_id).items():
                pipe(sku_id).hsetnx(self._key(sku_id, f"buyers:{flash_id}"), str(shopper_id), qty)
            sale = self._key(sku_id, f"flash:{flash_id}")
            pipe(sku_id).hsetnx(sale, "limit", ledger.flash_limit.get(flash_id, 0))
            pipe(sku_id).hsetnx(sale, "left", ledger.flash_left.get(flash_id, 0))
        for each in pipes.values():
            each.execute()


def _sales(claims: Sequence[Claim]) -> list[tuple[int, int]]:
    """The flash sales the claims take units of, each with its SKU (whose hash tag its counters carry)."""
    return sorted({(c.flash_sale_id, c.sku_id) for c in claims if c.flash_sale_id is not None})


def _partner(key: str) -> str:
    """The counter forgotten with this one: a SKU's unpaid units with its units, a flash sale's buyers
    with its units."""
    head, _, kind = key.rpartition("}:")
    return f"{head}}}:" + ("unpaid" if kind == "stock" else kind.replace("flash:", "buyers:", 1))


def _given_back(run: Run, took: list[tuple[list[Claim], list[int]]], *, kept: set[int]) -> list[Claim]:
    """What the orders of a spanning run that are not `kept` took, slot by slot, to give back."""
    back: list[Claim] = []
    for claims, orders in took:
        gone = [i for i in orders if i not in kept]
        if run.shoppers is None:
            back += times(claims, len(gone))
        else:
            back += [Claim(c.sku_id, c.qty, run.shoppers[i], c.flash_sale_id) for i in gone for c in claims]
    return back


MISSING = "3"  # what _RESERVE tells the orders of a run whose counters Redis lacks


def _run_text(run: Run) -> str:
    """A run as _RESERVE reads it."""
    text = f"{run.count}:" + ";".join(
        f"{c.sku_id},{c.qty},{c.flash_sale_id or 0},{c.shopper_id}" for c in run.claims)
    return text if run.shoppers is None else text + "@" + ",".join(map(str, run.shoppers))


def _text(key: bytes | str) -> str:
    """A key as text, whether the client answers bytes or decoded strings."""
    return key.decode() if isinstance(key, bytes) else key


def _glob_escaped(text: str) -> str:
    """`text` matched as it is by a Redis SCAN pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _taken(runs: Sequence[Run], decided: Sequence[str]) -> list[Claim]:
    """The units the runs took, as Redis decided them."""
    taken: list[Claim] = []
    for run, told in zip(runs, decided, strict=True):
        if run.shoppers is None:
            taken += times(run.claims, told.count("0"))
        else:
            taken += taken_by_each(run.claims, run.shoppers, [None if code == "0" else code for code in told])
    return taken


def _refusal(code: str, order: Sequence[Claim], max_unpaid: int) -> DomainError | None:
    if code == "0":
        return None
    sku_ids = sorted({c.sku_id for c in order})
    if code == "2":
        return LimitExceeded("over the per-shopper limit of a flash sale", sku_ids=sku_ids)
    if code == "4":
        return TooManyUnpaid(f"at most {max_unpaid} unpaid units of one SKU per shopper; pay or cancel "
                             "an order first", sku_ids=sku_ids, limit=max_unpaid)
    return SoldOut("sold out", sku_ids=sku_ids)
