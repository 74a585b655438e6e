"""The Redis connections one worker holds, made from the ``--bus`` URL by the wiring.

The bus (:mod:`live.bus.redis`) and the rate limiter (:mod:`live.limits`) share one Redis,
and neither builds its own connection: :class:`RedisClients` opens every client a worker
needs from one URL, and :mod:`live.services` hands each its own and closes them all last.
So how Redis is reached (a URL, or Sentinel) is decided here once.

Two URL forms:

- ``redis://[[user]:password@]host:port/db``, ``rediss://...`` (TLS), ``unix:///path?db=0``:
  redis-py's own (``Redis.from_url``).
- ``redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db]`` with
  optional ``?sentinel_username=...&sentinel_password=...``: the Sentinels to ask, the name
  they monitor the master under, and its database. The password in front is the master's
  (and its replicas'); the Sentinels' own, if they have one, is ``sentinel_password``.
  A Sentinel's port defaults to 26379. This is the form of the ``redis-sentinel-url``
  package and of Prefect (redis-py itself has no URL for Sentinel).

With Sentinel, redis-py's :class:`~redis.asyncio.sentinel.Sentinel` finds the master
before each new connection and drops connections to a master that was demoted (it
answers ``READONLY``); Sentinel itself disconnects the old master's clients when it
reconfigures it. So a failover looks to the bus like a Redis restart (the reader
reconnects, resubscribes and the rooms re-read the log) and to the limiter like a
failed batch: nothing here handles failover by hand.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff

SENTINEL_PORT = 26379
BUS_POOL = 32
"""Connections per worker for publishing and presence (the pub/sub reader has its own)."""
LIMITER_POOL = 8
"""Connections per worker for rate limits; a batch waits for a free one, else its actions
are refused as unavailable."""
POOL_WAIT = 5.0
"""Seconds a command may wait for a free connection before it fails (see :class:`RedisClients`)."""
TIMEOUTS = {"socket_connect_timeout": 2, "socket_timeout": 5}
"""A silent network fails a command instead of hanging it."""


@dataclass(frozen=True)
class SentinelTarget:
    """A ``redis+sentinel://`` URL, parsed."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int
    username: str | None
    password: str | None
    sentinel_auth: dict[str, str]
    """``username`` and ``password`` for the Sentinels themselves, if they need them."""

    @classmethod
    def parse(cls, url: str) -> SentinelTarget:
        parts = urlsplit(url)
        userinfo, _, hosts = parts.netloc.rpartition("@")
        username, _, password = userinfo.partition(":")
        path = [p for p in parts.path.split("/") if p]
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(options) - {"sentinel_username", "sentinel_password"}
        if not hosts or not 1 <= len(path) <= 2 or unknown or (len(path) == 2 and not path[1].isdigit()):
            raise SystemExit(
                f"bus URL {where(url)!r} is not redis+sentinel://[:password@]host:port[,host:port...]"
                "/service[/db][?sentinel_password=...]"
            )
        return cls(
            tuple(_address(member) for member in hosts.split(",")),
            unquote(path[0]),
            int(path[1]) if len(path) == 2 else 0,
            unquote(username) or None,
            unquote(password) or None,
            {k.removeprefix("sentinel_"): v for k, v in options.items()},
        )


def _address(member: str) -> tuple[str, int]:
    """host, host:port, [v6] or [v6]:port, with Sentinel's default port."""
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?|([^:\[\]]+)(?::(\d+))?", member)
    if match is None:
        raise SystemExit(f"bus URL: {member!r} is not a Sentinel host[:port]")
    host, port = (match[1], match[2]) if match[1] else (match[3], match[4])
    return host, int(port) if port else SENTINEL_PORT


def where(url: str) -> str:
    """Where a URL points, without any password, for messages and logs."""
    parts = urlsplit(url)
    hosts = parts.netloc.rpartition("@")[2]
    if url.startswith("redis+sentinel://"):
        return f"{parts.path.strip('/') or '?'} via Sentinel {hosts}"
    if url.startswith("unix://"):
        return parts.path
    return f"{hosts or 'localhost:6379'}{parts.path or '/0'}"


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """redis-py's Sentinel pool (finds the master) that waits for a free connection like
    its blocking pool, the two combined by inheritance and nothing else."""


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
        self._sentinel: Sentinel | None = None
        self._master: dict[str, Any] = {}
        if url.startswith("redis+sentinel://"):
            target = SentinelTarget.parse(url)
            # redis-py leaves Sentinel's constructor unannotated
            self._sentinel = Sentinel(  # type: ignore[no-untyped-call]
                target.sentinels, sentinel_kwargs={**TIMEOUTS, **target.sentinel_auth}
            )
            self._master = {
                "service_name": target.service,
                "db": target.db,
                "username": target.username,
                "password": target.password,
            }
        # publish and presence: one retry, for a socket a restart (or failover) left stale
        self.publisher = self._client("pub", BUS_POOL, decode_responses=True, retry=Retry(NoBackoff(), 1))
        # the pub/sub reader holds one connection and reconnects by itself, with backoff
        self.subscriber = self._client("sub", 2, decode_responses=True, retry=Retry(NoBackoff(), 0))
        self.limiter = self._client("limits", LIMITER_POOL)

    def _client(self, role: str, connections: int, **options: Any) -> Redis:
        options |= {"client_name": f"live-{role}:{self.worker_id}", **TIMEOUTS}
        pool = {"max_connections": connections, "timeout": POOL_WAIT, **options}
        if self._sentinel is None:
            return Redis.from_pool(BlockingConnectionPool.from_url(self.url, **pool))
        client: Redis = self._sentinel.master_for(
            connection_pool_class=BlockingSentinelPool, **self._master, **pool
        )
        return client

    async def aclose(self) -> None:
        for client in (self.publisher, self.subscriber, self.limiter):
            await client.aclose()
        if self._sentinel is not None:
            await self._sentinel.aclose()
