"""HTTP routes of the big screen's shared links: an operator makes, lists and revokes them. Whoever holds
a link's key watches /screen?key=... without signing in, read-only (web/screen_pages.py)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shopfest.deps import AccountFirstRoute, ReadUowDep, SignedInActor, UowDep
from shopfest.insights import screen_links
from shopfest.insights.screen_link import ScreenLink
from shopfest.problems import problem_responses
from shopfest.schemas import IdParam

router = APIRouter(prefix="/api/v1/insights", tags=["insights"], route_class=AccountFirstRoute,
                   responses=problem_responses(401, 403, 422))


class ScreenLinkJson(BaseModel):
    id: int
    made_at: datetime
    expires_at: datetime = Field(description="UTC instant the link stops opening the screen")
    revoked_at: datetime | None
    open: bool = Field(description="whether the link opens the screen now")

    @classmethod
    def of(cls, link: ScreenLink, now: datetime) -> ScreenLinkJson:
        return cls(id=link.id, made_at=link.made_at, expires_at=link.expires_at, revoked_at=link.revoked_at,
                   open=link.opens_at(now))


class MadeLinkJson(ScreenLinkJson):
    key: str = Field(description="shown this once: only its SHA-256 is kept")
    path: str = Field(description="the screen's path for whoever holds the key")


@router.post("/screen-links", status_code=201, response_model=MadeLinkJson)
def make_screen_link(uow: UowDep, actor: SignedInActor) -> MadeLinkJson:
    """A read-only link to the big screen, open for seven days unless revoked (operator)."""
    made = screen_links.make_link(uow, actor)
    shown = ScreenLinkJson.of(made.link, made.link.made_at)
    return MadeLinkJson(**shown.model_dump(), key=made.key, path=screen_links.screen_path(made.key))


@router.get("/screen-links", response_model=list[ScreenLinkJson])
def list_screen_links(uow: ReadUowDep, actor: SignedInActor) -> list[ScreenLinkJson]:
    """The newest screen links, open or not (operator)."""
    now = uow.clock.now()
    return [ScreenLinkJson.of(link, now) for link in screen_links.recent_links(uow, actor)]


@router.delete("/screen-links/{link_id}", response_model=ScreenLinkJson, responses=problem_responses(404))
def revoke_screen_link(link_id: IdParam, uow: UowDep, actor: SignedInActor) -> ScreenLinkJson:
    """Close a screen link at once: screens watching through it are refused on their next connect
    (operator)."""
    link = screen_links.revoke_link(uow, actor, link_id)
    return ScreenLinkJson.of(link, uow.clock.now())
