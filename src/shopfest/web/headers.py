"""Security headers on every response: what the browser may load, run and frame for ShopFest."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The pages run only ShopFest's own files: no inline script, style or event handler, nothing from
# another origin, never inside another site's frame, forms posted back to ShopFest only. connect-src
# 'self' covers the live room's WebSocket to this same host (ws:/wss:, CSP 3) and the big screen's
# EventSource; uPlot, which draws the screen's line, is a script of ShopFest's own (/static/uplot). A
# live stream played by hls.js reaches the <video> as a MediaSource, whose URL is a blob: the page's
# own script made: media may come from there too (nothing else may).
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
               "connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
               "form-action 'self'; frame-ancestors 'none'")
# The API documentation's scripts (Swagger UI, ReDoc) are ShopFest's own files too, but they style
# what they draw with inline styles and ReDoc searches in a worker it makes from a blob.
DOCS_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DOCS_PATHS = frozenset({"/docs", "/redoc"})


def _headers(policy: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),  # frame-ancestors, for browsers that predate it
        (b"referrer-policy", b"same-origin"),  # search words and order ids never leave in a Referer
        (b"cross-origin-opener-policy", b"same-origin"),
    ]


PAGE_HEADERS = _headers(PAGE_POLICY)
DOCS_HEADERS = _headers(DOCS_POLICY)


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response, pages, API, static files and errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = DOCS_HEADERS if scope["path"] in DOCS_PATHS else PAGE_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
