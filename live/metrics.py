"""Prometheus metrics, served at ``/metrics``.

Metrics are per process by nature (Prometheus scrapes processes), so they live
at module level like every ``prometheus_client`` metric; the hooks elsewhere
are one call each, so the hot path pays one counter increment, never a lookup
of some object. With ``--workers N`` each worker counts for itself, in
prometheus-client's multiprocess mode, which :mod:`live.serve` sets up (and in
which it forgets a dead worker's gauges); ``/metrics`` then sums every worker:
counters over the server's life, gauges (``multiprocess_mode="livesum"``) over
the workers alive now. What each metric means is in ``docs/operations.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response

from .events import Event, now_ms

if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and not os.path.isdir(os.environ["PROMETHEUS_MULTIPROC_DIR"]):
    # prometheus-client would fail below, creating this process's first file, with a traceback.
    raise SystemExit(f"PROMETHEUS_MULTIPROC_DIR={os.environ['PROMETHEUS_MULTIPROC_DIR']}: no such directory")

CONNECTIONS = Gauge(
    "live_connections", "Open WebSocket connections, by role.", ["role"], multiprocess_mode="livesum"
)
EVENTS = Counter("live_events_appended", "Events committed to a session log, by event type.", ["type"])
BROADCAST = Histogram(
    "live_broadcast_latency_seconds",
    "From an event's timestamp (taken just before its commit) to its fan-out into every "
    "outbox on this worker.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ROUNDS = Histogram(
    "live_round_requests",
    "Requests one session decided together and committed in one append (its group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
OUTBOX_DROPS = Counter("live_outbox_drops", "Viewers dropped (close 4000) because their outbox overflowed.")
REFUSED = Counter(
    "live_refused_requests", "Requests refused, by error code and transport.", ["code", "transport"]
)
IN_FLIGHT = Gauge(
    "live_commands_in_flight", "Commands received and not yet answered.", multiprocess_mode="livesum"
)
HTTP = Counter("live_http_requests", "HTTP requests answered, by method and status.", ["method", "status"])


def appended(events: Iterable[Event]) -> None:
    for event in events:
        EVENTS.labels(event.type).inc()


def delivered(event: Event) -> None:
    """Stamp to fan-out, on the log's own clock (a staged demo evening is not a week late)."""
    BROADCAST.observe(max(0, now_ms() - event.at) / 1000)


def refused(code: str, transport: str) -> None:
    REFUSED.labels(code, transport).inc()


@contextmanager
def in_flight() -> Iterator[None]:
    IN_FLIGHT.inc()
    try:
        yield
    finally:
        IN_FLIGHT.dec()


def _registry() -> CollectorRegistry:
    """This process's metrics, or, in multiprocess mode, every worker's, read afresh."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus-client left it unannotated
    return registry


async def endpoint(request: Request) -> Response:
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)
