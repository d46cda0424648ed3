"""Use cases of the big screen's shared links: an operator makes one (the key is shown once), lists
and revokes them; anyone holding a key that still opens watches the screen without signing in."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.errors import Forbidden, NotFound
from shopfest.core.ids import digest, new_secret
from shopfest.core.uow import UnitOfWork
from shopfest.insights.screen_link import LINK_LIFETIME, ScreenLink, plausible_key
from shopfest.insights.screen_link_store import ScreenLinkStore

LINKS_LISTED = 20


@dataclass(frozen=True, slots=True)
class MadeLink:
    link: ScreenLink
    key: str  # shown to its maker once; only its digest is kept


def screen_path(key: str) -> str:
    """Where a link's holder watches the screen."""
    return f"/screen?key={quote(key)}"


def make_link(uow: UnitOfWork, actor: Actor | None) -> MadeLink:
    """A new read-only link to the screen, open for LINK_LIFETIME. Raises Unauthenticated, Forbidden."""
    operator = require_role(actor, Role.OPERATOR)
    key = new_secret()
    with uow:
        now = uow.clock.now()
        link = ScreenLinkStore(uow.conn).add(key_digest=digest(key), made_by=operator.user_id, made_at=now,
                                             expires_at=now + LINK_LIFETIME)
        uow.commit()
    return MadeLink(link, key)


def revoke_link(uow: UnitOfWork, actor: Actor | None, link_id: int) -> ScreenLink:
    """Close a link at once (revoking it again changes nothing). Raises Unauthenticated, Forbidden,
    NotFound."""
    require_role(actor, Role.OPERATOR)
    with uow:
        store = ScreenLinkStore(uow.conn)
        if store.get(link_id) is None:
            raise NotFound(f"no screen link {link_id}")
        store.revoke(link_id, at=uow.clock.now())
        link = store.get(link_id)
        uow.commit()
    assert link is not None
    return link


def recent_links(uow: UnitOfWork, actor: Actor | None) -> list[ScreenLink]:
    """The newest links, open or not. Raises Unauthenticated, Forbidden."""
    require_role(actor, Role.OPERATOR)
    with uow:
        return ScreenLinkStore(uow.conn).recent(limit=LINKS_LISTED)


def check_key(uow: UnitOfWork, key: str) -> ScreenLink:
    """The link a key belongs to, while it opens the screen. Raises Forbidden (unknown, malformed,
    expired or revoked: the holder is told no more than that)."""
    if not plausible_key(key):
        raise Forbidden("this screen link is not valid")
    with uow:
        link = ScreenLinkStore(uow.conn).by_digest(digest(key))
        now = uow.clock.now()
    if link is None or not link.opens_at(now):
        raise Forbidden("this screen link is not valid, or no longer")
    return link
