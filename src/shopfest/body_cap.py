"""The request body cap: a body larger than `max_bytes` is answered 413 `/problems/body-too-large`.

Counted as the body streams in, so a missing or lying Content-Length changes nothing; a declared
length over the cap is refused before a byte of the body is read.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopfest.problems import problem


class BodyTooLarge(HTTPException):
    """Raised by the capped `receive`; an HTTPException so that FastAPI's body reading passes it on
    to the exception handlers as it is, rather than as a 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than the {max_bytes} bytes allowed")


# Posts that carry more than the cap by their nature, each with a cap of its own: a product picture
# (5 MB, catalog/images.py) and its form's few fields, on its one path.
WIDER: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"^/seller/products/[0-9]{1,18}/image$"), 5 * 1024 * 1024 + 64 * 1024),
)


class BodyCap:
    """ASGI middleware, outside every other (the checkout lane reads bodies itself)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int,
                 wider: tuple[tuple[re.Pattern[str], int], ...] = WIDER) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.wider = wider

    def cap_for(self, scope: Scope) -> int:
        """The cap of this request: a wider one on a picture's path (a POST), the cap elsewhere."""
        if scope.get("method") == "POST":
            for path, most in self.wider:
                if path.match(scope["path"]):
                    return max(most, self.max_bytes)
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.cap_for(scope)
        if self._declared(scope) > max_bytes:
            await self._refuse(scope, receive, send, max_bytes)
            return
        received, started = 0, False

        async def capped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge(max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped, watched)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, max_bytes)

    @staticmethod
    def _declared(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return int(value) if value.isdigit() else 0  # the server refuses a malformed one
        return 0

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        error = BodyTooLarge(max_bytes)
        answer = problem(413, "body-too-large", "The request body is too large", str(error.detail))
        answer.headers["Connection"] = "close"
        await answer(scope, receive, send)
