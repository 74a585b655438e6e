"""One ASGI WebSocket connection, as the ``/ws/`` endpoint uses it.

Why not Starlette's :class:`~starlette.websockets.WebSocket`: ten thousand of
these wait at once, and what each one keeps counts (the target is 16 KiB per
idle viewer, ``docs/benchmarks.md``). This is the same state machine with
slots instead of a dict and without the header and cookie caches, and it
notes the first close code either side sent, which the access log reports;
the request-id middleware used to wrap ``receive`` and ``send`` in two more
coroutine layers to learn it.

The errors are Starlette's, so callers handle both alike: receiving a close
raises :class:`WebSocketDisconnect` (from :meth:`receive_text`), a send on a
lost connection raises it with 1006, and using a closed connection raises
:class:`WebSocketDisconnected` (a :class:`RuntimeError`).
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected


class WsConnection:
    __slots__ = ("_receive", "_send", "accepted", "client_closed", "close_code", "closed", "scope")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.accepted = False
        self.closed = False
        """We sent a close, or a send found the connection gone."""
        self.client_closed = False
        self.close_code: int | None = None

    async def accept(self) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":
            raise RuntimeError(f"expected websocket.connect, got {message['type']!r}")
        self.accepted = True
        await self._send({"type": "websocket.accept"})

    async def receive(self) -> Message:
        """The next ASGI message: ``websocket.receive`` or, once, ``websocket.disconnect``."""
        if self.client_closed:
            raise WebSocketDisconnected("the client already disconnected")
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self.client_closed = True
            if self.close_code is None:
                self.close_code = message.get("code", 1005)
        return message

    async def receive_text(self) -> str:
        """The next text message; a binary one raises :class:`KeyError`."""
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1005), message.get("reason"))
        text: str = message["text"]
        return text

    async def send_text(self, text: str) -> None:
        if self.closed or not self.accepted:
            raise WebSocketDisconnected("the connection is not open")
        await self._send_or_gone({"type": "websocket.send", "text": text})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close; before :meth:`accept` the server refuses the handshake (HTTP 403) instead."""
        if self.closed:
            raise WebSocketDisconnected("the connection is already closed")
        self.closed = True
        if self.close_code is None:
            self.close_code = code
        message = {"type": "websocket.close", "code": code, "reason": reason}
        if self.accepted:
            await self._send_or_gone(message)
        else:
            await self._send(message)

    async def _send_or_gone(self, message: Message) -> None:
        try:
            await self._send(message)
        except OSError:
            self.closed = True
            raise WebSocketDisconnect(1006) from None
