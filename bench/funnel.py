"""The funnel query's latency (issue 14's goal: p99 at most 100 ms on the embedded profile with 10k
students × 40 events): `measure_funnel_query(query)` calls a query repeatedly and reports p50/p99.

Not yet part of `make bench`: the funnel read model and the analyst API are being written beside
this. Wiring it in: build the funnel read model from a history of 10k students (the integration
events the translator makes of `bench.workload.Workload(10_000)`, about 40 per student), then pass a
`query` that asks the analyst API what an analyst would (e.g. the Flask test client's
`GET /analytics/funnel?by=program,industry&term=…` with an analyst token, asserting 200), and store
the result under the profile's `funnel_query` key in `bench.__main__.main`.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.freshness import percentile


def measure_funnel_query(query: Callable[[], Any], *, repeats: int = 200, warmup: int = 10) -> dict[str, Any]:
    """Call `query` `warmup` times unmeasured (caches, first-use imports), then `repeats` times timed."""
    for _ in range(warmup):
        query()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        query()
        timings.append(time.perf_counter() - started)
    return {"queries": repeats, "p50_ms": round(percentile(timings, 0.50) * 1000, 2),
            "p99_ms": round(percentile(timings, 0.99) * 1000, 2), "max_ms": round(max(timings) * 1000, 2)}
