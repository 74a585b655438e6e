"""The bus interface, as small as encode/broadcaster's and with one addition.

A subscriber is a plain callback, called in the event loop for each message.
It is called with ``None`` when the bus may have lost messages (a Redis
reconnect): the subscriber then re-reads the log, because the bus itself keeps
no history and never needs to.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

Callback = Callable[[str | None], None]


class Bus(Protocol):
    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def publish(self, channel: str, message: str) -> None: ...

    def subscribe(self, channel: str, callback: Callback) -> AbstractAsyncContextManager[None]:
        """Deliver ``channel``'s messages to ``callback`` until the context exits."""
