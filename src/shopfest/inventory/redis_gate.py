"""Stock counters in Redis in front of the database rows: one Lua script decides a whole batch.

Redis answers "is there a unit?" for every process at once without touching the database; the
batch's transaction then writes the same changes to the rows, which stay the record (and whose
CHECK constraints refuse an oversold row whatever Redis said). Counters missing from Redis (a
fresh or restarted Redis) are loaded from the rows; a batch whose transaction fails gives its
units back to Redis.

The script applies the rule of `model.Ledger`: each order takes all its units or none; a flash
sale's units and its per-shopper limit are checked with the SKU's, and so are the units each shopper
holds unpaid of each SKU (given back when an order is paid, cancelled or lapses).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from shopfest.core.db import chunks
from shopfest.core.errors import DomainError
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
# shoppers', "@" and the shopper of each order separated by ",". KEYS are unused: every key is
# derived from ARGV, so this runs on one Redis (no Cluster). Returns, per run, a string with what
# each of its orders was told (0 took its units, 1 sold out, 2 over a flash sale's limit, 3 counters
# missing: then that run and every later one took nothing, so that once the counters are loaded
# they are decided in the order they arrived; 4 too many unpaid units); then the SKUs left with
# nothing to sell.
_RESERVE = """
local p, cap = ARGV[1], tonumber(ARGV[3])
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
    if c[3] ~= '0' then flash[c[3]] = {(flash[c[3]] and flash[c[3]][1] or 0) + c[2], c[4]} end
    touched[c[1]] = true
  end
  for sku, _ in pairs(want) do
    if missing then break end
    left[sku] = tonumber(redis.call('GET', p .. 'stock:' .. sku))
    if not left[sku] then missing = true end
  end
  for sale, _ in pairs(flash) do
    if missing then break end
    if redis.call('EXISTS', p .. 'flash:' .. sale) == 0 then missing = true end
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
      local key = p .. 'flash:' .. sale
      bound(tonumber(redis.call('HGET', key, 'left')), taken[1], 1)
      local held = tonumber(redis.call('HGET', p .. 'buyers:' .. sale, taken[2]) or '0')
      bound(tonumber(redis.call('HGET', key, 'limit')) - held, taken[1], 2)
    end
    for sku, qty in pairs(want) do
      bound(cap - tonumber(redis.call('HGET', p .. 'unpaid:' .. sku, shopper) or '0'), qty, 4)
    end
    if fits > 0 then
      for _, c in ipairs(claims) do
        redis.call('DECRBY', p .. 'stock:' .. c[1], c[2] * fits)
        redis.call('HINCRBY', p .. 'unpaid:' .. c[1], shopper, c[2] * fits)
        if c[3] ~= '0' then
          redis.call('HINCRBY', p .. 'flash:' .. c[3], 'left', -c[2] * fits)
          redis.call('HINCRBY', p .. 'buyers:' .. c[3], c[4], c[2] * fits)
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
          if tonumber(redis.call('HGET', p .. 'unpaid:' .. sku, shopper) or '0') + qty > cap then
            code = 4 break
          end
        end
      end
      if code == 0 then
        for sku, qty in pairs(want) do
          left[sku] = left[sku] - qty
          taken[sku] = (taken[sku] or 0) + qty
          redis.call('HINCRBY', p .. 'unpaid:' .. sku, shopper, qty)
        end
      end
      told[#told + 1] = code
    end
    for sku, qty in pairs(taken) do redis.call('DECRBY', p .. 'stock:' .. sku, qty) end
    answer[#answer + 1] = table.concat(told)
  end
end
for sku, _ in pairs(touched) do
  if tonumber(redis.call('GET', p .. 'stock:' .. sku) or '1') <= 0 then answer[#answer + 1] = sku end
end
return answer
"""

# ARGV: prefix, whether the units go back on sale ("1") or were sold ("0"), then per claim: sku, qty,
# flash sale (0: none), shopper. Changes the counters that exist (a missing one will be loaded from
# the rows, which already have the change); a shopper's unpaid units never go below zero.
_GIVE_BACK = """
local p, back = ARGV[1], ARGV[2] == '1'
for i = 3, #ARGV, 4 do
  local sku, qty, sale, shopper = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]
  if redis.call('EXISTS', p .. 'stock:' .. sku) == 1 then
    if back then redis.call('INCRBY', p .. 'stock:' .. sku, qty) end
    if redis.call('HINCRBY', p .. 'unpaid:' .. sku, shopper, -qty) <= 0 then
      redis.call('HDEL', p .. 'unpaid:' .. sku, shopper)
    end
  end
  if back and sale ~= '0' and redis.call('EXISTS', p .. 'flash:' .. sale) == 1 then
    redis.call('HINCRBY', p .. 'flash:' .. sale, 'left', qty)
    redis.call('HINCRBY', p .. 'buyers:' .. sale, shopper, -qty)
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


class RedisGate:
    """Counters in Redis (any redis-py client); the database rows written in the same batch. No
    shopper holds more than `max_unpaid` unpaid units of one SKU."""

    def __init__(self, client: Any, *, prefix: str = "shopfest:",
                 max_unpaid: int = DEFAULT_MAX_UNPAID) -> None:
        self._redis = client
        self._prefix = prefix
        self.max_unpaid = max_unpaid
        self._reserve = client.register_script(_RESERVE)
        self._give_back = client.register_script(_GIVE_BACK)
        self._shift_stock = client.register_script(_SHIFT_STOCK)

    def reserve(self, uow: UnitOfWork, runs: Sequence[Run]) -> Reservation:
        decided, sold_out = self._decide(runs)
        first = next((k for k, told in enumerate(decided) if MISSING in told), None)
        if first is not None:  # that run and every later one took nothing: load, decide them again
            try:
                self._load(uow, claims_of_runs(runs[first:]))
                again, more_sold_out = self._decide(runs[first:])
            except BaseException:
                # The batch fails: Redis gets back what its first runs took (had the second decision
                # taken units and its reply been lost, Redis keeps those: it undercounts, never
                # oversells). If Redis is what failed, the first error is the one raised.
                with contextlib.suppress(Exception):
                    self._give(_taken(runs, decided))
                raise
            decided[first:] = again
            sold_out |= more_sold_out
        outcomes: Outcomes = []
        for run, told in zip(runs, decided, strict=True):
            outcomes += [_refusal(code, run.claims, self.max_unpaid) for code in told]
        taken = _taken(runs, decided)
        reservation = Reservation(outcomes, sold_out, undo=lambda: self._give(taken))
        store = InventoryStore(uow.conn)

        def record() -> None:
            try:
                store.reserve(sku_qty=sku_qty(taken), flash_qty=flash_qty(taken),
                              unpaid_qty=unpaid_qty(taken), max_unpaid=self.max_unpaid)
            except BaseException:
                # The rows refuse what Redis let through (counters that missed a batch, or a shopper
                # past a limit): the counters this batch touched are forgotten rather than given
                # back, and the next batch that needs them loads them from the rows.
                reservation.undo = lambda: self._forget(taken)
                raise

        reservation.record = record
        return reservation

    def release(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        InventoryStore(uow.conn).release(sku_qty=sku_qty(claims), flash_qty=flash_qty(claims),
                                         unpaid_qty=unpaid_qty(claims))
        uow.after_commit(lambda: self._give(list(claims)))

    def sell(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        InventoryStore(uow.conn).sell(sku_qty(claims), unpaid_qty(claims))
        uow.after_commit(lambda: self._give(list(claims), back_on_sale=False))

    def recount(self) -> int:
        """A process killed between its Redis decision and its commit leaves units taken in Redis
        that no row holds, and they would never sell: forgotten here, the counters are loaded from
        the rows again. Run it while no server places orders: counters loaded again while a batch is
        between its decision and its row write miss that batch, and let through more than the rows
        hold; the rows then refuse (fail) the batch that takes it, and its counters are reloaded."""
        forgotten = 0
        # A SKU's units and its shoppers' unpaid units are forgotten together, as a flash sale's
        # units and its buyers are (one UNLINK): no batch may load the units again while the others
        # of before are still counted, or the other way round.
        for kind, partner in (("stock", "unpaid"), ("flash", "buyers")):
            for chunk in self._counters(kind):
                pipe = self._redis.pipeline(transaction=False)
                for key in chunk:
                    name = _text(key)[len(self._prefix) + len(kind) + 1:]
                    pipe.unlink(key, f"{self._prefix}{partner}:{name}")
                forgotten += sum(pipe.execute())
        for kind in ("unpaid", "buyers"):  # whose partner was gone already
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

    def _shift(self, sku_id: int, change: int) -> None:
        if change:
            self._shift_stock(keys=[f"{self._prefix}stock:{sku_id}"], args=[change])

    def _forget(self, claims: Sequence[Claim]) -> None:
        """Forget the counters of these claims' SKUs and flash sales (a SKU's units and unpaid units
        at once, a sale's units and buyers at once)."""
        pipe = self._redis.pipeline(transaction=False)
        for sku_id in sorted({c.sku_id for c in claims}):
            pipe.unlink(f"{self._prefix}stock:{sku_id}", f"{self._prefix}unpaid:{sku_id}")
        for sale in sorted({c.flash_sale_id for c in claims if c.flash_sale_id is not None}):
            pipe.unlink(f"{self._prefix}flash:{sale}", f"{self._prefix}buyers:{sale}")
        pipe.execute()

    def _counters(self, kind: str) -> Iterator[list[bytes | str]]:
        """The keys of one kind of counter ("stock", "unpaid", "flash" or "buyers"), a thousand at a time."""
        keys: Iterable[bytes | str] = self._redis.scan_iter(match=f"{_glob_escaped(self._prefix)}{kind}:*",
                                                            count=KEYS_PER_COMMAND)
        return chunks(keys, KEYS_PER_COMMAND)

    def _decide(self, runs: Sequence[Run]) -> tuple[list[str], set[int]]:
        """Per run, what each of its orders was told (a digit each, see _RESERVE); the SKUs left with
        nothing to sell."""
        batch = "|".join(_run_text(run) for run in runs)
        answer = self._reserve(args=[self._prefix, batch, self.max_unpaid])
        return [_text(told) for told in answer[:len(runs)]], {int(x) for x in answer[len(runs):]}

    def _give(self, claims: list[Claim], *, back_on_sale: bool = True) -> None:
        if claims:
            self._give_back(args=[self._prefix, int(back_on_sale), *_claim_args(claims)])

    def _load(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        """Counters Redis lacks, from the rows (locked, so every batch that wrote them is counted);
        SET NX, so a process that loaded them first wins. A batch between its Redis decision and its
        row write is missed: Redis then counts more than the rows until the rows refuse a batch, whose
        counters are forgotten and so loaded again; it never lets the rows oversell."""
        store = InventoryStore(uow.conn)
        sku_ids = sorted({c.sku_id for c in claims})
        flash_ids = sorted({c.flash_sale_id for c in claims if c.flash_sale_id is not None})
        ledger = store.ledger(sku_ids, flash_ids, [])
        missing = [s for s in sku_ids if not self._redis.exists(f"{self._prefix}stock:{s}")]
        held = store.unpaid_of(missing) if missing else {}
        # All at once (MULTI): no batch may see a SKU's units before all its unpaid units, nor a
        # flash sale's units before all its buyers.
        pipe = self._redis.pipeline(transaction=True)
        for (shopper_id, sku_id), qty in held.items():
            pipe.hsetnx(f"{self._prefix}unpaid:{sku_id}", str(shopper_id), qty)
        for sku_id in sku_ids:
            pipe.set(f"{self._prefix}stock:{sku_id}", ledger.available.get(sku_id, 0), nx=True)
        for flash_id in flash_ids:
            if self._redis.exists(f"{self._prefix}flash:{flash_id}"):
                continue
            for shopper_id, qty in store.buyers_of(flash_id).items():
                pipe.hsetnx(f"{self._prefix}buyers:{flash_id}", str(shopper_id), qty)
            key = f"{self._prefix}flash:{flash_id}"
            pipe.hsetnx(key, "limit", ledger.flash_limit.get(flash_id, 0))
            pipe.hsetnx(key, "left", ledger.flash_left.get(flash_id, 0))
        pipe.execute()


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
