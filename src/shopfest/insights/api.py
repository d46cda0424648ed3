"""HTTP routes of the insights context: the big screen's figures."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from shopfest.deps import AccountFirstRoute, ReadUowDep, RuntimeDep, SignedInActor
from shopfest.insights import service
from shopfest.problems import problem_responses

router = APIRouter(prefix="/api/v1", tags=["insights"], responses=problem_responses(422),
                   route_class=AccountFirstRoute)


@router.get("/insights/screen", responses=problem_responses(401, 403))
async def screen(uow: ReadUowDep, actor: SignedInActor, runtime: RuntimeDep,
                 top: Annotated[int, Query(ge=1, le=50)] = 10) -> dict[str, Any]:
    """The big screen's figures (operators only): GMV in the reporting currency, orders, shoppers,
    orders per second, top brands, categories and countries, luxury, debuts, live and local sales."""
    return await run_in_threadpool(service.operator_screen, uow, actor,
                                   currency=runtime.settings.reporting_currency, top=top)
