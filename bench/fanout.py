"""Fan-out, and isolation (fan-out again with a stalled viewer and a flooding client).

One answer is published at a time; the next goes out as soon as the last
viewer has the previous one, so each figure is one clean broadcast: the time
from the presenter's send to the last viewer's receipt (answer -> commit ->
bus -> every outbox -> every socket -> every viewer). CPU per delivered frame
is the server process's CPU time over all tagged broadcasts divided by the
frames delivered; memory per connection is the server's resident-set growth
from connecting the (idle) viewers, divided by their number.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from live.client import Client
from live.protocol import PROTOCOL

from .driver import Swarms
from .stats import pct
from .targets import ROOT, TARGETS, Target, cpu_seconds, rss_bytes
from .viewer import KEY, frame

WARMUP = 3
PACE = 0.06
SETTLE = 7.0
"""Seconds to wait after connecting the viewers: by then the server's last viewer-count frame
(at most one per 5 s, on a 1 s tick) has gone out, so it does not land in a measurement."""
QUESTIONS = 5
TEXT = "区里已经安排专项资金，下个月开工，年底前完成道路改造和排水管网更新，施工期间会做好交通疏导。"


def answer_text(tag: int) -> str:
    return f"BENCH#{tag}# {TEXT}"


@contextlib.asynccontextmanager
async def running(kind: str, questions: int, **kwargs: Any) -> AsyncIterator[tuple[Target, list[int]]]:
    target = TARGETS[kind](**kwargs)
    try:
        await target.start()
        yield target, await target.prepare(questions)
    except Exception as exc:
        if target.proc is not None and target.proc.poll() is not None:
            raise RuntimeError(f"{kind} server died: {target.log_tail()}") from exc
        raise
    finally:
        target.stop()


async def broadcast_series(
    target: Target, swarms: Swarms, presenter: Client, qids: list[int], count: int, timeout: float
) -> dict[str, Any]:
    """Publish ``count`` answers (revisions, round the question ids), one after another.

    Each goes out once the last viewer had the one before; the first :data:`WARMUP`
    are not counted. The presenter is connected before the viewers, so that the
    viewer count it changes has settled before the first broadcast.
    """
    latencies: list[float] = []
    lost = 0
    cpu0 = 0.0
    for tag in range(count):
        qid = qids[tag % len(qids)]
        if tag == WARMUP:
            cpu0 = cpu_seconds(target.pid)
        start = time.monotonic()
        ack = asyncio.create_task(
            presenter.request("answer", question_id=qid, text=answer_text(tag), timeout=timeout)
        )
        last = await swarms.wait_tag(tag, timeout)
        await ack
        if tag >= WARMUP:
            if last is None:
                lost += 1
            else:
                latencies.append(last - start)
        # At least 20 ms between answers, and fewer than 20 a second: the server's default
        # per-connection budget for one frame type, which the isolation run keeps.
        await asyncio.sleep(max(0.02, PACE - (time.monotonic() - start)))
    cpu = cpu_seconds(target.pid) - cpu0
    summary = await swarms.summary()
    delivered = sum(t["n"] for tag, t in summary["tags"].items() if tag >= WARMUP)
    return {
        "last_viewer_median_ms": _ms(pct(latencies, 0.5)),
        "last_viewer_p99_ms": _ms(pct(latencies, 0.99)),
        "cpu_us_per_frame": cpu / delivered * 1e6 if delivered else None,
        "broadcasts": count - WARMUP,
        "incomplete_broadcasts": lost,
        "delivered": delivered,
        "missed": summary["missed"],
        "duplicates": summary["duplicates"],
        "closes": summary["closes"],
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


async def fanout(kind: str, n: int, events: int, swarms: int, settle: float) -> dict[str, Any]:
    async with (
        running(kind, QUESTIONS) as (target, qids),
        target.presenter() as presenter,
        Swarms(swarms) as sw,
    ):
        rss0 = rss_bytes(target.pid)
        connected = await sw.connect(target, n)
        await asyncio.sleep(settle)
        rss1 = rss_bytes(target.pid)
        result = await broadcast_series(
            target, sw, presenter, qids, events + WARMUP, timeout=max(10.0, n / 500)
        )
    return {
        "viewers": connected["connected"],
        "connect_s": round(connected["seconds"], 2),
        "rss_kib_per_viewer": (rss1 - rss0) / 1024 / max(1, connected["connected"]),
        **result,
    }


class Staller(asyncio.Protocol):
    """A viewer that says hello and then never reads again: its receive window fills."""

    def __init__(self, path: str, port: int) -> None:
        self.request = (
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: "
            ).encode()
            + KEY
            + (b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        )
        self.hello = frame(b'{"type":"hello","protocol":%d}' % PROTOCOL)
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        # The hello goes after the 101 (uvicorn drops frames sent along with the upgrade
        # request); half a second later, once the snapshot is in, it stops reading for good.
        if self.hello and self.transport is not None:
            self.transport.write(self.hello)
            self.hello = b""
            asyncio.get_running_loop().call_later(0.5, self.transport.pause_reading)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def isolation(kind: str, n: int, events: int, swarms: int, settle: float) -> dict[str, Any]:
    """The same broadcast series twice: clean, then with one staller and one flooder."""
    out: dict[str, Any] = {"viewers": n}
    async with (
        running(kind, QUESTIONS) as (target, qids),
        target.presenter() as presenter,
        Swarms(swarms) as sw,
    ):
        await sw.connect(target, n)
        await asyncio.sleep(settle)
        clean = await broadcast_series(target, sw, presenter, qids, events + WARMUP, timeout=10)
        await sw.reset()
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", target.port))
        _, staller = await loop.create_connection(lambda: Staller(target.path, target.port), sock=sock)
        flooder = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.flood",
            str(target.port),
            target.path,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        await asyncio.sleep(1.0)
        rss0 = rss_bytes(target.pid)
        started = time.monotonic()
        noisy = await broadcast_series(target, sw, presenter, qids, events + WARMUP, timeout=10)
        flooder.terminate()
        written, _ = await flooder.communicate()
        flooded, connections = (int(x) for x in (written or b"0 0").split())
        out.update(
            clean_p99_ms=clean["last_viewer_p99_ms"],
            clean_median_ms=clean["last_viewer_median_ms"],
            noisy_p99_ms=noisy["last_viewer_p99_ms"],
            noisy_median_ms=noisy["last_viewer_median_ms"],
            p99_vs_clean=(
                noisy["last_viewer_p99_ms"] / clean["last_viewer_p99_ms"]
                if noisy["last_viewer_p99_ms"] and clean["last_viewer_p99_ms"]
                else None
            ),
            flood_frames_written_per_s=flooded / (time.monotonic() - started),
            flood_connections_per_s=connections / (time.monotonic() - started),
            stalled_viewer_dropped=staller.closed.done(),
            rss_growth_kib=(rss_bytes(target.pid) - rss0) / 1024,
            missed=clean["missed"] + noisy["missed"],
            incomplete_broadcasts=clean["incomplete_broadcasts"] + noisy["incomplete_broadcasts"],
        )
        if staller.transport is not None:
            staller.transport.abort()
    return out
