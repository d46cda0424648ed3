"""The festival night's scenario, pure: how fast shoppers arrive over the run, and what each does next."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

# What shoppers search for: words of the demo catalog's product names (shopfest.demo).
SEARCH_WORDS = ("aurora", "cloud", "jade", "midnight", "lotus", "harbour", "summit", "velvet", "ember",
                "tide", "bamboo", "comet", "serum", "sneakers", "laptop", "tea", "watch", "dress", "lamp")
PAGES = ("/", "/deals", "/deals/flash", "/live", "/search?q={word}", "/products/{product}")
WARM_SHARE = 0.3  # the rate before and after the rush, as a share of the peak
RUSH_SHARE = 0.25  # the rush's length, as a share of the run
MIN_RUSH_S = 1.0
REFUND_SHARE = 0.05  # paid orders the shopper asks back
WATCH_S = (0.5, 2.0)  # how long a shopper stays in a live room, at least and at most
FLASH_SHARE = 0.7  # during the rush, shoppers who go for the flash sale


@dataclass(frozen=True)
class RateCurve:
    """Arrivals a second over the run: a warm-up at a share of the peak, the rush at the peak from
    `rush_at` for `rush_s` seconds, then back to the warm rate."""

    peak: float
    duration: float
    rush_at: float
    rush_s: float

    def rate(self, t: float) -> float:
        if self.rush_at <= t < self.rush_at + self.rush_s:
            return self.peak
        if t < self.rush_at:  # warming up towards the rush
            return self.peak * WARM_SHARE * (0.5 + 0.5 * t / max(self.rush_at, 1e-9))
        return self.peak * WARM_SHARE

    def rushing(self, t: float) -> bool:
        return self.rush_at <= t < self.rush_at + self.rush_s

    def arrivals(self, rng: random.Random) -> Iterator[float]:
        """Open-loop arrival times (a Poisson process following the curve, by thinning): when each
        request is due, whether or not earlier ones were answered."""
        t = 0.0
        while True:
            t += rng.expovariate(self.peak)
            if t >= self.duration:
                return
            if rng.random() * self.peak <= self.rate(t):
                yield t


def curve_for(*, peak: float, duration: float, until_rush: float | None) -> tuple[RateCurve, str]:
    """The curve of a run and why its rush comes when it does: at `until_rush` seconds (11.11's midnight,
    or a moment asked for) when that falls inside the run with room for the rush, else after a short
    warm-up ("now")."""
    rush_s = max(MIN_RUSH_S, duration * RUSH_SHARE)
    if until_rush is not None and 0 <= until_rush <= duration - rush_s:
        return RateCurve(peak, duration, until_rush, rush_s), "midnight"
    return RateCurve(peak, duration, min(duration * 0.1, 5.0), rush_s), "now"


@dataclass(frozen=True)
class Item:
    """A SKU a shopper saw in a search, with what pricing a cart needs to know of it."""

    sku_id: int
    product_id: int
    merchant_id: int
    category: str
    price: str
    currency: str


@dataclass
class Shopper:
    """One simulated shopper: their token and address, what they saw, and their orders."""

    email: str
    token: str
    address_id: int | None
    client: int  # which of the run's client addresses they shop from
    seen: list[Item] = field(default_factory=list)
    coupons: list[int] = field(default_factory=list)  # ids of coupons claimed into their wallet
    unpaid: list[int] = field(default_factory=list)
    paid: list[int] = field(default_factory=list)
    steps: int = 0


def next_step(shopper: Shopper, rng: random.Random, *, rushing: bool, flash: bool,
              coupons_on: bool, live_on: bool = False) -> str:
    """What the shopper does next: pay what they ordered first; in the rush, mostly the flash sale;
    otherwise browse, search, price a cart, claim a coupon, watch a livestream on now, check out, now
    and then ask a refund."""
    if shopper.unpaid:
        return "pay"
    if rushing and flash and rng.random() < FLASH_SHARE:
        return "flash_checkout"
    if not shopper.seen:
        return "search"
    if shopper.paid and rng.random() < REFUND_SHARE:
        return "refund"
    choices = {"page": 3.0, "search": 2.5, "price": 1.5, "checkout": 2.5,
               "claim": 0.5 if coupons_on and not shopper.coupons else 0.0, "watch": 0.5 if live_on else 0.0}
    return rng.choices(list(choices), weights=list(choices.values()))[0]


def page_path(rng: random.Random, shopper: Shopper) -> str:
    """A storefront page a browsing shopper opens."""
    path = rng.choice(PAGES)
    product = rng.choice(shopper.seen).product_id if shopper.seen else 1
    return path.format(word=rng.choice(SEARCH_WORDS), product=product)


def cart_of(rng: random.Random, shopper: Shopper) -> list[Item]:
    """One to three distinct SKUs the shopper saw, in one currency."""
    picks = rng.sample(shopper.seen, k=min(len(shopper.seen), rng.randint(1, 3)))
    return [item for item in picks if item.currency == picks[0].currency]


def price_request(items: list[Item]) -> dict[str, object]:
    """A cart in the pricing contract (docs/pricing.md), under the demo's cross-store promotion."""
    return {"currency": items[0].currency,
            "lines": [{"id": f"l{n}", "sku": str(i.sku_id), "merchant": str(i.merchant_id),
                       "category": i.category, "unit_price": i.price, "qty": 1}
                      for n, i in enumerate(items)],
            "promotions": [{"id": "p1", "kind": "cross_store", "every": "300.00", "off": "40.00"}]}


def rush_orders_per_second(times: list[float], curve: RateCurve) -> float:
    """Orders placed in the rush, a second of it."""
    placed = sum(1 for t in times if curve.rushing(t))
    return round(placed / curve.rush_s, 1) if not math.isclose(curve.rush_s, 0) else 0.0
