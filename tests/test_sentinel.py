"""Redis Sentinel for the bus and the rate limiter, against real processes started here.

Each test starts its own topology on free ports in ``tmp_path``: a redis-server master, one
replica (``--replicaof``) and three Sentinels (``redis-server <conf> --sentinel``), then two
``live serve`` workers on one fresh PostgreSQL database with ``--bus redis+sentinel://...``.
Before and after a failover (a planned ``SENTINEL FAILOVER``, or the master killed with
SIGKILL) a question asked on one worker reaches a viewer on the other, both workers' pub/sub
readers are subscribed on whichever server is master, the viewer count is summed over the
workers through it, and the per-address question limit is counted across both workers and
refuses with ``rate_limited``. (A question would reach the other worker's viewers even
with no bus at all, through each worker's once-a-second read of the log; the subscriptions
and the viewer count show the bus itself moved to the new master.) Every process started
here is killed afterwards, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from live.client import Client
from live.redis_client import SentinelTarget, where

from .conftest import TIMEOUT, LiveServer, free_port, fresh_pg_database, until

SERVICE = "mymaster"
PER_IP = 3
"""Questions one address may ask per minute in these tests."""
ENV = {
    "LIVE_QUESTIONS_PER_MINUTE_IP": str(PER_IP),
    "LIVE_QUESTIONS_PER_MINUTE": "100",
    "LIVE_FRAMES_PER_SECOND": "1000",
}
FAILOVER = 60.0
"""Seconds a failover may take: Sentinel needs a second to see a dead master, then an
election; generous, so that only a failover that never completes fails the test."""


@dataclass
class Topology:
    """The Redis processes of one test, by port."""

    tmp: Path
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    sentinels: list[int] = field(default_factory=list)

    def start(self, name: str, *args: str) -> int:
        port = free_port()
        log = self.tmp / f"{name}-{port}.log"
        self.procs[port] = subprocess.Popen(
            ["redis-server", *args, "--port", str(port), "--bind", "127.0.0.1", "--logfile", str(log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + TIMEOUT
        while not self.answers(port):
            if self.procs[port].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} on {port} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        return port

    def answers(self, port: int) -> bool:
        with contextlib.suppress(redis.RedisError), self.redis(port) as r:
            return bool(r.ping())
        return False

    @staticmethod
    def redis(port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)

    def info(self, port: int) -> dict[str, object]:
        with self.redis(port) as r:
            return r.info("replication")

    def start_data(self, name: str, *args: str) -> int:
        return self.start(name, "--save", "", "--appendonly", "no", "--dir", str(self.tmp), *args)

    def start_sentinel(self, master: int) -> int:
        conf = self.tmp / f"sentinel-{secrets.token_hex(3)}.conf"
        conf.write_text(
            f"dir {self.tmp}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {master} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 10000\n"
        )
        port = self.start("sentinel", str(conf), "--sentinel")
        self.sentinels.append(port)
        return port

    @property
    def url(self) -> str:
        members = ",".join(f"127.0.0.1:{p}" for p in self.sentinels)
        return f"redis+sentinel://{members}/{SERVICE}/0"

    def master(self) -> int | None:
        """The master's port, if every Sentinel names the same one."""
        named = set()
        for port in self.sentinels:
            with contextlib.suppress(redis.RedisError), self.redis(port) as r:
                addr = r.sentinel_get_master_addr_by_name(SERVICE)
                named.add(int(addr[1]) if addr else None)
                continue
            return None
        return named.pop() if len(named) == 1 else None

    def ready(self) -> bool:
        """Every Sentinel knows the other two and a replica it could promote."""
        for port in self.sentinels:
            with contextlib.suppress(redis.RedisError), self.redis(port) as r:
                state = r.sentinel_master(SERVICE)
                replicas = r.sentinel_slaves(SERVICE)
                if state["num-other-sentinels"] == 2 and any(
                    s["flags"] == "slave" and s["master-link-status"] == "ok" for s in replicas
                ):
                    continue
            return False
        return True

    def kill(self, port: int) -> None:
        proc = self.procs.pop(port)
        proc.send_signal(signal.SIGKILL)
        proc.wait(TIMEOUT)

    def stop_all(self) -> None:
        for port in list(self.procs):
            self.kill(port)


@contextlib.contextmanager
def sentinel_topology(tmp: Path) -> Iterator[Topology]:
    """A master, its replica and three Sentinels watching it, ready to fail over."""
    topology = Topology(tmp)
    try:
        master = topology.start_data("master")
        replica = topology.start_data("replica", "--replicaof", "127.0.0.1", str(master))
        deadline = time.monotonic() + TIMEOUT
        while topology.info(replica).get("master_link_status") != "up":
            assert time.monotonic() < deadline, "the replica never synced"
            time.sleep(0.05)
        for _ in range(3):
            topology.start_sentinel(master)
        deadline = time.monotonic() + FAILOVER
        while not topology.ready():
            assert time.monotonic() < deadline, "the Sentinels never saw each other and the replica"
            time.sleep(0.1)
        yield topology
    finally:
        topology.stop_all()


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[tuple[Topology, LiveServer, LiveServer]]:
    """The topology, and two workers on one PostgreSQL database reaching Redis through it."""
    with sentinel_topology(tmp_path) as topology:
        async with fresh_pg_database() as pg:
            started: list[LiveServer] = []
            try:
                for _ in range(2):
                    srv = LiveServer(pg, topology.url, env=ENV)
                    started.append(srv)
                    await asyncio.to_thread(srv.start)
                yield topology, started[0], started[1]
            finally:
                for srv in started:
                    if srv.proc is not None:
                        srv.kill()


async def ask(srv: LiveServer, sid: int, text: str, address: str) -> str:
    """Ask over HTTP from a fresh device at ``address`` (X-Forwarded-For: the test is the
    trusted proxy); return ``ok`` or the error code."""
    headers = {"X-Forwarded-For": address}
    async with httpx.AsyncClient(base_url=srv.http, headers=headers, timeout=TIMEOUT) as http:
        await http.get(f"/s/{sid}")
        body = {"type": "ask", "client_id": str(uuid.uuid4()), "text": text}
        r = await http.post(f"/api/sessions/{sid}/commands", json=body)
        return "ok" if r.status_code == 200 else r.json()["code"]


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` until it holds, for as long as a failover may take."""
    deadline = time.monotonic() + FAILOVER
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def fresh_address() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


async def crosses(src: LiveServer, viewer: Client, sid: int, text: str) -> None:
    """A question asked on ``src`` reaches ``viewer``, connected to the other worker.

    Each try comes from a fresh address: a limiter that just lost its master may refuse
    (``limits_unavailable``) until it finds the new one, and the address's own limit is
    not what this checks."""
    deadline = time.monotonic() + FAILOVER
    refused: list[str] = []
    while (code := await ask(src, sid, text, fresh_address())) != "ok":
        refused.append(code)
        assert time.monotonic() < deadline, f"worker {src.port} refused every question: {refused[-3:]}"
        await asyncio.sleep(0.2)
    await viewer.wait_for(
        lambda e: e["type"] == "question.asked" and e["data"]["question"]["text"] == text,
        timeout=TIMEOUT,
    )


async def limited_across_workers(a: LiveServer, b: LiveServer, sid: int, address: str) -> list[str]:
    """Questions from one address, alternately on each worker, within one minute's window."""
    if 60 - time.time() % 60 < 10:  # Redis counts in fixed minutes: start a burst in a fresh one
        await asyncio.sleep(60 - time.time() % 60 + 0.5)
    return [await ask((a, b)[n % 2], sid, f"同一地址第{n}问", address) for n in range(PER_IP + 2)]


def subscribed_workers(topology: Topology, port: int) -> int:
    """How many live workers' pub/sub readers hold subscriptions on the server at ``port``."""
    with topology.redis(port) as r:
        return sum(1 for c in r.client_list() if c["name"].startswith("live-sub:") and int(c["sub"]) > 0)


@pytest.mark.parametrize("how", ["failover", "crash"])
async def test_events_and_limits_survive_a_sentinel_failover(
    workers: tuple[Topology, LiveServer, LiveServer], how: str
) -> None:
    topology, a, b = workers
    old = topology.master()
    assert old is not None
    sid = a.create_session(moderation="post")["id"]
    async with a.client(sid) as va, b.client(sid) as vb:
        await crosses(a, vb, sid, "故障切换前：A 问，B 看")
        await crosses(b, va, sid, "故障切换前：B 问，A 看")
        assert subscribed_workers(topology, old) == 2
        assert (
            await limited_across_workers(a, b, sid, "203.0.113.1") == ["ok"] * PER_IP + ["rate_limited"] * 2
        )

        if how == "failover":
            with topology.redis(topology.sentinels[0]) as r:
                r.sentinel_failover(SERVICE)
        else:
            topology.kill(old)

        async def switched() -> bool:
            return await asyncio.to_thread(topology.master) not in (None, old)

        await eventually(switched, "every Sentinel to name a new master")
        new = topology.master()
        assert new is not None and new != old

        await crosses(a, vb, sid, "故障切换后：A 问，B 看")
        await crosses(b, va, sid, "故障切换后：B 问，A 看")

        async def resubscribed() -> bool:
            return await asyncio.to_thread(subscribed_workers, topology, new) == 2

        await eventually(resubscribed, "both workers' pub/sub readers on the new master")
        async with b.client(sid) as vb2:
            await until(lambda: va.viewers == vb.viewers == vb2.viewers == 3, "3 viewers counted over both")
        assert (
            await limited_across_workers(a, b, sid, "203.0.113.2") == ["ok"] * PER_IP + ["rate_limited"] * 2
        )


def test_sentinel_urls_are_read_as_documented() -> None:
    """The URL form docs/deploy.md gives, with its defaults, and one-line refusals."""
    t = SentinelTarget.parse("redis+sentinel://:s%40cret@h1:26380,h2,[::1]:26381/mymaster/2")
    assert t.sentinels == (("h1", 26380), ("h2", 26379), ("::1", 26381))
    assert (t.service, t.db, t.username, t.password, t.sentinel_auth) == ("mymaster", 2, None, "s@cret", {})
    t = SentinelTarget.parse("redis+sentinel://u:p@h1/m?sentinel_password=x&sentinel_username=y")
    assert (t.service, t.db, t.username, t.password) == ("m", 0, "u", "p")
    assert t.sentinel_auth == {"password": "x", "username": "y"}
    assert where("redis+sentinel://:pw@h1:26379,h2/mymaster/0") == "mymaster/0 via Sentinel h1:26379,h2"
    for bad in ("redis+sentinel://h1:26379", "redis+sentinel://h1/m/x", "redis+sentinel://h1/m?db=1"):
        with pytest.raises(SystemExit, match="is not redis\\+sentinel://"):
            SentinelTarget.parse(bad)
