"""A small Python client for the live protocol (``docs/protocol.md``).

It is what the tests and the benchmarks use, so it stays honest: it keeps
the last sequence number and epoch it saw, resumes with them, and records any
gap or duplicate it is sent instead of hiding it.

    async with Client("ws://127.0.0.1:8000", session_id=2) as c:
        ack = await c.request("ask", client_id=str(uuid4()), text="...", name="...")
        event = await c.next_event()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .protocol import PROTOCOL

JSON = dict[str, Any]


class ServerError(Exception):
    """The server refused a request; ``code`` is stable, ``message`` has zh and en."""

    def __init__(self, frame: JSON) -> None:
        self.frame = frame
        self.code: str = frame.get("code", "")
        self.message: JSON = frame.get("message", {})
        self.details: JSON = frame.get("details", {})
        super().__init__(f"{self.code}: {self.message.get('en', '')}")


class Client:
    def __init__(
        self,
        url: str,
        session_id: int,
        *,
        token: str | None = None,
        device: str | None = None,
        origin: str | None = None,
        name: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.name = name
        self.session_id = session_id
        self.token = token
        self.device = device
        self.origin = origin
        self.seq = 0
        self.epoch: str | None = None
        self.welcome: JSON = {}
        self.snapshot: JSON | None = None
        self.events: list[JSON] = []
        self.gaps: list[tuple[int, int]] = []
        self.viewers: int | None = None
        self.close_code: int | None = None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[JSON]] = {}
        self._queue: asyncio.Queue[JSON] = asyncio.Queue()
        self._ids = itertools.count(1)
        self._welcomed: asyncio.Future[JSON] | None = None

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, resume: bool = False, **hello: Any) -> JSON:
        """Open the socket and say hello; with ``resume`` ask only for missed events.

        Returns the ``welcome`` frame once the snapshot (if one was sent) is in.
        """
        headers = {"Origin": self.origin} if self.origin else None
        self._ws = await connect(
            f"{self.url}/ws/{self.session_id}",
            additional_headers=headers,
            max_size=None,
            compression=None,
            open_timeout=10,
        )
        self._welcomed = asyncio.get_running_loop().create_future()
        self.close_code = None
        self._reader = asyncio.create_task(self._read(self._ws))
        frame: JSON = {"type": "hello", "protocol": PROTOCOL, **hello}
        if self.token:
            frame["token"] = self.token
        if self.device:
            frame["device"] = self.device
        if self.name:
            frame["name"] = self.name
        if resume and self.epoch is not None:
            frame.update(since=self.seq, epoch=self.epoch)
        await self._ws.send(json.dumps(frame))
        return await asyncio.wait_for(asyncio.shield(self._welcomed), 10)

    async def resume(self) -> JSON:
        await self.close()
        return await self.connect(resume=True)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._ws = self._reader = None

    async def send_raw(self, data: str | bytes) -> None:
        assert self._ws is not None
        await self._ws.send(data)

    async def request(self, type: str, timeout: float = 10, **fields: Any) -> JSON:
        """Send one command and wait for its ack.

        Raises :class:`ServerError` on a refusal and :class:`ConnectionError` if the
        connection is lost first (the request may or may not have been stored: resend it
        with the same ``client_id`` after resuming).
        """
        assert self._ws is not None, "not connected"
        rid = f"r{next(self._ids)}"
        future = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            try:
                await self._ws.send(json.dumps({"type": type, "id": rid, **fields}))
            except ConnectionClosed as exc:
                raise ConnectionError(f"connection closed ({exc.rcvd and exc.rcvd.code})") from exc
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(rid, None)

    async def next_event(self, timeout: float = 10) -> JSON:
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def wait_for(self, predicate: Any, timeout: float = 10) -> JSON:
        """The next event for which ``predicate(event)`` is true."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self._queue.get()
                if predicate(event):
                    return event

    async def wait_seq(self, seq: int, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while self.seq < seq:
                await self._queue.get()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                data = json.loads(message)
                for frame in data if isinstance(data, list) else [data]:
                    self._dispatch(frame)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code
            error = ConnectionError(f"connection closed ({ws.close_code})")
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error)
            if self._welcomed is not None and not self._welcomed.done():
                self._welcomed.set_exception(error)

    def _dispatch(self, frame: JSON) -> None:
        if "seq" in frame and "data" in frame:
            seq = frame["seq"]
            if seq != self.seq + 1:
                self.gaps.append((self.seq, seq))
            if seq > self.seq:
                self.seq = seq
                self.events.append(frame)
                self._queue.put_nowait(frame)
            return
        kind = frame.get("type")
        if kind == "welcome":
            self.welcome = frame
            self.epoch = frame["epoch"]
            if frame.get("device"):
                self.device = frame["device"]
            if frame["mode"] == "snapshot":
                self.events = []
            elif self._welcomed is not None and not self._welcomed.done():
                self._welcomed.set_result(frame)
        elif kind == "snapshot":
            self.snapshot = frame
            self.seq = frame["seq"]
            if self._welcomed is not None and not self._welcomed.done():
                self._welcomed.set_result(self.welcome)
        elif kind == "presence":
            self.viewers = frame["viewers"]
        elif kind in ("ack", "error", "pong"):
            rid = frame.get("re")
            future = self._pending.get(rid) if isinstance(rid, str) else None
            if future is not None and not future.done():
                if kind == "error":
                    future.set_exception(ServerError(frame))
                else:
                    future.set_result(frame.get("result", frame))
            elif kind == "error":
                self._queue.put_nowait(frame)
