"""Rate limits over HTTP: per account and per client address, 429 with Retry-After, shared by
workers through Redis; wrong passwords lock sign-in for a while, not for good."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.app import create_app, make_runtime
from shopfest.core.actor import Role
from shopfest.core.clock import SetClock
from shopfest.core.rates import LockRule, Rate, RateLimited, SignInLocked
from shopfest.demo import hot_item
from shopfest.inventory.store import InventoryStore
from shopfest.rate_limits import Limiter
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.integration.helpers import bearer, form_token, token_for
from tests.unit.test_rate_limits import Ticking

STRANGER, OWNER = ("203.0.113.9", 40000), ("198.51.100.4", 40000)
MEI = {"email": "mei@shoppers.test", "password": "mei-secret-1"}
WRONG = {"email": "mei@shoppers.test", "password": "not-mei-at-all"}

Make = Callable[..., tuple[TestClient, Runtime]]


@pytest.fixture
def limited(database_url: str, clock: SetClock) -> Iterator[Make]:
    """A server with the settings given (rate limits among them), and its runtime."""
    made: list[Runtime] = []

    def make(**settings: object) -> tuple[TestClient, Runtime]:
        runtime = make_runtime(Settings(database_url=database_url, pool_size=4, **settings),  # type: ignore[arg-type]  # Settings' own fields
                               clock=clock)
        made.append(runtime)
        return TestClient(create_app(runtime=runtime)), runtime

    yield make
    for runtime in made:
        runtime.checkout.close()
        runtime.engine.dispose()


def mei(runtime: Runtime) -> None:
    accounts.create_account_unchecked(runtime.uow(), email=MEI["email"], password=MEI["password"],
                                      role=Role.SHOPPER)


def assert_refused(answer: httpx.Response, code: str) -> int:
    """The answer is a 429 problem of `code` with a Retry-After of whole seconds; returns them."""
    assert answer.status_code == 429, answer.text
    assert answer.json()["type"] == f"/problems/{code}"
    wait = int(answer.headers["retry-after"])
    assert wait >= 1
    return wait


def test_sign_ins_from_one_address_past_its_limit_are_refused_with_retry_after(limited: Make) -> None:
    client, runtime = limited(rate_limits="login.address=3/60")
    mei(runtime)
    # given three tries from one address, right or wrong
    assert client.post("/api/v1/auth/token", json=WRONG).status_code == 401
    assert client.post("/api/v1/auth/token", json=MEI).status_code == 200
    assert client.post("/api/v1/auth/token", json={**MEI, "email": "li@shoppers.test"}).status_code == 401
    # then the fourth is refused, however right, and says when to come back
    assert_refused(client.post("/api/v1/auth/token", json=MEI), "rate-limited")
    # while the same account signs in from another address
    elsewhere = TestClient(client.app, client=OWNER)
    assert elsewhere.post("/api/v1/auth/token", json=MEI).status_code == 200


def test_password_guessing_locks_sign_in_for_a_while_then_the_right_password_works(limited: Make) -> None:
    client, runtime = limited()
    clock = Ticking()
    runtime.limiter = Limiter(runtime.settings.rates(), lock_rule=LockRule(allowed=3, first_lock=30),
                              clock=clock)
    mei(runtime)
    stranger, owner = TestClient(client.app, client=STRANGER), TestClient(client.app, client=OWNER)
    # given three wrong passwords from a stranger's address
    for _ in range(3):
        assert stranger.post("/api/v1/auth/token", json=WRONG).status_code == 401
    # then sign-in from there is locked, even with the right password, for 30 s
    assert assert_refused(stranger.post("/api/v1/auth/token", json=MEI), "sign-in-locked") == 30
    # and the sign-in page is locked alike
    page = stranger.post("/login", data={**MEI, "csrf_token": form_token(stranger)}, follow_redirects=False)
    assert page.status_code == 429 and page.headers["retry-after"] == "30"
    # while the owner, from their own address, signs in
    assert owner.post("/api/v1/auth/token", json=MEI).status_code == 200
    # and once the lock is over, the right password works from there too
    clock.now += 30
    assert stranger.post("/api/v1/auth/token", json=MEI).status_code == 200


def test_each_wrong_password_after_a_lock_locks_longer(limited: Make) -> None:
    client, runtime = limited()
    clock = Ticking()
    runtime.limiter = Limiter({}, lock_rule=LockRule(allowed=2, first_lock=30), clock=clock)
    mei(runtime)
    waits = []
    for _ in range(2):
        assert client.post("/api/v1/auth/token", json=WRONG).status_code == 401
    for _ in range(3):
        waits.append(assert_refused(client.post("/api/v1/auth/token", json=WRONG), "sign-in-locked"))
        clock.now += waits[-1]
        assert client.post("/api/v1/auth/token", json=WRONG).status_code == 401
    assert waits == [30, 60, 120]


def test_the_sign_in_page_is_limited_per_address(limited: Make) -> None:
    client, runtime = limited(rate_limits="login.address=1/60")
    mei(runtime)
    token = form_token(client)
    assert client.post("/login", data={**WRONG, "csrf_token": token}).status_code == 401
    refused = client.post("/login", data={**MEI, "csrf_token": token}, follow_redirects=False)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "text/html" in refused.headers["content-type"]


def test_orders_past_a_shoppers_limit_are_refused_in_the_checkout_lane_and_the_route(limited: Make) -> None:
    client, runtime = limited(rate_limits="order.account=2/60")
    phone = hot_item(runtime, stock=10)
    mei(runtime)
    ann = bearer(token_for(client, MEI["email"], MEI["password"]))
    line = {"lines": [{"sku_id": phone.sku_id, "qty": 1}]}
    # given two orders: the first through the route, the second through the checkout lane
    assert [client.post("/api/v1/orders", json=line, headers=ann).status_code for _ in range(2)] == [201, 201]
    # then the third is refused in the lane
    assert_refused(client.post("/api/v1/orders", json=line, headers=ann), "rate-limited")
    # and in the route, where a shopper the lane does not know yet goes
    runtime.signed_in.forget(ann["Authorization"].partition(" ")[2])
    assert_refused(client.post("/api/v1/orders", json=line, headers=ann), "rate-limited")
    # and nothing more was reserved
    with runtime.engine.connect() as conn:
        assert InventoryStore(conn).levels([phone.sku_id])[phone.sku_id].reserved == 2
    # while another shopper orders
    accounts.create_account_unchecked(runtime.uow(), email="li@shoppers.test", password="li-secret-12",
                                      role=Role.SHOPPER)
    li = bearer(token_for(client, "li@shoppers.test", "li-secret-12"))
    assert client.post("/api/v1/orders", json=line, headers=li).status_code == 201


def test_registration_claims_prices_and_searches_are_limited(limited: Make) -> None:
    client, runtime = limited(rate_limits="register.address=1/60,claim.account=1/60,price.address=1/60,"
                                          "search.address=2/60")
    mei(runtime)
    ann = bearer(token_for(client, MEI["email"], MEI["password"]))
    # one registration from an address, then 429
    new = {"email": "li@shoppers.test", "password": "li-secret-12"}
    assert client.post("/api/v1/auth/register", json=new).status_code == 201
    assert_refused(client.post("/api/v1/auth/register", json={**new, "email": "wu@shoppers.test"}),
                   "rate-limited")
    # one claim by a shopper (of a coupon that does not exist), then 429
    assert client.post("/api/v1/coupons/999/claim", headers=ann).status_code == 404
    assert_refused(client.post("/api/v1/coupons/999/claim", headers=ann), "rate-limited")
    # one cart priced, then 429
    cart = {"currency": "CNY", "lines": [{"id": "l1", "sku": "k1", "merchant": "m1",
                                          "unit_price": "10.00", "qty": 1}]}
    assert client.post("/api/v1/price", json=cart).status_code == 200
    assert_refused(client.post("/api/v1/price", json=cart), "rate-limited")
    # two searches, by the API and the page, then 429
    assert client.get("/api/v1/products").status_code == 200
    assert client.get("/search").status_code == 200
    assert_refused(client.get("/api/v1/products"), "rate-limited")


def test_a_limited_route_documents_429(limited: Make) -> None:
    client, _ = limited()
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in [("/api/v1/auth/token", "post"), ("/api/v1/auth/register", "post"),
                         ("/api/v1/orders", "post"), ("/api/v1/coupons/{coupon_id}/claim", "post"),
                         ("/api/v1/price", "post"), ("/api/v1/products", "get")]:
        assert "429" in paths[path][method]["responses"], path


def test_two_workers_share_their_counts_through_redis_or_else_count_alone(
        store_settings: Settings, clock: SetClock) -> None:
    settings = replace(store_settings, rate_limits="order.account=2/60", rate_sync_seconds=0)
    workers = [make_runtime(settings, clock=clock) for _ in range(2)]
    try:
        phone = hot_item(workers[0], stock=10)
        mei(workers[0])
        one, two = (TestClient(create_app(runtime=worker)) for worker in workers)
        ann = bearer(token_for(one, MEI["email"], MEI["password"]))
        line = {"lines": [{"sku_id": phone.sku_id, "qty": 1}]}
        # given one order on each worker
        assert one.post("/api/v1/orders", json=line, headers=ann).status_code == 201
        assert two.post("/api/v1/orders", json=line, headers=ann).status_code == 201
        # then a third is refused on either, when they share Redis; alone, each allows its own two
        third = one.post("/api/v1/orders", json=line, headers=ann)
        assert third.status_code == (429 if settings.redis_url else 201), third.text
    finally:
        for worker in workers:
            worker.checkout.close()
            worker.engine.dispose()


def test_limits_and_locks_kept_in_redis_are_seen_by_every_worker_under_the_prefix(redis_url: str) -> None:
    client, prefix = redis.Redis.from_url(redis_url), f"shopfest-test-{uuid.uuid4().hex}:"
    clock = Ticking()
    rates = {"claim.account": Rate(3, 60), "claim.address": Rate(100, 60)}
    one, two = (Limiter(rates, lock_rule=LockRule(allowed=2, first_lock=30), redis_client=client,
                        prefix=prefix, sync_seconds=0, clock=clock) for _ in range(2))
    # given three claims by one shopper, on two workers
    one.hit("claim", account="7", address="10.0.0.1")
    two.hit("claim", account="7", address="10.0.0.1")
    one.hit("claim", account="7", address="10.0.0.1")
    # then the fourth is refused on either
    for worker in (one, two):
        with pytest.raises(RateLimited):
            worker.hit("claim", account="7", address="10.0.0.1")
    # and two wrong passwords seen by one worker lock sign-in on the other, for a while
    one.lockout("10.0.0.1").failed("mei@shoppers.test")
    one.lockout("10.0.0.1").failed("mei@shoppers.test")
    with pytest.raises(SignInLocked):
        two.lockout("10.0.0.1").check("mei@shoppers.test")
    clock.now += 30
    two.lockout("10.0.0.1").check("mei@shoppers.test")
    # and every key is under the prefix, with a hash tag keeping a key's windows in one cluster slot
    keys = [key.decode() for key in client.scan_iter(match=f"{prefix}*")]
    assert keys and all(key.startswith(prefix) and "{" in key and key.endswith(("}", *"0123456789"))
                        for key in keys)
    assert all(ttl > 0 for ttl in (client.ttl(key) for key in keys))


def test_a_worker_shares_its_counts_in_batches_between_round_trips(redis_url: str) -> None:
    client, prefix = redis.Redis.from_url(redis_url), f"shopfest-test-{uuid.uuid4().hex}:"
    worker = Limiter({"order.account": Rate(1000, 60)}, redis_client=client, prefix=prefix,
                     sync_seconds=3600, clock=Ticking())
    # given many orders between two syncs: none of them waited on Redis
    for _ in range(50):
        worker.hit("order", account="7", address="10.0.0.1")
    assert list(client.scan_iter(match=f"{prefix}*")) == []
    # then the sync sends them in one go
    worker.sync()
    [key] = [key.decode() for key in client.scan_iter(match=f"{prefix}*")]
    assert int(client.get(key) or 0) == 50
    # and a worker counting in the background shares its counts by itself
    other = Limiter({"order.account": Rate(1000, 60)}, redis_client=client, prefix=prefix,
                    sync_seconds=0.01, clock=Ticking())
    other.hit("order", account="7", address="10.0.0.1")
    for _ in range(3000):
        if int(client.get(key) or 0) == 51:
            break
        threading.Event().wait(0.01)
    assert int(client.get(key) or 0) == 51


def test_without_an_answer_from_redis_a_worker_counts_alone_and_sign_in_goes_on(tmp_path: object) -> None:
    gone = redis.Redis.from_url(f"unix://{tmp_path}/no-redis-here.sock")
    worker = Limiter({"order.account": Rate(2, 60)}, redis_client=gone, sync_seconds=0, clock=Ticking())
    worker.hit("order", account="7", address="10.0.0.1")
    worker.hit("order", account="7", address="10.0.0.1")
    with pytest.raises(RateLimited):
        worker.hit("order", account="7", address="10.0.0.1")
    lockout = worker.lockout("10.0.0.1")
    lockout.failed("mei@shoppers.test")
    lockout.check("mei@shoppers.test")
    lockout.succeeded("mei@shoppers.test")
