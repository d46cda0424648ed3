"""Redis counter keys carry their SKU's hash tag, so a Redis Cluster keeps all of a SKU's counters (its
flash sales' too) in one slot; a batch splits into the runs of each slot and those spanning slots."""

from __future__ import annotations

import re

import pytest
from redis.crc import key_slot

from shopfest.core.errors import InvalidInput
from shopfest.core.redis import ClusterUrl, is_cluster, parse_cluster_url
from shopfest.inventory.hot_path import Run
from shopfest.inventory.model import Claim
from shopfest.inventory.redis_gate import _partner, counter_key, sku_slot, slot_groups
from shopfest.settings import Settings


def test_a_skus_counters_and_its_flash_sales_share_one_slot() -> None:
    keys = [counter_key("shopfest:", 42, kind) for kind in ("stock", "unpaid", "flash:7", "buyers:7")]
    assert keys == ["shopfest:{sku:42}:stock", "shopfest:{sku:42}:unpaid", "shopfest:{sku:42}:flash:7",
                    "shopfest:{sku:42}:buyers:7"]
    assert {key_slot(key.encode()) for key in keys} == {sku_slot(42)}
    assert sku_slot(42) != sku_slot(43)
    # a recount forgets each counter with its partner, in the same slot
    assert _partner(keys[0]) == keys[1] and _partner(keys[2]) == keys[3]


def test_a_batch_splits_into_runs_per_slot_and_runs_spanning_slots() -> None:
    one, two = 1, next(n for n in range(2, 100) if sku_slot(n) != sku_slot(1))
    same = next(n for n in range(2, 100_000) if n != one and sku_slot(n) == sku_slot(one))
    runs = [Run((Claim(one, 1, 5),), 3), Run((Claim(two, 1, 5),), 1),
            Run((Claim(one, 1, 6), Claim(two, 2, 6)), 2), Run((Claim(same, 1, 7), Claim(one, 1, 7)), 1)]
    in_slot, spanning = slot_groups(runs)
    assert in_slot == {sku_slot(one): [0, 3], sku_slot(two): [1]}
    assert spanning == [2]


def test_a_cluster_url_names_its_nodes_and_a_bad_one_is_refused_at_settings() -> None:
    url = "redis+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2:7001"
    assert is_cluster(url) and not is_cluster("redis://10.0.0.1:6379/0")
    assert parse_cluster_url(url) == ClusterUrl((("10.0.0.1", 7000), ("10.0.0.2", 7001)), "app", "s@cret")
    assert Settings(redis_url="redis+cluster://127.0.0.1:7000").redis_url
    for bad, says in [("redis+cluster://127.0.0.1", "host:port"), ("redis+cluster://h:7000/2", "database 0"),
                      ("redis+cluster://h:7000,:7001", "host:port"), ("mysql://h:1", "redis+cluster://")]:
        with pytest.raises(InvalidInput, match=re.escape(says)):
            Settings(redis_url=bad)
    with pytest.raises(InvalidInput, match="braces"):
        Settings(redis_prefix="shop{x}:")
