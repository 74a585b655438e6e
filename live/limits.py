"""Rate limits: how many times a key may act in a window.

Two implementations of one method. In one process a sliding window of
timestamps per key is exact and cheap. Across workers the count must be
shared, so with a Redis bus the limiter is a fixed-window counter per key on
the same Redis, which forgets by itself.

An action is counted against several keys at once (the device, then its IP
address), in order, and stops at the first that is over: a device over its own
limit must not use up the budget of everyone behind the same NAT. On Redis
that is one Lua script, so one round trip however many keys. It was one per key,
in turn, and every question and vote waited for both: with Redis 2.3 ms away,
ingest went from ~2,300 to ~3,700 questions/s and from ~3,800 to ~7,200 votes/s
(``docs/benchmarks.md``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

Keys = Sequence[tuple[str, int]]
"""(key, limit) pairs, checked in order."""


class Limiter(Protocol):
    async def hit(self, keys: Keys, window: float) -> float:
        """Count one action against each key in order, stopping at the first that is over;
        return 0 if allowed, else seconds until it would be."""

    async def close(self) -> None: ...


class MemoryLimiter:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    async def hit(self, keys: Keys, window: float) -> float:
        now = time.monotonic()
        for key, limit in keys:
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

    async def close(self) -> None:
        return None

    def _evict(self, now: float, window: float) -> None:
        """Forget keys that have been quiet for a whole window; bounds memory under a spray."""
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - window]:
            del self._hits[key]


def open_limiter(redis: Redis | None, namespace: str) -> Limiter:
    """Shared counts on the workers' Redis if there is one, else this process's own.

    The Redis one is imported only then: one process on the embedded default never loads
    redis-py (a tenth of a second and a MiB at every start).
    """
    if redis is None:
        return MemoryLimiter()
    from .redis_limiter import RedisLimiter

    return RedisLimiter(redis, namespace)
