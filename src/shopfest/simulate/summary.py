"""What a simulated festival night did: requests and errors by kind, latencies, orders and money."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from shopfest.bench.measure import Latency

# Refusals a festival night is expected to meet: the stock or a limit ran out, the server asked the
# client to slow down. Any other error is a failure of the run (a 500 always is).
EXPECTED = frozenset({"sold-out", "limit-exceeded", "rate-limited", "coupons-gone", "claim-limit-reached",
                      "too-many-unpaid"})


def percentile(sorted_ms: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted latencies; 0 with none."""
    if not sorted_ms:
        return 0.0
    return sorted_ms[min(len(sorted_ms) - 1, max(0, math.ceil(share * len(sorted_ms)) - 1))]


@dataclass
class Tally:
    """The run's counts as it goes; the progress display reads them live."""

    requests: Counter[str] = field(default_factory=Counter)
    expected: Counter[str] = field(default_factory=Counter)  # "kind:problem" -> count
    unexpected: Counter[str] = field(default_factory=Counter)
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    orders: int = 0
    paid_orders: int = 0
    gmv_minor: Counter[str] = field(default_factory=Counter)  # currency -> minor units paid
    refunds: int = 0
    refunded_minor: Counter[str] = field(default_factory=Counter)
    missed: int = 0  # arrivals that found every shopper busy: the client could not keep up

    def answered(self, kind: str, elapsed_ms: float) -> None:
        self.requests[kind] += 1
        self.latencies_ms[kind].append(elapsed_ms)

    def refused(self, kind: str, problem: str) -> None:
        """An error answer or no answer; sorted into expected or unexpected by its problem."""
        (self.expected if problem in EXPECTED else self.unexpected)[f"{kind}:{problem}"] += 1

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def errors(self) -> int:
        return sum(self.expected.values()) + sum(self.unexpected.values())


@dataclass(frozen=True)
class Rush:
    """When the flash-sale rush came, measured from the start of the run, and why then."""

    at_s: float
    seconds: float
    festival_time: str
    # "midnight" (11.11's), "given" (--rush-at), or "now": the moment was past, or after the run's end
    why: str
    flash_skus: list[int]
    orders_per_second: float = 0.0
    moment_in_s: float | None = None  # how far off the moment asked for (or midnight) was at the start


@dataclass(frozen=True)
class Summary:
    """The JSON summary of `shopfest simulate`."""

    url: str
    shoppers: int
    peak: float
    duration_s: float
    seed: int
    elapsed_s: float
    requests: dict[str, int]
    requests_per_second: float
    latency: dict[str, Latency]
    expected_errors: dict[str, int]
    unexpected_errors: dict[str, int]
    orders: int
    paid_orders: int
    gmv_minor: dict[str, int]
    refunds: int
    refunded_minor: dict[str, int]
    missed_arrivals: int
    rush: Rush
    client_addresses: int

    @property
    def failed(self) -> bool:
        """Any unexpected error makes the run a failure."""
        return bool(self.unexpected_errors)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def summarize(tally: Tally, *, head: dict[str, Any], elapsed_s: float, rush: Rush) -> Summary:
    """The summary of a finished run; `head` holds the options it ran with."""
    latency = {}
    for kind, values in sorted(tally.latencies_ms.items()):
        ordered = sorted(values)
        latency[kind] = Latency(len(ordered), round(percentile(ordered, 0.5), 2),
                                round(percentile(ordered, 0.99), 2), round(ordered[-1], 2))
    return Summary(
        **head, elapsed_s=round(elapsed_s, 2), requests=dict(sorted(tally.requests.items())),
        requests_per_second=round(tally.total / elapsed_s, 1) if elapsed_s else 0.0, latency=latency,
        expected_errors=dict(sorted(tally.expected.items())),
        unexpected_errors=dict(sorted(tally.unexpected.items())), orders=tally.orders,
        paid_orders=tally.paid_orders, gmv_minor=dict(tally.gmv_minor), refunds=tally.refunds,
        refunded_minor=dict(tally.refunded_minor), missed_arrivals=tally.missed, rush=rush)
