"""Viewers served by one worker and by two: ``python bench/workers.py``.

For each worker count it starts ``live serve --workers N`` (Redis bus, a fresh
database) exactly as deployed, then ramps up idle viewers. At each level the
presenter publishes answers one at a time, each tagged ``BENCH#<n>#``, and the
bench records how long the *last* viewer took to receive it (send -> commit ->
Redis -> every worker -> every outbox -> every socket). A level is *served*
when every viewer got every answer and the 95th percentile of that time is
within ``--budget`` seconds. The result is the largest served level per worker
count.

Viewers are lean: a raw asyncio protocol that sends the upgrade and a hello,
then only scans the bytes it receives for the tags (no frame parsing, no JSON;
server pings are disabled for the run), so the load generator costs far less
than the server it measures. On a 2-core machine it still shares the cores
with the workers, so read the numbers as "this machine, these settings".

Needs Redis at ``--redis`` (default 127.0.0.1:6379) and, with ``--db postgres``,
PostgreSQL at ``--pg`` (a database in which to create and drop a scratch one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from live.client import Client
from live.protocol import PROTOCOL

ADMIN = "bench-admin-token"
TAG = b"BENCH#"
ENV = {
    "LIVE_ADMIN_TOKEN": ADMIN,
    "LIVE_LOG_LEVEL": "warning",
    "LIVE_PING_INTERVAL": "3600",
    "LIVE_PING_TIMEOUT": "3600",
    "LIVE_QUESTIONS_PER_MINUTE_IP": "100000000",
    "LIVE_FRAMES_PER_SECOND": "100000",
}


class Viewer(asyncio.Protocol):
    """One idle phone: says hello, then notes when each tagged answer reached it."""

    def __init__(self, host: str, session_id: int, seen: dict[int, list[float]]) -> None:
        self.request = (
            f"GET /ws/{session_id} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.seen = seen
        self.tail = b""
        self.upgraded = False
        self.welcomed = asyncio.get_running_loop().create_future()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        buf = self.tail + data
        if not self.upgraded and b"\r\n\r\n" in buf:
            self.upgraded = True
            hello = b'{"type":"hello","protocol":%d}' % PROTOCOL
            # A masked text frame with the all-zero key: the payload goes out as is.
            self.transport.write(bytes([0x81, 0x80 | len(hello)]) + bytes(4) + hello)
        if not self.welcomed.done() and b'"welcome"' in buf:
            self.welcomed.set_result(None)
        start = 0
        while (i := buf.find(TAG, start)) >= 0:
            end = buf.find(b"#", i + len(TAG))
            if end < 0:
                break
            self.seen.setdefault(int(buf[i + len(TAG) : end]), []).append(now)
            start = end + 1
        self.tail = buf[max(start, len(buf) - 24) :]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.welcomed.done():
            self.welcomed.set_exception(ConnectionError("closed before welcome"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def database(kind: str, pg: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield str(Path(tmp) / "bench.db")
        return
    name = f"live_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(pg)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg.rsplit('/', 1)[0]}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.asynccontextmanager
async def server(workers: int, db: str, redis: str, log: Path) -> AsyncIterator[str]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "live",
                "serve",
                "--workers",
                str(workers),
                "--db",
                db,
                "--bus",
                redis,
                "--port",
                str(port),
            ],
            env={**os.environ, **ENV},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            await asyncio.sleep(0.1)
        yield base
    finally:
        proc.terminate()  # SIGTERM: uvicorn stops its worker processes too
        proc.wait(30)


def create_session(base: str) -> tuple[int, str]:
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30) as h:
        pid = h.post("/api/programmes", json={"slug": "bench", "title": "区长在线"}).json()["id"]
        r = h.post(
            "/api/sessions",
            json={
                "programme_id": pid,
                "title": "压力测试",
                "guest_name": "李明",
                "moderation": "post",
                "starts_at": (now - timedelta(minutes=5)).isoformat(),
                "ends_at": (now + timedelta(hours=2)).isoformat(),
            },
        )
        r.raise_for_status()
        return r.json()["id"], r.json()["links"]["presenter"].split("#key=")[1]


async def connect(n: int, port: int, sid: int, seen: dict[int, list[float]], viewers: list[Viewer]) -> int:
    """Open ``n`` more viewers, 50 handshakes at a time; return how many failed."""
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(50)

    async def one() -> bool:
        async with sem:
            try:
                _, v = await loop.create_connection(
                    lambda: Viewer(f"127.0.0.1:{port}", sid, seen), "127.0.0.1", port
                )
                await asyncio.wait_for(v.welcomed, 60)
            except (OSError, TimeoutError):
                return False
            viewers.append(v)
            return True

    return sum(not ok for ok in await asyncio.gather(*(one() for _ in range(n))))


async def measure(base: str, levels: list[int], rounds: int, budget: float) -> list[tuple]:
    sid, presenter_token = create_session(base)
    port = int(base.rsplit(":", 1)[1])
    seen: dict[int, list[float]] = {}
    viewers: list[Viewer] = []
    rows = []
    async with Client(base.replace("http", "ws"), sid, token=presenter_token) as presenter:
        qid = (await presenter.request("ask", client_id="bench", text="预热问题"))["question_id"]
        tag = 0
        for level in levels:
            failed = await connect(level - len(viewers), port, sid, seen, viewers)
            if failed:
                print(f"    {level:6d} viewers: {failed} could not connect -> NOT served", flush=True)
                rows.append((level, 0.0, 0.0, 0.0, 0, failed, False))
                break
            times, missed = [], 0
            for _ in range(rounds):
                tag += 1
                sent = time.perf_counter()
                await presenter.request("answer", question_id=qid, text=f"回答 BENCH#{tag}# 完")
                deadline = time.monotonic() + 10 * budget
                while len(seen.get(tag, ())) < level and time.monotonic() < deadline:
                    await asyncio.sleep(0.002)
                got = seen.get(tag, [])
                missed += level - len(got)
                times.append((max(got) if got else time.perf_counter()) - sent)
            p50 = statistics.median(times)
            p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
            dropped = sum(v.closed for v in viewers)
            served = missed == 0 and dropped == 0 and p95 <= budget
            rows.append((level, p50, p95, max(times), missed, dropped, served))
            print(
                f"    {level:6d} viewers: last viewer p50 {p50 * 1000:7.1f} ms, p95 {p95 * 1000:7.1f} ms,"
                f" missed {missed}, dropped {dropped} -> {'served' if served else 'NOT served'}",
                flush=True,
            )
            if not served:
                break
    for v in viewers:
        v.transport.close()
    return rows


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", default="1,2", help="worker counts to compare [1,2]")
    p.add_argument(
        "--viewers",
        default="500,1000,2000,4000,6000,8000,10000,12000,14000,16000",
        help="viewer levels, ramped up in order",
    )
    p.add_argument("--rounds", type=int, default=20, help="answers published per level [20]")
    p.add_argument("--budget", type=float, default=1.0, help="p95 seconds to the last viewer [1.0]")
    p.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = p.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    levels = [int(x) for x in args.viewers.split(",")]
    summary = {}
    for workers in (int(w) for w in args.workers.split(",")):
        print(f"{workers} worker(s), {args.db} + Redis, {os.cpu_count()} CPUs:", flush=True)
        log = Path(tempfile.gettempdir()) / f"bench-workers-{workers}.log"
        async with database(args.db, args.pg) as db, server(workers, db, args.redis, log) as base:
            rows = await measure(base, levels, args.rounds, args.budget)
        summary[workers] = max((r[0] for r in rows if r[-1]), default=0)
    print(f"\nviewers served (every answer to every viewer, p95 to the last one <= {args.budget:.1f} s):")
    for workers, served in summary.items():
        print(f"  {workers} worker(s): {served}")


if __name__ == "__main__":
    asyncio.run(main())
