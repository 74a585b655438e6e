"""One lean viewer: just enough RFC 6455 to count frames and check sequence numbers.

A bare :class:`asyncio.BufferedProtocol`: an upgrade request, unmasked server
frames parsed by hand, client frames masked with the all-zero key (legal, and it
makes masking free), pings answered. It counts frames, hands tagged frames
(``BENCH#<n>#`` in what the bench publishes) to its :class:`~bench.swarm.Swarm`,
and checks the ``seq`` of every event with a regular expression instead of
parsing JSON, so a gap or a duplicate is counted even at full speed. JSON is
parsed only for the rare frames that need it (``welcome``, errors).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import TYPE_CHECKING, Any

from live.protocol import PROTOCOL

if TYPE_CHECKING:
    from .swarm import Swarm

SEQ = re.compile(rb'\{"seq":(\d+),')
SNAPSHOT = re.compile(rb'^\{"type":"snapshot","seq":(\d+)')
TAG = b"BENCH#"
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def frame(payload: bytes, opcode: int = 1) -> bytes:
    """A client frame, masked with the zero key so the payload goes out as is."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


RECV = memoryview(bytearray(262144))
"""One receive buffer for every viewer: callbacks run one at a time and copy out what they keep.

A plain :class:`asyncio.Protocol` would make asyncio allocate a fresh 256 KiB
buffer for every ``recv``, which costs more than the rest of the viewer."""


class Viewer(asyncio.BufferedProtocol):
    __slots__ = (
        "acks",
        "buf",
        "changed_at",
        "close_code",
        "device",
        "epoch",
        "hello",
        "i",
        "last",
        "open",
        "sent",
        "sent_at",
        "swarm",
        "transport",
        "upgraded",
        "welcomed",
    )

    def __init__(self, swarm: Swarm, i: int, hello: dict[str, Any]) -> None:
        self.swarm = swarm
        self.i = i
        self.hello = hello
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.upgraded = False
        self.open = False
        self.welcomed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.last = -1
        self.epoch: str | None = None
        self.device: str | None = None
        self.close_code: int | None = None
        self.sent_at = 0.0
        self.changed_at = 0.0
        self.acks = 0
        self.sent = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        s = self.swarm
        self.transport.write(  # type: ignore[union-attr]
            b"GET " + s.path + b" HTTP/1.1\r\nHost: " + s.host + b"\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if self.open:
            self.open = False
            self.swarm.alive -= 1
        if not self.welcomed.done():
            self.welcomed.set_exception(ConnectionError(f"lost before welcome ({self.close_code})"))

    def send(self, obj: dict[str, Any]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(json.dumps(obj).encode()))

    def get_buffer(self, sizehint: int) -> memoryview:
        return RECV

    def buffer_updated(self, nbytes: int) -> None:
        data = bytes(RECV[:nbytes])
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.close_code = -int(buf[9:12] or b"0")
                self.transport.close()  # type: ignore[union-attr]
                return
            self.upgraded = True
            buf = buf[end + 4 :]
            hello = dict(self.hello)
            if self.epoch is not None:
                hello.update(since=self.last, epoch=self.epoch)
            if self.device:
                hello["device"] = self.device
            self.send({"type": "hello", "protocol": PROTOCOL, **hello})
        pos, size = 0, len(buf)
        while size - pos >= 2:
            n = buf[pos + 1] & 0x7F
            head = 2
            if n == 126:
                if size - pos < 4:
                    break
                n, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif n == 127:
                if size - pos < 10:
                    break
                n, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if size - pos < head + n:
                break
            self.on_frame(buf[pos] & 0x0F, buf[pos + head : pos + head + n])
            pos += head + n
        self.buf = buf[pos:] if pos < size else b""

    def on_frame(self, opcode: int, payload: bytes) -> None:
        s = self.swarm
        if opcode == 1:
            s.frames += 1
            seqs = SEQ.findall(payload)
            if s.buckets is not None:
                now = time.monotonic()
                s.buckets[(self.i, int(now))] += 1
                for raw in seqs:
                    seen = s.arrivals.setdefault(int(raw), [now, now])
                    seen[1] = now
            for raw in seqs:
                seq = int(raw)
                if self.last < 0 or seq == self.last + 1:
                    self.last = seq
                elif seq <= self.last:
                    s.duplicates += 1
                else:
                    s.missed += seq - self.last - 1
                    self.last = seq
            if seqs:
                self.changed_at = time.monotonic()
                if TAG in payload:
                    s.tagged(payload)
            elif payload.startswith(b'{"type":"snapshot"'):
                m = SNAPSHOT.match(payload)
                self.last = int(m.group(1)) if m else self.last
                return
            elif payload.startswith(b'{"type":"welcome"'):
                self.on_welcome(json.loads(payload))
                return
            # Replies may share an array frame with events: count them wherever they are
            # (a quote inside a JSON string is escaped, so these markers cannot be user text).
            for _ in range(payload.count(b'{"type":"ack"')):
                now = time.monotonic()
                self.acks += 1
                s.ack_times.append(now)
                s.ack_latency.append(now - self.sent_at)
                s.acked(self)
            if b'{"type":"error"' in payload:
                data = json.loads(payload)
                for item in data if isinstance(data, list) else [data]:
                    if item.get("type") == "error":
                        s.errors[item.get("code", "?")] += 1
                        s.acked(self, ok=False)
        elif opcode == 9:
            self.transport.write(frame(payload, 0xA))  # type: ignore[union-attr]
        elif opcode == 8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            s.closes[self.close_code] += 1
            self.transport.write(frame(payload[:2], 0x8))  # type: ignore[union-attr]
            self.transport.close()  # type: ignore[union-attr]

    def on_welcome(self, w: dict[str, Any]) -> None:
        if w.get("device"):
            self.device = w["device"]
        if w.get("mode") == "resume" and self.epoch == w.get("epoch"):
            pass  # keep self.last: the missed events follow
        else:
            if self.epoch is not None:
                self.swarm.resets += 1
            self.last = -1 if w.get("mode") == "snapshot" else w.get("seq", 0)
        self.epoch = w.get("epoch")
        self.open = True
        self.swarm.alive += 1
        if not self.welcomed.done():
            self.welcomed.set_result(None)
