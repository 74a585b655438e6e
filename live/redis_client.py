"""The Redis connections one worker holds, made from the ``--bus`` URL by the wiring.

The bus (:mod:`live.bus.redis`) and the rate limiter (:mod:`live.limits`) share one Redis,
and neither builds its own connection: :class:`RedisClients` opens every client a worker
needs from one URL, and :mod:`live.services` hands each its own and closes them all last.
Its URL is redis-py's own (``Redis.from_url``): ``redis://``, ``rediss://`` (TLS),
``unix://``.
"""

from __future__ import annotations

import os
import secrets
import socket
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

SCHEMES = ("redis://", "rediss://", "unix://")
BUS_POOL = 32
"""Connections per worker for publishing and presence (the pub/sub reader has its own)."""
LIMITER_POOL = 8
"""Connections per worker for rate limits; a batch waits for a free one, else its actions
are refused as unavailable."""
POOL_WAIT = 5.0
"""Seconds a command may wait for a free connection before it fails (see :class:`RedisClients`)."""
TIMEOUTS = {"socket_connect_timeout": 2, "socket_timeout": 5}
"""A silent network fails a command instead of hanging it."""


def is_redis(url: str) -> bool:
    return url.startswith(SCHEMES)


def where(url: str) -> str:
    """Where a URL points, without any password, for messages and logs."""
    parts = urlsplit(url)
    hosts = parts.netloc.rpartition("@")[2]
    if url.startswith("unix://"):
        return parts.path
    return f"{hosts or 'localhost:6379'}{parts.path or '/0'}"


class RedisClients:
    """Every Redis client of one worker; :meth:`aclose` closes them all.

    Why blocking pools: redis-py's default pool refuses every command past its hundredth
    at once, and a 10,000-viewer vote storm on the Redis path was mostly refused that way
    (``limits_unavailable``), while a burst of sessions committing together lost publishes.
    So a command waits up to :data:`POOL_WAIT` for one of its pool's connections.

    Connections are named ``live-<role>:<worker_id>`` in ``CLIENT LIST``.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = where(url)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        # publish and presence: one retry, for a socket a restart left stale
        self.publisher = self._client("pub", BUS_POOL, decode_responses=True, retry=Retry(NoBackoff(), 1))
        # the pub/sub reader holds one connection and reconnects by itself, with backoff
        self.subscriber = self._client("sub", 2, decode_responses=True, retry=Retry(NoBackoff(), 0))
        self.limiter = self._client("limits", LIMITER_POOL)

    def _client(self, role: str, connections: int, **options: Any) -> Redis:
        options |= {"client_name": f"live-{role}:{self.worker_id}", **TIMEOUTS}
        return Redis.from_pool(
            BlockingConnectionPool.from_url(
                self.url, max_connections=connections, timeout=POOL_WAIT, **options
            )
        )

    async def aclose(self) -> None:
        for client in (self.publisher, self.subscriber, self.limiter):
            await client.aclose()
