"""One viewer's outgoing side: a bounded outbox drained by one sender task.

Fan-out must never wait on a viewer. uvicorn's ``send()`` awaits while the
socket's buffer is full, so a plain loop of sends would let one stalled phone
hold up every other one. Instead fan-out only appends a reference to an
already serialised frame here (no copy, no task, no await); the sender task
drains the outbox, and sends whatever piled up meanwhile as one JSON array
frame, because the cost of WebSocket delivery is per frame, not per byte. When
the outbox passes its bound the viewer has fallen too far behind: it is closed
with :data:`CLOSE_RESUME` and its client resumes from its last sequence number,
which is cheap because the log exists.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

CLOSE_RESUME = 4000
"""Close code: you fell behind or the server is moving you; reconnect with your last seq."""
CLOSE_RESTART = 1012
"""Close code: the server is restarting; reconnect (to another worker) with your last seq."""

Send = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]


class Outbox:
    """Frames waiting for one connection; ``seq`` 0 marks frames outside the log."""

    __slots__ = ("_close", "_ready", "_send", "_task", "closed", "frames", "last_seq", "limit",
                 "paused", "staff")

    def __init__(self, send: Send, close: Close, limit: int, staff: bool) -> None:
        self._send = send
        self._close = close
        self.limit = limit
        self.staff = staff
        self.frames: deque[tuple[int, str]] = deque()
        self.last_seq = 0
        self.paused = True
        self.closed = False
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def push(self, seq: int, frame: str) -> None:
        """Queue one frame; never blocks. Overflow closes the connection for a resume."""
        if self.closed:
            return
        if len(self.frames) >= self.limit:
            self.closed = True
            self.frames.clear()
            asyncio.get_running_loop().create_task(
                self._close(CLOSE_RESUME, "too slow: reconnect with your last seq"))
            return
        self.frames.append((seq, frame))
        if not self.paused:
            self._ready.set()

    def start(self) -> None:
        """Begin sending, after the catch-up frames were sent directly."""
        self.paused = False
        self._task = asyncio.get_running_loop().create_task(self._run())
        self._ready.set()

    async def stop(self) -> None:
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        try:
            await self._drain()
        except Exception:
            self.closed = True  # the peer is gone; the endpoint's receive loop ends the rest

    async def _drain(self) -> None:
        frames = self.frames
        while not self.closed:
            await self._ready.wait()
            self._ready.clear()
            batch = []
            while frames:
                seq, frame = frames.popleft()
                if seq:
                    if seq <= self.last_seq:
                        continue
                    self.last_seq = seq
                batch.append(frame)
            if len(batch) == 1:
                await self._send(batch[0])
            elif batch:
                await self._send("[" + ",".join(batch) + "]")
