"""Rate limits: how many times a key may act in a window.

Two implementations of one method. In one process a sliding window of
timestamps per key is exact and cheap. Across workers the count must be
shared, so with a Redis bus the limiter is a fixed-window ``INCR``/``EXPIRE``
on the same Redis: one round trip, atomic, and it forgets by itself.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Protocol

from .exceptions import Unavailable


class Limiter(Protocol):
    async def hit(self, key: str, limit: int, window: float) -> float:
        """Count one action; return 0 if allowed, else seconds until it would be."""


class MemoryLimiter:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    async def hit(self, key: str, limit: int, window: float) -> float:
        now = time.monotonic()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._evict(now, window)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return max(0.001, hits[0] + window - now)
        hits.append(now)
        return 0.0

    def _evict(self, now: float, window: float) -> None:
        """Forget keys that have been quiet for a whole window; bounds memory under a spray."""
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - window]:
            del self._hits[key]


class RedisLimiter:
    """Keys carry ``namespace`` so installations sharing one Redis keep separate counts."""

    def __init__(self, url: str, namespace: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._errors = redis.RedisError
        self._prefix = f"live:{namespace}:limit:"

    async def hit(self, key: str, limit: int, window: float) -> float:
        now = time.time()
        slot = math.floor(now / window)
        name = f"{self._prefix}{key}:{slot}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                count, _ = await pipe.incr(name).expire(name, math.ceil(window) + 1).execute()
        except (self._errors, OSError) as exc:
            raise Unavailable("limits_unavailable", "暂时无法处理，请稍后重试",
                              "Cannot check limits right now; try again") from exc
        if count > limit:
            return max(0.001, (slot + 1) * window - now)
        return 0.0


def open_limiter(bus_url: str, namespace: str) -> Limiter:
    if bus_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisLimiter(bus_url, namespace)
    return MemoryLimiter()
