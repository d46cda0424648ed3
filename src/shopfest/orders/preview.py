"""What an offer not yet put on would do to a sample cart: the seller centre and the control room show
it beside the form, priced by the same drafting and engine as checkout, and nothing is stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from shopfest.catalog.model import SkuForSale
from shopfest.core.actor import Actor
from shopfest.core.errors import InvalidInput
from shopfest.core.uow import UnitOfWork
from shopfest.orders.drafting import PlaceOrder, check_lines, draft_order
from shopfest.orders.shelf import ShelfMemory
from shopfest.promotions import service as promotions
from shopfest.promotions.model import OnOffer, Priced
from shopfest.promotions.offers import Campaign, CouponIssue, Period, as_promotion

DRAFT_ID = 0  # the offer's id while it is a draft: the explanation names it "promotion:0" or "coupon:0"
# What the draft itself took off, as the engine's explanation names it.
DRAFT_SOURCES = frozenset({f"promotion:{DRAFT_ID}", f"coupon:{DRAFT_ID}"})
LAST = 2**62  # a draft ranks after every offer already on, as it would once put on


@dataclass(frozen=True)
class OfferPreview:
    """The sample cart at the moment the offer starts, priced without and with it."""

    at: datetime
    without: Priced
    with_offer: Priced
    skus: dict[int, SkuForSale]

    @property
    def saved(self) -> int:
        """Minor units the offer takes off the sample cart (the cart's currency)."""
        return self.without.total - self.with_offer.total


def preview_offer(uow: UnitOfWork, actor: Actor | None, *, sample: Sequence[tuple[int, int]],
                  campaign: Campaign | None = None, coupon: CouponIssue | None = None) -> OfferPreview:
    """A promotion or coupon the actor could put on, tried on a sample cart when it starts (or now,
    once started): a coupon as if the shopper held it. Raises Unauthenticated, Forbidden, InvalidInput."""
    window = _window_of(campaign, coupon)
    draft_campaign = replace(promotions.owned_campaign(actor, campaign), id=DRAFT_ID) if campaign else None
    draft_coupon = replace(promotions.owned_coupon(actor, coupon), id=DRAFT_ID) if coupon else None
    command = PlaceOrder(0, check_lines(sample))
    with uow:
        at = max(uow.clock.now(), window.starts_at)
        shelf = ShelfMemory().shelf(uow, sorted(sku for sku, _ in command.lines), at)
    on = promotions.campaigns_at(uow, sorted({s.merchant_id for s in shelf.skus.values()}), at)
    if len(shelf.skus) != len(command.lines):
        raise InvalidInput("the sample cart names a SKU that is not for sale", field="sample")
    without = draft_order(command, shelf=replace(shelf, promotions=on), now=at, minutes=0)
    extra = _on_offer(draft_campaign) if draft_campaign else ()
    offered = {DRAFT_ID: (DRAFT_ID, draft_coupon)} if draft_coupon else None
    with_offer = draft_order(command, shelf=replace(shelf, promotions=(*on, *extra)), now=at, minutes=0,
                             offered=offered)
    assert without.priced is not None and with_offer.priced is not None
    return OfferPreview(at, without.priced, with_offer.priced, shelf.skus)


def _window_of(campaign: Campaign | None, coupon: CouponIssue | None) -> Period:
    if campaign is not None and coupon is None:
        return campaign.window
    if coupon is not None and campaign is None:
        return coupon.window
    raise InvalidInput("preview one promotion or one coupon")


def _on_offer(campaign: Campaign) -> tuple[OnOffer]:
    return (OnOffer(campaign.merchant_id, campaign.currency, as_promotion(campaign), LAST),)
