"""HTTP routes of the festival calendar."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shopfest.deps import AccountFirstRoute, ReadUowDep, SignedInActor, UowDep
from shopfest.festival import service
from shopfest.festival.model import Festival, Phase, PhaseKind
from shopfest.problems import problem_responses
from shopfest.schemas import InputModel, Instant

router = APIRouter(prefix="/api/v1", tags=["festival"], responses=problem_responses(422),
                   route_class=AccountFirstRoute)


class PhaseJson(BaseModel):
    key: str
    name: str
    kind: PhaseKind
    wave: int
    starts_at: datetime = Field(description="UTC instant the phase starts")
    ends_at: datetime = Field(description="UTC instant the phase ends (exclusive)")

    @classmethod
    def of(cls, phase: Phase) -> PhaseJson:
        return cls(key=phase.key, name=phase.name, kind=phase.kind, wave=phase.wave,
                   starts_at=phase.starts_at, ends_at=phase.ends_at)


class CountdownJson(BaseModel):
    phase: str
    event: str = Field(description="`starts` or `ends`")
    at: datetime
    seconds: int


class FestivalJson(BaseModel):
    id: int
    name: str
    slug: str
    timezone: str
    starts_at: datetime
    ends_at: datetime
    now: datetime
    phase_now: PhaseJson | None
    next_phase: PhaseJson | None
    countdown: CountdownJson | None
    phases: list[PhaseJson]


def festival_json(festival: Festival, now: datetime) -> FestivalJson:
    current, upcoming, countdown = (festival.phase_at(now), festival.next_phase(now),
                                    festival.countdown(now))
    return FestivalJson(
        id=festival.id or 0, name=festival.name, slug=festival.slug, timezone=festival.timezone,
        starts_at=festival.starts_at, ends_at=festival.ends_at, now=now,
        phase_now=PhaseJson.of(current) if current else None,
        next_phase=PhaseJson.of(upcoming) if upcoming else None,
        countdown=CountdownJson(phase=countdown.phase.key, event=countdown.event, at=countdown.at,
                                seconds=int(countdown.remaining.total_seconds()))
        if countdown else None,
        phases=[PhaseJson.of(p) for p in festival.phases],
    )


@router.get("/festival", response_model=FestivalJson, responses=problem_responses(404))
def get_festival(uow: ReadUowDep) -> FestivalJson:
    """The festival on now (or next), its phases and the phase at this instant."""
    festival = service.current_festival(uow)
    return festival_json(festival, uow.clock.now())


class PhaseIn(InputModel):
    key: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    kind: PhaseKind
    wave: int = Field(strict=True, ge=1, le=10)
    starts_at: Instant
    ends_at: Instant = Field(examples=["2027-11-12T00:00:00+08:00"])


class FestivalIn(InputModel):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9-]+$")
    timezone: str = "Asia/Shanghai"
    phases: list[PhaseIn] = Field(min_length=1, max_length=20)


@router.post("/festivals", status_code=201, response_model=FestivalJson,
             responses=problem_responses(401, 403, 409))
def schedule_festival(body: FestivalIn, uow: UowDep, actor: SignedInActor) -> FestivalJson:
    """Operators schedule a festival: phases in time order, none overlapping."""
    phases = tuple(
        Phase(p.key, p.name, p.kind, p.wave, p.starts_at, p.ends_at)
        for p in body.phases
    )
    draft = Festival(body.name, body.slug, body.timezone, phases)
    saved = service.schedule_festival(uow, actor, draft)
    return festival_json(saved, uow.clock.now())
