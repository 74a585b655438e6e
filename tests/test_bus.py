"""The bus contract, run against both implementations (the memory bus and Redis), plus what
only Redis must do: resubscribe after it drops the connection and say that messages may
have been lost, and refuse to start, clearly, when it cannot be reached.

Redis is the real server on 127.0.0.1; if it is down these fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from live.bus import Bus, open_bus
from live.bus.redis import RedisBus
from live.redis_client import RedisClients

from .conftest import REDIS, until


@contextlib.asynccontextmanager
async def redis_buses(url: str = REDIS, n: int = 2) -> AsyncIterator[list[RedisBus]]:
    """``n`` workers' buses, each on its own clients as the wiring makes them; not connected."""
    clients = [RedisClients(url) for _ in range(n)]
    buses = [RedisBus(c) for c in clients]
    try:
        yield buses
    finally:
        for bus, client in zip(buses, clients, strict=True):
            await bus.disconnect()
            await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def buses(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Bus, Bus]]:
    """(publisher, subscriber): two processes' buses for Redis; one bus for memory."""
    if request.param == "memory":
        bus = open_bus("memory", None)
        await bus.connect()
        yield bus, bus
        await bus.disconnect()
        return
    async with redis_buses() as (pub, sub):
        await pub.connect()
        await sub.connect()
        yield pub, sub


def fresh_channel() -> str:
    return f"live:test:{secrets.token_hex(6)}"


async def test_bus_delivers_in_order_to_that_channel_only(buses: tuple[Bus, Bus]) -> None:
    pub, sub = buses
    one, other = fresh_channel(), fresh_channel()
    got: list[str | None] = []
    later: list[str | None] = []
    sent = [f"m{i}" for i in range(50)] + [f"c{i}" for i in range(30)] + ["last"]
    async with sub.subscribe(one, got.append):
        for i in range(50):
            await pub.publish(one, f"m{i}")
            await pub.publish(other, f"x{i}")
        await pub.publish(one, *sent[50:80])  # one commit's events: one call, one round trip
        await pub.publish(other, "y", "z")
        await pub.publish(one, "last")
        await until(lambda: len(got) >= len(sent), "every message")
    assert got == sent
    async with sub.subscribe(one, later.append):
        await pub.publish(one, "after")
        await until(lambda: later == ["after"], "the new subscriber's message")
    assert got == sent, "an exited subscription still received"


async def test_subscribe_returns_only_once_publishes_will_arrive(buses: tuple[Bus, Bus]) -> None:
    """A room reads the log right after subscribing: nothing may fall between the two."""
    pub, sub = buses
    for _ in range(20):
        channel, got = fresh_channel(), []
        async with sub.subscribe(channel, got.append):
            await pub.publish(channel, "first")
            await until(lambda got=got: got == ["first"], "the first message after subscribe")


async def test_a_burst_of_publishes_all_arrive(buses: tuple[Bus, Bus]) -> None:
    """Many sessions committing at once, each room with its publish in flight: a burst
    waits for a connection instead of failing (redis-py's default pool refused past 100)."""
    pub, sub = buses
    channels = [fresh_channel() for _ in range(300)]
    got: list[str | None] = []
    async with contextlib.AsyncExitStack() as stack:
        for channel in channels:
            await stack.enter_async_context(sub.subscribe(channel, got.append))
        await asyncio.gather(*(pub.publish(channel, channel, "2") for channel in channels))
        await until(lambda: len(got) >= 600, "every message of the burst")
    assert sorted(m for m in got if m != "2") == sorted(channels) and got.count("2") == 300


async def test_presence_sums_every_workers_count(buses: tuple[Bus, Bus]) -> None:
    a, b = buses
    channel = fresh_channel()
    if a is b:
        assert await a.presence(channel, 4) == 4
        return
    await a.presence(channel, 2)
    assert await b.presence(channel, 3) == 5
    assert await a.presence(channel, 1) == 4
    await a.disconnect()
    assert await b.presence(channel, 3) == 3, "a stopped worker still counted"


async def test_redis_reconnect_resubscribes_and_signals_possible_loss() -> None:
    channel, got = fresh_channel(), []
    async with redis_buses() as (pub, sub), aioredis.from_url(REDIS, decode_responses=True) as admin:
        await pub.connect()
        await sub.connect()
        async with sub.subscribe(channel, got.append):
            await pub.publish(channel, "before")
            await until(lambda: got == ["before"], "the message before the drop")
            clients = await admin.client_list()
            [mine] = [c["id"] for c in clients if c["name"] == f"live-sub:{sub.worker_id}"]
            assert await admin.client_kill_filter(_id=mine) == 1
            await until(lambda: None in got, "the reconnect signal")
            await pub.publish(channel, "after")
            await until(lambda: "after" in got, "a message after the reconnect")
        assert got == ["before", None, "after"]


async def test_unreachable_redis_fails_the_start_clearly() -> None:
    async with redis_buses("redis://127.0.0.1:1/0", 1) as [bus]:
        with pytest.raises(SystemExit, match=r"Redis at 127\.0\.0\.1:1/0 is not usable"):
            await bus.connect()


async def test_an_event_crosses_as_itself_in_one_process_and_as_text_without_contact_between(
    buses: tuple[Bus, Bus],
) -> None:
    """The memory bus hands the subscriber the very event object (no serialise/parse round
    trip); Redis carries text: an event naming a device or a contact as its number alone
    (the worker reads it from the log), any other event whole."""
    from live.bus.memory import MemoryBus
    from live.events import Event

    pub, sub = buses
    event = Event(
        1,
        7,
        "question.asked",
        {"question": {"id": 3}},
        5,
        None,
        {"device": "d1", "client_id": "c", "contact": "13800000000"},
    )
    got: list[object] = []
    ch = fresh_channel()
    async with sub.subscribe(ch, got.append):
        await pub.publish(ch, event)
        await until(lambda: got, "the event")
    if isinstance(pub, MemoryBus):
        assert got == [event] and got[0] is event
        return
    assert isinstance(got[0], str)
    assert not {"d1", "c", "13800000000"} & set(got[0].replace('"', " ").split())
    assert Event.from_bus(got[0]) == 7, "a notice to read event 7 from the log"
    answered = Event(1, 8, "question.answered", {"question": {"id": 3}}, 6, None, {"by": "presenter:ab12"})
    async with sub.subscribe(ch, got.append):
        await pub.publish(ch, answered)
        await until(lambda: len(got) == 2, "the second event")
    assert Event.from_bus(str(got[1])) == answered, "an event without a device crosses whole"
