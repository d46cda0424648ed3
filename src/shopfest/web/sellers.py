"""Who sells a product, as the product page and the cart name them."""

from __future__ import annotations

from dataclasses import dataclass

from shopfest.catalog.model import Merchant, MerchantKind
from shopfest.web.viewer import Viewer


@dataclass(frozen=True)
class SellerView:
    """The merchant, and for a shop or a local service where it is."""

    name: str
    where: str | None = None


def seller_view(merchant: Merchant | None, viewer: Viewer) -> SellerView | None:
    """The merchant by name; a shop or a local provider also by its city. The catalog keeps one
    store per merchant, with the merchant's name and city, and no product names a store of its
    own: so the shop is the merchant, and where a city was never given the page says so."""
    if merchant is None:
        return None
    if merchant.kind is MerchantKind.ONLINE:
        return SellerView(merchant.name)
    where = (viewer.t("shop.in_city", city=merchant.city) if merchant.city
             else viewer.t("shop.no_city"))
    return SellerView(merchant.name, where)
