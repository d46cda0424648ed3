"""The control room's platform campaigns: cross-store promotions, platform coupons and red envelopes,
each a form that says its rule in plain words, previews it on a sample cart (nothing stored), and puts
it on once however often the form is posted (its key rides in a hidden field)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from shopfest.catalog import service as catalog
from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.clock import HOME_ZONE
from shopfest.core.errors import DomainError, NotFound
from shopfest.deps import RuntimeDep, actor_of
from shopfest.festival.model import Festival
from shopfest.orders.preview import OfferPreview, preview_offer
from shopfest.payments import idempotency as keys
from shopfest.payments import service as payments
from shopfest.problems import status_of
from shopfest.promotions import service as promotions
from shopfest.promotions.offers import Campaign, CouponIssue, Period
from shopfest.runtime import Runtime
from shopfest.web import control_campaigns as forms
from shopfest.web.control_campaigns import CampaignForm, FormRefused, PreviewView
from shopfest.web.forms import FormErrors, problem_message
from shopfest.web.layout import current_festival, phase_name, render
from shopfest.web.routing import PageRoute
from shopfest.web.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)

KINDS = (*forms.PROMOTION_KINDS, *forms.COUPON_KINDS)
LISTED = 50  # of each list: what is on or coming
SAMPLE_MERCHANTS = 2


def _operator(request: Request, runtime: Runtime) -> Actor:
    return require_role(actor_of(request, runtime), Role.OPERATOR)


@dataclass(frozen=True)
class OfferRow:
    id: int
    kind: str
    rule: str
    window: str
    claimed: str | None = None


def _rows(runtime: Runtime, actor: Actor, viewer: Viewer,
          zone_name: str) -> tuple[list[OfferRow], list[OfferRow]]:
    on, coupons = promotions.platform_offers(runtime.uow(read_only=True), actor, limit=LISTED)
    t = viewer.t
    promotion_rows = [OfferRow(c.id or 0, t(f"control.campaign.kind.{c.kind}"),
                               forms.rule_in_words(c.kind, c.rule, currency=c.currency, viewer=viewer),
                               viewer.span(c.window.starts_at, c.window.ends_at, zone_name)) for c in on]
    coupon_rows = [OfferRow(c.id or 0, t(f"control.campaign.kind.{c.kind}"),
                            forms.coupon_in_words(c, viewer=viewer),
                            viewer.span(c.window.starts_at, c.window.ends_at, zone_name),
                            t("control.campaigns.claimed_of", claimed=viewer.count(c.claimed),
                              quantity=viewer.count(c.quantity)))
                   for c in coupons]
    return promotion_rows, coupon_rows


def _zone(festival: Festival | None) -> str:
    return festival.timezone if festival else HOME_ZONE


def _page(request: Request, runtime: Runtime, actor: Actor, form: CampaignForm, *,
          errors: FormErrors | None = None, preview: PreviewView | None = None, says: str | None = None,
          status: int = 200) -> HTMLResponse:
    viewer, festival = viewer_of(request), current_festival(runtime)
    zone_name = _zone(festival)
    promotion_rows, coupon_rows = _rows(runtime, actor, viewer, zone_name)
    sales = "; ".join(f"{phase_name(p, viewer.t)} ({viewer.span(p.starts_at, p.ends_at, zone_name)})"
                      for p in festival.sales) if festival else ""
    return render(request, runtime, "control/campaigns.html", status=status, section="campaigns",
                  form=form, kinds=KINDS, errors=errors or FormErrors(), preview=preview, says=says,
                  promotions=promotion_rows, coupons=coupon_rows, zone_name=zone_name, sales=sales,
                  notice=_notice(request, viewer))


def _notice(request: Request, viewer: Viewer) -> str | None:
    """What was just put on, from the address the form's post went on to."""
    kind, offer_id = request.query_params.get("on"), request.query_params.get("id", "")
    if kind not in KINDS or not offer_id.isdigit():
        return None
    return viewer.t("control.campaigns.put_on", kind=viewer.t(f"control.campaign.kind.{kind}"), id=offer_id)


@router.get("/control/campaigns", response_class=HTMLResponse)
def campaigns(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    actor = _operator(request, runtime)
    kind = request.query_params.get("kind") or KINDS[0]
    if kind not in KINDS:
        raise NotFound(f"no campaign kind {kind!r}")
    festival = current_festival(runtime)
    window = forms.sale_window([Period(p.starts_at, p.ends_at) for p in festival.sales],
                               runtime.clock.now()) if festival else None
    sample = catalog.sample_skus(runtime.uow(read_only=True), merchants=SAMPLE_MERCHANTS,
                                 limit=forms.SAMPLE_ROWS)
    form = forms.blank_form(kind, window=window, zone_name=_zone(festival), sample=sample,
                            key=secrets.token_urlsafe(18))
    return _page(request, runtime, actor, form)


def _samples(fields: FormData) -> list[tuple[str, str]]:
    skus, qtys = fields.getlist("sample_sku"), fields.getlist("sample_qty")
    return [(str(s), str(q)) for s, q in zip(skus, qtys, strict=False)][:forms.SAMPLE_ROWS]


@router.post("/control/campaigns/{kind}", response_class=HTMLResponse)
async def campaign_form(request: Request, runtime: RuntimeDep, kind: str) -> Response:
    """"Preview" shows the sample cart without and with the offer; "Put on" saves it, once per form."""
    if kind not in KINDS:
        raise NotFound(f"no campaign kind {kind!r}")
    fields = await request.form()
    text = {name: str(value) for name, value in fields.items() if isinstance(value, str)}
    form = CampaignForm.of(text, kind=kind, samples=_samples(fields))
    return await run_in_threadpool(_answer, request, runtime, form, text.get("action") == "put_on")


def _answer(request: Request, runtime: Runtime, form: CampaignForm, put_on: bool) -> Response:
    actor = _operator(request, runtime)
    viewer = viewer_of(request)
    zone_name = _zone(current_festival(runtime))
    try:
        offer, sample = _read(form, viewer, zone_name)
    except FormRefused as refused:
        return _page(request, runtime, actor, form, errors=refused.errors, status=422)
    says = _says(offer, viewer)
    try:
        if put_on:
            return _put_on(runtime, actor, form, offer)
        preview = _preview(runtime, actor, offer, sample)
    except keys.KeyInUse:
        return _page(request, runtime, actor, form, errors=_on_top(viewer.t("control.still_saving")),
                     says=says, status=409)
    except keys.KeyReused:  # the form was put on before with other values: a fresh form key
        form.key = secrets.token_urlsafe(18)
        return _page(request, runtime, actor, form, errors=_on_top(viewer.t("control.stale_form")),
                     says=says, status=422)
    except DomainError as refusal:
        errors = FormErrors({_field_of(refusal): problem_message(refusal, viewer.t)})
        return _page(request, runtime, actor, form, errors=errors, says=says, status=status_of(refusal))
    view = forms.preview_view(preview, sample, viewer=viewer, zone_name=zone_name)
    return _page(request, runtime, actor, form, preview=view, says=says)


Offer = Campaign | CouponIssue


def _read(form: CampaignForm, viewer: Viewer, zone_name: str) -> tuple[Offer, list[tuple[int, int]]]:
    if form.is_promotion:
        return forms.read_campaign(form, viewer.t, zone_name=zone_name)
    return forms.read_coupon(form, viewer.t, zone_name=zone_name)


def _says(offer: Offer, viewer: Viewer) -> str:
    if isinstance(offer, Campaign):
        return forms.rule_in_words(offer.kind, offer.rule, currency=offer.currency, viewer=viewer)
    return forms.coupon_in_words(offer, viewer=viewer)


def _preview(runtime: Runtime, actor: Actor, offer: Offer, sample: list[tuple[int, int]]) -> OfferPreview:
    if isinstance(offer, Campaign):
        return preview_offer(runtime.uow(), actor, sample=sample, campaign=offer)
    return preview_offer(runtime.uow(), actor, sample=sample, coupon=offer)


def _put_on(runtime: Runtime, actor: Actor, form: CampaignForm, offer: Offer) -> Response:
    """Saved once per form key: a second post of the same form finds the first one's answer."""
    try:
        key = keys.key_of(f"user:{actor.user_id}", form.key, "POST /control/campaigns", _fingerprint(offer))
    except DomainError:  # no key, or not one of ours: the form is not the one this page gave out
        raise keys.KeyReused("the form's key is missing or malformed") from None

    def put_on() -> dict[str, Any]:
        if isinstance(offer, Campaign):
            return {"id": promotions.put_on_promotion(runtime.uow(), actor, offer).id}
        return {"id": promotions.put_on_coupon(runtime.uow(), actor, offer).id}

    answer = payments.once(runtime.uow, key=key, run=put_on, status_code=201)
    put_on_id = answer.response["id"]
    return RedirectResponse(f"/control/campaigns?kind={offer.kind}&on={offer.kind}&id={put_on_id}",
                            status_code=303)


def _fingerprint(offer: Offer) -> dict[str, Any]:
    window = [offer.window.starts_at.isoformat(), offer.window.ends_at.isoformat()]
    if isinstance(offer, Campaign):
        return {"kind": offer.kind, "currency": offer.currency, "rule": offer.rule, "window": window}
    return {"kind": offer.kind, "currency": offer.currency, "off": offer.off, "min_spend": offer.min_spend,
            "quantity": offer.quantity, "limit": offer.per_shopper_limit, "window": window}


def _field_of(refusal: DomainError) -> str:
    """Where a refusal goes on the form: beside the field it names (the sample, the window's start),
    or on top ("")."""
    named = refusal.data.get("field")
    if named in ("sample", "starts_at"):
        return str(named)
    return "sample" if "sku_id" in refusal.data else ""


def _on_top(message: str) -> FormErrors:
    return FormErrors({"": message})
