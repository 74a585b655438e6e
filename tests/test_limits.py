"""The rate limiter's contract, run against both implementations (in memory, and on Redis
shared by every worker), plus what only Redis must do: share the counts between workers,
keep installations apart, and refuse clearly when it cannot be reached.

Redis is the real server on 127.0.0.1; if it is down these fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from live.exceptions import Unavailable
from live.limits import Limiter, MemoryLimiter, open_limiter
from live.redis_client import RedisClients
from live.redis_limiter import RedisLimiter

from .conftest import REDIS

HOUR = 3600.0
"""The window in these tests: Redis counts in fixed windows, and a test that straddled the
edge of a minute would see its count start again."""


@contextlib.asynccontextmanager
async def redis_limiters(*namespaces: str, url: str = REDIS) -> AsyncIterator[list[RedisLimiter]]:
    """A worker's limiter per namespace, each on the client the wiring would give it."""
    clients = [RedisClients(url) for _ in namespaces]
    made = [RedisLimiter(c.limiter, ns) for c, ns in zip(clients, namespaces, strict=True)]
    try:
        yield made
    finally:
        for limiter, client in zip(made, clients, strict=True):
            await limiter.close()
            await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Limiter]:
    if request.param == "memory":
        made = open_limiter(None, namespace="x")
        assert isinstance(made, MemoryLimiter)
        yield made
        await made.close()
        return
    async with redis_limiters(secrets.token_hex(6)) as [made]:
        yield made


async def test_a_key_gets_its_limit_then_a_wait_within_the_window(limiter: Limiter) -> None:
    key = [("ask:d:phone", 3)]
    assert [await limiter.hit(key, HOUR) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = await limiter.hit(key, HOUR)
    assert 0 < wait <= HOUR
    assert await limiter.hit([("ask:d:other", 3)], HOUR) == 0.0, "keys are counted apart"


async def test_a_device_over_its_limit_does_not_use_up_its_networks(limiter: Limiter) -> None:
    """Keys are counted in order and the first one over stops the count: one phone
    hammering must not lock out everyone behind the same NAT."""
    spammer = [("vote:d:spam", 2), ("vote:ip:10.0.0.1", 5)]
    for _ in range(2):
        assert await limiter.hit(spammer, HOUR) == 0.0
    for _ in range(20):
        assert await limiter.hit(spammer, HOUR) > 0
    neighbours = [[(f"vote:d:n{i}", 2), ("vote:ip:10.0.0.1", 5)] for i in range(4)]
    assert [await limiter.hit(keys, HOUR) for keys in neighbours[:3]] == [0.0, 0.0, 0.0]
    assert await limiter.hit(neighbours[3], HOUR) > 0, "the address's own limit still holds"


async def test_a_burst_is_counted_exactly_and_never_refused_for_want_of_connections(limiter: Limiter) -> None:
    """A vote storm: a thousand phones at once on one worker, all behind one address.
    (redis-py's default pool refused every command past its hundredth at once.)"""
    waits = await asyncio.gather(
        *(limiter.hit([(f"vote:d:{i}", 1), ("vote:ip:nat", 700)], HOUR) for i in range(1000))
    )
    assert sum(1 for w in waits if w == 0.0) == 700
    assert all(0 < w <= HOUR for w in waits if w)


async def test_workers_share_the_count_and_installations_do_not() -> None:
    namespace = secrets.token_hex(6)
    key = [("ask:d:phone", 2)]
    async with redis_limiters(namespace, namespace, secrets.token_hex(6)) as (one, two, elsewhere):
        assert await one.hit(key, HOUR) == 0.0
        assert await two.hit(key, HOUR) == 0.0
        assert await one.hit(key, HOUR) > 0, "the other worker's hit was not counted"
        assert await elsewhere.hit(key, HOUR) == 0.0


async def test_a_redis_that_lost_its_scripts_is_taught_again() -> None:
    """Redis restarted (or SCRIPT FLUSH): the next batch loads the script and goes on."""
    async with redis_limiters(secrets.token_hex(6)) as [limiter], aioredis.from_url(REDIS) as admin:
        assert await limiter.hit([("ask:d:phone", 1)], HOUR) == 0.0
        await admin.script_flush()
        waits = await asyncio.gather(*(limiter.hit([("ask:d:phone", 1)], HOUR) for _ in range(3)))
        assert all(w > 0 for w in waits)
        assert await limiter.hit([("ask:d:other", 1)], HOUR) == 0.0


async def test_unreachable_redis_refuses_with_limits_unavailable() -> None:
    async with redis_limiters("x", url="redis://127.0.0.1:1/0") as [limiter]:
        with pytest.raises(Unavailable) as err:
            await limiter.hit([("ask:d:phone", 5)], HOUR)
        assert err.value.code == "limits_unavailable" and err.value.status == 503
