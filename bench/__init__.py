"""Benchmarks that run the real product (PostgreSQL, web server, worker node) and print every figure as a
ratio against a baseline measured in the same run: the machines are shared and noisy, so no absolute
timing is ever asserted. See bench/README.md.
"""

from __future__ import annotations

import time


class BenchError(Exception):
    """Something the benchmark needs did not happen: a process died, a wait timed out, a request failed."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_for(check, *, timeout: float, interval: float, what: str):
    """Call `check` until it returns something truthy; BenchError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def percentile(values, share: float) -> float:
    """The value `share` (0.99: p99) of the way up the sorted values (the nearest rank below)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
