"""ShopFest on a real Citus cluster: every table sits where core/citus.py plans it, shards really live
on both workers (a coordinator without workers would run everything alone and prove nothing), and a
shopper's checkout looks up and locks their order on one shard."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event, text

from shopfest.accounts import service as accounts
from shopfest.app import create_app, make_runtime
from shopfest.core.actor import Role
from shopfest.core.citus import DISTRIBUTED, REFERENCE
from shopfest.core.clock import SetClock
from shopfest.core.db import make_engine, metadata
from shopfest.demo import hot_item
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.conftest import FESTIVAL_EVE, _truncate_all
from tests.integration.helpers import bearer, token_for


@pytest.fixture(scope="module")
def cluster(citus_url: str) -> Iterator[Connection]:
    engine = make_engine(citus_url, pool_size=1)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def test_every_table_sits_where_the_plan_says_with_shards_on_both_workers(cluster: Connection) -> None:
    # given the cluster's nodes: the coordinator (group 0) and at least two workers
    nodes = dict(cluster.execute(text(
        "SELECT nodeport, groupid FROM pg_dist_node WHERE isactive AND noderole = 'primary'")).all())
    workers = {port for port, group in nodes.items() if group != 0}
    assert len(workers) >= 2 and len(nodes) == len(workers) + 1
    # then every table of the schema is in the plan, once
    assert sorted(REFERENCE + tuple(DISTRIBUTED)) == sorted(t.name for t in metadata.sorted_tables)
    placed = {r.name: r for r in cluster.execute(text(
        "SELECT logicalrelid::regclass::text AS name, partmethod, colocationid, "
        "column_to_column_name(logicalrelid, partkey) AS column FROM pg_dist_partition"))}
    on_nodes: dict[str, set[int]] = {}
    for name, port in cluster.execute(text("SELECT table_name::text, nodeport FROM citus_shards")):
        on_nodes.setdefault(name, set()).add(port)
    # and reference tables are whole on every node, distributed ones split over both workers
    for name in REFERENCE:
        assert placed[name].partmethod == "n" and on_nodes[name] == set(nodes), name
    for name, plan in DISTRIBUTED.items():
        assert (placed[name].partmethod, placed[name].column) == ("h", plan.column), name
        assert on_nodes[name] == workers, name
        if plan.colocate_with:
            assert placed[name].colocationid == placed[plan.colocate_with].colocationid, name
    # and each node's copy of the order ids' sequence counts in a range of its own (group << 48)
    for port, group in nodes.items():
        assert sequence_start(cluster, port, "orders_id_seq") == (group << 48) + 1, port


def sequence_start(cluster: Connection, port: int, sequence: str) -> int:
    node = make_engine(cluster.engine.url.set(port=port).render_as_string(hide_password=False), pool_size=1)
    try:
        with node.connect() as conn:
            start: int = conn.scalar(text(
                "SELECT seqstart FROM pg_sequence WHERE seqrelid = CAST(:s AS regclass)"), {"s": sequence})
            return start
    finally:
        node.dispose()


def captured(engine: Engine) -> list[tuple[str, Any]]:
    """Every statement the engine sends from now on, with its parameters."""
    statements: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    return statements


def task_count(conn: Connection, statement: str, parameters: Any) -> int:
    """How many shard tasks Citus plans for the statement (its EXPLAIN's `Task Count`)."""
    plan = "\n".join(conn.exec_driver_sql("EXPLAIN " + statement, parameters).scalars())
    counts = [int(line.split(":")[1]) for line in plan.splitlines() if "Task Count:" in line]
    return sum(counts)


@pytest.fixture
def shop(citus_url: str) -> Iterator[Runtime]:
    _truncate_all(citus_url)
    clock = SetClock(FESTIVAL_EVE, speed=0)
    runtime = make_runtime(Settings(database_url=citus_url, pool_size=2), clock=clock)
    yield runtime
    runtime.checkout.close()
    runtime.engine.dispose()


def test_a_shoppers_order_is_paid_with_its_lookups_and_locks_on_one_shard(
        shop: Runtime, cluster: Connection) -> None:
    # given a shopper and a phone on sale
    client = TestClient(create_app(runtime=shop))
    phone = hot_item(shop, stock=5)
    accounts.create_account_unchecked(shop.uow(), email="ann@shoppers.test", password="shop-secret-1",
                                      role=Role.SHOPPER)
    ann = bearer(token_for(client, "ann@shoppers.test", "shop-secret-1"))
    # when she orders and pays with Idempotency-Keys
    statements = captured(shop.engine)
    placed = client.post("/api/v1/orders", json={"lines": [{"sku_id": phone.sku_id, "qty": 1}]},
                         headers={**ann, "Idempotency-Key": "order-1"})
    paid = client.post(f"/api/v1/orders/{placed.json()['id']}/pay", json={"method": "sandbox_ok"},
                       headers={**ann, "Idempotency-Key": "pay-1"})
    assert placed.status_code == 201 and paid.status_code == 200
    # then every lock on her order, and every Idempotency-Key statement, runs on one shard
    locks = [s for s in statements if "FOR UPDATE" in s[0] and "FROM orders" in s[0]]
    keys = [s for s in statements if "idempotency_keys" in s[0]]
    assert locks and keys
    assert [task_count(cluster, *s) for s in locks + keys] == [1] * len(locks + keys)
