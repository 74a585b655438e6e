"""Buses carry notifications of committed events between workers.

The log is the truth; a bus only says "this was committed". Chosen by URL:
``memory`` (one process) or ``redis://...`` (many workers), imported lazily.
"""

from __future__ import annotations

from .base import Bus, Callback


def open_bus(url: str) -> Bus:
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisBus

        return RedisBus(url)
    if url in ("memory", "memory://"):
        from .memory import MemoryBus

        return MemoryBus()
    raise SystemExit(f"unknown bus {url!r}: use 'memory' or 'redis://host:port/db'")


__all__ = ["Bus", "Callback", "open_bus"]
