"""A swarm of lean viewers in one process: ``python -m bench.swarm``, driven over stdin/stdout.

Ten thousand viewers must not cost the load generator more than the server it
measures: each is a :class:`~bench.viewer.Viewer`, and this module keeps what
they share: counters, when each *tagged* frame arrived, the closed-loop ingest
load, drops and reconnects.

Commands arrive as JSON lines on stdin (``{"id": 1, "cmd": "connect", ...}``)
and each gets one JSON line reply with the same ``id``; tag completions are
pushed unasked as ``{"ev": "tag", ...}`` lines so the driver can publish the
next answer as soon as the last viewer has the previous one.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import socket
import statistics
import sys
import time
from collections import Counter
from typing import Any

from .viewer import TAG, Viewer


class Swarm:
    def __init__(self) -> None:
        self.viewers: list[Viewer] = []
        self.host = b""
        self.path = b""
        self.alive = 0
        self.frames = 0
        self.missed = 0
        self.duplicates = 0
        self.resets = 0
        self.closes: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.tags: dict[int, list[float]] = {}
        self.buckets: Counter[tuple[int, int]] | None = None
        self.arrivals: dict[int, list[float]] = {}
        """Per event seq, when the first and the last viewer of this swarm had it (vote storm)."""
        self.ack_times: list[float] = []
        self.ack_latency: list[float] = []
        self.load: dict[str, Any] | None = None
        self.out = sys.stdout

    def emit(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj) + "\n")
        self.out.flush()

    def tagged(self, payload: bytes) -> None:
        now = time.monotonic()
        start = payload.find(TAG)
        while start >= 0:
            end = payload.find(b"#", start + 6)
            tag = int(payload[start + 6 : end])
            times = self.tags.setdefault(tag, [])
            times.append(now)
            if len(times) == self.alive:
                self.emit({"ev": "tag", "tag": tag, "n": len(times), "last": now})
            start = payload.find(TAG, end)

    def acked(self, viewer: Viewer, ok: bool = True) -> None:
        load = self.load
        if load is not None and time.monotonic() < load["until"]:
            load["acked" if ok else "refused"] += 1
            self.request(viewer, load)

    def request(self, viewer: Viewer, load: dict[str, Any]) -> None:
        """The next closed-loop ingest request of one client (ask, or vote/unvote in turn)."""
        viewer.sent_at = time.monotonic()
        k = viewer.sent = viewer.sent + 1
        if load["kind"] == "ask":
            viewer.send(
                {
                    "type": "ask",
                    "id": k,
                    "client_id": f"{viewer.i}-{k}",
                    "text": f"压力测试问题 {viewer.i}-{k}：小区道路什么时候修好？",
                    "name": "测试",
                }
            )
        else:
            qids = load["qids"]
            kind = "vote" if k % 2 else "unvote"
            viewer.send({"type": kind, "id": k, "question_id": qids[(k // 2) % len(qids)]})

    async def connect(
        self, host: str, port: int, path: str, n: int, concurrency: int, hello: dict[str, Any]
    ) -> dict[str, Any]:
        self.host = f"{host}:{port}".encode()
        self.path = path.encode()
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)
        failed: Counter[str] = Counter()
        start = time.monotonic()

        async def one(i: int) -> None:
            async with gate:
                for _ in range(3):
                    viewer = Viewer(self, i, hello)
                    try:
                        await loop.create_connection(lambda v=viewer: v, host, port)
                        await asyncio.wait_for(viewer.welcomed, 30)
                        self.viewers.append(viewer)
                        return
                    except (OSError, ConnectionError, TimeoutError) as exc:
                        if viewer.transport is not None:
                            viewer.transport.abort()
                        failed[type(exc).__name__] += 1
                        await asyncio.sleep(0.2)

        base = len(self.viewers)
        await asyncio.gather(*(one(base + i) for i in range(n)))
        return {
            "connected": len(self.viewers) - base,
            "retries": dict(failed),
            "seconds": time.monotonic() - start,
        }

    async def reconnect(self, concurrency: int) -> dict[str, Any]:
        """Every viewer that was dropped comes back with ``since``/``epoch``/``device``."""
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)
        start = time.monotonic()
        failures = 0

        async def one(old: Viewer) -> Viewer:
            nonlocal failures
            for attempt in range(20):
                async with gate:
                    viewer = Viewer(self, old.i, old.hello)
                    viewer.epoch, viewer.last, viewer.device = old.epoch, old.last, old.device
                    try:
                        await loop.create_connection(lambda v=viewer: v, *self._addr())
                        await asyncio.wait_for(viewer.welcomed, 30)
                        return viewer
                    except (OSError, ConnectionError, TimeoutError):
                        failures += 1
                        if viewer.transport is not None:
                            viewer.transport.abort()
                await asyncio.sleep(min(0.05 * 2**attempt, 2))
            raise ConnectionError("could not reconnect")

        self.viewers = list(await asyncio.gather(*(one(v) for v in self.viewers)))
        return {"reconnected": len(self.viewers), "failures": failures, "seconds": time.monotonic() - start}

    async def catchup(self, seq: int, timeout: float) -> dict[str, Any]:
        """Wait until every open viewer has event ``seq``; when did the last one get there?"""
        deadline = time.monotonic() + timeout
        while True:
            behind = [v for v in self.viewers if v.open and v.last < seq]
            if not behind or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        done = [v.changed_at for v in self.viewers if v.open and v.last >= seq]
        return {"caught_up": len(done), "behind": len(behind), "last": max(done, default=None)}

    def _addr(self) -> tuple[str, int]:
        host, port = self.host.decode().rsplit(":", 1)
        return host, int(port)

    def drop(self) -> dict[str, Any]:
        """Abort every connection at once, as a network blip would (no closing handshake)."""
        for v in self.viewers:
            if v.transport is not None:
                sock = v.transport.get_extra_info("socket")
                if sock is not None:  # RST rather than FIN: no TIME_WAIT left behind
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                v.transport.abort()
        return {"dropped": len(self.viewers)}

    def summary(self) -> dict[str, Any]:
        tags = {}
        for tag, times in self.tags.items():
            times.sort()
            tags[tag] = {
                "n": len(times),
                "first": times[0],
                "median": statistics.median(times),
                "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
                "last": times[-1],
            }
        per_second = max(self.buckets.values(), default=0) if self.buckets is not None else None
        return {
            "alive": self.alive,
            "viewers": len(self.viewers),
            "frames": self.frames,
            "missed": self.missed,
            "duplicates": self.duplicates,
            "resets": self.resets,
            "closes": {str(k): v for k, v in self.closes.items()},
            "errors": dict(self.errors),
            "tags": tags,
            "max_frames_per_viewer_second": per_second,
            "seqs": Counter(v.last for v in self.viewers if v.open).most_common(3),
        }

    def reset(self) -> None:
        self.frames = self.missed = self.duplicates = self.resets = 0
        self.closes.clear()
        self.errors.clear()
        self.tags.clear()
        self.ack_times.clear()
        self.ack_latency.clear()
        self.buckets = None
        self.arrivals.clear()
        self.load = None

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        kind = cmd["cmd"]
        if kind == "connect":
            return await self.connect(
                cmd["host"],
                cmd["port"],
                cmd["path"],
                cmd["n"],
                cmd.get("concurrency", 100),
                cmd.get("hello", {}),
            )
        if kind == "summary":
            return self.summary()
        if kind == "reset":
            self.reset()
            return {}
        if kind == "buckets":
            self.buckets = Counter()
            return {}
        if kind == "catchup":
            return await self.catchup(cmd["seq"], cmd.get("timeout", 30))
        if kind == "vote":
            now = time.monotonic()
            for v in self.viewers:
                v.sent_at = now
                v.send({"type": "vote", "id": 1, "question_id": cmd["question_id"]})
            return {"sent": len(self.viewers), "at": now}
        if kind == "acked":  # polled while a storm runs: a count costs the swarm nothing
            return {"n": len(self.ack_times)}
        if kind == "acks":
            return {"times": self.ack_times}
        if kind == "arrivals":
            return {"seqs": self.arrivals}
        if kind == "load":
            self.ack_latency.clear()
            self.errors.clear()
            load = self.load = {
                "kind": cmd["kind"],
                "qids": cmd.get("qids", []),
                "acked": 0,
                "refused": 0,
                "until": time.monotonic() + cmd["seconds"],
            }
            for v in self.viewers:
                for _ in range(cmd.get("window", 1)):
                    self.request(v, load)
            await asyncio.sleep(cmd["seconds"] + 1.0)
            self.load = None
            lat = sorted(self.ack_latency)
            return {
                "acked": load["acked"],
                "refused": load["refused"],
                "errors": dict(self.errors),
                "latency_median": lat[len(lat) // 2] if lat else None,
                "latency_p99": lat[int(len(lat) * 0.99)] if lat else None,
            }
        if kind == "drop":
            return self.drop()
        if kind == "reconnect":
            return await self.reconnect(cmd.get("concurrency", 200))
        if kind == "close":
            for v in self.viewers:
                if v.transport is not None:
                    v.transport.abort()
            return {}
        raise ValueError(f"unknown command {kind}")


async def main() -> None:
    gc.disable()  # the viewers make no reference cycles; collections would only add jitter
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    swarm = Swarm()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    busy: set[asyncio.Task[None]] = set()

    async def run(cmd: dict[str, Any]) -> None:
        try:
            reply = await swarm.handle(cmd)
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        swarm.emit({"id": cmd["id"], **reply})

    while line := await reader.readline():
        cmd = json.loads(line)
        if cmd["cmd"] == "exit":
            break
        task = loop.create_task(run(cmd))
        busy.add(task)
        task.add_done_callback(busy.discard)


if __name__ == "__main__":
    asyncio.run(main())
