"""HTTP routes of vouchers after the sale: redeem at a shop (once per Idempotency-Key), undo, offline
uploads, a merchant's redemptions, the shopper's vouchers, a code checked by staff, the public keys."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from shopfest.core.actor import Actor
from shopfest.deps import AccountFirstRoute, RuntimeDep, SignedInActor
from shopfest.local import vouchers
from shopfest.local.codes import LONGEST_CODE
from shopfest.local.model import OFFLINE_ITEMS_MAX
from shopfest.local.vouchers import CLIENT_REF_MAX, OfflineItem, Redemption, VoucherCheck, VoucherView
from shopfest.payments import idempotency as keys
from shopfest.payments import service as payments
from shopfest.problems import problem_responses
from shopfest.rate_limits import client_address
from shopfest.runtime import Runtime
from shopfest.schemas import Id, IdParam, InputModel, Instant

router = APIRouter(prefix="/api/v1/local", tags=["local vouchers"],
                   responses=problem_responses(401, 403, 404, 409, 422, 429), route_class=AccountFirstRoute)

KeyHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255,
                                         description="retries with the same key get the first answer")]
Code = Annotated[str, Field(min_length=1, max_length=LONGEST_CODE,
                            description="the scanned QR code (SFV1.…) or the voucher's code typed by hand")]


class RedeemIn(InputModel):
    code: Code
    shop_id: Id


class CodeIn(InputModel):
    code: Code


class OfflineItemIn(InputModel):
    code: Code
    redeemed_at: Instant
    client_ref: str = Field(min_length=1, max_length=CLIENT_REF_MAX)


class OfflineIn(InputModel):
    shop_id: Id
    items: list[OfflineItemIn] = Field(max_length=OFFLINE_ITEMS_MAX)


def _instant(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def redemption_json(redemption: Redemption) -> dict[str, Any]:
    return {"id": redemption.id, "voucher_code": redemption.voucher_code, "shop_id": redemption.shop_id,
            "merchant_id": redemption.merchant_id, "redeemed_at": _instant(redemption.redeemed_at),
            "undo_until": _instant(redemption.undo_until), "title": redemption.title}


def _view_json(view: VoucherView) -> dict[str, Any]:
    return {"code": view.code, "title": view.title, "kind": view.kind, "status": view.status,
            "valid_until": _instant(view.valid_until), "signed_code": view.signed_code,
            "issued_at": _instant(view.issued_at), "order_id": view.order_id,
            "redeemed_at": _instant(view.redeemed_at), "shop_name": view.shop_name}


def _check_json(check: VoucherCheck) -> dict[str, Any]:
    return {"voucher_code": check.voucher_code, "merchant_id": check.merchant_id, "title": check.title,
            "status": check.status, "valid_until": _instant(check.valid_until), "signed": check.signed,
            "redeemed_at": _instant(check.redeemed_at), "shop_id": check.shop_id}


def _count_attempt(runtime: Runtime, request: Request, shop: str) -> None:
    """One redemption attempt at a shop's counter and from the client's address. Raises RateLimited."""
    runtime.limiter.hit("redeem", account=f"shop:{shop}", address=client_address(request))


@router.post("/redemptions", status_code=201)
def redeem(body: RedeemIn, request: Request, runtime: RuntimeDep, actor: SignedInActor,
           idempotency_key: KeyHeader = None) -> JSONResponse:
    """Redeem a voucher at one of its merchant's shops (its staff), exactly once: a second redemption
    anywhere is refused (409) with when and where the first was. A retry with the same
    Idempotency-Key answers the first result."""
    _count_attempt(runtime, request, str(body.shop_id))
    key = _key(actor, idempotency_key, ("redeem", body.code, body.shop_id))
    answer = payments.once(runtime.uow, key=key, status_code=201, run=lambda: redemption_json(
        vouchers.redeem(runtime.uow(), actor, code=body.code, shop_id=body.shop_id)))
    return JSONResponse(answer.response, status_code=answer.status_code)


def _key(actor: Actor | None, key: str | None, request: tuple[Any, ...]) -> keys.IdempotencyKey | None:
    return None if key is None or actor is None else keys.key_of(f"user:{actor.user_id}", key, *request)


@router.post("/redemptions/{redemption_id}/undo")
def undo_redemption(redemption_id: IdParam, runtime: RuntimeDep, actor: SignedInActor) -> dict[str, Any]:
    """Take a redemption back within 15 minutes (the redeeming merchant's staff): the voucher is
    redeemable again."""
    return redemption_json(vouchers.undo_redemption(runtime.uow(), actor, redemption_id=redemption_id))


@router.post("/redemptions/offline")
def upload_offline(body: OfflineIn, request: Request, runtime: RuntimeDep,
                   actor: SignedInActor) -> dict[str, Any]:
    """A shop's redemptions made offline (signed codes): each redeemed, or reported as a conflict
    (redeemed already, online or earlier in the upload); the same items sent again change nothing."""
    _count_attempt(runtime, request, str(body.shop_id))
    items = [OfflineItem(i.code, i.redeemed_at, i.client_ref) for i in body.items]
    report = vouchers.upload_offline(runtime.uow(), actor, shop_id=body.shop_id, items=items)
    return {"shop_id": report.shop_id, "redeemed": report.redeemed, "conflicts": report.conflicts,
            "items": report.items}


@router.get("/redemptions")
def list_redemptions(runtime: RuntimeDep, actor: SignedInActor, merchant_id: Annotated[IdParam, Query()],
                     day: Annotated[date | None, Query(description="a UTC day, YYYY-MM-DD")] = None,
                     ) -> dict[str, Any]:
    """A merchant's redemptions, of one UTC day when given (its staff, or an operator)."""
    found = vouchers.redemptions_of(runtime.uow(read_only=True), actor, merchant_id=merchant_id, day=day)
    return {"merchant_id": merchant_id, "day": day.isoformat() if day else None,
            "redemptions": [redemption_json(r) for r in found]}


@router.get("/vouchers")
def my_vouchers(runtime: RuntimeDep, actor: SignedInActor) -> dict[str, Any]:
    """The signed-in shopper's vouchers, each with the signed code its QR code carries."""
    found = vouchers.my_vouchers(runtime.uow(read_only=True), actor, signer=runtime.voucher_signer())
    return {"vouchers": [_view_json(v) for v in found]}


@router.post("/vouchers/verify")
def verify(body: CodeIn, request: Request, runtime: RuntimeDep, actor: SignedInActor) -> dict[str, Any]:
    """What a code says and where its voucher stands, without redeeming it (its merchant's staff)."""
    runtime.limiter.hit("redeem", account=f"staff:{actor.user_id}", address=client_address(request))
    return _check_json(vouchers.check_code(runtime.uow(read_only=True), actor, code=body.code))


@router.get("/voucher-keys")
def voucher_keys(runtime: RuntimeDep) -> dict[str, Any]:
    """The public keys voucher codes are signed with (Ed25519, raw, base64url), by key id: a shop's
    console checks codes with them offline."""
    found = runtime.voucher_signer().public_keys()
    return {"algorithm": "Ed25519", "prefix": "SFV1.",
            "keys": [{"kid": kid, "public_key": key} for kid, key in found.items()]}
