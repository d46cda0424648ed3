"""Redeeming one merchant's vouchers at its shops' counters, through the use case the API calls
(local.vouchers.redeem: a signed code read, the shop checked, the voucher moved once, the redemption
written, one transaction each).

Three runs on the same database: the baseline, one counter redeeming `vouchers` codes in turn; then
`workers` counters sharing another `vouchers` codes (each tried once); then `workers` counters all
racing on the same `vouchers` codes, each code tried by every counter, where exactly one wins."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from shopfest.app import make_runtime
from shopfest.bench.measure import Latency, machine
from shopfest.catalog.model import Fulfilment
from shopfest.core.actor import Actor, Role
from shopfest.core.clock import SetClock, parse_instant
from shopfest.core.errors import DomainError
from shopfest.core.migrate import upgrade
from shopfest.demo import hot_item
from shopfest.local import vouchers as local
from shopfest.local.codes import new_key_text, sign_voucher
from shopfest.local.model import Deal, DealKind, Point, Shop, ShopKind
from shopfest.local.store import LocalStore
from shopfest.orders import service as orders
from shopfest.orders.drafting import PlaceOrder
from shopfest.runtime import Runtime
from shopfest.settings import Settings

AT = "2027-11-12T10:00:00+08:00"
UNITS_PER_ORDER = 50


def measure_redemptions(database_url: str, *, vouchers: int, workers: int) -> dict[str, Any]:
    """Redemptions per second on one merchant's vouchers: one counter (baseline), `workers` counters
    on their own codes, and `workers` counters racing on the same codes."""
    upgrade(database_url)
    runtime = make_runtime(Settings(database_url=database_url, pool_size=workers + 2,
                                    voucher_keys=new_key_text("bench"), max_unpaid_units=10**6,
                                    rate_limits="off"), clock=SetClock(parse_instant(AT), speed=0))
    try:
        staff, shops, codes = _merchant_with_vouchers(runtime, vouchers * 3)
        redeem = _redeemer(runtime, staff, shops)
        baseline = _run(redeem, [[c] for c in codes[:vouchers]], workers=1)
        shared = _run(redeem, [[c] for c in codes[vouchers:2 * vouchers]], workers=workers)
        racing = _run(redeem, [codes[2 * vouchers:]] * workers, workers=workers, each_takes_all=True)
    finally:
        runtime.checkout.close()
        runtime.engine.dispose()
    return {"scenario": "redemptions", "database": runtime.engine.dialect.name, "vouchers": vouchers,
            "workers": workers, "baseline_one_counter": baseline, "counters_own_codes": shared,
            "counters_racing_same_codes": racing, "machine": machine()}


def _merchant_with_vouchers(runtime: Runtime, count: int) -> tuple[Actor, list[int], list[str]]:
    """A local merchant with two shops and a deal, and `count` vouchers of it bought and paid."""
    item = hot_item(runtime, stock=count, price="50.00", fulfilment=Fulfilment.SERVICE_VOUCHER,
                    name=f"Bench{time.monotonic_ns() % 10**9}")
    now = runtime.clock.now()
    with runtime.uow() as uow:
        store = LocalStore(uow.conn)
        shops = [store.add_shop(Shop(item.merchant_id, f"Bench counter {n}", ShopKind.RESTAURANT, 1796236,
                                     Point(31.23, 121.47), "Asia/Shanghai"), at=now) for n in (1, 2)]
        store.add_deal(Deal(item.merchant_id, 1, item.sku_id, DealKind.SET_MEAL, valid_days=30), at=now)
        uow.commit()
    shopper = Actor(7_000_000 + item.merchant_id, Role.SHOPPER)
    codes: list[str] = []
    while len(codes) < count:
        qty = min(UNITS_PER_ORDER, count - len(codes))
        placed = runtime.checkout.place(PlaceOrder(shopper.user_id, ((item.sku_id, qty),))).result(timeout=60)
        paid = orders.pay_order(runtime.uow(), runtime.provider, shopper, order_id=placed.receipt["id"],
                                method="sandbox_ok")
        codes.extend(paid["children"][0]["vouchers"])
    signer, last = runtime.voucher_signer(), local.last_day(now + timedelta(days=30))
    return (Actor(7_100_000, Role.MERCHANT, item.merchant_id), shops,
            [sign_voucher(signer, voucher_id=c, merchant_id=item.merchant_id, last_day=last) for c in codes])


def _redeemer(runtime: Runtime, staff: Actor, shops: list[int]) -> Callable[[str, int], bool]:
    def redeem(code: str, worker: int) -> bool:
        try:
            local.redeem(runtime.uow(), staff, code=code, shop_id=shops[worker % len(shops)])
        except DomainError:
            return False
        return True
    return redeem


def _run(redeem: Callable[[str, int], bool], batches: list[list[str]], *, workers: int,
         each_takes_all: bool = False) -> dict[str, Any]:
    """`workers` threads redeem the codes: off one shared queue, or (racing) every batch its own thread's."""
    work: queue.SimpleQueue[str] = queue.SimpleQueue()
    for batch in ([] if each_takes_all else batches):
        for code in batch:
            work.put(code)
    won: list[str] = []
    seconds: list[float] = []
    lock = threading.Lock()

    def counter(n: int) -> None:
        mine = batches[n][n:] + batches[n][:n] if each_takes_all else None
        while True:
            if mine is not None:
                if not mine:
                    return
                code = mine.pop()
            else:
                try:
                    code = work.get_nowait()
                except queue.Empty:
                    return
            began = time.perf_counter()
            ok = redeem(code, n)
            with lock:
                seconds.append(time.perf_counter() - began)
                if ok:
                    won.append(code)
    began = time.perf_counter()
    threads = [threading.Thread(target=counter, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latency = Latency.of(seconds)
    return {"attempts": len(seconds), "redeemed": len(won), "redeemed_twice": len(won) - len(set(won)),
            "seconds": round(elapsed, 3), "redemptions_per_s": round(len(won) / elapsed, 1),
            "attempts_per_s": round(len(seconds) / elapsed, 1), "p50_ms": latency.p50_ms,
            "p99_ms": latency.p99_ms}
