"""Cross-site request forgery: every form a page posts carries this browser's token, and comes from
ShopFest itself.

The token is random, kept in a cookie scripts cannot read, and written into each form as a hidden
field (`csrf_token`); a post counts only when the two match, which another site can neither read nor
forge. Where the browser says where a post came from (Sec-Fetch-Site, else Origin), it must be
ShopFest. `PageRoute` checks every unsafe request to a page; a form adds
`<input type="hidden" name="csrf_token" value="{{ csrf_token }}">` and nothing else.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from fastapi import Request, Response

from shopfest.core.errors import Forbidden
from shopfest.core.ids import new_secret

CSRF_COOKIE = "shopfest_csrf"
CSRF_FIELD = "csrf_token"
TOKEN_MAX_AGE = 30 * 24 * 3600  # as long as the cart; a page left open for days still posts
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_OUR_SITE = frozenset({"same-origin", "none"})  # "none": the shopper's own doing (a reload, a bookmark)


class CrossSiteForm(Forbidden):
    code = "cross-site-form"
    title = "The form did not come from this site"


def form_token(request: Request) -> str:
    """The token this browser's forms carry: its cookie's, or a new one `keep_token` will set."""
    known = request.cookies.get(CSRF_COOKIE)
    if known and len(known) <= 128:
        return known
    made: str | None = getattr(request.state, "csrf_token", None)
    if made is None:
        made = request.state.csrf_token = new_secret()
    return made


def keep_token(request: Request, response: Response, token: str | None = None) -> None:
    """Set the token cookie when it is new (or `token` replaces it, as signing in does)."""
    token = token or form_token(request)
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, max_age=TOKEN_MAX_AGE, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")


async def check_form_post(request: Request) -> None:
    """A post from this site's own page, carrying this browser's token. Raises CrossSiteForm."""
    if not _from_our_site(request):
        raise CrossSiteForm("the form was sent from another site; open the page here and try again")
    sent = (await request.form()).get(CSRF_FIELD)
    kept = request.cookies.get(CSRF_COOKIE)
    if not isinstance(sent, str) or not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
        raise CrossSiteForm("the form has expired or came from elsewhere; reload the page and try again")


def _from_our_site(request: Request) -> bool:
    # Sec-Fetch-Site is set by the browser itself and survives proxies that rewrite Host; Origin is
    # the fallback for browsers without it. A client sending neither is judged by the token alone.
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in _OUR_SITE
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc == request.headers.get("host")
