"""How every page route answers trouble: a broken rule or a malformed request as an HTML page, not
problem JSON; a page that needs a sign-in sends the browser to sign in and come back; a post must
carry the browser's form token and come from this site (see web/csrf.py)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from shopfest.core.errors import DomainError, Unauthenticated
from shopfest.deps import runtime_of
from shopfest.problems import status_of
from shopfest.web import csrf
from shopfest.web.forms import problem_message
from shopfest.web.layout import error_page
from shopfest.web.viewer import viewer_of


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                if request.method not in csrf.SAFE_METHODS:  # every form post, whichever page
                    await csrf.check_form_post(request)
                return await handle(request)
            except Unauthenticated as error:
                if request.method == "GET":
                    return RedirectResponse(sign_in_then(request), status_code=303)
                return await page_error(request, status=status_of(error), detail=_said(request, error))
            except DomainError as error:
                return await page_error(request, status=status_of(error), detail=_said(request, error),
                                        retry_after=error.data.get("retry_after"))
            except RequestValidationError:
                t = viewer_of(request).t
                return await page_error(request, status=422, detail=t("error.malformed"))

        return guarded


def _said(request: Request, error: DomainError) -> str:
    """The refusal in the page's language (web/words/problems.py)."""
    return problem_message(error, viewer_of(request).t)


def sign_in_then(request: Request) -> str:
    """The sign-in page, told to come back to this page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(here, safe='')}"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only, never another host (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(c) < 0x20 for c in target):
        return "/"
    return target


async def page_error(request: Request, *, status: int, detail: str, retry_after: object = None) -> Response:
    # Rendering reads the database (festival, signed-in email), so it leaves the event loop.
    page = await run_in_threadpool(error_page, request, runtime_of(request), status=status, detail=detail)
    if isinstance(retry_after, int):  # a rate limit, a lock or a busy server
        page.headers["Retry-After"] = str(retry_after)
    return page
