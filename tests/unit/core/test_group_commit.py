"""Group commit: jobs from threads and event loops are applied in batches and each hears its answer."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import pytest

from shopfest.core.group_commit import GroupCommit

UNLUCKY = 1_000_000
T = TypeVar("T")


def in_a_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on an event loop of its own thread, as a server's loop runs beside the writer."""
    answers: list[T] = []
    loop = threading.Thread(target=lambda: answers.append(asyncio.run(coroutine)))
    loop.start()
    loop.join()
    return answers[0]


class Doubler:
    """Applies a batch by doubling each job; a negative job fails alone, job UNLUCKY fails its batch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, batch: Sequence[int]) -> list[int | BaseException]:
        self.gate.wait(10)
        self.batches.append(list(batch))
        if UNLUCKY in batch:
            raise RuntimeError("the disk is full")
        return [ValueError(f"{job} is negative") if job < 0 else job * 2 for job in batch]


class HoldingOne:
    """Applies a batch by doubling each job, holding the batch with job `held_job` until released, as
    one waits for its commit to be durable."""

    def __init__(self, held_job: int = 0) -> None:
        self.held_job = held_job
        self.held = threading.Event()
        self.release = threading.Event()
        self.applied: list[list[int]] = []

    def __call__(self, batch: Sequence[int]) -> list[int]:
        self.applied.append(list(batch))
        if self.held_job in batch:
            self.held.set()
            self.release.wait(10)
        return [job * 2 for job in batch]


def test_jobs_from_an_event_loop_are_answered_once_per_batch() -> None:
    doubler = Doubler()
    commit: GroupCommit[int, int] = GroupCommit(doubler, max_batch=50)
    doubler.gate.clear()  # the first batch is held while 199 more jobs queue behind it

    async def burst() -> list[int | BaseException]:
        futures = [commit.submit_soon(job) for job in range(200)]
        doubler.gate.set()
        return list(await asyncio.gather(*futures, return_exceptions=True))

    answers = in_a_loop(burst())
    commit.close()
    assert answers == [job * 2 for job in range(200)]
    assert sum(len(b) for b in doubler.batches) == 200
    assert max(len(b) for b in doubler.batches) <= 50 and len(doubler.batches) < 200


def test_a_refused_job_fails_alone_and_a_failed_batch_fails_every_job_in_it() -> None:
    doubler = Doubler()
    commit: GroupCommit[int, int] = GroupCommit(doubler)
    assert commit.submit(4).result(timeout=10) == 8
    with pytest.raises(ValueError, match="negative"):
        commit.submit(-1).result(timeout=10)

    async def unlucky() -> BaseException | int:
        return (await asyncio.gather(commit.submit_soon(UNLUCKY), return_exceptions=True))[0]

    assert isinstance(in_a_loop(unlucky()), RuntimeError)
    commit.close()
    with pytest.raises(RuntimeError, match="closed"):
        commit.submit(1)


def test_threads_and_a_loop_share_one_writer() -> None:
    doubler = Doubler()
    commit: GroupCommit[int, int] = GroupCommit(doubler)
    from_threads: list[int] = []

    def thread_jobs(first: int) -> None:
        from_threads.extend(commit.submit(job).result(timeout=10) for job in range(first, first + 50))

    workers = [threading.Thread(target=thread_jobs, args=(n * 100,)) for n in range(4)]
    for worker in workers:
        worker.start()

    async def loop_jobs() -> list[int]:
        return list(await asyncio.gather(*(commit.submit_soon(job) for job in range(1000, 1100))))

    from_loop = in_a_loop(loop_jobs())
    for worker in workers:
        worker.join()
    commit.close()
    assert sorted(from_threads) == sorted(job * 2 for n in range(4) for job in range(n * 100, n * 100 + 50))
    assert from_loop == [job * 2 for job in range(1000, 1100)]


def test_a_second_lane_applies_the_next_batch_while_the_first_is_held() -> None:
    apply = HoldingOne()
    commit: GroupCommit[int, int] = GroupCommit(apply, lanes=2)
    first = commit.submit(0)
    assert apply.held.wait(10)
    assert commit.submit(21).result(timeout=10) == 42  # answered while the first batch is still held
    assert not first.done()
    apply.release.set()
    assert first.result(timeout=10) == 0
    commit.close()
    assert apply.applied == [[0], [21]]


def test_a_second_lane_waits_for_a_crowd_while_the_first_is_held() -> None:
    apply = HoldingOne()
    commit: GroupCommit[int, int] = GroupCommit(apply, lanes=2, crowd=3)
    first = commit.submit(0)
    assert apply.held.wait(10)
    lone = commit.submit(1)
    time.sleep(0.2)  # time enough for a second lane that took any job to take this one alone
    crowd = [commit.submit(2), commit.submit(3)]
    assert [f.result(timeout=10) for f in [lone, *crowd]] == [2, 4, 6]  # while the first is held
    assert not first.done()
    apply.release.set()
    assert first.result(timeout=10) == 0
    commit.close()
    assert apply.applied == [[0], [1, 2, 3]]


def test_a_closing_group_commit_has_its_other_lanes_finish_what_waits_below_the_crowd() -> None:
    # given the first lane held with a job, and two more waiting, fewer than the crowd
    apply = HoldingOne(held_job=1)
    commit: GroupCommit[int, int] = GroupCommit(apply, lanes=2, crowd=1000)
    first = commit.submit(1)
    assert apply.held.wait(10)
    waiting = [commit.submit(2), commit.submit(3)]

    # when it closes, the first lane still held
    closing = threading.Thread(target=commit.close)
    closing.start()

    # then the other lane answers them, and the first lane its own once let go
    assert [f.result(timeout=5) for f in waiting] == [4, 6]
    assert not first.done()
    apply.release.set()
    closing.join(10)
    assert first.result(timeout=10) == 2


def test_a_batch_answered_with_too_few_outcomes_fails_and_the_writer_goes_on() -> None:
    answers = iter([[2], [8]])
    commit: GroupCommit[int, int] = GroupCommit(lambda batch: next(answers), lanes=2, crowd=1000)
    pair = [commit.submit(1), commit.submit(2)]
    with pytest.raises(RuntimeError, match="1 outcomes for a batch of"):
        pair[0].result(timeout=10)
    assert commit.submit(4).result(timeout=10) == 8  # the first lane still serves what comes
    commit.close()


def test_every_job_is_answered_once_across_lanes() -> None:
    doubler = Doubler()
    commit: GroupCommit[int, int] = GroupCommit(doubler, lanes=3, max_batch=7)

    async def burst() -> list[int | BaseException]:
        return list(await asyncio.gather(*(commit.submit_soon(job) for job in range(500))))

    answers = in_a_loop(burst())
    commit.close()
    assert answers == [job * 2 for job in range(500)]
    assert sorted(job for batch in doubler.batches for job in batch) == list(range(500))


def test_a_job_its_caller_cancelled_does_not_stop_the_writer() -> None:
    doubler = Doubler()
    commit: GroupCommit[int, int] = GroupCommit(doubler)
    doubler.gate.clear()  # the first batch is held while the second job queues and is given up
    first = commit.submit(1)
    given_up = commit.submit(2)
    assert given_up.cancel()
    doubler.gate.set()
    assert first.result(timeout=10) == 2
    assert commit.submit(3).result(timeout=10) == 6
    commit.close()


def a_writer_that_just_applied_a_batch_of_two(gather_seconds: float = 0.0, gather_pause: float = 0.0
                                              ) -> tuple[GroupCommit[int, int], HoldingOne]:
    """A group commit whose last batch held jobs 2 and 3 (queued while job 1's batch was held)."""
    holder = HoldingOne(held_job=1)
    commit: GroupCommit[int, int] = GroupCommit(holder, gather_seconds=gather_seconds,
                                                gather_pause=gather_pause)
    first = commit.submit(1)
    assert holder.held.wait(10)
    pair = [commit.submit(2), commit.submit(3)]
    holder.release.set()
    assert [f.result(10) for f in [first, *pair]] == [2, 4, 6]
    assert holder.applied == [[1], [2, 3]]
    return commit, holder


def submit_later(commit: GroupCommit[int, int], job: int, seconds: float) -> threading.Thread:
    def later() -> None:
        time.sleep(seconds)
        commit.submit(job)

    thread = threading.Thread(target=later)
    thread.start()
    return thread


def test_after_a_batch_of_several_the_writer_gathers_the_jobs_that_keep_coming() -> None:
    # given a writer that gathers for up to 10 s while a job comes at least every 2 s
    commit, holder = a_writer_that_just_applied_a_batch_of_two(gather_seconds=10, gather_pause=2)

    # when a job comes, and another a twentieth of a second later
    fourth = commit.submit(4)
    submit_later(commit, 5, 0.05).join()

    # then both go in one batch
    assert fourth.result(10) == 8
    commit.close()
    assert holder.applied[2:] == [[4, 5]]


def test_a_lone_caller_is_not_held_for_others() -> None:
    holder = HoldingOne(held_job=-1)
    commit: GroupCommit[int, int] = GroupCommit(holder, gather_seconds=10, gather_pause=2)

    # a batch of one job, then another job, and one more half a second after it
    assert commit.submit(1).result(10) == 2
    second = commit.submit(2)
    submit_later(commit, 3, 0.5).join()

    # each went alone: after a batch of one, nobody waits for company
    assert second.result(10) == 4
    commit.close()
    assert holder.applied == [[1], [2], [3]]


def test_without_gathering_the_writer_takes_what_waits_at_once() -> None:
    commit, holder = a_writer_that_just_applied_a_batch_of_two()
    fourth = commit.submit(4)
    submit_later(commit, 5, 0.5).join()
    assert fourth.result(10) == 8
    commit.close()
    assert holder.applied[2:] == [[4], [5]]


def test_closing_stops_the_gathering_and_answers_what_waits() -> None:
    commit, holder = a_writer_that_just_applied_a_batch_of_two(gather_seconds=600, gather_pause=300)
    fourth = commit.submit(4)
    closing = threading.Thread(target=commit.close)  # the writer would otherwise wait 300 s for a fifth
    closing.start()
    closing.join(60)
    assert not closing.is_alive()
    assert fourth.result(0) == 8
    assert holder.applied[2:] == [[4]]
