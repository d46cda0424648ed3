"""Every request watched: given an id (the client's X-Request-ID when sane, else a new one) that goes back
in the answer's X-Request-ID header, counted and timed by route template for /metrics, and written as
one log line; an unexpected error is logged with its traceback and answered as a 500 problem that
carries the id."""

from __future__ import annotations

import logging
import os
import re
import time

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopfest.core import metrics
from shopfest.logs import REQUEST_ID
from shopfest.orders.lane import ORDERS_PATH
from shopfest.problems import problem

HEADER = b"x-request-id"
SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
UNMATCHED = "unmatched"  # the route of a request no route answers: its raw path is not a label
GONE = 499  # the status counted when the client left before an answer began (as nginx logs it)
# The checkout lane (orders/lane.py) answers its orders before routing: its one path is its template.
ROUTED_BEFORE_ROUTING = frozenset({ORDERS_PATH})

access_log = logging.getLogger("shopfest.access")
error_log = logging.getLogger("shopfest.errors")


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID when it is at most 64 of [A-Za-z0-9._:-], else a new one (32 hex digits)."""
    for name, value in headers:
        if name == HEADER:
            if SANE_ID.fullmatch(value):
                return value.decode()
            break
    return os.urandom(16).hex()


def route_template(scope: Scope) -> str:
    """The template of the route that answered (`/api/v1/orders/{order_id}`), never the raw path."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path_format", None) or getattr(route, "path", UNMATCHED))
    return scope["path"] if scope["path"] in ROUTED_BEFORE_ROUTING else UNMATCHED


class RequestWatch:
    """ASGI middleware, outside every other but the security headers (so its 500 carries them too)."""

    def __init__(self, app: ASGIApp, *, log_all: bool = True) -> None:
        self.app = app
        self.log_all = log_all  # else only the requests that failed or were slow get a line

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        rid = request_id(scope["headers"])
        header = (HEADER, rid.encode())
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = REQUEST_ID.set(rid)
        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            metrics.unhandled(error)
            error_log.error("%s %s failed", scope["method"], route_template(scope), exc_info=error,
                            extra={"request_id": rid})
            if status:  # the answer has begun: the server can only drop the connection
                raise
            await _internal_error(rid)(scope, receive, send_with_id)
        finally:
            metrics.IN_FLIGHT.dec()
            REQUEST_ID.reset(token)
            _done(scope, rid, status or GONE, time.perf_counter() - started, log_all=self.log_all)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The id goes back in the handshake's answer: an accepted socket's (refusals here accept, then
        close with a reason), or a denial's where the server can send one."""
        header = (HEADER, request_id(scope["headers"]).encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("websocket.accept", "websocket.http.response.start"):
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = REQUEST_ID.set(header[1].decode())
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


SLOW_SECONDS = 1.0  # an answer slower than this is logged even when only failures are


def _done(scope: Scope, rid: str, status: int, seconds: float, *, log_all: bool) -> None:
    route = route_template(scope)
    metrics.request_done(route, scope["method"], status, seconds)
    worth_a_line = log_all or status >= 500 or seconds >= SLOW_SECONDS
    if worth_a_line and access_log.isEnabledFor(logging.INFO):
        _write_line(scope, route, rid, status, round(seconds * 1000, 3))


def _write_line(scope: Scope, route: str, rid: str, status: int, duration_ms: float) -> None:
    """The request's log line. Handed to the handlers as a record made here: `Logger.info` would also
    walk the stack for the caller's file and line, which nobody reads and which cost a third of the line."""
    client = scope.get("client")
    record = logging.LogRecord(access_log.name, logging.INFO, __file__, 0, "%s %s %s %.1f ms",
                               (scope["method"], route, status, duration_ms), None)
    record.__dict__.update(request_id=rid, method=scope["method"], route=route, status=status,
                           duration_ms=duration_ms, client=f"{client[0]}:{client[1]}" if client else None)
    access_log.handle(record)


def _internal_error(rid: str) -> JSONResponse:
    return problem(500, "internal-error", "Internal Server Error",
                   f"the server failed to answer; quote request id {rid} when reporting it",
                   {"request_id": rid})
