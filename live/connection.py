"""One viewer's outgoing side: a bounded outbox, flushed once per event-loop pass.

Fan-out must never wait on a viewer, and it must not cost a task wake-up per
viewer either. Measured on 2 cores (``docs/benchmarks.md``): a sender task per
connection, woken by an :class:`asyncio.Event` for every broadcast, spent about
a third of the server's CPU on scheduling those wake-ups and on the garbage
collector scanning the ten thousand handles and futures they left queued.

So delivery is split in two cheap steps:

1. :meth:`Outbox.push` (called by fan-out, acks and pongs) only appends a
   reference to an already serialised frame and, the first time in a loop
   pass, puts the outbox on the loop's :class:`Flusher` list. No await, no task.
2. The flusher runs once, right after everything else that was ready in that
   pass, and writes each listed outbox's frames *synchronously*: whatever piled
   up goes as one JSON array frame, because WebSocket cost is per frame, not
   per byte (events committed together by one group commit go out together).

The synchronous write needs the server's help: ``live serve`` runs uvicorn
with :mod:`live.fastws`, which offers a ``write(frame_bytes) -> bool`` in the
ASGI scope. A server frame is not masked, so a room frames each event once
(:func:`encode_frame`) and every viewer it reaches costs one
``transport.write`` of the same bytes. ``write`` refuses when the transport is
paused (a stalled phone) or closing; then, and only then, that one connection
gets a task that awaits the ordinary ASGI ``send`` (which waits for the socket)
and drains the outbox behind it, batching what piled up. Served by anything
without the extension, every flush takes that task path: correct, just slower.

Measured before choosing (``docs/benchmarks.md``): driving the plain ASGI send
synchronously instead still cost about twice the bare ``websockets`` library
per frame, because each send walks five coroutine layers and re-frames the same
bytes; the pre-built write brings it to the cost of the ``send()`` syscall.

The bound is unchanged: when frames waiting for one viewer pass ``limit`` it is
closed with :data:`CLOSE_RESUME` and its client resumes from its last sequence
number, which is cheap because the log exists. Memory per stalled viewer is
therefore at most the transport's high-water mark plus ``limit`` references.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from . import metrics
from .tasks import cancel_and_wait

CLOSE_RESUME = 4000
"""Close code: you fell behind or the server is moving you; reconnect with your last seq."""

EXTENSION = "live.prebuilt"
"""ASGI scope extension: ``{"write": Callable[[bytes], bool]}`` writes one whole frame now."""

Send = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Coroutine[Any, Any, None]]
Write = Callable[[bytes], bool]


def encode_frame(text: str) -> bytes:
    """One unmasked, final WebSocket text frame (RFC 6455 section 5.2) carrying ``text``."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


def prebuilt_writer(scope: Mapping[str, Any]) -> Write | None:
    """The server's pre-built-frame writer for this connection, if it offers one."""
    ext = scope.get("extensions") or {}
    return (ext.get(EXTENSION) or {}).get("write")


class Flusher:
    """The outboxes with frames to send in this loop pass; one per event loop."""

    __slots__ = ("_context", "_loop", "pending")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._context = contextvars.Context()
        self.pending: list[Outbox] = []

    def add(self, outbox: Outbox) -> None:
        if not self.pending:
            self._loop.call_soon(self.flush, context=self._context)
        self.pending.append(outbox)

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        for outbox in pending:
            outbox.flush()


_flushers: dict[asyncio.AbstractEventLoop, Flusher] = {}


def flush_now() -> None:
    """Write what fan-out just queued, instead of at the end of this loop pass.

    Why: in a storm one loop pass runs thousands of callbacks (votes, acks, reads);
    an event delivered early in the pass would wait for all of them before the first
    viewer got it. A room calls this once it has delivered everything one commit (or
    one bus message) brought, so those events still go out together.
    """
    f = _flushers.get(asyncio.get_running_loop())
    if f is not None and f.pending:
        f.flush()


def flusher() -> Flusher:
    loop = asyncio.get_running_loop()
    f = _flushers.get(loop)
    if f is None or f._loop.is_closed():
        for stale in [k for k in _flushers if k.is_closed()]:
            del _flushers[stale]
        f = _flushers[loop] = Flusher(loop)
    return f


class Outbox:
    """Frames waiting for one connection; ``seq`` 0 marks frames outside the log."""

    __slots__ = (
        "_close",
        "_flusher",
        "_send",
        "_task",
        "_write",
        "busy",
        "closed",
        "frames",
        "last_seq",
        "limit",
        "paused",
        "scheduled",
        "staff",
    )

    def __init__(self, send: Send, close: Close, limit: int, staff: bool, write: Write | None = None) -> None:
        self._send = send
        self._write = write
        self._close = close
        self._flusher = flusher()
        self.limit = limit
        self.staff = staff
        self.frames: list[tuple[int, str, bytes | None]] = []  # a deque costs 600 B more
        self.last_seq = 0
        self.paused = True
        self.closed = False
        self.busy = False
        self.scheduled = False
        self._task: asyncio.Task[None] | None = None

    def push(self, seq: int, frame: str, framed: bytes | None = None) -> None:
        """Queue one frame (and its pre-built bytes, when fan-out made them); never blocks.

        Overflow closes the connection for a resume.
        """
        if self.closed:
            return
        if len(self.frames) >= self.limit:
            self.closed = True
            metrics.OUTBOX_DROPS.inc()
            self.frames.clear()
            asyncio.get_running_loop().create_task(
                self._close(CLOSE_RESUME, "too slow: reconnect with your last seq")
            )
            return
        if self.busy or self.frames:
            framed = None  # a backlog goes out re-framed as one array; keep only the text
        self.frames.append((seq, frame, framed))
        if not (self.scheduled or self.paused or self.busy):
            self.scheduled = True
            self._flusher.add(self)

    def start(self) -> None:
        """Begin sending, after the catch-up frames were sent directly."""
        self.paused = False
        if self.frames and not self.scheduled:
            self.scheduled = True
            self._flusher.add(self)

    async def stop(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):  # a send that failed: the viewer is gone anyway
            await cancel_and_wait(self._task)

    def _take(self) -> str | None:
        """Everything waiting, as one frame (a JSON array if more than one), minus repeats."""
        frames, batch = self.frames, []
        self.frames = []
        for seq, frame, _ in frames:
            if seq:
                if seq <= self.last_seq:
                    continue
                self.last_seq = seq
            batch.append(frame)
        if not batch:
            return None
        return batch[0] if len(batch) == 1 else "[" + ",".join(batch) + "]"

    def flush(self) -> None:
        """Write what is waiting now, without awaiting; a write that would wait gets a task."""
        self.scheduled = False
        if self.closed or self.busy:
            return
        write, frames = self._write, self.frames
        if write is None:
            text = self._take()
            if text is None:
                return
        elif len(frames) == 1:  # the common case: one event, its shared pre-built bytes
            seq, text, framed = frames[0]
            frames.clear()
            if seq:
                if seq <= self.last_seq:
                    return
                self.last_seq = seq
            if write(framed or encode_frame(text)):
                return
        else:
            batch = self._take()
            if batch is None or write(encode_frame(batch)):
                return
            text = batch
        self.busy = True
        self._task = asyncio.get_running_loop().create_task(self._send_and_drain(text))

    async def _send_and_drain(self, text: str) -> None:
        """The slow path: ``send`` waits while the socket is full, and whatever piles up
        meanwhile goes out as one frame once it drains (or the bound closes the connection)."""
        try:
            while not self.closed:
                await self._send(text)
                batch = self._take()
                if batch is None:
                    break
                text = batch
        except asyncio.CancelledError:
            raise
        except Exception:
            self.closed = True  # the peer is gone; the endpoint's receive loop ends the rest
        finally:
            self.busy = False
            self._task = None
