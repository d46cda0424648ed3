"""The insights event stream on Redis: how many events a second it carries, published in batches as
the outbox relay sends them, and consumed by a consumer group whose absorb does nothing, so the
figures are the stream's own cost (the consumer's count is measured by `shopfest bench screen`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from shopfest.core.errors import InvalidInput
from shopfest.core.redis import is_cluster, sync_client
from shopfest.insights.model import Published
from shopfest.insights.redis_stream import RedisEventStream, insights_stream_key

AT = datetime(2027, 11, 11, 0, 0, 1, tzinfo=UTC)


def paid_events(count: int) -> list[Published]:
    """Events shaped like a paid order's: an order of three lines, a few hundred bytes of JSON."""
    lines = [{"merchant_id": 7, "product_id": 1000 + n, "brand": "Lumen", "category": "beauty",
              "qty": 1, "gmv_minor": 12900} for n in range(3)]
    return [Published(n, "order-paid", {"order_id": n, "shopper_id": n % 5000, "country": "SG",
                                         "currency": "CNY", "lines": lines}, AT)
            for n in range(1, count + 1)]


def _no_op(events: Sequence[Published]) -> int:
    return len(events)


def stream_throughput(url: str, *, events: int, batch: int) -> dict[str, Any]:
    """Events a second published (`batch` to a round trip) and consumed (`batch` at most a read) on the
    Redis (or Redis Cluster) at `url`, on a stream of the run's own, deleted after."""
    if events < 1 or batch < 1:
        raise InvalidInput("the stream bench needs at least one event and a batch of at least one")
    key = insights_stream_key(f"shopfest-bench-{uuid.uuid4().hex}:")
    stream = RedisEventStream.from_url(url, key=key, group="bench", consumer="bench-1")
    sample = paid_events(events)
    try:
        stream.ensure_group()
        started = time.perf_counter()
        for start in range(0, events, batch):
            stream.publish(sample[start:start + batch])
        publish_s = time.perf_counter() - started
        started, consumed = time.perf_counter(), 0
        while consumed < events and (taken := stream.consume(_no_op, limit=batch, block_ms=100)):
            consumed += taken
        consume_s = time.perf_counter() - started
    finally:
        stream.close()
        _forget(url, key)
    return {"redis": "cluster" if is_cluster(url) else "single", "events": events, "batch": batch,
            "consumed": consumed, "published_per_second": round(events / publish_s, 1),
            "consumed_per_second": round(consumed / consume_s, 1)}


def _forget(url: str, key: str) -> None:
    client = sync_client(url)
    try:
        client.delete(key)
    finally:
        client.close()
