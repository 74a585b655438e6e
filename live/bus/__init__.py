"""Buses carry notifications of committed events between workers.

The log is the truth; a bus only says "this was committed". Chosen by URL:
``memory`` (one process), or any Redis URL of :mod:`live.redis_client` (many
workers), whose clients the wiring opens and hands over; imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Bus, Callback

if TYPE_CHECKING:
    from ..redis_client import RedisClients


SCHEMES = ("redis://", "rediss://", "unix://", "redis+sentinel://")
"""The URL schemes of a Redis bus (:mod:`live.redis_client` parses them)."""


def open_redis(url: str) -> RedisClients | None:
    """The Redis clients for a Redis bus URL, else None; redis-py is imported only then."""
    if not url.startswith(SCHEMES):
        return None
    from ..redis_client import RedisClients

    return RedisClients(url)


def open_bus(url: str, redis: RedisClients | None) -> Bus:
    """The bus ``url`` names: on ``redis``, the wiring's clients for that same URL."""
    if redis is not None:
        from .redis import RedisBus

        return RedisBus(redis)
    if url in ("memory", "memory://"):
        from .memory import MemoryBus

        return MemoryBus()
    raise SystemExit(
        f"unknown bus {url!r}: use 'memory', 'redis://host:port/db' "
        "or 'redis+sentinel://host:26379,host:26379/service/db'"
    )


__all__ = ["Bus", "Callback", "open_bus"]
