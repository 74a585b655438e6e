"""The Redis bus: pub/sub between workers, plus the viewer count they must share.

One pub/sub connection per process, read by one task that dispatches each
message to the channel's callbacks; publishing and presence go through a
separate small pool, so a slow publish never stalls the reader. Both clients
come from the wiring (:mod:`live.redis_client`), which also decides whether
they reach one Redis or the master Sentinel names.

Redis pub/sub forgets whatever it could not deliver, and that is fine: the
log is the history. What the bus must do is *say* when it may have lost
something. So whenever a channel's subscription is confirmed again (the
reader reconnected after Redis restarted, the network dropped or Sentinel
moved the master elsewhere, with backoff), every callback of that channel is
called with ``None`` and the room re-reads the log. :meth:`RedisBus.subscribe` itself returns only once
Redis has confirmed the subscription, because a room reads the log right
after subscribing and nothing may fall between the two.

A silent network (no FIN, no error) is caught by pinging an idle connection
and giving up on it when nothing at all comes back for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from ..redis_client import RedisClients
from ..tasks import cancel_and_wait
from .base import Callback, Message

log = logging.getLogger("live.bus.redis")

SUBSCRIBE_TIMEOUT = 10.0
"""Seconds :meth:`RedisBus.connect` waits for its reader to subscribe before the start fails."""
CONFIRM_WAIT = 2.0
"""Seconds :meth:`RedisBus.subscribe` waits for Redis to confirm before going on without it."""
PING_INTERVAL = 5.0
DEAD_AFTER = 3 * PING_INTERVAL
BACKOFF = (0.05, 5.0)
PRESENCE_TTL = 10
"""Seconds after which a worker that stopped reporting (killed) no longer counts."""

_PRESENCE = """
local now = tonumber(redis.call('TIME')[1])
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. now)
redis.call('EXPIRE', KEYS[1], ttl)
local total = 0
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local count, seen = string.match(entries[i + 1], '(%d+) (%d+)')
  if now - tonumber(seen) > ttl then
    redis.call('HDEL', KEYS[1], entries[i])
  else
    total = total + tonumber(count)
  end
end
return total
"""


class RedisBus:
    """Publishes through ``redis.publisher``, reads pub/sub through ``redis.subscriber``.

    The clients are the wiring's (:class:`~live.redis_client.RedisClients`, closed by it):
    whether they reach one Redis or a master found through Sentinel makes no difference here.
    """

    def __init__(self, redis: RedisClients) -> None:
        self._clients = redis
        self.where = redis.where
        self.worker_id = redis.worker_id
        self._control = f"live:bus:{self.worker_id}"
        self._callbacks: dict[str, list[Callback]] = {}
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._presence_keys: set[str] = set()
        self._redis: Redis | None = None
        self._sub: Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._presence: AsyncScript | None = None

    async def connect(self) -> None:
        """Connect, or fail the start with a clear message if Redis cannot be reached."""
        self._redis = self._clients.publisher
        self._sub = self._clients.subscriber
        self._presence = self._redis.register_script(_PRESENCE)
        try:
            await self._redis.ping()
            self._reader = asyncio.get_running_loop().create_task(self._read_forever())
            await asyncio.wait_for(self._ready.wait(), SUBSCRIBE_TIMEOUT)
        except (RedisError, OSError, TimeoutError) as exc:
            await self.disconnect()
            raise SystemExit(f"Redis at {self.where} is not usable: {exc}") from exc

    async def disconnect(self) -> None:
        await cancel_and_wait(self._reader)
        if self._redis is not None and self._presence_keys:
            with contextlib.suppress(RedisError, OSError):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for key in self._presence_keys:
                        pipe.hdel(key, self.worker_id)
                    await pipe.execute()
        self._reader = self._redis = self._sub = None
        self._callbacks.clear()

    @property
    def ready(self) -> bool:
        """Whether the pub/sub reader holds a confirmed subscription now."""
        return self._ready.is_set()

    @property
    def redis(self) -> Redis:
        assert self._redis is not None, "bus is not connected"
        return self._redis

    async def publish(self, channel: str, *messages: Message) -> None:
        """One round trip however many messages: a commit of 200 questions made 200 (with
        Redis 2.3 ms away, ingest went from ~350 to ~2,000 questions/s)."""
        texts = [m if isinstance(m, str) else m.to_bus() for m in messages]
        if len(texts) == 1:
            await self.redis.publish(channel, texts[0])
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for text in texts:
                pipe.publish(channel, text)
            await pipe.execute()

    @asynccontextmanager
    async def subscribe(self, channel: str, callback: Callback) -> AsyncIterator[None]:
        callbacks = self._callbacks.setdefault(channel, [])
        callbacks.append(callback)
        try:
            if len(callbacks) == 1:
                self._waiters[channel] = asyncio.get_running_loop().create_future()
                if self._pubsub is not None:
                    with contextlib.suppress(RedisError, OSError):  # the reader resubscribes
                        await self._pubsub.subscribe(channel)
            waiter = self._waiters.get(channel)
            if waiter is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(waiter), CONFIRM_WAIT)
                except TimeoutError:
                    # Redis is away: go on without it. The room reads the log now and every
                    # second; once the reader subscribes, the callback hears None (re-read).
                    self._waiters.pop(channel, None)
                    log.warning("subscribing to %s unconfirmed; going on from the log", channel)
            yield
        finally:
            callbacks.remove(callback)
            if not callbacks:
                self._callbacks.pop(channel, None)
                self._waiters.pop(channel, None)
                if self._pubsub is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await self._pubsub.unsubscribe(channel)

    async def presence(self, channel: str, local: int) -> int:
        """Report this worker's viewer count on ``channel``; return the sum over live workers."""
        assert self._presence is not None, "bus is not connected"
        key = f"{channel}:viewers"
        self._presence_keys.add(key)
        return int(await self._presence(keys=[key], args=[self.worker_id, local, PRESENCE_TTL]))

    async def _read_forever(self) -> None:
        """Hold one pub/sub connection; after any failure, back off and start again."""
        assert self._sub is not None
        delay = BACKOFF[0]
        while True:
            pubsub = self._sub.pubsub()
            try:
                await pubsub.subscribe(self._control)
                # From here on subscribe() sends its own SUBSCRIBE; the channels it
                # registered before are in _callbacks now, read in this same step.
                self._pubsub = pubsub
                if self._callbacks:
                    await pubsub.subscribe(*self._callbacks)
                await self._listen(pubsub)
            except (RedisError, OSError) as exc:
                log.warning("Redis bus at %s lost (%r); reconnecting in %.2fs", self.where, exc, delay)
            except Exception:
                log.exception("Redis bus reader failed; reconnecting in %.2fs", delay)
            finally:
                self._pubsub = None
                was_ready = self._ready.is_set()
                self._ready.clear()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py left it unannotated
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = BACKOFF[0] if was_ready else min(delay * 2, BACKOFF[1])

    async def _listen(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        heard = loop.time()
        while True:
            message = await pubsub.get_message(timeout=PING_INTERVAL)
            if message is None:
                if loop.time() - heard > DEAD_AFTER:
                    raise ConnectionError(f"no reply from Redis for {DEAD_AFTER:.0f}s")
                await pubsub.ping()
                continue
            heard = loop.time()
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"]
        if kind == "message":
            self._call(channel, message["data"])
        elif kind == "subscribe":
            if channel == self._control:
                self._ready.set()
                return
            waiter = self._waiters.pop(channel, None)
            if waiter is not None:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                self._call(channel, None)  # subscribed again: messages may have been lost

    def _call(self, channel: str, data: str | None) -> None:
        for callback in tuple(self._callbacks.get(channel, ())):
            try:
                callback(data)
            except Exception:
                log.exception("bus callback failed on %s", channel)
