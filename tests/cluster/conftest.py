"""The cluster suite (`make test-cluster`): the servers it runs on are given, never guessed; a missing
one fails the suite rather than skipping it. `citus_url` is the suite's own (tests/conftest.py)."""

from __future__ import annotations

import os

import pytest

from shopfest.core.redis import CLUSTER_SCHEME, is_cluster


@pytest.fixture(scope="session")
def redis_cluster_url() -> str:
    """SHOPFEST_TEST_REDIS_CLUSTER_URL: `redis+cluster://host:port[,host:port...]`, or the
    `redis://host:port` of one node as ../shared/dist/redis-cluster-up.sh prints it."""
    given = os.environ.get("SHOPFEST_TEST_REDIS_CLUSTER_URL")
    if not given:
        pytest.fail("SHOPFEST_TEST_REDIS_CLUSTER_URL names no Redis Cluster (start one with "
                    "../shared/dist/redis-cluster-up.sh start)")
    return given if is_cluster(given) else f"{CLUSTER_SCHEME}://{given.split('://', 1)[-1].rstrip('/')}"
