"""The in-process bus: publishing calls every subscriber directly.

With one process there is nothing to cross, so a publish is a plain loop over
the channel's callbacks, handing each the message itself (an event object, not
its text): no queue, no task, no copy, no serialise/parse round trip.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .base import Callback, Message


class MemoryBus:
    def __init__(self) -> None:
        self._subscribers: defaultdict[str, list[Callback]] = defaultdict(list)

    ready = True
    """One process is always connected to itself."""

    async def connect(self) -> None:
        return None

    async def disconnect(self) -> None:
        self._subscribers.clear()

    async def publish(self, channel: str, *messages: Message) -> None:
        for message in messages:
            for callback in tuple(self._subscribers.get(channel, ())):
                callback(message)

    async def presence(self, channel: str, local: int) -> int:
        return local

    @asynccontextmanager
    async def subscribe(self, channel: str, callback: Callback) -> AsyncIterator[None]:
        self._subscribers[channel].append(callback)
        try:
            yield
        finally:
            self._subscribers[channel].remove(callback)
            if not self._subscribers[channel]:
                del self._subscribers[channel]
