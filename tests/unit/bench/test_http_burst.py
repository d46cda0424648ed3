"""How the HTTP bench reads wrk and adds up its rounds."""

from __future__ import annotations

from shopfest.bench.http_burst import HttpRun, combined, parse

WRK_SAID = """Running 10s test @ http://127.0.0.1:18123/healthz
  2 threads and 16 connections
  Latency Distribution
     50%    3.29ms
     75%    4.10ms
     90%    5.02ms
     99%    1.07s
  35866 requests in 10.00s, 5.07MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   3586.60
"""


def test_wrk_output_gives_requests_rate_latencies_and_failures() -> None:
    assert parse("/healthz", WRK_SAID) == HttpRun("/healthz", 35866, 3586.6, 3.29, 1070.0, 3)


def test_rounds_add_up_to_requests_over_the_time_they_took_with_the_worst_latencies() -> None:
    fast = HttpRun("/api/v1/orders", 30_000, 3_000.0, 5.0, 9.0, 0)
    slow = HttpRun("/api/v1/orders", 10_000, 1_000.0, 15.0, 40.0, 2)
    assert combined([fast, slow]) == HttpRun("/api/v1/orders", 40_000, 2_000.0, 15.0, 40.0, 2)
    longer = HttpRun("/api/v1/orders", 10_000, 500.0, 1.0, 2.0, 0)  # 20 s: not the mean rate, 1,750
    assert combined([fast, longer]).requests_per_second == round(40_000 / 30, 2)
