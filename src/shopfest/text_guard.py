"""Characters no database stores are refused at the door, whatever route a request is for.

PostgreSQL cannot store NUL (U+0000) in text at all, and neither database driver can encode a lone
UTF-16 surrogate (U+D800 to U+DFFF outside a pair): either would crash a route deep inside, or
(NUL on SQLite) be stored as given. So a request holding one, raw, as `%00` in its path, query or
form, or as a `\\u` escape in its JSON, is refused with 422 `unstorable-text` before any route sees it.
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopfest.body_cap import WIDER
from shopfest.core.errors import InvalidInput
from shopfest.deps import runtime_of_app
from shopfest.problems import refusal, status_of
from shopfest.web.forms import problem_message
from shopfest.web.layout import error_page
from shopfest.web.viewer import viewer_of


class UnstorableText(InvalidInput):
    code = "unstorable-text"
    title = "The request holds a NUL character or a lone surrogate"


# A JSON \u escape is one when an odd number of backslashes comes before the `u`; escapes appear
# only inside strings, so this finds exactly the escapes a JSON parser turns into characters.
_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u([0-9a-fA-F]{4})")
_HIGH, _LOW = range(0xD800, 0xDC00), range(0xDC00, 0xE000)
_PERCENT_NUL = b"%00"
_FORM = b"application/x-www-form-urlencoded"


def unstorable_in(*, path: str, query: bytes, body: bytes, content_type: bytes) -> str | None:
    """Where the request holds a character no database stores, or None."""
    if "\x00" in path:
        return "the path"
    if b"\x00" in query or _PERCENT_NUL in query:
        return "the query string"
    if b"\x00" in body or _json_escapes_unstorable(body) or (
            content_type.startswith(_FORM) and _PERCENT_NUL in body):
        return "the body"
    return None


def _json_escapes_unstorable(body: bytes) -> bool:
    """Whether a JSON escape writes NUL, or half a surrogate pair without the other half."""
    if b"\\u" not in body:
        return False
    high_ends_at = None  # where the last escape, a high surrogate, ended: its low must start there
    for escape in _ESCAPE.finditer(body):
        code = int(escape.group(1), 16)
        if high_ends_at is not None:
            if code not in _LOW or escape.end() - 6 != high_ends_at:
                return True
            high_ends_at = None
        elif code == 0 or code in _LOW:
            return True
        elif code in _HIGH:
            high_ends_at = escape.end()
    return high_ends_at is not None


class TextGuard:
    """ASGI middleware: refuses a request holding NUL or a lone surrogate (see `unstorable_in`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        body = b""
        if headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers:
            read = await read_body(receive)
            if read is None:  # the client hung up: nothing to answer
                return
            body, receive = read, replay_body(read, receive)
        content_type = headers.get(b"content-type", b"").lower()
        if content_type.startswith(b"multipart/form-data") and carries_files(scope):
            body = b""  # a picture's bytes hold NUL; its form's fields are checked, never stored
        where = unstorable_in(path=scope["path"], query=scope.get("query_string", b""), body=body,
                              content_type=content_type)
        if where is None:
            await self.app(scope, receive, send)
            return
        refused = UnstorableText(f"{where} holds a NUL character or a lone surrogate, which ShopFest "
                                 "does not take")
        answer = await _answer(scope, refused)
        await answer(scope, receive, send)


async def _answer(scope: Scope, error: UnstorableText) -> ASGIApp:
    """An HTML page for a browser on the pages, problem details for everyone else."""
    request = Request(scope)
    if not scope["path"].startswith("/api/") and "text/html" in request.headers.get("accept", ""):
        return await run_in_threadpool(error_page, request, runtime_of_app(scope["app"]),
                                       status=status_of(error),
                                       detail=problem_message(error, viewer_of(request).t))
    return refusal(error)


async def read_body(receive: Receive) -> bytes | None:
    """The request's whole body; None if the client disconnected first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """`receive` again, for the app, with the body already read."""
    unread = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return unread.pop() if unread else await receive()

    return replayed


def carries_files(scope: Scope) -> bool:
    """A post to a path that takes files (a product picture), as body_cap.WIDER names them."""
    return scope.get("method") == "POST" and any(path.match(scope["path"]) for path, _ in WIDER)
