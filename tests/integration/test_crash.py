"""SIGKILL in the middle of a flash-sale burst: every acknowledged order survives, nothing is oversold."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from sqlalchemy import func, select

from shopfest.accounts import service as accounts
from shopfest.core.actor import Role
from shopfest.demo import hot_item
from shopfest.inventory.hot_path import Run
from shopfest.inventory.model import Claim
from shopfest.inventory.store import InventoryStore, flash_sales
from shopfest.orders.model import OrderStatus
from shopfest.orders.store import merchant_orders, orders
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.servers import start_server

SHOPPERS = 6


def shopper_tokens(runtime: Runtime) -> list[str]:
    tokens = []
    for n in range(SHOPPERS):
        email = f"night-owl-{n}@shoppers.test"
        accounts.create_account_unchecked(runtime.uow(), email=email, password="owl-secret-1",
                                          role=Role.SHOPPER)
        tokens.append(accounts.sign_in(runtime.uow(), email=email, password="owl-secret-1").secret)
    return tokens


def burst_until_killed(base_url: str, tokens: list[str], sku_id: int, *, kill_after: int,
                       kill: threading.Event) -> list[tuple[int, str]]:
    """Shoppers order one unit after another until `kill_after` orders were acknowledged (then the
    server dies) or the server stops answering; the (order id, token) of each acknowledged order."""
    acknowledged: list[tuple[int, str]] = []

    def shop(token: str) -> None:
        with httpx.Client(base_url=base_url, timeout=10) as http:
            while True:
                try:
                    answer = http.post("/api/v1/orders", json={"lines": [{"sku_id": sku_id, "qty": 1}]},
                                       headers={"Authorization": f"Bearer {token}"})
                except httpx.HTTPError:
                    return
                if answer.status_code == 201:
                    acknowledged.append((answer.json()["id"], token))
                    if len(acknowledged) >= kill_after:
                        kill.set()
                elif answer.status_code != 409:
                    raise AssertionError(answer.text)

    threads = [threading.Thread(target=shop, args=(t,)) for t in tokens for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return acknowledged


def test_a_killed_server_keeps_every_acknowledged_order(hot_runtime: Runtime, store_settings: Settings,
                                                        tmp_path: Path) -> None:
    runtime, database_url = hot_runtime, store_settings.database_url
    env = {"SHOPFEST_REDIS_URL": store_settings.redis_url or "",
           "SHOPFEST_REDIS_PREFIX": store_settings.redis_prefix,
           "SHOPFEST_MAX_UNPAID_UNITS": "40"}  # its few shoppers order again and again
    # given a flash sale of 400 units, 40 per shopper, and a server taking a burst of orders
    item = hot_item(runtime, stock=500, flash_quantity=400, per_shopper_limit=40)
    tokens = shopper_tokens(runtime)
    clock = runtime.clock.now().isoformat()
    server = start_server(database_url, clock=clock, log_dir=tmp_path, env=env)
    kill = threading.Event()
    killer = threading.Thread(target=lambda: kill.wait(120) and server.kill())
    killer.start()
    # when it is killed with SIGKILL after 60 acknowledged orders, mid-burst
    acknowledged = burst_until_killed(server.base_url, tokens, item.sku_id, kill_after=60, kill=kill)
    killer.join()
    assert len(acknowledged) >= 60
    # then, restarted, it still has every order it acknowledged
    again = start_server(database_url, clock=clock, log_dir=tmp_path, env=env)
    try:
        with httpx.Client(base_url=again.base_url, timeout=10) as http:
            for order_id, token in acknowledged:
                found = http.get(f"/api/v1/orders/{order_id}", headers={"Authorization": f"Bearer {token}"})
                assert found.status_code == 200, (order_id, found.text)
    finally:
        again.process.terminate()
        again.process.wait()
    # and the stock counters agree with the orders: nothing oversold, nothing lost, nothing leaked
    with runtime.engine.connect() as conn:
        level = InventoryStore(conn).levels([item.sku_id])[item.sku_id]
        taken = conn.scalar(select(flash_sales.c.taken).where(flash_sales.c.id == item.flash_sale_id))
        parent = merchant_orders.c.order_id == orders.c.id
        live = conn.execute(select(merchant_orders.c.lines).join(orders, parent).where(
            orders.c.status == OrderStatus.AWAITING_PAYMENT.value)).all()
        orphans = conn.scalar(select(func.count()).select_from(merchant_orders.outerjoin(orders, parent))
                              .where(orders.c.id.is_(None)))
    held = sum(line["qty"] for (lines,) in live for line in lines)
    assert level.on_hand == level.sold + level.reserved + level.available
    assert level.reserved + level.sold <= level.on_hand
    assert held == level.reserved == taken
    assert held >= len(acknowledged)
    assert orphans == 0  # no child order was left without its order
    # and, once recounted (`shopfest stock recount`), the checkout sells exactly the units left
    runtime.gate.recount()
    assert sells(runtime, item.sku_id, level.available) == [True, False]


def sells(runtime: Runtime, sku_id: int, units: int) -> list[bool]:
    """Whether the stock gate lets `units` orders of one unit, each by another shopper (none holds
    more than the unpaid cap allows), take the SKU's units, then whether it lets one more."""
    shoppers = list(range(1_000_000, 1_000_000 + units))
    with runtime.uow() as uow:
        runs = [Run((Claim(sku_id, 1, shoppers[0]),), units, shoppers), Run((Claim(sku_id, 1, 2),), 1)]
        reservation = runtime.gate.reserve(uow, runs)
        reservation.record()
        uow.commit()
    return [all(o is None for o in reservation.outcomes[:units]), reservation.outcomes[units] is None]
