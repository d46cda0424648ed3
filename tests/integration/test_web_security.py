"""What a browser is told and refused: security headers on every answer, no inline script, forms that
only this site can post, the API's writes not signed in by the pages' cookie, docs served offline."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.core.actor import Role
from shopfest.demo import HotItem, hot_item
from shopfest.deps import SESSION_COOKIE
from shopfest.runtime import Runtime
from shopfest.web.csrf import CSRF_COOKIE
from tests.integration.helpers import bearer, form_token, token_for
from tests.integration.test_orders_api import stock

MEI = ("mei@shoppers.test", "mei-shops-at-midnight")
PHONE_PRODUCT = 1  # the hot item is the only product of a fresh database


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


@pytest.fixture
def phone(runtime: Runtime) -> HotItem:
    item = hot_item(runtime, stock=5)
    accounts.create_account_unchecked(runtime.uow(), email=MEI[0], password=MEI[1], role=Role.SHOPPER)
    return item


def _policy(answer: Any) -> dict[str, str]:
    """The Content-Security-Policy's directives, by name."""
    header = answer.headers.get("content-security-policy", "")
    return {d.split()[0]: d for d in (part.strip() for part in header.split(";")) if d}


PATHS = ["/", "/search?q=midnight", "/products/{product}", "/cart", "/login", "/products/404404",
         "/healthz", "/openapi.json", "/api/v1/me", "/api/v1/products/404404", "/static/site.css",
         "/static/countdown.js", "/docs", "/redoc", "/problems/sold-out"]


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_carries_the_security_headers(client: TestClient, phone: HotItem, path: str) -> None:
    answer = client.get(path.format(product=PHONE_PRODUCT), headers={"accept": "text/html"})
    policy = _policy(answer)
    assert policy.get("frame-ancestors") == "frame-ancestors 'none'", answer.headers
    assert policy.get("script-src") == "script-src 'self'"  # no inline script, no other origin
    assert policy.get("object-src") == "object-src 'none'"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert answer.headers["x-frame-options"] == "DENY"


class _Inline(HTMLParser):
    """Collects what a strict Content-Security-Policy would block: inline scripts, event handlers,
    style attributes and elements; and every script and stylesheet the page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []
        self.loads: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.blocked += [f"{tag} {name}=" for name, _ in attrs if name.startswith("on") or name == "style"]
        if tag == "style":
            self.blocked.append("<style>")
        if tag == "script":
            if named.get("src"):
                self.loads.append(named["src"] or "")
            else:
                self.blocked.append("<script> without src")
        if tag == "link" and named.get("rel") == "stylesheet":
            self.loads.append(named.get("href") or "")


def _read(html: str) -> _Inline:
    found = _Inline()
    found.feed(html)
    return found


@pytest.mark.parametrize("path", ["/", "/search?q=midnight", "/products/{product}", "/cart", "/login",
                                  "/products/404404", "/docs", "/redoc"])
def test_pages_hold_no_inline_script_style_or_event_handler(client: TestClient, phone: HotItem,
                                                           path: str) -> None:
    client.post("/cart/add", data={"sku_id": phone.sku_id, "csrf_token": form_token(client)})
    answer = client.get(path.format(product=PHONE_PRODUCT), headers={"accept": "text/html"})
    assert answer.headers["content-type"].startswith("text/html")
    assert _read(answer.text).blocked == []


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_docs_load_only_this_sites_scripts_and_they_answer(client: TestClient, path: str) -> None:
    page = client.get(path)
    loads = _read(page.text).loads
    assert any(src.endswith(".js") for src in loads), page.text
    for src in loads:
        assert src.startswith("/") and not src.startswith("//"), src  # same origin: nothing from a CDN
        assert client.get(src).status_code == 200, src


def test_the_search_shows_a_card_whose_tile_needs_no_inline_style(client: TestClient, phone: HotItem) -> None:
    page = client.get("/search?q=midnight").text
    assert re.search(r'class="tile hue-\d+"', page), page


# --- forms ----------------------------------------------------------------------------------------

def test_signing_in_through_the_page_carries_the_form_token(client: TestClient, phone: HotItem) -> None:
    token = form_token(client)
    answer = client.post("/login", data={"email": MEI[0], "password": MEI[1], "csrf_token": token},
                         headers={"origin": "http://testserver", "sec-fetch-site": "same-origin"},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.cookies.get(SESSION_COOKIE)
    # the token is a new one once signed in, so one planted before is worth nothing after
    assert answer.cookies.get(CSRF_COOKIE) not in (None, token)


@pytest.mark.parametrize("path, form", [
    ("/login", {"email": MEI[0], "password": MEI[1]}),
    ("/cart/add", {"sku_id": "{sku}", "qty": "1"}),
    ("/cart/remove", {"sku_id": "{sku}"}),
    ("/cart/checkout", {}),
    ("/logout", {}),
])
def test_a_form_post_without_the_token_is_refused_and_changes_nothing(
        client: TestClient, phone: HotItem, path: str, form: dict[str, str]) -> None:
    client.get("/login")  # the browser holds a token cookie, the forged form does not carry it
    data = {k: v.format(sku=phone.sku_id) for k, v in form.items()}
    answer = client.post(path, data=data, headers={"accept": "text/html"}, follow_redirects=False)
    assert answer.status_code == 403, answer.text
    assert "text/html" in answer.headers["content-type"]
    assert SESSION_COOKIE not in answer.cookies and "shopfest_cart" not in answer.cookies


@pytest.mark.parametrize("headers", [
    {"origin": "https://prizes.example"},
    {"origin": "null"},
    {"sec-fetch-site": "cross-site", "origin": "https://prizes.example"},
    {"sec-fetch-site": "same-site"},
])
def test_a_form_post_from_another_site_is_refused_even_with_the_token(
        client: TestClient, phone: HotItem, headers: dict[str, str]) -> None:
    token = form_token(client)
    answer = client.post("/login", data={"email": MEI[0], "password": MEI[1], "csrf_token": token},
                         headers=headers, follow_redirects=False)
    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.cookies


def test_a_shopper_adds_to_the_cart_with_theform_token(client: TestClient, phone: HotItem) -> None:
    token = form_token(client, f"/products/{PHONE_PRODUCT}")
    added = client.post("/cart/add", data={"sku_id": phone.sku_id, "qty": 2, "csrf_token": token},
                        follow_redirects=False)
    assert added.status_code == 303
    assert client.cookies.get("shopfest_cart")


# --- the API ----------------------------------------------------------------------------------------

def test_the_pages_session_cookie_alone_signs_in_api_reads_but_no_write(
        client: TestClient, runtime: Runtime, phone: HotItem) -> None:
    # given a shopper signed in on the pages: the browser holds the session cookie
    client.post("/login", data={"email": MEI[0], "password": MEI[1], "csrf_token": form_token(client)})
    assert client.cookies.get(SESSION_COOKIE)
    assert client.get("/api/v1/me").json()["email"] == MEI[0]
    # when a request with only that cookie (as another site's script would send) writes to the API
    order = {"lines": [{"sku_id": phone.sku_id, "qty": 1}]}
    forged = client.post("/api/v1/orders", json=order)
    # then it is anonymous: refused, and nothing is reserved
    assert forged.status_code == 401, forged.text
    assert stock(runtime, phone.sku_id) == (5, 0, 0)
    # while the same order with the shopper's bearer token goes through
    token = token_for(client, *MEI)
    assert client.post("/api/v1/orders", json=order, headers=bearer(token)).status_code == 201
