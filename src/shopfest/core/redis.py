"""The one place Redis clients are made: a lone Redis (`redis://`, `unix://`) or a Redis Cluster
(`redis+cluster://host:port[,host:port...]`), for threads (sync) or an event loop (asyncio).

A cluster spreads keys over its masters by slot; every script and transaction ShopFest sends keeps its
keys in one slot with a hash tag (`shopfest:{sku:42}:stock`), which is why a key prefix holds no braces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from redis import asyncio as aioredis
from redis.asyncio import cluster as aiocluster
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from shopfest.core.errors import InvalidInput

CLUSTER_SCHEME = "redis+cluster"
# What a Redis that does not answer raises: redis-py's cluster client raises the second (not a
# RedisError) when no node it knows of answers.
REDIS_ERRORS = (RedisError, RedisClusterException)
# A node that does not answer within this is taken as down (its slots then fail at once, and the
# client looks for the replica that took over), rather than holding a checkout batch for long.
CONNECT_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ClusterUrl:
    """The nodes a client first asks for the cluster's map, and the credentials it signs in with."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None


def is_cluster(url: str) -> bool:
    return url.lower().startswith(CLUSTER_SCHEME + "://")


def parse_cluster_url(url: str) -> ClusterUrl:
    """`redis+cluster://[user[:password]@]host:port[,host:port...]`; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme.lower() != CLUSTER_SCHEME or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidInput("SHOPFEST_REDIS_URL for a Redis Cluster is "
                           "redis+cluster://host:port[,host:port...] (no database number or options: a "
                           "cluster has database 0 only)")
    credentials, _, hosts = parts.netloc.rpartition("@")
    user, _, password = credentials.partition(":")
    nodes = tuple(_node(text) for text in hosts.split(","))
    return ClusterUrl(nodes, unquote(user) or None, unquote(password) or None)


def _node(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"SHOPFEST_REDIS_URL: {text!r} is not host:port (each node of a "
                           "redis+cluster:// URL names its port)")
    return host, int(port)


def check_url(url: str) -> None:
    """Refuse a Redis URL no client could use, when the settings are read rather than at the first order."""
    if is_cluster(url):
        parse_cluster_url(url)
        return
    try:
        redis.connection.parse_url(url)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
    except ValueError as error:
        raise InvalidInput(f"SHOPFEST_REDIS_URL is redis://, rediss://, unix:// or "
                           f"redis+cluster://host:port[,host:port...]: {error}") from None


def sync_client(url: str) -> Any:  # noqa: ANN401  # redis.Redis or redis.cluster.RedisCluster
    """A client for threads."""
    if not is_cluster(url):
        return redis.Redis.from_url(url)
    found = parse_cluster_url(url)
    nodes = [ClusterNode(host, port) for host, port in found.nodes]  # type: ignore[no-untyped-call]
    try:  # unlike a lone Redis's client, a cluster's asks a node for the map of slots at once
        return RedisCluster(startup_nodes=nodes, username=found.username, password=found.password,
                            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except (RedisClusterException, RedisError) as error:
        raise InvalidInput(f"SHOPFEST_REDIS_URL: no node of the Redis Cluster answered ({error})") from None


def async_client(url: str) -> Any:  # noqa: ANN401  # redis.asyncio.Redis or its RedisCluster
    """A client for the event loop it first runs on."""
    if not is_cluster(url):
        return aioredis.Redis.from_url(url)
    found = parse_cluster_url(url)
    return aiocluster.RedisCluster(
        startup_nodes=[aiocluster.ClusterNode(host, port) for host, port in found.nodes],
        username=found.username, password=found.password, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS)


def is_cluster_client(client: object) -> bool:
    return isinstance(client, RedisCluster | aiocluster.RedisCluster)
