"""The bench's side of the swarms: start ``bench.swarm`` processes and talk to them.

Viewers are split evenly over the swarm processes. Every command goes to all
of them at once and their replies are gathered; tag completions arrive unasked
and are kept per tag, so :meth:`Swarms.wait_tag` returns the moment the last
viewer in the last swarm has a published answer.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from typing import Any

from .targets import ROOT, Target


class SwarmProcess:
    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.tags: dict[int, dict[str, Any]] = {}
        self.tag_seen = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.swarm",
            cwd=ROOT,
            limit=2**26,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            msg = json.loads(line)
            if "id" in msg:
                future = self.pending.pop(msg["id"], None)
                if future is not None and not future.done():
                    future.set_result(msg)
            elif msg.get("ev") == "tag":
                self.tags[msg["tag"]] = msg
                self.tag_seen.set()
        for future in self.pending.values():
            if not future.done():
                future.set_exception(RuntimeError("swarm process exited"))

    async def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        rid = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[rid] = future
        self.proc.stdin.write((json.dumps({"id": rid, "cmd": cmd, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        reply = await future
        if "error" in reply:
            raise RuntimeError(f"swarm {cmd}: {reply['error']}")
        return reply

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b'{"cmd": "exit"}\n')
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.reader is not None:
            await self.reader


class Swarms:
    def __init__(self, count: int) -> None:
        self.procs = [SwarmProcess() for _ in range(count)]

    async def __aenter__(self) -> Swarms:
        await asyncio.gather(*(p.start() for p in self.procs))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(p.stop() for p in self.procs))

    async def all(self, cmd: str, **args: Any) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(p.call(cmd, **args) for p in self.procs)))

    async def connect(self, target: Target, n: int, concurrency: int = 100, **hello: Any) -> dict[str, Any]:
        shares = [n // len(self.procs) + (i < n % len(self.procs)) for i in range(len(self.procs))]
        replies = await asyncio.gather(
            *(
                p.call(
                    "connect",
                    host="127.0.0.1",
                    port=target.port,
                    path=target.path,
                    n=share,
                    concurrency=max(1, concurrency // len(self.procs)),
                    hello=hello,
                )
                for p, share in zip(self.procs, shares, strict=True)
                if share
            )
        )
        return {
            "connected": sum(r["connected"] for r in replies),
            "seconds": max(r["seconds"] for r in replies),
        }

    async def reset(self) -> None:
        """Forget counters and tags on both sides, before a new series reuses tag numbers."""
        await self.all("reset")
        for p in self.procs:
            p.tags.clear()

    async def wait_tag(self, tag: int, timeout: float) -> float | None:
        """When the last viewer of every swarm had ``tag``; None if some never did in time."""

        async def one(p: SwarmProcess) -> float:
            while tag not in p.tags:
                p.tag_seen.clear()
                await p.tag_seen.wait()
            return p.tags[tag]["last"]

        try:
            lasts = await asyncio.wait_for(asyncio.gather(*(one(p) for p in self.procs)), timeout)
        except TimeoutError:
            return None
        return max(lasts)

    async def summary(self) -> dict[str, Any]:
        parts = await self.all("summary")
        tags: dict[int, dict[str, Any]] = {}
        for part in parts:
            for tag, t in part["tags"].items():
                cur = tags.setdefault(
                    int(tag), {"n": 0, "first": t["first"], "last": t["last"], "medians": []}
                )
                cur["n"] += t["n"]
                cur["first"] = min(cur["first"], t["first"])
                cur["last"] = max(cur["last"], t["last"])
                cur["medians"].append(t["median"])
        closes: dict[str, int] = {}
        errors: dict[str, int] = {}
        for part in parts:
            for k, v in part["closes"].items():
                closes[k] = closes.get(k, 0) + v
            for k, v in part["errors"].items():
                errors[k] = errors.get(k, 0) + v
        per_second = [
            p["max_frames_per_viewer_second"] for p in parts if p["max_frames_per_viewer_second"] is not None
        ]
        return {
            "alive": sum(p["alive"] for p in parts),
            "frames": sum(p["frames"] for p in parts),
            "missed": sum(p["missed"] for p in parts),
            "duplicates": sum(p["duplicates"] for p in parts),
            "resets": sum(p["resets"] for p in parts),
            "closes": closes,
            "errors": errors,
            "tags": tags,
            "max_frames_per_viewer_second": max(per_second, default=None),
        }
