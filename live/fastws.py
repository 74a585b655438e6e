"""uvicorn's ``websockets-sansio`` protocol, plus one ASGI extension for fan-out.

Why: a server frame is not masked, so the bytes of one event's frame are the
same for every viewer. The ASGI ``send`` path rebuilds them per viewer and
walks five coroutine layers (Starlette, middleware, uvicorn, websockets) to get
there; measured at 5,000-10,000 viewers on 2 cores that made our fan-out about
twice as costly per frame as ``websockets.broadcast()`` (``docs/benchmarks.md``).
With this extension a room frames each event once and each viewer costs one
``transport.write`` of the shared bytes.

How: ``live serve`` passes this class to uvicorn as ``ws=`` (uvicorn's
documented way to choose a WebSocket protocol class). It adds
``scope["extensions"]["live.prebuilt"] = {"write": write}``. ``write(frame)``
writes one complete, pre-built server frame and returns True only when the
connection is open and its transport is not paused; otherwise it returns False
and the caller takes the ordinary ``send`` path, which waits for the socket
(:mod:`live.connection`). So nothing here can block fan-out or bypass the
back-pressure bound, and served by anything else (another ASGI server, the
test client) the extension is simply absent.

The cost of the speed: this reads uvicorn's protocol attributes
(``transport``, ``writable``, ``close_sent``, ``conn``), which are not a public
API. ``tests/test_contract.py`` checks each of them, uvicorn is pinned in
``pyproject.toml`` to the releases those checks have passed on, and
``tests/test_bench.py`` asserts that the extension is live under ``live serve``,
so an upgrade that breaks it fails loudly instead of silently going slow.
Writing whole frames between the websockets state machine's own writes is safe
because it only ever writes whole frames and never fragments outgoing messages.

It also trims what an idle connection keeps (the target is 16 KiB per viewer):
uvicorn's receive queue and writable flag are an :class:`asyncio.Queue` and an
:class:`asyncio.Event`, five deques of about 750 bytes each, for at most one
waiter; :class:`Inbox` and :class:`Flag` do the same with two small lists. The
inbox also yields to the loop before handing over a message that was already
waiting, so a client flooding small frames gets one message per loop pass
instead of the whole loop (measured in the isolation benchmark). The
parsed handshake (request and response headers, about 2 KiB) is dropped once
the connection is accepted; the scope keeps the copy Starlette reads.

And it parses at most :data:`READS_PER_PASS` client reads per event-loop
iteration (:class:`Admission`), so that timers, the vote tally's among them,
run between bursts of client messages instead of after all of them.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from .connection import EXTENSION
from .guard import guard

READS_PER_PASS = 200
"""Client reads parsed per event-loop iteration at most (see :class:`Admission`)."""
READ_SIZE = 16 * 1024
"""Bytes read from a client socket per callback on asyncio's own loop (its default is 256 KiB);
uvloop's transports have no such setting and read up to 256 KiB."""
AFTER_CLOSE = 32
"""Messages a client may still send after the server's close frame before the server stops
reading from it. uvicorn keeps reading (and parsing) for up to 10 s for the close reply; a
client cut off for flooding never sends one, and parsing its flood for those 10 s cost every
other viewer (the isolation benchmark)."""
CLOSE_GRACE = 1.0
"""Seconds such a client then has to read the close frame (and the error before it) before
its socket is closed. Closing at once would reset the connection with the flood still unread
in our buffer, and a reset can discard the client's copy of that last error."""


class Inbox:
    """What uvicorn uses of :class:`asyncio.Queue`: ``put_nowait``, ``get``, ``empty``."""

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiters: list[asyncio.Future[None]] = []

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
                break

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        if self._items:
            # One message per loop pass: a client flooding frames must not starve fan-out.
            # uvicorn parses a whole read (thousands of small frames) into this queue at once,
            # and without this the app would consume them all without ever yielding.
            await asyncio.sleep(0)
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                self._waiters.remove(waiter)
        return self._items.pop(0)


class Flag:
    """What uvicorn uses of :class:`asyncio.Event`: ``set``, ``clear``, ``is_set``, ``wait``."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] = []

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        while not self._set:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter


class Admission:
    """At most :data:`READS_PER_PASS` client reads parsed per event-loop iteration.

    Why: a loop runs its timers only between iterations, and an iteration parses
    every read that is ready. When ten thousand phones vote at once, that is one
    iteration of ten thousand reads and as many handler steps (~0.4 s on 2 cores),
    and the tally due meanwhile waits for all of it. Reads past the budget wait,
    in arrival order, with their connection paused (what they sent stays in the
    kernel); each later iteration parses the next ones, after the timers.
    """

    __slots__ = ("active", "used", "waiting")

    def __init__(self) -> None:
        self.used = 0
        self.active = False
        self.waiting: deque[FanoutWebSocketProtocol] = deque()

    def admit(self, protocol: FanoutWebSocketProtocol) -> bool:
        """True: parse now. False: ``protocol`` waits its turn (see ``parse_unparsed``)."""
        if not self.active:
            self.active = True
            asyncio.get_running_loop().call_soon(self._next)
        if self.used < READS_PER_PASS and not self.waiting:
            self.used += 1
            return True
        self.waiting.append(protocol)
        return False

    def _next(self) -> None:
        """Once per iteration while reads arrive: a fresh budget, spent first on those waiting."""
        self.used = 0
        waiting = self.waiting
        while waiting and self.used < READS_PER_PASS:
            self.used += 1
            waiting.popleft().parse_unparsed()
        if waiting:
            asyncio.get_running_loop().call_soon(self._next)
        else:
            self.active = False
            self.used = 0


_admissions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Admission] = weakref.WeakKeyDictionary()
"""One budget per event loop; it holds no reference to its loop, so the entry goes with it."""


def admission(loop: asyncio.AbstractEventLoop) -> Admission:
    found = _admissions.get(loop)
    if found is None:
        found = _admissions[loop] = Admission()
    return found


INVALID_UTF8 = "Invalid UTF-8 sequence received from client."
"""What uvicorn logs, with a traceback at error level, when a client's text frame is not UTF-8."""


class ClientFaults(logging.Filter):
    """On uvicorn's logger: a client's invalid UTF-8 becomes one line at info level.

    Why: it is the client's fault, answered correctly (close 1007); logged as a server
    error with a traceback, anyone could fill the error log and page the operator.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == INVALID_UTF8:
            record.msg, record.args = "closed a WebSocket with 1007: the client sent invalid UTF-8", ()
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


logging.getLogger("uvicorn.error").addFilter(ClientFaults())


class FanoutWebSocketProtocol(WebSocketsSansIOProtocol):
    ignored_after_close = 0
    """Messages received after our close frame (a class default: an instance pays only once
    it closes)."""
    unparsed: list[bytes] | None = None
    """What arrived while this connection waited for its turn (see :class:`Admission`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Duck-typed stand-ins for uvicorn's asyncio.Queue and asyncio.Event (see Inbox, Flag).
        self.queue = Inbox()  # type: ignore[assignment]  # does what uvicorn calls on a Queue
        self.writable = Flag()  # type: ignore[assignment]  # does what uvicorn calls on an Event

    def connection_lost(self, exc: Exception | None) -> None:
        guard().release(self.transport)  # the place its HTTP connection took (live.guard)
        super().connection_lost(exc)

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        # asyncio reads up to 256 KiB at a time and uvicorn parses a whole read at once: from a
        # client flooding tiny frames that is ~10,000 messages in one callback. Client messages
        # here are small, so smaller reads keep that burst (and the loop stall) short.
        if hasattr(transport, "max_size"):
            transport.max_size = READ_SIZE

    def data_received(self, data: bytes) -> None:
        if self.unparsed is not None:  # still waiting for its turn: keep the order
            self.unparsed.append(data)
        elif admission(self.loop).admit(self):
            super().data_received(data)
        else:
            self.unparsed = [data]
            self.transport.pause_reading()

    def parse_unparsed(self) -> None:
        data = b"".join(self.unparsed or ())
        self.unparsed = None
        if self.disconnected:
            return
        super().data_received(data)
        if not self.read_paused:  # no message for the app came of it: read on
            self.transport.resume_reading()

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        # The scope has its own copy of the headers now; the parser's generator frame keeps
        # the request object for the life of the connection, so empty it instead.
        event.headers.clear()
        self.request = None  # type: ignore[assignment]  # uvicorn never reads it again: let it go
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][EXTENSION] = {"write": self.write_prebuilt}

    def send_receive_event_to_app(self) -> None:
        if self.close_sent:
            self.ignored_after_close += 1
            if self.ignored_after_close == AFTER_CLOSE:
                self.transport.pause_reading()
                if self.close_timer is not None:
                    self.close_timer.cancel()
                self.close_timer = self.loop.call_later(CLOSE_GRACE, self.transport.close)
        super().send_receive_event_to_app()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            self.response = None  # type: ignore[assignment]  # sent: uvicorn never reads it again

    def write_prebuilt(self, frame: bytes) -> bool:
        """Write one whole server frame now if that needs no waiting; else return False."""
        if (
            self.close_sent
            or self.disconnected
            or not self.handshake_complete
            or not self.writable.is_set()
            or self.conn.state is not State.OPEN
        ):
            return False
        self.transport.write(frame)
        return True
