"""A live event's pages in process: the room for anyone (signing in to chat and buy), the host's console
for its hosts and operators only, going live and ending from it (the room hears it on its socket), and
the replay's shoppable timestamps at their offsets; odd ids are 404 pages, never a 500."""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.catalog import service as catalog
from shopfest.core.actor import MACHINE, Actor, Role
from shopfest.core.clock import SetClock
from shopfest.demo import hot_item
from shopfest.live import service as live
from shopfest.live.model import LiveEvent
from shopfest.live.store import LiveStore
from shopfest.runtime import Runtime
from tests.integration.helpers import token_in
from tests.integration.live_helpers import Viewer, an_event, served

# The room's rules do not depend on the database: checkout and coupons are raced on PostgreSQL elsewhere.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class Show:
    client: TestClient
    event: LiveEvent
    product_id: int
    sku_id: int


def signed_in(client: TestClient, runtime: Runtime, email: str, *, role: Role = Role.SHOPPER,
              merchant_id: int | None = None) -> TestClient:
    """A browser of its own (cookies), signed in through the sign-in form."""
    accounts.create_account_unchecked(runtime.uow(), email=email, password="live-secret-1", role=role,
                                      merchant_id=merchant_id)
    tab = TestClient(client.app)
    answer = tab.post("/login", data={"email": email, "password": "live-secret-1",
                                      "csrf_token": token_in(tab.get("/login").text)}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return tab


@pytest.fixture
def show(runtime: Runtime) -> Show:
    """An event starting now that features the demo's phone, hosted by its merchant's staff."""
    client = TestClient(create_app(runtime=runtime))
    phone = hot_item(runtime, stock=20, price="3999.00")
    product_id = _product_of(runtime, phone.sku_id)
    host = accounts.create_account_unchecked(runtime.uow(), email="host@brand.test", password="live-secret-1",
                                             role=Role.MERCHANT, merchant_id=phone.merchant_id)
    event = an_event(runtime, host_ids=(host.id or 0,), product_ids=(product_id,))
    return Show(client, event, product_id, phone.sku_id)


def _product_of(runtime: Runtime, sku_id: int) -> int:
    with runtime.uow(read_only=True) as uow:
        return catalog.skus_for_sale(uow, [sku_id])[sku_id].product_id


def test_the_room_shows_the_event_to_anyone_and_asks_anonymous_viewers_to_sign_in(
        show: Show, runtime: Runtime) -> None:
    page = show.client.get(f"/live/{show.event.id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Global Brands Night" in text and "Coming up" in text and "Showcase" in text
    assert f'href="/login?next=%2Flive%2F{show.event.id}"' in page.text and "Sign in to chat and buy" in text
    assert 'poster="/static/live/poster.jpg"' in page.text and "/static/live/demo-stream.webm" in page.text
    assert 'id="live-words"' in page.text and "problem.coupons-gone" in page.text
    assert "data-chat-form" not in page.text
    shopper = signed_in(show.client, runtime, "viewer@shoppers.test")
    mine = shopper.get(f"/live/{show.event.id}").text
    assert "data-chat-form" in mine and "/login?next=%2Flive" not in mine and 'data-shops="yes"' in mine
    assert "/console" not in mine  # the console's link is for its hosts
    assert shopper.get(f"/live/{show.event.id}", params={"lang": "zh"}).text.count("即将开播") >= 1
    policy = page.headers["content-security-policy"]
    assert "connect-src 'self'" in policy and "media-src 'self' blob:" in policy  # its socket; hls.js
    assert show.client.get("/static/live.js").status_code == 200
    assert show.client.get("/static/hls/hls.min.js").status_code == 200  # served here, from npm's copy
    streamed = live.schedule_event(runtime.uow(), MACHINE, replace(
        show.event, id=None, playback_url="https://media.example/live/night.m3u8?token=a&b=1"))
    hls_page = show.client.get(f"/live/{streamed.id}").text
    assert 'data-hls-src="https://media.example/live/night.m3u8?token=a&amp;b=1"' in hls_page
    assert 'data-hls-script="/static/hls/hls.min.js"' in hls_page and "<source" not in hls_page


def test_odd_ids_are_404_pages(show: Show) -> None:
    for path in ("/live/{}", "/live/{}/console", "/live/{}/replay"):
        for odd in ("abc", "0", "-1", str((show.event.id or 0) + 999), "9" * 30, "1e3"):
            answer = show.client.get(path.format(odd), headers={"Accept": "text/html"})
            assert answer.status_code == 404, (path, odd, answer.status_code)
            assert "<html" in answer.text


def test_the_console_is_for_the_events_hosts_and_operators_and_goes_live_and_ends(
        show: Show, runtime: Runtime) -> None:
    console = f"/live/{show.event.id}/console"
    anonymous = show.client.get(console, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    assert signed_in(show.client, runtime, "nosy@shoppers.test").get(console).status_code == 403
    stranger = signed_in(show.client, runtime, "other@brand.test", role=Role.MERCHANT, merchant_id=1)
    assert stranger.get(console).status_code == 403
    assert stranger.post(f"{console}/go-live", data={"csrf_token": token_in(stranger.get("/").text)}
                         ).status_code == 403
    operator = signed_in(show.client, runtime, "ops@live.test", role=Role.OPERATOR)
    assert operator.get(console).status_code == 200
    host = TestClient(show.client.app)
    host.post("/login", data={"email": "host@brand.test", "password": "live-secret-1",
                              "csrf_token": token_in(host.get("/login").text)})
    page = host.get(console)
    assert page.status_code == 200
    assert f'data-pin="{show.product_id}"' in page.text and f'<option value="{show.sku_id}"' in page.text
    assert "Go live" in page.text and 'data-command="drop_coupon"' in page.text
    hosts_room = host.get(f"/live/{show.event.id}").text
    assert "/console" in hosts_room and 'data-shops="no"' in hosts_room  # staff chat, not buy
    with served(show.client.app) as address:
        watching = Viewer(address, show.event.id or 0)
        went = host.post(f"{console}/go-live", data={"csrf_token": token_in(page.text)},
                         follow_redirects=False)
        assert went.status_code == 303 and went.headers["location"] == console
        assert watching.wait_for("status")["status"] == "live"
        live_page = host.get(console).text
        assert "End the event" in live_page
        ended = host.post(f"{console}/end", data={"csrf_token": token_in(live_page)}, follow_redirects=False)
        assert ended.status_code == 303
        assert watching.wait_for("status")["status"] == "ended"
        watching.close()
    again = host.post(f"{console}/end", data={"csrf_token": token_in(live_page)})
    assert again.status_code == 409 and "<html" in again.text  # ended already: a page says so
    assert live.get_event(runtime.uow(), show.event.id or 0).status.value == "ended"
    after = host.get(console).text
    assert 'data-command="drop_coupon"' not in after and "/go-live" not in after and "/replay" in after


def test_the_replay_opens_after_the_end_with_each_pinned_product_at_its_moment(
        show: Show, runtime: Runtime, clock: SetClock) -> None:
    event_id = show.event.id or 0
    before = show.client.get(f"/live/{event_id}/replay")
    assert before.status_code == 200 and "The replay opens when the event ends." in before.text
    assert f'href="/live/{event_id}"' in before.text
    operator = _operator(runtime)
    on_air = live.go_live(runtime.uow(), operator, event_id)
    started = on_air.went_live_at
    assert started is not None
    with runtime.uow() as uow:
        store = LiveStore(uow.conn)
        live.record(store, on_air, "pin", {"product_id": show.product_id}, at=started + timedelta(minutes=12,
                                                                                                 seconds=34))
        live.record(store, on_air, "coupon_dropped", {"coupon_id": 1}, at=started + timedelta(minutes=13))
        store.add_message(event_id=event_id, author_id=7, author_name="Lin", text="我要这个 phone!",
                          at=started + timedelta(minutes=12, seconds=40), offset_ms=760_000)
        store.add_message(event_id=event_id, author_id=8, author_name="Spam", text="hidden one",
                          at=started + timedelta(minutes=12, seconds=41), offset_ms=761_000)
        store.hide_message(event_id, store.messages(event_id)[-1].id)
        uow.commit()
    clock.set(clock.now() + timedelta(minutes=20))
    live.end_event(runtime.uow(), operator, event_id)
    page = show.client.get(f"/live/{event_id}/replay")
    text = html.unescape(page.text)
    assert page.status_code == 200
    assert 'data-seek="754000"' in page.text and "12:34" in text
    assert "Midnight X1 phone" in text and "Price now" in text and "3,999.00" in text
    assert f'name="sku_id" value="{show.sku_id}"' in page.text and 'action="/cart/add"' in page.text
    assert 'data-at="760000"' in page.text and "我要这个 phone!" in text and "hidden one" not in text
    assert "Live coupon dropped" in text and 'data-seek="780000"' in page.text
    replay = live.replay_of(runtime.uow(), event_id)
    assert [p.offset_ms for p in replay.pins] == [754_000] and len(replay.messages) == 1


def _operator(runtime: Runtime) -> Actor:
    return accounts.create_account_unchecked(runtime.uow(), email="ops@replay.test", password="live-secret-1",
                                             role=Role.OPERATOR).as_actor()
