"""The stock gates decide a batch of orders, runs of alike orders included, as the ledger does one
order after another: on the database rows (SQLite, PostgreSQL) and on Redis counters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

import pytest
import redis

from shopfest.app import make_runtime
from shopfest.core.clock import SetClock
from shopfest.core.redis import is_cluster
from shopfest.demo import HotItem, hot_item
from shopfest.inventory.hot_path import Reservation, Run
from shopfest.inventory.model import Claim, LimitExceeded, TooManyUnpaid
from shopfest.inventory.redis_gate import StockCountersBehind, counter_key
from shopfest.inventory.store import InventoryStore
from shopfest.orders.checkout import Answer
from shopfest.orders.drafting import PlaceOrder
from shopfest.orders.store import OrderStore
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.conftest import _truncate_all

OK, SOLD_OUT, OVER = None, "sold-out", "limit-exceeded"


def runs_of(orders: Sequence[Sequence[Claim]]) -> list[Run]:
    """Orders (the claims of each) as runs: alike orders one after another make one run."""
    runs: list[Run] = []
    start = 0
    for n in range(1, len(orders) + 1):
        if n == len(orders) or not (orders[n] is orders[start] or orders[n] == orders[start]):
            runs.append(Run(orders[start], n - start))
            start = n
    return runs


def reserve(runtime: Runtime, orders: list[tuple[Claim, ...]]) -> Reservation:
    """One batch through the gate, as checkout runs it: a batch that fails is undone."""
    with runtime.uow() as uow:
        reservation = runtime.gate.reserve(uow, runs_of(orders))
        try:
            reservation.record()
            uow.commit()
        except BaseException:
            reservation.undo()
            raise
    return reservation


def reserved(runtime: Runtime, *sku_ids: int) -> list[int]:
    with runtime.engine.connect() as conn:
        levels = InventoryStore(conn).levels(list(sku_ids))
    return [levels[sku_id].reserved for sku_id in sku_ids]


def test_a_batch_of_runs_is_decided_order_by_order(hot_runtime: Runtime) -> None:
    # given a phone with 10 units, 6 of them in a flash sale at most 2 per shopper, and 5 scarves
    phone = hot_item(hot_runtime, stock=10, flash_quantity=6, per_shopper_limit=2)
    scarf = hot_item(hot_runtime, stock=5, name="Scarf").sku_id
    flash = phone.flash_sale_id

    # when one batch holds runs of alike orders
    reservation = reserve(hot_runtime, [
        *[(Claim(scarf, 2, 1),)] * 4,  # 2 scarves each: two fit
        *[(Claim(phone.sku_id, 1, 7, flash),)] * 3,  # shopper 7 again and again: the limit is 2
        (Claim(phone.sku_id, 1, 8, flash), Claim(scarf, 1, 8)),  # the last scarf
        *[(Claim(phone.sku_id, 2, 9, flash),)] * 2,  # 3 flash units left: one order of 2 fits
        *[(Claim(phone.sku_id, 2, 10),)] * 3,  # at list price: 5 units left, two orders fit
    ])

    # then each order is told what the ledger tells it, and the rows hold what was taken
    told = [None if o is None else o.code for o in reservation.outcomes]
    expected = [OK, OK, SOLD_OUT, SOLD_OUT, OK, OK, OVER, OK, OK, SOLD_OUT, OK, OK, SOLD_OUT]
    if is_cluster(hot_runtime.settings.redis_url or ""):
        # a Redis Cluster decides each slot's runs in a script of their own: an order refused for two
        # reasons at once (shopper 9's second: sold out and over the limit) may be told either
        assert [code is None for code in told] == [code is None for code in expected]
    else:
        assert told == expected
    assert reserved(hot_runtime, phone.sku_id, scarf) == [2 + 1 + 2 + 4, 5]
    assert reservation.sold_out == {scarf}


def shopper_1_at_the_limit_and_redis_unaware(runtime: Runtime, redis_url: str) -> HotItem:
    """A phone whose flash sale allows 2 units a shopper (6 flash units, 10 in all), shopper 1 holding
    2, and Redis having lost count of its buyers."""
    phone = hot_item(runtime, stock=10, flash_quantity=6, per_shopper_limit=2)
    reserve(runtime, [(Claim(phone.sku_id, 2, 1, phone.flash_sale_id),)])
    redis.Redis.from_url(redis_url).delete(
        counter_key(runtime.settings.redis_prefix, phone.sku_id, f"buyers:{phone.flash_sale_id}"))
    return phone


def test_the_rows_refuse_a_checkout_batch_redis_let_through_and_redis_counts_again_from_them(
        redis_runtime: Runtime, redis_url: str) -> None:
    # given shopper 1 holding the 2 units a flash sale allows each shopper, and Redis that lost count
    phone = shopper_1_at_the_limit_and_redis_unaware(redis_runtime, redis_url)

    def place(shopper_id: int) -> Answer:
        return redis_runtime.checkout.place(PlaceOrder(shopper_id, ((phone.sku_id, 1),))).result(timeout=30)

    # when shopper 1 orders a third through checkout, which writes the rows past SQLAlchemy
    with pytest.raises(StockCountersBehind) as refused:
        place(1)
    assert "flash_buyer_within_limit" in str(refused.value.__cause__)

    # then the refusal comes as a busy server's (503, try again), SQLAlchemy's behind it; nothing of
    # that order is stored, and the counters, loaded again from the rows, refuse shopper 1 and sell to
    # shopper 2
    with redis_runtime.engine.connect() as conn:
        assert OrderStore(conn).of_shopper(1, after_id=None, limit=10) == []
    assert reserved(redis_runtime, phone.sku_id) == [2]
    with pytest.raises(LimitExceeded):
        place(1)
    assert place(2).status_code == 201
    assert reserved(redis_runtime, phone.sku_id) == [3]


PREFIX = "shopfest-test-gates-"


@pytest.fixture
def redis_runtime(postgres_url: str, redis_url: str, clock: SetClock) -> Iterator[Runtime]:
    """PostgreSQL with Redis counters under a prefix of their own."""
    _truncate_all(postgres_url)
    runtime = make_runtime(Settings(database_url=postgres_url, redis_url=redis_url,
                                    redis_prefix=f"{PREFIX}{uuid.uuid4().hex}:", pool_size=2), clock=clock)
    yield runtime
    runtime.checkout.close()
    runtime.engine.dispose()


def test_redis_loading_counters_for_part_of_a_batch_counts_the_rest_once(
        redis_runtime: Runtime, redis_url: str) -> None:
    # given Redis counting a phone's units, and a scarf it has never seen
    phone = hot_item(redis_runtime, stock=10).sku_id
    scarf = hot_item(redis_runtime, stock=10, name="Scarf").sku_id
    reserve(redis_runtime, [(Claim(phone, 1, 1),)])

    # when one batch takes from both
    reservation = reserve(redis_runtime, [(Claim(phone, 2, 2),), (Claim(scarf, 3, 3),)])

    # then both orders got theirs, and Redis counts each unit once, as the rows do
    assert reservation.outcomes == [None, None]
    assert reserved(redis_runtime, phone, scarf) == [3, 3]
    counters = redis.Redis.from_url(redis_url)
    prefix = redis_runtime.settings.redis_prefix
    assert [int(counters.get(counter_key(prefix, sku, "stock")) or -1) for sku in (phone, scarf)] == [7, 7]


def test_redis_decides_a_run_it_had_to_load_counters_for_in_its_turn(redis_runtime: Runtime) -> None:
    # given Redis counting a phone's last unit, and a scarf it has never seen
    phone = hot_item(redis_runtime, stock=2).sku_id
    scarf = hot_item(redis_runtime, stock=10, name="Scarf").sku_id
    reserve(redis_runtime, [(Claim(phone, 1, 1),)])

    # when the first order of a batch wants the phone and the scarf, the second only the phone
    reservation = reserve(redis_runtime, [(Claim(phone, 1, 2), Claim(scarf, 1, 2)), (Claim(phone, 1, 3),)])

    # then the first, which arrived first, gets the phone
    assert [None if o is None else o.code for o in reservation.outcomes] == [OK, SOLD_OUT]
    assert reserved(redis_runtime, phone, scarf) == [2, 1]


def test_redis_gives_back_what_a_batch_took_when_loading_the_rest_fails(
        redis_runtime: Runtime, redis_url: str) -> None:
    # given Redis counting 9 phones, and a scarf it has never seen
    phone = hot_item(redis_runtime, stock=10).sku_id
    scarf = hot_item(redis_runtime, stock=10, name="Scarf").sku_id
    reserve(redis_runtime, [(Claim(phone, 1, 1),)])
    counters = redis.Redis.from_url(redis_url)
    prefix = redis_runtime.settings.redis_prefix

    # when a batch takes 2 phones from Redis, and its connection is lost before the scarf is loaded
    with redis_runtime.uow() as uow, pytest.raises(Exception, match="invalid transaction"):
        uow.conn.invalidate()
        redis_runtime.gate.reserve(uow, runs_of([(Claim(phone, 2, 2),), (Claim(scarf, 3, 3),)]))

    # then Redis has the 2 phones back, and counts what the rows hold
    assert int(counters.get(counter_key(prefix, phone, "stock")) or -1) == 9
    assert reserved(redis_runtime, phone, scarf) == [1, 0]


def killed_mid_batch(runtime: Runtime, orders: list[tuple[Claim, ...]]) -> None:
    """A batch that Redis decided and that never reached its commit, nor gave its units back: what
    a server killed between the two leaves behind."""
    with runtime.uow() as uow:
        runtime.gate.reserve(uow, runs_of(orders))


def test_a_recount_lets_redis_sell_the_units_a_killed_batch_took(
        redis_runtime: Runtime, redis_url: str) -> None:
    # given 5 phones, 2 of them taken in Redis by a batch whose server was killed before its commit
    phone = hot_item(redis_runtime, stock=5).sku_id
    reserve(redis_runtime, [(Claim(phone, 1, 1),)])
    killed_mid_batch(redis_runtime, [(Claim(phone, 2, 2),)])
    counters = redis.Redis.from_url(redis_url)
    prefix = redis_runtime.settings.redis_prefix
    assert int(counters.get(counter_key(prefix, phone, "stock")) or -1) == 2  # the rows say 4

    # when the counters are recounted
    forgotten = redis_runtime.gate.recount()

    # then the 4 units the rows hold sell, and no more
    reservation = reserve(redis_runtime, [(Claim(phone, 1, shopper),) for shopper in range(3, 9)])
    assert [None if o is None else o.code for o in reservation.outcomes] == [OK] * 4 + [SOLD_OUT] * 2
    assert reserved(redis_runtime, phone) == [5]
    assert forgotten == 2  # the SKU's units, and the units its shoppers hold unpaid


def test_a_recount_keeps_each_shoppers_flash_sale_limit(redis_runtime: Runtime, redis_url: str) -> None:
    # given a flash sale of 6 at most 2 per shopper: shopper 1 holds 2, and a killed batch took 2
    # for shopper 2
    phone = hot_item(redis_runtime, stock=10, flash_quantity=6, per_shopper_limit=2)
    flash = phone.flash_sale_id
    reserve(redis_runtime, [(Claim(phone.sku_id, 2, 1, flash),)])
    killed_mid_batch(redis_runtime, [(Claim(phone.sku_id, 2, 2, flash),)])
    counters = redis.Redis.from_url(redis_url)
    other_prefix = f"{redis_runtime.settings.redis_prefix.rstrip(':')}-other:"
    elsewhere = counter_key(other_prefix, phone.sku_id, "stock")
    counters.set(elsewhere, 7)  # another prefix's counter: not ours to forget

    # when the counters are recounted
    assert redis_runtime.gate.recount() == 4  # the SKU's units and unpaid units, the sale's units, its buyers

    # then shopper 1 is still at the limit, shopper 2 may buy 2, and the sale has its 4 units back
    reservation = reserve(redis_runtime, [(Claim(phone.sku_id, qty, shopper, flash),)
                                          for qty, shopper in ((1, 1), (2, 2), (2, 3), (1, 4))])
    assert [None if o is None else o.code for o in reservation.outcomes] == [OVER, OK, OK, SOLD_OUT]
    assert int(counters.get(elsewhere) or -1) == 7
    counters.delete(elsewhere)


def test_the_rows_refuse_a_shopper_past_a_flash_sale_limit_whatever_redis_said(
        redis_runtime: Runtime, redis_url: str) -> None:
    # given shopper 1 holding the 2 units a flash sale allows each shopper, and Redis that lost count of them
    phone = shopper_1_at_the_limit_and_redis_unaware(redis_runtime, redis_url)
    flash = phone.flash_sale_id

    # when Redis lets shopper 1 take a third
    with pytest.raises(StockCountersBehind) as refused:
        reserve(redis_runtime, [(Claim(phone.sku_id, 1, 1, flash),)])
    assert "flash_buyer_within_limit" in str(refused.value.__cause__)

    # then the rows still hold the 2, and the counters the batch touched, loaded again from them,
    # refuse shopper 1 and sell the other 4 flash units
    with redis_runtime.engine.connect() as conn:
        assert InventoryStore(conn).buyers_of(flash or 0) == {1: 2}
    assert reserved(redis_runtime, phone.sku_id) == [2]
    reservation = reserve(redis_runtime, [(Claim(phone.sku_id, qty, shopper, flash),)
                                          for qty, shopper in ((1, 1), (2, 2), (2, 3), (1, 4))])
    assert [None if o is None else o.code for o in reservation.outcomes] == [OVER, OK, OK, SOLD_OUT]


def test_a_run_of_many_shoppers_holds_each_to_their_own_unpaid_cap(hot_runtime: Runtime) -> None:
    # given 7 phones, 4 of them held unpaid by shopper 1 (who may hold 5)
    phone = hot_item(hot_runtime, stock=7).sku_id
    reserve(hot_runtime, [(Claim(phone, 4, 1),)])

    # when a run of alike orders comes from shoppers 1, 2, 1, 3 and 4, as checkout sends anyone's cart
    with hot_runtime.uow() as uow:
        reservation = hot_runtime.gate.reserve(uow, [Run((Claim(phone, 1, 1),), 5, shoppers=[1, 2, 1, 3, 4])])
        reservation.record()
        uow.commit()

    # then shopper 1's second is over the cap, the last finds none left, and the rows hold each
    # shopper's units
    assert [None if o is None else o.code for o in reservation.outcomes] == [
        OK, OK, TooManyUnpaid.code, OK, SOLD_OUT]
    assert reserved(hot_runtime, phone) == [7]
    with hot_runtime.engine.connect() as conn:
        assert InventoryStore(conn).unpaid_of([phone]) == {(1, phone): 5, (2, phone): 1, (3, phone): 1}


def test_the_rows_refuse_a_shopper_past_the_cap_redis_let_through(
        redis_runtime: Runtime, redis_url: str) -> None:
    # given shopper 1 holding the 5 unpaid phones a shopper may hold, and Redis having lost count of them
    phone = hot_item(redis_runtime, stock=20).sku_id
    reserve(redis_runtime, [(Claim(phone, 5, 1),)])
    redis.Redis.from_url(redis_url).delete(counter_key(redis_runtime.settings.redis_prefix, phone, "unpaid"))

    def place(shopper_id: int) -> Answer:
        return redis_runtime.checkout.place(PlaceOrder(shopper_id, ((phone, 1),))).result(timeout=30)

    # when shopper 1 orders a sixth: the rows refuse the batch, and nothing of it is stored
    with pytest.raises(StockCountersBehind) as refused:
        place(1)
    assert "unpaid_within_cap" in str(refused.value.__cause__)
    assert reserved(redis_runtime, phone) == [5]

    # then the counters, loaded again from the rows, refuse shopper 1 and sell to shopper 2
    with pytest.raises(TooManyUnpaid):
        place(1)
    assert place(2).status_code == 201
    assert reserved(redis_runtime, phone) == [6]
