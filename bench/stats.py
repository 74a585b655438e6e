"""Small statistics for the report: percentiles, and medians with ranges over runs."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any


def pct(values: Iterable[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by nearest rank; None for no values."""
    data = sorted(values)
    if not data:
        return None
    return data[min(len(data) - 1, max(0, round(q * len(data)) - 1))]


def spread(values: list[float | None]) -> dict[str, Any]:
    """Median and range over runs; runs that produced no figure are counted, not hidden."""
    data = [v for v in values if v is not None]
    if not data:
        return {"median": None, "min": None, "max": None, "runs": len(values)}
    return {"median": statistics.median(data), "min": min(data), "max": max(data), "runs": len(values)}


def ratio(ours: float | None, base: float | None) -> float | None:
    if ours is None or not base:
        return None
    return round(ours / base, 3)


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Turn a list of per-run figure dicts into one dict of spreads, key by key."""
    keys = [k for k in runs[0] if all(isinstance(r.get(k), int | float | type(None)) for r in runs)]
    return {k: spread([r.get(k) for r in runs]) for k in keys}
