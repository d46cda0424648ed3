"""HTTP routes of payments: the provider's signed webhooks come in here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.concurrency import run_in_threadpool

from shopfest.deps import RuntimeDep
from shopfest.payments import service
from shopfest.problems import problem_responses

router = APIRouter(prefix="/api/v1", tags=["payments"], responses=problem_responses(401, 404, 422))


@router.post("/payments/webhooks/sandbox")
async def sandbox_webhook(request: Request, runtime: RuntimeDep,
                          signature: Annotated[str, Header(alias="Shopfest-Signature")]) -> dict[str, bool]:
    """An event from the sandbox gateway, signed with the webhook secret; each event id applies once.

    `applied` is false for an event already received.
    """
    body = await request.body()
    applied = await run_in_threadpool(service.take_webhook, runtime.uow(), body=body, signature=signature,
                                      secret=runtime.settings.webhook_secret)
    return {"applied": applied}
