"""Stock counters in Redis in front of the database rows: one Lua script decides a whole batch.

Redis answers "is there a unit?" for every process at once without touching the database; the
batch's transaction then writes the same changes to the rows, which stay the record (and whose
CHECK constraints refuse an oversold row whatever Redis said). Counters missing from Redis (a
fresh or restarted Redis) are loaded from the rows; a batch whose transaction fails gives its
units back to Redis.

The script applies the rule of `model.Ledger`: each order takes all its units or none; a flash
sale's units and its per-shopper limit are checked with the SKU's.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from shopfest.core.db import chunks
from shopfest.core.errors import DomainError
from shopfest.core.uow import UnitOfWork
from shopfest.inventory.hot_path import (
    Outcomes,
    Reservation,
    Run,
    claims_of_runs,
    flash_qty,
    sku_qty,
    times,
)
from shopfest.inventory.model import Claim, LimitExceeded, SoldOut
from shopfest.inventory.store import InventoryStore

# ARGV: the key prefix, then the batch as one string (one argument is far cheaper to send than
# four per claim): runs of orders making the same claims separated by "|", each "count:" and the
# claims of one of its orders separated by ";", each claim "sku,qty,flash sale (0: none),shopper".
# KEYS are unused: every key is derived from ARGV, so this runs on one Redis (no Cluster). Returns,
# per run, how many of its orders took their units and what the others were told (0 taken, 1 sold
# out, 2 over the limit, 3 counters missing: then that run and every later one took nothing, so
# that once the counters are loaded they are decided in the order they arrived); then the SKUs left
# with nothing to sell.
_RESERVE = """
local p = ARGV[1]
local answer = {}
local touched = {}
local missing = false
for count, run in string.gmatch(ARGV[2], '(%d+):([^|]+)') do
  local n = tonumber(count)
  local claims = {}
  for sku, qty, sale, shopper in string.gmatch(run, '(%d+),(%d+),(%d+),(%d+)') do
    claims[#claims + 1] = {sku, tonumber(qty), sale, shopper}
  end
  -- How many orders of the run fit: the units of each SKU, each flash sale's units and its
  -- shopper's room under the limit, each divided by what one order takes; the first that binds
  -- says why the others are refused.
  local fits, code = n, 0
  local function bound(left, per_order, why)
    local k = math.max(math.floor(left / per_order), 0)
    if k < fits then fits, code = k, why end
  end
  local want, flash = {}, {}
  for _, c in ipairs(claims) do
    want[c[1]] = (want[c[1]] or 0) + c[2]
    if c[3] ~= '0' then flash[c[3]] = {(flash[c[3]] and flash[c[3]][1] or 0) + c[2], c[4]} end
  end
  if missing then fits, code = 0, 3 end
  for sku, qty in pairs(want) do
    if code == 3 then break end
    local left = redis.call('GET', p .. 'stock:' .. sku)
    if not left then fits, code = 0, 3 else bound(tonumber(left), qty, 1) end
  end
  for sale, taken in pairs(flash) do
    if code == 3 then break end
    local key = p .. 'flash:' .. sale
    local left = redis.call('HGET', key, 'left')
    if not left then
      fits, code = 0, 3
    else
      bound(tonumber(left), taken[1], 1)
      local held = tonumber(redis.call('HGET', p .. 'buyers:' .. sale, taken[2]) or '0')
      bound(tonumber(redis.call('HGET', key, 'limit')) - held, taken[1], 2)
    end
  end
  missing = code == 3
  if fits > 0 then
    for _, c in ipairs(claims) do
      redis.call('DECRBY', p .. 'stock:' .. c[1], c[2] * fits)
      if c[3] ~= '0' then
        redis.call('HINCRBY', p .. 'flash:' .. c[3], 'left', -c[2] * fits)
        redis.call('HINCRBY', p .. 'buyers:' .. c[3], c[4], c[2] * fits)
      end
    end
  end
  for _, c in ipairs(claims) do touched[c[1]] = true end
  answer[#answer + 1] = fits
  answer[#answer + 1] = code
end
for sku, _ in pairs(touched) do
  if tonumber(redis.call('GET', p .. 'stock:' .. sku) or '1') <= 0 then answer[#answer + 1] = sku end
end
return answer
"""

# ARGV: prefix, then per claim: sku, qty, flash sale (0: none), shopper. Gives units back to the
# counters that exist (a missing one will be loaded from the rows, which already have them).
_GIVE_BACK = """
local p = ARGV[1]
for i = 2, #ARGV, 4 do
  local sku, qty, sale, shopper = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]
  if redis.call('EXISTS', p .. 'stock:' .. sku) == 1 then
    redis.call('INCRBY', p .. 'stock:' .. sku, qty)
  end
  if sale ~= '0' and redis.call('EXISTS', p .. 'flash:' .. sale) == 1 then
    redis.call('HINCRBY', p .. 'flash:' .. sale, 'left', qty)
    redis.call('HINCRBY', p .. 'buyers:' .. sale, shopper, -qty)
  end
end
return 1
"""


KEYS_PER_COMMAND = 1000  # a recount asks for and forgets keys a thousand at a time


def _claim_args(claims: Sequence[Claim]) -> list[Any]:
    args: list[Any] = []
    for c in claims:
        args += [c.sku_id, c.qty, c.flash_sale_id or 0, c.shopper_id]
    return args


class RedisGate:
    """Counters in Redis (any redis-py client); the database rows written in the same batch."""

    def __init__(self, client: Any, *, prefix: str = "shopfest:") -> None:
        self._redis = client
        self._prefix = prefix
        self._reserve = client.register_script(_RESERVE)
        self._give_back = client.register_script(_GIVE_BACK)

    def reserve(self, uow: UnitOfWork, runs: Sequence[Run]) -> Reservation:
        decided, sold_out = self._decide(runs)
        first = next((k for k, (_, code) in enumerate(decided) if code == 3), None)
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
        for run, (granted, code) in zip(runs, decided, strict=True):
            outcomes += [None] * granted
            outcomes += [_refusal(code, run.claims) for _ in range(run.count - granted)]
        taken = _taken(runs, decided)
        reservation = Reservation(outcomes, sold_out, undo=lambda: self._give(taken))
        store = InventoryStore(uow.conn)

        def record() -> None:
            try:
                store.reserve(sku_qty=sku_qty(taken), flash_qty=flash_qty(taken))
            except BaseException:
                # The rows refuse what Redis let through (counters that missed a batch, or a shopper
                # past a limit): the counters this batch touched are forgotten rather than given
                # back, and the next batch that needs them loads them from the rows.
                reservation.undo = lambda: self._forget(taken)
                raise

        reservation.record = record
        return reservation

    def release(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        InventoryStore(uow.conn).release(sku_qty=sku_qty(claims), flash_qty=flash_qty(claims))
        uow.after_commit(lambda: self._give(list(claims)))

    def recount(self) -> int:
        """A process killed between its Redis decision and its commit leaves units taken in Redis
        that no row holds, and they would never sell: forgotten here, the counters are loaded from
        the rows again. Run it while no server places orders: counters loaded again while a batch is
        between its decision and its row write miss that batch, and let through more than the rows
        hold; the rows then refuse (fail) the batch that takes it, and its counters are reloaded."""
        forgotten = 0
        for chunk in self._counters("stock"):
            forgotten += self._redis.unlink(*chunk)
        # A flash sale's units and its buyers are forgotten together (one UNLINK): no batch may load
        # the units again while the buyers of before are still counted, or the other way round.
        for chunk in self._counters("flash"):
            pipe = self._redis.pipeline(transaction=False)
            for key in chunk:
                sale = _text(key)[len(self._prefix) + len("flash:"):]
                pipe.unlink(key, f"{self._prefix}buyers:{sale}")
            forgotten += sum(pipe.execute())
        for chunk in self._counters("buyers"):
            forgotten += self._redis.unlink(*chunk)  # buyers whose sale's units were gone already
        return forgotten

    def _forget(self, claims: Sequence[Claim]) -> None:
        """Forget the counters of these claims' SKUs and flash sales (a sale's units and buyers at once)."""
        pipe = self._redis.pipeline(transaction=False)
        for sku_id in sorted({c.sku_id for c in claims}):
            pipe.unlink(f"{self._prefix}stock:{sku_id}")
        for sale in sorted({c.flash_sale_id for c in claims if c.flash_sale_id is not None}):
            pipe.unlink(f"{self._prefix}flash:{sale}", f"{self._prefix}buyers:{sale}")
        pipe.execute()

    def _counters(self, kind: str) -> Iterator[list[bytes | str]]:
        """The keys of one kind of counter ("stock", "flash" or "buyers"), a thousand at a time."""
        keys: Iterable[bytes | str] = self._redis.scan_iter(match=f"{_glob_escaped(self._prefix)}{kind}:*",
                                                            count=KEYS_PER_COMMAND)
        return chunks(keys, KEYS_PER_COMMAND)

    def _decide(self, runs: Sequence[Run]) -> tuple[list[tuple[int, int]], set[int]]:
        """Per run, how many of its orders took their units and the code the others get; the SKUs
        left with nothing to sell."""
        batch = "|".join(f"{run.count}:" + ";".join(
            f"{c.sku_id},{c.qty},{c.flash_sale_id or 0},{c.shopper_id}" for c in run.claims) for run in runs)
        answer = [int(x) for x in self._reserve(args=[self._prefix, batch])]
        return ([(answer[2 * k], answer[2 * k + 1]) for k in range(len(runs))],
                set(answer[2 * len(runs):]))

    def _give(self, claims: list[Claim]) -> None:
        if claims:
            self._give_back(args=[self._prefix, *_claim_args(claims)])

    def _load(self, uow: UnitOfWork, claims: Sequence[Claim]) -> None:
        """Counters Redis lacks, from the rows (locked, so every batch that wrote them is counted);
        SET NX, so a process that loaded them first wins. A batch between its Redis decision and its
        row write is missed: Redis then counts more than the rows until the rows refuse a batch, whose
        counters are forgotten and so loaded again; it never lets the rows oversell."""
        store = InventoryStore(uow.conn)
        sku_ids = sorted({c.sku_id for c in claims})
        flash_ids = sorted({c.flash_sale_id for c in claims if c.flash_sale_id is not None})
        ledger = store.ledger(sku_ids, flash_ids, [])
        # All at once (MULTI): no batch may see a flash sale's units before all its buyers.
        pipe = self._redis.pipeline(transaction=True)
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


def _text(key: bytes | str) -> str:
    """A key as text, whether the client answers bytes or decoded strings."""
    return key.decode() if isinstance(key, bytes) else key


def _glob_escaped(text: str) -> str:
    """`text` matched as it is by a Redis SCAN pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _taken(runs: Sequence[Run], decided: Sequence[tuple[int, int]]) -> list[Claim]:
    """The units the runs took, as Redis decided them."""
    return [c for run, (granted, _) in zip(runs, decided, strict=True) for c in times(run.claims, granted)]


def _refusal(code: int, order: Sequence[Claim]) -> DomainError | None:
    sku_ids = sorted({c.sku_id for c in order})
    if code == 0:
        return None
    if code == 2:
        return LimitExceeded("over the per-shopper limit of a flash sale", sku_ids=sku_ids)
    return SoldOut("sold out", sku_ids=sku_ids)
