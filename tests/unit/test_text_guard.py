from __future__ import annotations

import json

import pytest

from shopfest.text_guard import carries_files, unstorable_in

JSON = b"application/json"
FORM = b"application/x-www-form-urlencoded"


def _body(text: str, content_type: bytes = JSON) -> str | None:
    return unstorable_in(path="/api/v1/brands", query=b"", body=text.encode(), content_type=content_type)


@pytest.mark.parametrize("text", [
    r'{"name": "a\u0000b"}', r'{"name": "a\\\u0000"}', r'["\ud83d"]', r'["\ude00"]', r'["\ud83dx"]',
    r'["\ud83d\ud83d\ude00"]', r'["\\ud83d\ude00"]', r'["\uD800"]', '{"name": "a\x00b"}',
])
def test_json_holding_nul_or_a_lone_surrogate_is_refused(text: str) -> None:
    assert _body(text) == "the body"


@pytest.mark.parametrize("text", [
    r'{"name": "a\\u0000b"}', r'["\ud83d\ude00"]', r'["\u00e9\ud83d\ude00\u0041"]', r'["%00"]',
    '{"name": "\u6d41\u660e"}', "",
])
def test_json_without_them_passes(text: str) -> None:
    assert _body(text) is None


def test_the_json_rule_agrees_with_the_json_parser() -> None:
    for text in (r'"\u0000"', r'"\\u0000"', r'"\\\u0000"', r'"\ud800\udc00"', r'"\\\ud800\udc00"',
                 r'"\\\\ud800"', r'"\udc00\ud800"'):
        parsed = json.loads(text)
        unstorable = any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in parsed)
        assert (_body(text) is not None) is unstorable, text


def test_nul_in_the_path_query_or_a_form_is_refused() -> None:
    assert unstorable_in(path="/search\x00", query=b"", body=b"", content_type=b"") == "the path"
    assert unstorable_in(path="/search", query=b"q=a%00b", body=b"", content_type=b"") == "the query string"
    assert _body("email=a%00b&password=x", FORM) == "the body"
    assert _body("email=a%2500b&password=x", FORM) is None  # a percent sign, then two zeros


def test_a_picture_upload_may_hold_nul_but_its_path_may_not() -> None:
    assert carries_files({"method": "POST", "path": "/seller/products/12/image"})
    assert not carries_files({"method": "POST", "path": "/seller/products/new"})
    assert not carries_files({"method": "POST", "path": "/seller/products/12/image/x"})
    assert not carries_files({"method": "GET", "path": "/seller/products/12/image"})
