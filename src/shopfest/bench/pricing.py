"""Pricing festival carts: 20 lines over 5 merchants, 10 promotions on, 5 coupons offered.

The baseline is the same carts at list prices (no promotion, no coupon) through the same engine, so
the figures show what stacking the festival's discounts costs on top of reading the cart.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from statistics import median
from typing import Any

from shopfest.promotions.contract import read_request, write_result
from shopfest.promotions.stages import price

AT = "2027-11-11T00:30:00+08:00"
CATEGORIES = ("apparel", "beauty", "electronics", "home")


@dataclass(frozen=True)
class Timing:
    carts: int
    median_us: float
    p99_us: float
    carts_per_second: float


def _timing(seconds: list[float]) -> Timing:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Timing(len(ordered), round(median(ordered) * 1e6, 1), round(p99 * 1e6, 1),
                  round(len(ordered) / sum(ordered), 1))


def festival_cart(rng: random.Random) -> dict[str, Any]:
    """One cart as the pricing contract writes it."""
    merchants = [f"m{n}" for n in range(1, 6)]
    lines = [{"id": f"l{n}", "sku": f"k{n}", "merchant": merchants[n % 5], "brand": f"b{n % 7}",
              "category": rng.choice(CATEGORIES), "tier": "luxury" if n % 9 == 0 else "regular",
              "unit_price": f"{rng.randint(1000, 99900) / 100:.2f}", "qty": rng.randint(1, 3)}
             for n in range(20)]
    promotions = [
        {"id": "flash-1", "kind": "flash_price", "sku": "k1", "price": "9.90", "per_shopper_limit": 2},
        {"id": "flash-2", "kind": "flash_price", "sku": "k7", "price": "5.00"},
        {"id": "pct-1", "kind": "percent_off", "merchant": "m2", "percent": 10},
        {"id": "pct-2", "kind": "percent_off", "category": "beauty", "percent": "12.5"},
        {"id": "multi-1", "kind": "multi_buy", "merchant": "m3", "min_qty": 2, "percent": 15},
        {"id": "store-1", "kind": "store_threshold", "merchant": "m1",
         "tiers": [{"spend": "200.00", "off": "20.00"}, {"spend": "500.00", "off": "60.00"}]},
        {"id": "store-2", "kind": "store_threshold", "merchant": "m4", "repeat": True,
         "tiers": [{"spend": "300.00", "off": "30.00"}]},
        {"id": "store-3", "kind": "store_threshold", "merchant": "m5",
         "tiers": [{"spend": "1000.00", "off": "120.00"}]},
        {"id": "cross-1", "kind": "cross_store", "every": "300.00", "off": "40.00",
         "exclude_tiers": ["luxury"]},
        {"id": "cross-2", "kind": "cross_store", "every": "200.00", "off": "25.00"},
    ]
    coupons = [
        {"id": "c-m1", "kind": "store_coupon", "merchant": "m1", "min_spend": "300.00", "off": "30.00"},
        {"id": "c-m2", "kind": "store_coupon", "merchant": "m2", "min_spend": "100.00", "off": "10.00"},
        {"id": "c-m3", "kind": "store_coupon", "merchant": "m3", "min_spend": "500.00", "off": "50.00"},
        {"id": "c-plat", "kind": "platform_coupon", "min_spend": "1000.00", "off": "80.00"},
        {"id": "c-red", "kind": "red_envelope", "amount": "8.88"},
    ]
    return {"currency": "CNY", "at": AT, "shopper": "s1", "lines": lines, "promotions": promotions,
            "coupons": coupons, "deposits": []}


def _timed(carts: list[Any], run: Callable[[Any], object]) -> Timing:
    for cart in carts[:50]:  # warm up
        run(cart)
    seconds = []
    gc.disable()
    try:
        for cart in carts:
            started = time.perf_counter()
            run(cart)
            seconds.append(time.perf_counter() - started)
    finally:
        gc.enable()
    return _timing(seconds)


def run(*, carts: int, seed: int = 11) -> dict[str, Any]:
    """Price `carts` distinct carts three ways: the baseline at list prices, the festival's stack on
    parsed requests, and the whole contract (JSON in, price, JSON out)."""
    rng = random.Random(seed)
    raw = [festival_cart(rng) for _ in range(carts)]
    now = datetime.now(UTC)
    requests = [read_request(cart, now=now) for cart in raw]
    bare = [replace(r, promotions=(), coupons=()) for r in requests]
    baseline = _timed(bare, price)
    stacked = _timed(requests, price)
    contract = _timed(raw, lambda cart: write_result(price(read_request(cart, now=now))))
    example = price(requests[0])
    return {"scenario": "pricing", "carts": carts, "lines_per_cart": 20, "merchants_per_cart": 5,
            "promotions": 10, "coupons_offered": 5,
            "baseline_list_prices": baseline.__dict__, "festival_stack": stacked.__dict__,
            "contract_json": contract.__dict__,
            "stack_over_baseline": round(stacked.median_us / max(baseline.median_us, 1e-9), 1),
            "example": {"subtotal": example.subtotal, "total": example.total,
                        "applied": len(example.applied), "coupons_used": list(example.coupons_used)}}

