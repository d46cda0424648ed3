"""The live schedule: events planned by operators and checked, shown in each viewer's time zone (asked
for, the browser's, the account's), in calendars, and the reminders that go out once when an event
begins, through the API and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from shopfest import demo
from shopfest.accounts import service as accounts
from shopfest.accounts.model import Profile
from shopfest.app import create_app
from shopfest.core.actor import MACHINE, Role
from shopfest.core.clock import SetClock, parse_instant
from shopfest.deps import SESSION_COOKIE
from shopfest.live import service as live
from shopfest.live.model import EventStatus, SegmentKind
from shopfest.runtime import Runtime
from tests.integration.helpers import (
    bearer,
    category,
    create,
    merchant_with_staff,
    operator_token,
    product_body,
    token_for,
    token_in,
)

# The room's rules do not depend on the database: checkout and coupons are raced on PostgreSQL elsewhere.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

NOV_10 = "2027-11-10T15:00:00Z"
NOON = parse_instant("2027-11-10T12:00:00Z")  # three hours before the English stream


@dataclass
class Scene:
    client: TestClient
    runtime: Runtime
    clock: SetClock
    ops: str
    orchid: int  # a brand, sold by the host's store
    birch: int  # another brand, of another store
    host: int  # Orchid's staff: user id and token
    host_token: str
    outsider: int  # Birch's staff
    scarf: int  # an Orchid product
    tote: int  # a Birch product

    def shopper(self, name: str, country: str) -> tuple[int, str]:
        """A new shopper of `country`, with a bearer token."""
        user = accounts.create_account_unchecked(self.runtime.uow(), email=f"{name}@shoppers.test",
                                                 password="shop-secret-1", role=Role.SHOPPER,
                                                 profile=Profile(country=country))
        return user.id or 0, token_for(self.client, f"{name}@shoppers.test", "shop-secret-1")

    def tab(self, name: str) -> TestClient:
        """A browser signed in to the pages as the shopper `name`."""
        tab = TestClient(self.client.app)
        form = {"email": f"{name}@shoppers.test", "password": "shop-secret-1",
                "csrf_token": token_in(tab.get("/login").text)}
        done = tab.post("/login", data=form, follow_redirects=False)
        assert done.status_code == 303 and tab.cookies.get(SESSION_COOKIE)
        return tab

    def event_body(self, **changes: Any) -> dict[str, Any]:
        return {"title": "Global Brands Night", "language": "en", "starts_at": NOV_10,
                "ends_at": "2027-11-10T16:30:00Z", "brand_ids": [self.orchid], "host_ids": [self.host],
                "poster_url": "/static/live/poster.svg", "playback_url": None,
                "segments": [{"kind": "executive", "title": "A word from the chief", "starts_at": NOV_10,
                              "product_ids": []},
                             {"kind": "brand_interview", "title": "The Orchid story",
                              "starts_at": "2027-11-10T15:30:00Z", "product_ids": [self.scarf]}],
                **changes}

    def plan(self, **changes: Any) -> dict[str, Any]:
        return create(self.client, "/api/v1/live/events", self.ops, self.event_body(**changes))

    def mails_to(self, name: str) -> list[dict[str, Any]]:
        return accounts.mail_outbox(self.runtime.uow(read_only=True), MACHINE, to=f"{name}@shoppers.test")


def _me(client: TestClient, token: str) -> int:
    return int(client.get("/api/v1/me", headers=bearer(token)).json()["id"])


@pytest.fixture
def scene(runtime: Runtime, clock: SetClock) -> Scene:
    clock.set(NOON)
    client = TestClient(create_app(runtime=runtime))  # no lifespan: no sweeper but the test's calls
    ops = operator_token(client, runtime)
    category(client, ops, "apparel")
    orchid = create(client, "/api/v1/brands", ops, {"name": "Orchid", "tier": "regular"})["id"]
    birch = create(client, "/api/v1/brands", ops, {"name": "Birch", "tier": "regular"})["id"]
    _, host = merchant_with_staff(client, ops, name="Orchid Store", brand_ids=[orchid],
                                  email="host@orchid.test")
    _, outsider = merchant_with_staff(client, ops, name="Birch Store", brand_ids=[birch],
                                      email="host@birch.test")
    scarf = create(client, "/api/v1/products", host, product_body(orchid))["id"]
    tote = create(client, "/api/v1/products", outsider, product_body(birch, title="Birch Tote"))["id"]
    return Scene(client, runtime, clock, ops, orchid, birch, _me(client, host), host, _me(client, outsider),
                 scarf, tote)


def _listed(scene: Scene, headers: dict[str, str] | None = None, **params: str) -> dict[str, Any]:
    found = scene.client.get("/api/v1/live/events", params=params, headers=headers or {})
    assert found.status_code == 200, found.text
    return found.json()  # type: ignore[no-any-return]  # the JSON of a page


def test_the_schedule_reads_in_the_viewers_zone_in_the_api_the_page_and_the_calendar(scene: Scene) -> None:
    event = scene.plan()
    _, gb = scene.shopper("amelia", "GB")
    _, us = scene.shopper("jack", "US")
    for params, headers, zone, starts, interview in (
            ({"tz": "Asia/Shanghai"}, None, "Asia/Shanghai", "2027-11-10T23:00:00+08:00", "23:30:00+08:00"),
            ({"tz": "America/New_York"}, None, "America/New_York", "2027-11-10T10:00:00-05:00", "10:30"),
            ({}, bearer(gb), "Europe/London", "2027-11-10T15:00:00+00:00", "15:30:00+00:00"),
            ({}, bearer(us), "America/New_York", "2027-11-10T10:00:00-05:00", "10:30:00-05:00"),
            ({}, None, "UTC", "2027-11-10T15:00:00+00:00", "15:30")):
        page = _listed(scene, headers, **params)
        (shown,) = page["data"]
        assert page["zone"] == shown["local"]["zone"] == zone
        assert shown["starts_at"] == "2027-11-10T15:00:00Z" and shown["local"]["starts_at"] == starts
        assert interview in shown["segments"][1]["local"]["starts_at"]
    refused = scene.client.get("/api/v1/live/events", params={"tz": "Mars/Olympus_Mons"})
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"

    shanghai = scene.client.get("/live", params={"tz": "Asia/Shanghai"}).text
    assert "23:00 – 00:30" in shanghai and "Times in Asia/Shanghai" in shanghai
    assert "Brand interview" in shanghai and "The Orchid story" in shanghai and "Orchid" in shanghai
    assert f'href="/live/{event["id"]}"' in shanghai
    assert f'href="/api/v1/live/events/{event["id"]}/calendar.ics"' in shanghai
    browser = TestClient(scene.client.app, cookies={"shopfest_tz": "America/New_York"})
    assert "10:00 – 11:30" in browser.get("/live").text
    london = scene.tab("amelia").get("/live").text
    assert "15:00 – 16:30" in london and "Times in Europe/London" in london
    assert scene.client.get("/live", params={"tz": "Nowhere/Land"}).status_code == 422
    chinese = scene.client.get("/live", params={"tz": "Asia/Shanghai", "lang": "zh"}).text
    assert "直播日程" in chinese and "品牌访谈" in chinese and "登录后可设置开播提醒" in chinese

    ics = scene.client.get(f"/api/v1/live/events/{event['id']}/calendar.ics")
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    (entry,) = Calendar.from_ical(ics.content).walk("VEVENT")
    assert entry["UID"] == f"live-{event['id']}@shopfest"
    assert entry.decoded("DTSTART") == datetime(2027, 11, 10, 15, tzinfo=UTC)
    assert entry.decoded("DTEND") == datetime(2027, 11, 10, 16, 30, tzinfo=UTC)
    assert str(entry["URL"]).endswith(f"/live/{event['id']}")
    assert "The Orchid story" in str(entry["DESCRIPTION"])


def test_only_operators_schedule_and_what_they_schedule_is_checked(scene: Scene) -> None:
    _, shopper = scene.shopper("mei", "CN")
    path = "/api/v1/live/events"
    assert scene.client.post(path, json=scene.event_body()).status_code == 401
    for method, where in (("POST", path), ("PATCH", f"{path}/1"), ("POST", f"{path}/1/reminder")):
        stranger = scene.client.request(method, where, content=b"{not json",
                                        headers={"content-type": "application/json"})
        assert stranger.status_code == 401, (method, where)  # who asks comes before what they ask
    assert scene.client.post(path, json=scene.event_body(), headers=bearer(shopper)).status_code == 403
    host = bearer(scene.host_token)
    assert scene.client.post(path, json=scene.event_body(), headers=host).status_code == 403
    segment = scene.event_body()["segments"][1]
    for bad in ({"host_ids": [scene.outsider]},  # staff of a store that sells none of its brands
                {"host_ids": [_me(scene.client, shopper)]},
                {"brand_ids": [scene.orchid, 999]},
                {"segments": [{**segment, "product_ids": [scene.tote]}]},  # another brand's product
                {"segments": [{**segment, "product_ids": [999]}]},
                {"segments": [{**segment, "starts_at": "2027-11-10T17:00:00Z"}]},  # after the end
                {"segments": [{**segment, "kind": "karaoke"}]},
                {"poster_url": "javascript:alert(1)"}, {"playback_url": "/static/../secrets"},
                {"ends_at": "2027-11-10T14:00:00Z"}, {"language": "fr"}):
        refused = scene.client.post(path, json=scene.event_body(**bad), headers=bearer(scene.ops))
        assert refused.status_code == 422, (bad, refused.text)
    assert _listed(scene)["data"] == []  # nothing was scheduled by any of them

    event = scene.plan(host_ids=[scene.host, _me(scene.client, scene.ops)])
    changed = scene.client.patch(f"{path}/{event['id']}", json={"title": "Orchid Night", "poster_url": None},
                                 headers=bearer(scene.ops))
    assert changed.status_code == 200 and changed.json()["title"] == "Orchid Night"
    assert changed.json()["poster_url"] is None and changed.json()["segments"] == event["segments"]
    assert scene.client.patch(f"{path}/{event['id']}", json={"host_ids": [scene.outsider]},
                              headers=bearer(scene.ops)).status_code == 422
    assert scene.client.patch(f"{path}/{event['id']}", json={"title": "x"},
                              headers=bearer(shopper)).status_code == 403
    for missing in (scene.client.get(f"{path}/99999"), scene.client.get(f"{path}/99999/calendar.ics"),
                    scene.client.patch(f"{path}/99999", json={"title": "x"}, headers=bearer(scene.ops)),
                    scene.client.post(f"{path}/99999/reminder", headers=bearer(shopper))):
        assert missing.status_code == 404
    assert scene.client.post(f"{path}/{event['id']}/start", headers=host).status_code == 200
    assert scene.client.patch(f"{path}/{event['id']}", json={"title": "Too late"},
                              headers=bearer(scene.ops)).status_code == 409


def test_the_control_room_schedules_through_its_form_and_the_schedule_pages(scene: Scene) -> None:
    accounts.create_account_unchecked(scene.runtime.uow(), email="ops-page@festival.test",
                                      password="ops-secret-1", role=Role.OPERATOR)
    ops = TestClient(scene.client.app)
    ops.post("/login", data={"email": "ops-page@festival.test", "password": "ops-secret-1",
                             "csrf_token": token_in(ops.get("/login").text)})
    form = {"title": "Orchid Morning", "language": "en", "starts_at": "2027-11-11T01:00:00Z",
            "ends_at": "2027-11-11T02:00:00Z", "brand_ids": str(scene.orchid),
            "host_ids": str(scene.outsider),
            "segments": f"showcase | 2027-11-11T01:10:00Z | Best buys | {scene.scarf}",
            "csrf_token": token_in(ops.get("/control/live").text)}
    refused = ops.post("/control/live", data=form)
    assert refused.status_code == 422 and "works for no merchant" in refused.text
    assert ops.post("/control/live", data={**form, "segments": "karaoke | soon"}).status_code == 422
    done = ops.post("/control/live", data={**form, "host_ids": str(scene.host)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/control/live?scheduled=1"
    listed = ops.get("/control/live").text
    assert "Orchid Morning" in listed and 'href="/control/live" aria-current="page"' in listed
    assert '<a href="/live">Live</a>' in listed
    assert scene.client.get("/control/live", follow_redirects=False).status_code == 303  # sign in first
    scene.shopper("mei", "CN")
    assert scene.tab("mei").get("/control/live").status_code == 403

    scene.plan(starts_at="2027-11-12T15:00:00Z", ends_at="2027-11-12T16:00:00Z", segments=[])
    first = _listed(scene, limit="1", **{"from": "2027-11-11T00:00:00Z", "to": "2027-11-13T00:00:00+08:00"})
    assert [e["title"] for e in first["data"]] == ["Orchid Morning"] and first["next_cursor"]
    second = _listed(scene, limit="1", cursor=first["next_cursor"],
                     **{"from": "2027-11-11T00:00:00Z", "to": "2027-11-13T00:00:00+08:00"})
    assert [e["title"] for e in second["data"]] == ["Global Brands Night"] and second["next_cursor"] is None
    assert _listed(scene, status="live")["data"] == []
    assert scene.client.get("/api/v1/live/events", params={"status": "paused"}).status_code == 422
    assert scene.client.get("/api/v1/live/events", params={"cursor": "bogus"}).status_code == 422


def test_reminders_go_out_once_when_the_host_goes_live_or_the_start_passes(scene: Scene) -> None:
    hosted = scene.plan()["id"]
    later = scene.plan(title="Orchid After Dark", starts_at="2027-11-10T18:00:00Z",
                       ends_at="2027-11-10T19:00:00Z", segments=[])["id"]
    _, mei = scene.shopper("mei", "CN")
    _, lin = scene.shopper("lin", "CN")
    reminder = f"/api/v1/live/events/{hosted}/reminder"
    for _ in range(2):  # asking twice is asking once
        asked = scene.client.post(reminder, headers=bearer(mei))
        assert asked.status_code == 200 and asked.json() == {"event_id": hosted, "reminded": True}
    assert scene.client.delete(reminder, headers=bearer(lin)).status_code == 204  # never asked: fine
    assert scene.client.post(reminder, headers=bearer(scene.host_token)).status_code == 403
    assert scene.client.post(reminder).status_code == 401
    # On the page: Lin asks with the form, and the page says the reminder is set.
    tab = scene.tab("lin")
    page = tab.get("/live")
    asked = tab.post(f"/live/{hosted}/remind", data={"csrf_token": token_in(page.text)})
    assert asked.status_code == 200 and "Reminder set" in asked.text
    assert live.remind_due(scene.runtime.uow) == 0 and scene.mails_to("mei") == []  # not yet begun

    assert scene.client.post(f"/api/v1/live/events/{hosted}/start",
                             headers=bearer(scene.host_token)).status_code == 200
    for name in ("mei", "lin"):
        (mail,) = scene.mails_to(name)
        assert "Global Brands Night" in mail["subject"] and f"/live/{hosted}" in mail["body"]
    assert scene.client.post(reminder, headers=bearer(lin)).status_code == 200  # asked before: the same
    _, kai = scene.shopper("kai", "CN")
    assert scene.client.post(reminder, headers=bearer(kai)).status_code == 409  # live: nothing to remind of

    scene.client.post(f"/api/v1/live/events/{later}/reminder", headers=bearer(mei))
    scene.clock.set(parse_instant("2027-11-10T18:00:05Z"))  # the start passes, and nobody went live
    assert live.remind_due(scene.runtime.uow) == 1
    assert live.remind_due(scene.runtime.uow) == 0
    subjects = sorted(m["subject"] for m in scene.mails_to("mei"))
    assert subjects == ["Live now: Global Brands Night", "Live now: Orchid After Dark"]
    assert len(scene.mails_to("lin")) == 1
    assert live.get_event(scene.runtime.uow(), later).status is EventStatus.SCHEDULED  # reminded, not started
    scene.clock.set(parse_instant("2027-11-10T19:00:00Z"))  # over, though nobody went live
    assert scene.client.post(f"/api/v1/live/events/{later}/reminder", headers=bearer(kai)).status_code == 409
    assert live.remind_due(scene.runtime.uow) == 0


def test_the_demo_seeds_the_english_streams_and_the_stores_chinese_streams(runtime: Runtime,
                                                                          clock: SetClock) -> None:
    clock.set(parse_instant("2027-11-10T23:59:50+08:00"))
    demo.seed(runtime, brands=30, products=200)
    staff = accounts.create_account_unchecked(runtime.uow(), email="merchant@shopfest.demo",
                                              password="festival-merchant", role=Role.MERCHANT, merchant_id=1)
    demo.seed_live(runtime, host_ids=(staff.id or 0,))
    events = live.schedule_page(runtime.uow(read_only=True), start=parse_instant("2027-10-01T00:00:00Z"),
                                end=parse_instant("2027-12-01T00:00:00Z"), limit=100)
    english = [e for e in events if e.language == "en"]
    assert [e.starts_at for e in english] == [parse_instant("2027-11-10T15:00:00Z"),
                                              parse_instant("2027-11-11T15:00:00Z")]
    for event in english:
        assert (event.ends_at - event.starts_at).total_seconds() == 90 * 60
        assert {s.kind for s in event.segments} == set(SegmentKind) and event.product_ids
        assert event.host_ids == (staff.id,) and event.poster_url == demo.LIVE_POSTER
        assert event.playback_url == "/static/live/demo-stream.webm"
    chinese = [e for e in events if e.language == "zh"]
    assert [e.starts_at.day for e in chinese] == [1, 2, 3, 11] and all("直播" in e.title for e in chinese)
    page = TestClient(create_app(runtime=runtime)).get("/live", params={"tz": "Europe/London"}).text
    assert "15:00 – 16:30" in page and "Behind the scenes" in page
