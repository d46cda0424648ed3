"""Vouchers after the sale: redeemed exactly once at a shop of their merchant (threads on SQLite and
PostgreSQL, two processes on PostgreSQL), undone within the window, uploaded from an offline console
with conflicts reported, voided by refunds, and kept from other merchants' staff and from guessers."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.app import create_app, make_runtime
from shopfest.bench.redemptions import measure_redemptions
from shopfest.catalog.model import Fulfilment
from shopfest.core.actor import Actor, Role
from shopfest.core.clock import SetClock
from shopfest.core.errors import DomainError, NotFound
from shopfest.demo import HotItem, hot_item
from shopfest.local import vouchers
from shopfest.local.codes import PREFIX, BadVoucherCode, new_key_text, parse_keys
from shopfest.local.model import (
    Deal,
    DealKind,
    Point,
    Shop,
    ShopKind,
    UndoTooLate,
    VoucherAlreadyRedeemed,
    VoucherExpired,
    VoucherVoid,
)
from shopfest.local.store import LocalStore
from shopfest.local.vouchers import OfflineItem
from shopfest.orders import service as orders
from shopfest.orders.drafting import PlaceOrder
from shopfest.orders.service import VouchersRedeemed
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from tests.integration.helpers import bearer, token_for

KEYS = new_key_text("t1")
SHANGHAI = Point(31.2304, 121.4737)


@dataclass
class Merchant:
    item: HotItem
    staff: Actor
    shops: tuple[int, int]

    @property
    def id(self) -> int:
        return self.item.merchant_id


@dataclass
class Town:
    """Two local merchants, two shops each, their staff, and a shopper."""

    runtime: Runtime
    clock: SetClock
    lotus: Merchant
    peony: Merchant
    shopper: Actor

    def buy(self, merchant: Merchant, qty: int = 1) -> tuple[int, list[str]]:
        """The shopper buys and pays `qty` vouchers: the order and its voucher codes."""
        rt = self.runtime
        placed = rt.checkout.place(PlaceOrder(self.shopper.user_id, ((merchant.item.sku_id, qty),))).result()
        order_id = placed.receipt["id"]
        paid = orders.pay_order(rt.uow(), rt.provider, self.shopper, order_id=order_id, method="sandbox_ok")
        return order_id, paid["children"][0]["vouchers"]

    def signed(self, code: str) -> str:
        view = next(v for v in vouchers.my_vouchers(self.runtime.uow(), self.shopper,
                                                    signer=self.runtime.voucher_signer()) if v.code == code)
        return view.signed_code

    def redeem(self, merchant: Merchant, code: str, *, shop: int = 0) -> vouchers.Redemption:
        return vouchers.redeem(self.runtime.uow(), merchant.staff, code=code, shop_id=merchant.shops[shop])


def _merchant(runtime: Runtime, name: str, *, user_id: int) -> Merchant:
    item = hot_item(runtime, stock=1000, price="99.00", fulfilment=Fulfilment.SERVICE_VOUCHER, name=name)
    now = runtime.clock.now()
    with runtime.uow() as uow:
        store = LocalStore(uow.conn)
        shops = tuple(store.add_shop(Shop(item.merchant_id, f"{name} {n}", ShopKind.SALON, 1796236, SHANGHAI,
                                          "Asia/Shanghai"), at=now) for n in ("Jing'an", "Xuhui"))
        store.add_deal(Deal(item.merchant_id, 1, item.sku_id, DealKind.SERVICE, valid_days=30), at=now)
        uow.commit()
    return Merchant(item, Actor(user_id, Role.MERCHANT, item.merchant_id), (shops[0], shops[1]))


@pytest.fixture
def town(database_url: str, clock: SetClock) -> Iterator[Town]:
    runtime = make_runtime(Settings(database_url=database_url, pool_size=8, voucher_keys=KEYS,
                                    max_unpaid_units=100, rate_limits="redeem.account=20/60"), clock=clock)
    lotus, peony = _merchant(runtime, "Lotus", user_id=9001), _merchant(runtime, "Peony", user_id=9002)
    yield Town(runtime, clock, lotus, peony, Actor(501, Role.SHOPPER))
    runtime.checkout.close()
    runtime.engine.dispose()


only_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


# --- exactly once -------------------------------------------------------------------------------------

@only_sqlite
def test_a_voucher_redeems_once_by_its_qr_or_typed_code_and_a_second_time_says_when_and_where(
        town: Town) -> None:
    # given two paid spa vouchers
    _, (first, second) = town.buy(town.lotus, qty=2)
    # when the first is scanned at one shop and the second typed by hand at the other
    scanned = town.redeem(town.lotus, town.signed(first))
    typed = town.redeem(town.lotus, f" {second} ", shop=1)
    assert (scanned.voucher_code, scanned.shop_id, typed.voucher_code) == (first, town.lotus.shops[0], second)
    assert scanned.undo_until == town.clock.now() + timedelta(minutes=15) and "Lotus" in scanned.title
    # then either again, anywhere, is refused with when and where it was redeemed
    for code, shop in ((town.signed(first), 1), (second, 0)):
        with pytest.raises(VoucherAlreadyRedeemed) as again:
            town.redeem(town.lotus, code, shop=shop)
        assert again.value.data["redeemed_at"] == town.clock.now().isoformat()
        assert again.value.data["shop_name"] in ("Lotus Jing'an", "Lotus Xuhui")
    # and the shopper's account says so, while the merchant's day lists both
    views = {v.code: v for v in vouchers.my_vouchers(town.runtime.uow(), town.shopper,
                                                     signer=town.runtime.voucher_signer())}
    assert views[first].status == "redeemed" and views[first].shop_name == "Lotus Jing'an"
    assert views[first].valid_until == views[first].issued_at + timedelta(days=30)
    assert views[first].signed_code.startswith(PREFIX)
    listed = vouchers.redemptions_of(town.runtime.uow(), town.lotus.staff, merchant_id=town.lotus.id,
                                     day=town.clock.now().date())
    assert [r.id for r in listed] == [scanned.id, typed.id]


def _race(town: Town, codes: list[str], *, threads: int) -> tuple[list[tuple[str, int]], list[DomainError]]:
    """`threads` counters of the merchant try every code at once, each in its own order."""
    won: list[tuple[str, int]] = []
    lost: list[DomainError] = []
    start = threading.Barrier(threads)

    def counter(n: int) -> None:
        start.wait(timeout=30)
        for code in codes[n % len(codes):] + codes[:n % len(codes)]:
            try:
                won.append((code, town.redeem(town.lotus, code, shop=n % 2).shop_id))
            except DomainError as refused:
                lost.append(refused)
    workers = [threading.Thread(target=counter, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return won, lost


def test_counters_racing_on_the_same_vouchers_redeem_each_exactly_once(town: Town) -> None:
    _, codes = town.buy(town.lotus, qty=6)
    won, lost = _race(town, codes, threads=4)
    assert sorted(code for code, _ in won) == sorted(codes)  # one success each
    assert len(lost) == 6 * 3 and all(isinstance(e, VoucherAlreadyRedeemed) for e in lost)
    assert all(e.data["shop_id"] in town.lotus.shops and e.data["redeemed_at"] for e in lost)
    assert len(vouchers.redemptions_of(town.runtime.uow(), town.lotus.staff, merchant_id=town.lotus.id)) == 6


RACER = """
import json, sys, time
from shopfest.app import make_runtime
from shopfest.core.actor import Actor, Role
from shopfest.core.errors import DomainError
from shopfest.local import vouchers
from shopfest.settings import Settings
url, keys, clock, merchant_id, shop_id, start, *codes = sys.argv[1:]
runtime = make_runtime(Settings(database_url=url, voucher_keys=keys, pool_size=2, clock=clock, clock_speed=0))
staff = Actor(9100 + int(shop_id), Role.MERCHANT, int(merchant_id))
time.sleep(max(0.0, float(start) - time.time()))
said = []
for code in codes:
    try:
        said.append(["won", vouchers.redeem(runtime.uow(), staff, code=code, shop_id=int(shop_id)).shop_id])
    except DomainError as refused:
        said.append([refused.code, refused.data.get("shop_id"), refused.data.get("redeemed_at")])
print(json.dumps(said))
runtime.checkout.close()
"""


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_processes_racing_on_the_same_vouchers_on_postgresql_redeem_each_once(
        town: Town, database_url: str) -> None:
    # given eight vouchers, their signed codes, and two processes at two shops of the merchant
    _, codes = town.buy(town.lotus, qty=8)
    signed = [town.signed(code) for code in codes]
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    start = f"{time.time() + 4.0}"  # both have imported everything by then
    racers = [subprocess.Popen([sys.executable, "-c", RACER, database_url, KEYS, town.clock.now().isoformat(),
                                str(town.lotus.id), str(shop), start, *(signed if n == 0 else signed[::-1])],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for n, shop in enumerate(town.lotus.shops)]
    said = []
    for racer in racers:
        out, err = racer.communicate(timeout=90)
        assert racer.returncode == 0, err.decode()[-2000:]
        said.extend(json.loads(out))
    # then each voucher was redeemed once; every other try was told when and where
    assert sum(1 for s in said if s[0] == "won") == 8
    refused = [s for s in said if s[0] != "won"]
    assert len(refused) == 8 and all(s[0] == "voucher-already-redeemed" and s[1] in town.lotus.shops and s[2]
                                     for s in refused)
    assert len(vouchers.redemptions_of(town.runtime.uow(), town.lotus.staff, merchant_id=town.lotus.id)) == 8


# --- undo, offline, refunds, validity --------------------------------------------------------------------

@only_sqlite
def test_a_redemption_undone_within_fifteen_minutes_frees_the_voucher_and_later_it_is_too_late(
        town: Town) -> None:
    _, (code,) = town.buy(town.lotus)
    wrong = town.redeem(town.lotus, code)
    town.clock.set(town.clock.now() + timedelta(minutes=14))
    vouchers.undo_redemption(town.runtime.uow(), town.lotus.staff, redemption_id=wrong.id)
    # a retry of the undo changes nothing
    vouchers.undo_redemption(town.runtime.uow(), town.lotus.staff, redemption_id=wrong.id)
    right = town.redeem(town.lotus, code, shop=1)
    with pytest.raises(NotFound):  # another merchant's staff cannot undo it
        vouchers.undo_redemption(town.runtime.uow(), town.peony.staff, redemption_id=right.id)
    town.clock.set(town.clock.now() + timedelta(minutes=16))
    with pytest.raises(UndoTooLate):
        vouchers.undo_redemption(town.runtime.uow(), town.lotus.staff, redemption_id=right.id)
    listed = vouchers.redemptions_of(town.runtime.uow(), town.lotus.staff, merchant_id=town.lotus.id)
    assert [(r.id, r.shop_id) for r in listed] == [(right.id, town.lotus.shops[1])]


def _item(code: str, ref: str, town: Town, minutes_ago: int = 30) -> OfflineItem:
    return OfflineItem(code, town.clock.now() - timedelta(minutes=minutes_ago), ref)


@only_sqlite
def test_an_offline_upload_redeems_what_it_may_reports_conflicts_and_changes_nothing_sent_again(
        town: Town) -> None:
    # given four vouchers: one redeemed online meanwhile, one scanned twice offline
    _, (online, twice, once, other_merchants) = town.buy(town.lotus, qty=4)
    town.redeem(town.lotus, online, shop=1)
    _, (peony_code,) = town.buy(town.peony)
    town.clock.set(town.clock.now() + timedelta(hours=1))  # the console was offline for the last half hour
    items = [_item(town.signed(online), "a", town), _item(town.signed(twice), "b", town),
             _item(town.signed(twice), "c", town, minutes_ago=20), _item(town.signed(once), "d", town),
             _item(once, "e", town), _item(town.signed(peony_code), "f", town),
             _item(town.signed(other_merchants), "g", town, minutes_ago=-60)]
    # when the shop's console uploads them
    report = vouchers.upload_offline(town.runtime.uow(), town.lotus.staff, shop_id=town.lotus.shops[0],
                                     items=items)
    # then each voucher is redeemed once at most, and the rest are conflicts with their reasons
    outcome = {i["client_ref"]: (i["outcome"], i.get("reason")) for i in report.items}
    assert outcome == {"a": ("conflict", "voucher-already-redeemed"), "b": ("redeemed", None),
                       "c": ("conflict", "voucher-already-redeemed"), "d": ("redeemed", None),
                       "e": ("conflict", "bad-voucher-code"), "f": ("conflict", "not-found"),
                       "g": ("conflict", "invalid-input")}
    assert report.items[0]["shop_name"] == "Lotus Xuhui" and (report.redeemed, report.conflicts) == (2, 5)
    # and sending the same batch again answers the same and redeems nothing more
    again = vouchers.upload_offline(town.runtime.uow(), town.lotus.staff, shop_id=town.lotus.shops[0],
                                    items=items)
    assert again.items == report.items
    assert len(vouchers.redemptions_of(town.runtime.uow(), town.lotus.staff, merchant_id=town.lotus.id)) == 3
    with pytest.raises(NotFound):  # another merchant's shop
        vouchers.upload_offline(town.runtime.uow(), town.peony.staff, shop_id=town.lotus.shops[0],
                                items=items)


@only_sqlite
def test_a_refund_voids_unredeemed_vouchers_and_refuses_the_redeemed_ones(town: Town) -> None:
    rt = town.runtime
    order_id, codes = town.buy(town.lotus, qty=3)
    town.redeem(town.lotus, codes[0])
    sku = town.lotus.item.sku_id
    orders.refund_order(rt.uow(), rt.provider, town.shopper, order_id=order_id, lines=[(sku, 2)],
                        back_on_shelf=True, refund_key="refund-two")
    views = vouchers.my_vouchers(rt.uow(), town.shopper, signer=rt.voucher_signer())
    status = {v.code: v.status for v in views}
    assert sorted(status.values()) == ["redeemed", "void", "void"]
    void = next(code for code, s in status.items() if s == "void")
    with pytest.raises(VoucherVoid):
        town.redeem(town.lotus, town.signed(void))
    with pytest.raises(VouchersRedeemed, match="only 0 of the 1"):
        orders.refund_order(rt.uow(), rt.provider, town.shopper, order_id=order_id, lines=[(sku, 1)],
                            back_on_shelf=True, refund_key="refund-last")
    assert orders.get_order(rt.uow(), town.shopper, order_id)["status"] == "partially_refunded"


@only_sqlite
def test_a_voucher_past_its_deals_days_is_expired_and_one_without_a_deal_lasts_a_year(town: Town) -> None:
    _, (code,) = town.buy(town.lotus)
    with town.runtime.uow() as uow:  # the Peony deal is withdrawn: its vouchers fall back to a year
        uow.conn.exec_driver_sql("DELETE FROM local_deals WHERE merchant_id = ?", (town.peony.id,))
        uow.commit()
    _, (yearly,) = town.buy(town.peony)
    town.clock.set(town.clock.now() + timedelta(days=31))
    with pytest.raises(VoucherExpired):
        town.redeem(town.lotus, code)
    views = {v.code: v for v in vouchers.my_vouchers(town.runtime.uow(), town.shopper,
                                                     signer=town.runtime.voucher_signer())}
    assert views[code].status == "expired" and views[yearly].status == "issued"
    assert views[yearly].valid_until - views[yearly].issued_at == timedelta(days=365)
    assert town.redeem(town.peony, yearly).voucher_code == yearly


# --- over HTTP: roles, the idempotent retry, verifying, the keys, guessing ---------------------------

def _staff_token(client: TestClient, town: Town, merchant: Merchant, email: str) -> dict[str, str]:
    accounts.create_account_unchecked(town.runtime.uow(), email=email, password="staff-secret-1",
                                      role=Role.MERCHANT, merchant_id=merchant.id)
    return bearer(token_for(client, email, "staff-secret-1"))


@only_sqlite
def test_over_http_only_the_merchants_staff_redeem_verify_and_see_and_a_retry_answers_the_first_result(
        town: Town) -> None:
    client = TestClient(create_app(runtime=town.runtime))
    lotus, peony = (_staff_token(client, town, town.lotus, "ann@lotus.test"),
                    _staff_token(client, town, town.peony, "bob@peony.test"))
    accounts.create_account_unchecked(town.runtime.uow(), email="cy@shoppers.test", password="shop-secret-1",
                                      role=Role.SHOPPER)
    shopper = bearer(token_for(client, "cy@shoppers.test", "shop-secret-1"))
    town.shopper = Actor(client.get("/api/v1/me", headers=shopper).json()["id"], Role.SHOPPER)
    _, (code,) = town.buy(town.lotus)
    mine = client.get("/api/v1/local/vouchers", headers=shopper).json()["vouchers"]
    signed = mine[0]["signed_code"]
    body = {"code": signed, "shop_id": town.lotus.shops[0]}
    # another merchant's staff, a shopper and a stranger cannot redeem, verify or list
    assert client.post("/api/v1/local/redemptions", json=body, headers=peony).status_code == 404
    assert client.post("/api/v1/local/redemptions", json={**body, "shop_id": town.peony.shops[0]},
                       headers=peony).status_code == 404
    verify = "/api/v1/local/vouchers/verify"
    assert client.post(verify, json={"code": signed}, headers=peony).status_code == 404
    assert client.post("/api/v1/local/redemptions", json=body, headers=shopper).status_code == 403
    assert client.post("/api/v1/local/redemptions", json=body).status_code == 401
    listed = client.get(f"/api/v1/local/redemptions?merchant_id={town.lotus.id}", headers=peony)
    assert listed.status_code == 403
    # the merchant's staff verify, then redeem; a retry with the key answers the first result
    checked = client.post("/api/v1/local/vouchers/verify", json={"code": signed}, headers=lotus).json()
    assert (checked["voucher_code"], checked["status"], checked["signed"]) == (code, "issued", True)
    key = {**lotus, "Idempotency-Key": "scan-1"}
    first = client.post("/api/v1/local/redemptions", json=body, headers=key)
    retry = client.post("/api/v1/local/redemptions", json=body, headers=key)
    assert first.status_code == retry.status_code == 201 and first.json() == retry.json()
    again = client.post("/api/v1/local/redemptions", json=body, headers=lotus)
    assert again.status_code == 409 and again.json()["type"].endswith("voucher-already-redeemed")
    assert again.json()["shop_name"] == "Lotus Jing'an" and again.json()["redeemed_at"]
    undo = f"/api/v1/local/redemptions/{first.json()['id']}/undo"
    assert client.post(undo, headers=peony).status_code == 404
    # a forged code, a huge one, a malformed body: problems, nothing redeemed
    forged = signed[:-4] + ("AAAA" if not signed.endswith("AAAA") else "BBBB")
    for wrong in ({"code": forged, "shop_id": town.lotus.shops[0]}, {"code": "x" * 5000, "shop_id": 1},
                  {"code": "", "shop_id": 1}, {"code": signed}):
        assert client.post("/api/v1/local/redemptions", json=wrong, headers=lotus).status_code == 422
    # the public keys verify a code offline
    keys = client.get("/api/v1/local/voucher-keys").json()["keys"]
    raw = base64.b32decode(signed[len(PREFIX):] + "=" * (-len(signed[len(PREFIX):]) % 8))
    public = base64.urlsafe_b64decode(keys[0]["public_key"] + "==")
    Ed25519PublicKey.from_public_bytes(public).verify(raw[-64:], PREFIX.encode() + raw[:-64])
    # and a counter guessing codes is slowed down (redeem.account=20/60 here)
    guesses = [{"code": f"guess{n:06d}xyz", "shop_id": town.lotus.shops[1]} for n in range(22)]
    said = [client.post("/api/v1/local/redemptions", json=g, headers=lotus).status_code for g in guesses]
    assert said[0] == 404 and said[-1] == 429


def test_bad_codes_are_refused_before_any_lookup() -> None:
    with pytest.raises(BadVoucherCode):
        vouchers.voucher_id_of("drop table;--", parse_keys(KEYS))


def test_the_benchmark_redeems_each_voucher_once_in_every_run(tmp_path: Path) -> None:
    figures = measure_redemptions(f"sqlite:///{tmp_path / 'bench.db'}", vouchers=4, workers=2)
    for run in ("baseline_one_counter", "counters_own_codes", "counters_racing_same_codes"):
        assert (figures[run]["redeemed"], figures[run]["redeemed_twice"]) == (4, 0), run
    assert figures["counters_racing_same_codes"]["attempts"] == 8
