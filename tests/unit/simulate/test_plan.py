"""The festival night's plan: the rush lands on the moment asked when the run holds it, arrivals follow
the curve, and shoppers pay what they ordered before anything else."""

from __future__ import annotations

import random

from shopfest.simulate.plan import RateCurve, Shopper, curve_for, next_step


def test_the_rush_comes_at_midnight_when_the_run_holds_it_else_now() -> None:
    curve, why = curve_for(peak=100, duration=60, until_rush=20)
    assert (curve.rush_at, why) == (20, "midnight") and curve.rushing(20) and not curve.rushing(19.9)
    for past_or_after_the_run in (-5, 59, None):
        curve, why = curve_for(peak=100, duration=60, until_rush=past_or_after_the_run)
        assert why == "now" and curve.rush_at == 5.0


def test_arrivals_follow_the_curve_and_peak_in_the_rush() -> None:
    curve = RateCurve(peak=200, duration=30, rush_at=10, rush_s=5)
    times = list(curve.arrivals(random.Random(11)))
    assert times == sorted(times) and all(0 <= t < 30 for t in times)
    rush = sum(1 for t in times if curve.rushing(t))
    after = sum(1 for t in times if t >= 15)
    assert 800 <= rush <= 1200  # 200/s for 5 s
    assert 700 <= after <= 1100  # 60/s for 15 s
    assert list(curve.arrivals(random.Random(11))) == times  # the same seed, the same night


def test_a_shopper_pays_first_searches_before_buying_and_rushes_the_flash_sale() -> None:
    rng = random.Random(3)
    shopper = Shopper("sim-0001@shopfest.sim", "token", None, 0, unpaid=[7])
    assert next_step(shopper, rng, rushing=True, flash=True, coupons_on=True) == "pay"
    shopper.unpaid.clear()
    assert next_step(shopper, rng, rushing=False, flash=True, coupons_on=False) == "search"
    rushed = [next_step(shopper, rng, rushing=True, flash=True, coupons_on=False) for _ in range(200)]
    assert 0.5 < rushed.count("flash_checkout") / 200 < 0.9
