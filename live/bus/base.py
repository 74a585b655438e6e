"""The bus interface, as small as encode/broadcaster's and with two additions.

A subscriber is a plain callback, called in the event loop for each message.
It is called with ``None`` when the bus may have lost messages (a Redis
reconnect): the subscriber then re-reads the log, because the bus itself keeps
no history and never needs to.

``presence`` is the one piece of shared state that is not in the log: how
many viewers a session has across every worker. It lives with the bus because
the bus is what spans the workers; in one process it is just the local count.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol


class Serialisable(Protocol):
    def to_bus(self) -> str: ...


Message = str | Serialisable
"""What is published: text, or an object that can write itself as text (an event).

In one process (:mod:`.memory`) the object itself is handed to the subscribers, with no
serialise/parse round trip; a bus that crosses processes (:mod:`.redis`) sends
``to_bus()``, and its subscribers get that text."""

Callback = Callable[[Message | None], None]


class Bus(Protocol):
    @property
    def ready(self) -> bool:
        """Whether messages flow now (``/readyz``); while not, subscribers lean on the log."""

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def publish(self, channel: str, *messages: Message) -> None:
        """Publish ``messages`` in order; a commit's events go in one call."""

    def subscribe(self, channel: str, callback: Callback) -> AbstractAsyncContextManager[None]:
        """Deliver ``channel``'s messages to ``callback`` until the context exits.

        Entering never fails for an outage: a bus that cannot confirm the subscription
        soon enough goes on trying, and calls ``callback(None)`` once it is confirmed.
        """

    async def presence(self, channel: str, local: int) -> int:
        """Report this process's viewer count on ``channel``; return the count over all processes."""
