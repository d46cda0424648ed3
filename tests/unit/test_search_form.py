"""The storefront search's pages there and back: the cursors of the pages before ride in the address."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import QueryParams

from shopfest.web.search_form import BACK_PAGES, FIRST_PAGE, SearchForm


def form_at(url: str) -> SearchForm:
    return SearchForm.of(QueryParams(urlsplit(url).query))


def test_next_then_previous_comes_back_to_the_same_page() -> None:
    first = form_at("/search?q=tea&sort=price_up")
    second = form_at(first.next_url("c1"))
    third = form_at(second.next_url("c2"))
    assert (second.cursor, second.back) == ("c1", FIRST_PAGE)
    assert (third.cursor, third.back) == ("c2", f"{FIRST_PAGE},c1")
    assert third.previous_url() == "/search?" + "q=tea&sort=price_up&cursor=c1&back=_"
    assert second.previous_url() == "/search?q=tea&sort=price_up"
    assert first.previous_url() is None


def test_the_pages_before_are_kept_to_a_bound() -> None:
    form = form_at("/search?q=tea")
    for n in range(BACK_PAGES + 5):
        form = form_at(form.next_url(f"c{n}"))
    stack = parse_qs(urlsplit(form.url()).query)["back"][0].split(",")
    assert len(stack) == BACK_PAGES and stack[-1] == f"c{BACK_PAGES + 3}"


def test_a_tampered_back_list_is_forgotten_and_leads_to_the_first_page() -> None:
    form = form_at("/search?q=tea&cursor=c5&back=<script>,c4")
    assert form.pages_before == []
    assert form.previous_url() == "/search?q=tea"
