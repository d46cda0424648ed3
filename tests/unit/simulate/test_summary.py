"""The night's summary: refusals sorted into expected and unexpected, percentiles, a failed run."""

from __future__ import annotations

from shopfest.simulate.summary import Rush, Tally, percentile, summarize


def test_only_sold_out_limits_and_slow_downs_are_expected_and_anything_else_fails_the_run() -> None:
    tally = Tally()
    for kind, ms in (("checkout", 10.0), ("checkout", 30.0), ("pay", 5.0)):
        tally.answered(kind, ms)
    tally.refused("checkout", "sold-out")
    tally.refused("checkout", "rate-limited")
    head = {"url": "http://127.0.0.1:8000", "shoppers": 2, "peak": 5.0, "duration_s": 1.0, "seed": 11,
            "client_addresses": 2}
    rush = Rush(0.1, 1.0, "2027-11-10T16:00:00+00:00", "now", [])
    calm = summarize(tally, head=head, elapsed_s=1.5, rush=rush)
    assert not calm.failed and calm.requests == {"checkout": 2, "pay": 1} and calm.requests_per_second == 2.0
    assert calm.expected_errors == {"checkout:rate-limited": 1, "checkout:sold-out": 1}
    assert calm.latency["checkout"].p50_ms == 10.0 and calm.latency["checkout"].p99_ms == 30.0
    tally.refused("pay", "500")
    failed = summarize(tally, head=head, elapsed_s=1.5, rush=rush)
    assert failed.failed and failed.unexpected_errors == {"pay:500": 1}
    assert failed.to_json()["rush"]["why"] == "now"


def test_percentiles_are_nearest_rank() -> None:
    ms = [float(n) for n in range(1, 101)]
    assert (percentile(ms, 0.5), percentile(ms, 0.99), percentile([], 0.99)) == (50.0, 99.0, 0.0)
