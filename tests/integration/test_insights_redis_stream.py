"""The insights event stream on Redis Streams: each event reaches the consumers' count once, through
failed batches, consumers restarted or gone quiet mid-batch, and a group that was down and catches up
from where it stopped; trimming never drops what a group has yet to acknowledge."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest
import redis

from shopfest.bench.stream import stream_throughput
from shopfest.core.errors import InvalidInput, Unavailable
from shopfest.core.redis import sync_client
from shopfest.insights.model import Published
from shopfest.insights.redis_stream import RedisEventStream, insights_stream_key
from shopfest.insights.stream import Absorb
from tests.servers import _free_port

AT = datetime(2027, 11, 11, 0, 0, 1, tzinfo=UTC)


class Died(Exception):
    """A consumer stopped mid-batch, before it acknowledged anything."""


class Tally:
    """The real consumers' rule in memory: each event id counted once, the new ones' count returned."""

    def __init__(self) -> None:
        self.counted: dict[int, int] = {}
        self.batches: list[list[int]] = []

    def absorb(self, events: Sequence[Published]) -> int:
        self.batches.append([event.event_id for event in events])
        new = [event for event in events if event.event_id not in self.counted]
        for event in new:
            self.counted[event.event_id] = event.payload["gmv_minor"]
        return len(new)


def dies(_events: Sequence[Published]) -> int:
    raise Died


def paid(*event_ids: int) -> list[Published]:
    return [Published(event_id, "order-paid", {"order_id": event_id, "gmv_minor": 100 * event_id}, AT)
            for event_id in event_ids]


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    made = sync_client(redis_url)
    yield made
    made.close()


@pytest.fixture
def key(client: redis.Redis) -> Iterator[str]:
    made = insights_stream_key(f"shopfest-test-{uuid.uuid4().hex}:")
    yield made
    client.delete(made)


def drain(stream: RedisEventStream, absorb: Absorb, *, limit: int = 1000) -> int:
    """Consume until a call brings nothing; how many entries came."""
    total = 0
    while taken := stream.consume(absorb, limit=limit, block_ms=10):
        total += taken
    return total


def pending(client: redis.Redis, key: str, group: str) -> int:
    return int(client.xpending(key, group)["pending"])


def test_each_event_counts_once_through_failed_batches_repeats_restarts_and_junk(
        client: redis.Redis, key: str) -> None:
    # Given a consumer whose group exists, five events, one of them published twice, and an entry
    # some other writer left that holds no event
    screen = RedisEventStream(client, key=key, group="screen", consumer="screen-1")
    screen.ensure_group()
    screen.publish(paid(1, 2, 3, 4, 5))
    screen.publish(paid(3))
    client.xadd(key, {"junk": "not an event"})
    tally = Tally()

    # When its absorb fails, nothing is acknowledged; the same consumer gets the batch back
    with pytest.raises(Died):
        screen.consume(dies)
    assert pending(client, key, "screen") == 7 and tally.counted == {}
    assert screen.consume(tally.absorb) == 7
    # Then each event went to absorb once (the repeat too), and the junk was acknowledged, not kept
    assert tally.batches == [[1, 2, 3, 4, 5]]
    assert tally.counted == {1: 100, 2: 200, 3: 300, 4: 400, 5: 500}
    assert pending(client, key, "screen") == 0 and screen.consume(tally.absorb, block_ms=10) == 0

    # When the consumer dies mid-batch and comes back under its name, it gets what it had not acknowledged
    screen.publish(paid(6, 7, 2))
    with pytest.raises(Died):
        screen.consume(dies)
    restarted = RedisEventStream(client, key=key, group="screen", consumer="screen-1")
    assert drain(restarted, tally.absorb, limit=2) == 3
    # Then the republished event 2 was handed on but not counted again
    assert tally.batches[-2:] == [[6, 7], [2]] and sorted(tally.counted) == [1, 2, 3, 4, 5, 6, 7]
    assert sum(tally.counted.values()) == 2800

    # When Redis is out of reach, publishing and consuming say so (the caller backs off and retries)
    away = RedisEventStream.from_url(f"redis://127.0.0.1:{_free_port()}", key=key, group="screen",
                                     consumer="screen-1")
    with pytest.raises(Unavailable):
        away.publish(paid(8))
    with pytest.raises(Unavailable):
        away.consume(tally.absorb)
    away.close()


def test_a_quiet_consumer_is_taken_over_and_a_group_that_was_down_catches_up_past_trims(
        client: redis.Redis, key: str) -> None:
    # Given two groups, the screen's (two consumers, quiet after 50 ms) and the merchants' (one)
    def on(group: str, consumer: str) -> RedisEventStream:
        stream = RedisEventStream(client, key=key, group=group, consumer=consumer, claim_idle_ms=50,
                                  trim_every_s=0)
        stream.ensure_group()
        return stream

    first, second, merchants = on("screen", "a"), on("screen", "b"), on("merchants", "m")
    screen, merchant = Tally(), Tally()
    first.publish(paid(1, 2, 3, 4))

    # When the first screen consumer dies holding the batch, the second takes it over once it is quiet
    with pytest.raises(Died):
        first.consume(dies)
    deadline = time.monotonic() + 5
    while not screen.counted and time.monotonic() < deadline:
        second.consume(screen.absorb, block_ms=20)
    assert sorted(screen.counted) == [1, 2, 3, 4] and pending(client, key, "screen") == 0

    # When the merchants' consumer acknowledges events 1-2, dies holding 3-4, and stays down while
    # four more events are published and the screen reads them all and trims
    assert merchants.consume(merchant.absorb, limit=2) == 2
    with pytest.raises(Died):
        merchants.consume(dies, limit=2)
    first.publish(paid(5, 6, 7, 8))
    drain(second, screen.absorb)
    # Then only what every group acknowledged went: the merchants' unacknowledged 3-4 stay
    kept = [int(fields[b"id"]) for _, fields in client.xrange(key)]
    assert kept == [3, 4, 5, 6, 7, 8] and sorted(screen.counted) == list(range(1, 9))

    # When the merchants' consumer comes back, it catches up from where it stopped, each event once
    back = on("merchants", "m")
    assert drain(back, merchant.absorb) == 6
    assert merchant.batches == [[1, 2], [3, 4], [5, 6, 7, 8]]
    assert sorted(merchant.counted) == list(range(1, 9)) and pending(client, key, "merchants") == 0
    # Then with every group done, the stream keeps only its newest entry
    assert [int(fields[b"id"]) for _, fields in client.xrange(key)] == [8]


def test_the_stream_bench_carries_every_event_it_publishes(redis_url: str) -> None:
    figures = stream_throughput(redis_url, events=250, batch=100)
    assert figures["consumed"] == 250 and figures["redis"] == "single"
    assert figures["published_per_second"] > 0 and figures["consumed_per_second"] > 0
    with pytest.raises(InvalidInput):
        stream_throughput(redis_url, events=10, batch=0)
