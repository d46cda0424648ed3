"""Passwords are hashed and checked in a bounded pool of their own: a crowd signing in never takes
the threads and cores that pages and the API answer with."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.accounts.hashing import HashingPool
from shopfest.app import create_app, make_runtime
from shopfest.core.actor import Role
from shopfest.core.clock import SetClock
from shopfest.core.rates import Busy
from shopfest.demo import hot_item
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.integration.helpers import form_token

MEI = {"email": "mei@shoppers.test", "password": "mei-secret-1"}


@pytest.fixture
def small_pool(database_url: str, clock: SetClock) -> Iterator[Runtime]:
    """A server hashing one password at a time, with one more waiting."""
    settings = Settings(database_url=database_url, pool_size=4, hashing_threads=1, hashing_queue=1)
    runtime = make_runtime(settings, clock=clock)
    yield runtime
    runtime.checkout.close()
    runtime.engine.dispose()


def test_sign_ins_past_a_full_hashing_pool_get_503_while_pages_answer(small_pool: Runtime) -> None:
    client = TestClient(create_app(runtime=small_pool))
    hot_item(small_pool, stock=5)
    accounts.create_account_unchecked(small_pool.uow(), email=MEI["email"], password=MEI["password"],
                                      role=Role.SHOPPER)
    [product] = client.get("/api/v1/products").json()["data"]
    # given the pool busy hashing and its queue full
    release = threading.Event()
    held = [small_pool.hashing.submit(release.wait, 30) for _ in range(2)]
    try:
        # then a sign-in and a registration are told to come back, at once
        for refused in (client.post("/api/v1/auth/token", json=MEI),
                        client.post("/api/v1/auth/register", json={**MEI, "email": "li@shoppers.test"})):
            assert refused.status_code == 503, refused.text
            assert refused.json()["type"] == "/problems/busy" and refused.headers["retry-after"] == "1"
        # while a product page, the search and /healthz answer
        assert client.get(f"/products/{product['id']}").status_code == 200
        assert client.get("/api/v1/products").status_code == 200
        assert client.get("/healthz").status_code == 200
    finally:
        release.set()
    for job in held:
        job.result(timeout=30)
    # and once the pool is free, the sign-in goes through
    assert client.post("/api/v1/auth/token", json=MEI).status_code == 200


def page_sign_in(browser: TestClient) -> Any:
    """Mei signs in through the page, in a browser of her own (its form token)."""
    return browser.post("/login", data={**MEI, "csrf_token": form_token(browser)}, follow_redirects=False)


def test_a_crowd_signing_in_is_hashed_one_at_a_time_and_everyone_gets_in(database_url: str,
                                                                          clock: SetClock) -> None:
    settings = Settings(database_url=database_url, pool_size=4, hashing_threads=1, hashing_queue=16)
    runtime = make_runtime(settings, clock=clock)
    try:
        client = TestClient(create_app(runtime=runtime))
        accounts.create_account_unchecked(runtime.uow(), email=MEI["email"], password=MEI["password"],
                                          role=Role.SHOPPER)
        # given 12 sign-ins at once, through the API and the sign-in page
        with ThreadPoolExecutor(12) as crowd:
            answers = list(crowd.map(
                lambda n: (client.post("/api/v1/auth/token", json=MEI) if n % 2 else
                           page_sign_in(TestClient(client.app))).status_code,
                range(12)))
        # then each got in, and never were two passwords hashed at once
        assert sorted(answers) == [200] * 6 + [303] * 6
        assert runtime.hashing.most_at_once == 1
    finally:
        runtime.checkout.close()
        runtime.engine.dispose()


def test_the_pool_never_runs_more_than_its_size_nor_queues_past_its_room() -> None:
    pool = HashingPool(threads=2, queue=3)
    release, started = threading.Event(), threading.Semaphore(0)

    def hold() -> None:
        started.release()
        release.wait(30)

    jobs = [pool.submit(hold) for _ in range(5)]
    with pytest.raises(Busy):
        pool.submit(hold)
    started.acquire(timeout=30)
    started.acquire(timeout=30)
    release.set()
    for job in jobs:
        job.result(timeout=30)
    assert pool.most_at_once == 2
    pool.submit(hold).result(timeout=30)  # room again once they are done
    pool.close()
