"""Several workers on one PostgreSQL database and one Redis, and the faults they must survive.

Two ``live serve`` processes on two ports stand for two workers (or two hosts): viewers
on both see one order; one is killed with SIGKILL and its viewers resume on the other;
Redis is shut down and started again mid-stream; PostgreSQL becomes unreachable (a TCP
relay between the server and PostgreSQL is cut, a real network outage that leaves the
database itself, and anyone else's tests on it, alone). ``live serve --workers 2`` is
run for real on both stores. These use the real servers on 127.0.0.1 and never skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from live.client import Client, ServerError

from .conftest import REDIS, SHARED_REDIS_ENV, TIMEOUT, LiveServer, fresh_pg_database
from .relay import TcpRelay

ENV = {**SHARED_REDIS_ENV, "LIVE_QUESTIONS_PER_MINUTE": "1000", "LIVE_FRAMES_PER_SECOND": "1000"}
"""These tests ask as fast as acks come back: the rate limits are another module's tests."""
REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]


def qid() -> str:
    return str(uuid.uuid4())


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after TIMEOUT seconds."""
    deadline = time.monotonic() + TIMEOUT
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def log_of(server: LiveServer, sid: int) -> list[tuple[int, str]]:
    r = httpx.get(f"{server.http}/api/sessions/{sid}/events?after=0&limit=1000", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return [(e["seq"], e["type"]) for e in r.json()["events"]]


async def all_caught_up(clients: list[Client], server: LiveServer, sid: int) -> list[tuple[int, str]]:
    """Every client received the stored log (after its snapshot) exactly: no gap, no reorder."""
    full = await asyncio.to_thread(log_of, server, sid)
    last = full[-1][0]
    assert [seq for seq, _ in full] == list(range(1, last + 1))
    for c in clients:
        await c.wait_seq(last, timeout=TIMEOUT)
    for c in clients:
        base = c.events[0]["seq"] - 1 if c.events else c.seq
        got = [(e["seq"], e["type"]) for e in c.events if e["seq"] <= last]
        assert got == full[base:], "a viewer's stream differs from the log"
        assert c.gaps == []
    return full


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
async def pair(pg_url: str) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    """Two workers on one database and one Redis. The first start migrates and makes the
    signing secret; the second finds both (``docs/deploy.md``: migrate before scaling out)."""
    a = await asyncio.to_thread(LiveServer(pg_url, REDIS, env=ENV).start)
    b = None
    try:
        b = await asyncio.to_thread(LiveServer(pg_url, REDIS, env=ENV).start)
        yield a, b
    finally:
        for srv in (a, b):
            if srv is not None and srv.proc is not None:
                srv.kill()


async def test_two_workers_deliver_one_order_and_count_every_viewer(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    a, b = pair
    s = a.create_session(moderation="post")
    sid = s["id"]
    async with (
        a.client(sid) as va,
        b.client(sid) as vb,
        b.client(sid) as vb2,
        a.client(sid, token=s["moderator_token"]) as mod_a,
        b.client(sid, token=s["presenter_token"]) as official_b,
    ):
        everyone = [va, vb, vb2, mod_a, official_b]
        acks = await asyncio.gather(
            *(
                c.request("ask", client_id=qid(), text=f"第{n}个问题：公交线路能否延长？", name=f"网友{n}")
                for n, c in enumerate([va, vb] * 6)
            )
        )
        ids = sorted(ack["question_id"] for ack in acks)
        assert ids == list(range(1, 13)), "two workers gave out the same question id"
        await official_b.request("answering", question_id=ids[0])
        await mod_a.request("hide", question_id=ids[1])
        await official_b.request("answer", question_id=ids[0], text="会延长到新区。")
        asked_by = {ack["question_id"]: c for ack, c in zip(acks, [va, vb] * 6, strict=True)}
        voter = vb if asked_by[ids[2]] is va else va  # 同问 is for others' questions
        await voter.request("vote", question_id=ids[2])
        await vb2.request("vote", question_id=ids[2])
        await va.wait_for(lambda e: e["type"] == "votes.tallied" and e["data"]["votes"].get(str(ids[2])) == 2)
        full = await all_caught_up(everyone, b, sid)

        async def everyone_counts_five() -> bool:
            return all(c.viewers == 5 for c in everyone)

        await until(everyone_counts_five, "every viewer to see 5 viewers over both workers")
        async with b.client(sid) as late:
            assert late.snapshot is not None and late.snapshot["seq"] >= full[-1][0]


async def test_killed_worker_viewers_resume_on_the_other_and_lose_nothing(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    a, b = pair
    sid = a.create_session(moderation="post")["id"]
    asker, v1, v2, vb = a.client(sid), a.client(sid), a.client(sid), b.client(sid)
    for c in (asker, v1, v2, vb):
        await c.connect()
    acked: list[int] = []
    unanswered: list[str] = []
    try:

        async def keep_asking() -> None:
            for n in range(1000):
                cid = qid()
                try:
                    ack = await asker.request("ask", client_id=cid, text=f"杀进程前后第{n}问")
                except (ConnectionError, ConnectionClosed):
                    unanswered.append(cid)
                    return
                acked.append(ack["question_id"])

        asking = asyncio.create_task(keep_asking())

        async def some_acked() -> bool:
            return len(acked) >= 5

        await until(some_acked, "a few questions acknowledged by the first worker")
        a.kill()
        await asyncio.wait_for(asking, TIMEOUT)
        assert len(unanswered) == 1, "the ask loop ended without a dropped request"

        for c in (asker, v1, v2):
            c.url = b.ws
            welcome = await c.resume()
            assert welcome["mode"] == "resume" and welcome["reset"] is False
        mine = {q["id"] for q in asker.welcome["mine"]}
        assert set(acked) <= mine, "the other worker did not recognise the asker's device"
        again = await asker.request("ask", client_id=unanswered[0], text=f"杀进程前后第{len(acked)}问")
        assert again["question_id"] not in acked
        for n in range(3):
            acked.append(
                (await asker.request("ask", client_id=qid(), text=f"换到第二台后第{n}问"))["question_id"]
            )
        await all_caught_up([asker, v1, v2, vb], b, sid)
        with b.admin() as http:
            stored = {q["id"] for q in http.get(f"/api/sessions/{sid}").json()["questions"]}
        assert stored == {*acked, again["question_id"]}, "an acknowledged question was lost"
    finally:
        for c in (asker, v1, v2, vb):
            await c.close()


def redis_up() -> bool:
    return (
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        == "PONG"
    )


@contextlib.contextmanager
def redis_restarted_afterwards() -> Iterator[None]:
    """Whatever happens inside, Redis is running again on the way out."""
    try:
        yield
    finally:
        if not redis_up():
            subprocess.run(REDIS_START, check=True, timeout=10)
        deadline = time.monotonic() + TIMEOUT
        while not redis_up():
            assert time.monotonic() < deadline, "Redis did not come back"
            time.sleep(0.05)


async def test_redis_restart_mid_stream_no_viewer_misses_an_event(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    a, b = pair
    s = a.create_session(moderation="post")
    sid = s["id"]
    async with (
        a.client(sid) as va,
        b.client(sid) as vb,
        a.client(sid, token=s["presenter_token"]) as official_a,
        b.client(sid, token=s["moderator_token"]) as mod_b,
    ):
        ids = [
            (await va.request("ask", client_id=qid(), text=f"Redis 重启前第{n}问"))["question_id"]
            for n in range(8)
        ]
        await all_caught_up([va, vb, official_a, mod_b], a, sid)
        with redis_restarted_afterwards():
            await asyncio.to_thread(
                subprocess.run,
                ["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"],
                capture_output=True,
                timeout=10,
            )

            async def redis_down() -> bool:
                return not await asyncio.to_thread(redis_up)

            await until(redis_down, "Redis to shut down")
            # Committed while the bus is down, on both workers: each worker's own viewers get
            # them at once, the other's when the bus is back and the gap is read from the log.
            await official_a.request("answer", question_id=ids[0], text="Redis 停机时的回答")
            await mod_b.request("hide", question_id=ids[1])
            await official_a.request("answering", question_id=ids[2])
            await mod_b.request("hide", question_id=ids[3])
            await asyncio.to_thread(subprocess.run, REDIS_START, check=True, timeout=10)
        # Nothing new is published: only the resubscribe signal can bring the other
        # worker's viewers the events committed while the bus was down.
        await all_caught_up([va, vb, official_a, mod_b], a, sid)
        await official_a.request("answer", question_id=ids[2], text="Redis 恢复后的回答")
        await mod_b.request("hide", question_id=ids[4])
        full = await all_caught_up([va, vb, official_a, mod_b], a, sid)
        kinds = [kind for _, kind in full]
        assert kinds.count("question.answered") == 2 and kinds.count("question.hidden") == 3


async def test_postgres_unreachable_refuses_writes_clearly_and_recovers(pg_url: str) -> None:
    relay = TcpRelay(5432)
    await relay.start()
    via_relay = pg_url.replace(":5432/", f":{relay.port}/")
    srv = await asyncio.to_thread(LiveServer(via_relay, REDIS, env=ENV).start)
    try:
        # The relay runs on this event loop: nothing here may block it.
        sid = (await asyncio.to_thread(srv.create_session, moderation="post"))["id"]
        async with srv.client(sid) as asker, srv.client(sid) as watcher:
            await asker.request("ask", client_id=qid(), text="断网前的问题")
            await watcher.wait_seq(2)
            await relay.cut()
            cid = qid()
            with pytest.raises(ServerError) as err:
                await asker.request("ask", client_id=cid, text="数据库断开时的问题")
            assert err.value.code == "unavailable"
            assert err.value.message["zh"] and err.value.message["en"]
            assert (await asker.request("ping"))["type"] == "pong", "the connection was dropped"
            newcomer = srv.client(sid)
            with pytest.raises(ConnectionError):
                await newcomer.connect()
            assert (await newcomer.next_event())["code"] == "unavailable"
            async with httpx.AsyncClient(base_url=srv.http, timeout=TIMEOUT) as http:
                assert (await http.get("/healthz")).status_code == 200
                assert (await http.get("/readyz")).status_code == 503
                assert (await http.get(f"/s/{sid}")).status_code == 200

                await relay.start()

                async def ready() -> bool:
                    return (await http.get("/readyz")).status_code == 200

                await until(ready, "the server to reach PostgreSQL again")
            ack = await asker.request("ask", client_id=cid, text="数据库断开时的问题")
            assert ack["question_id"] == 2 and not ack.get("duplicate"), "a refused question had been stored"
            await watcher.wait_seq(3)
            assert [(e["seq"], e["type"]) for e in watcher.events] == [
                (2, "question.asked"),
                (3, "question.asked"),
            ]
            assert watcher.gaps == []
    finally:
        if srv.proc is not None:
            srv.kill()
        if relay.running:
            await relay.cut()


def test_memory_bus_with_several_workers_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "live", "serve", "--workers", "2", "--db", str(tmp_path / "x.db")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode != 0
    assert "--workers 2 needs a bus that crosses processes" in done.stderr
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_serve_with_two_workers(store: str, tmp_path: Path) -> None:
    """``live serve --workers 2``: uvicorn's processes share the store and the bus."""
    async with contextlib.AsyncExitStack() as stack:
        db = str(tmp_path / "live.db")
        if store == "postgres":
            db = await stack.enter_async_context(fresh_pg_database())
        srv = LiveServer(db, REDIS, env={**ENV, "LIVE_WORKERS": "2"})
        await asyncio.to_thread(srv.start)
        try:
            sid = srv.create_session(moderation="post")["id"]
            clients = [srv.client(sid) for _ in range(8)]
            for c in clients:
                await c.connect()
            for n, c in enumerate(clients):
                await c.request("ask", client_id=qid(), text=f"两个进程第{n}问")
            await all_caught_up(clients, srv, sid)

            async def everyone_counts_eight() -> bool:
                return all(c.viewers == 8 for c in clients)

            await until(everyone_counts_eight, "every viewer to count all 8 over both processes")
            for c in clients:
                await c.close()
        finally:
            srv.stop(signal.SIGTERM)  # SIGKILL would orphan uvicorn's worker processes


async def test_a_viewer_ahead_of_its_new_worker_gets_no_event_twice(tmp_path: Path) -> None:
    """A viewer resumes on a worker that has not yet delivered what the viewer already saw
    on the old one (its bus is behind). That worker catches up and later delivers those
    events to everyone; the resumed viewer must not get them again. Two processes on one
    SQLite file with a memory bus each stand for a bus that lags: B never hears A."""
    db = str(tmp_path / "live.db")
    a = LiveServer(db).start()
    b = LiveServer(db).start()
    try:
        sid = a.create_session(moderation="post")["id"]
        async with b.client(sid) as watcher, a.client(sid) as asker:
            await asker.request("ask", client_id=qid(), text="在第一台上问的问题")
            assert asker.seq == 2 and watcher.seq == 1  # B has not delivered seq 2
            asker.url = b.ws
            welcome = await asker.resume()
            assert welcome["mode"] == "resume" and welcome["seq"] == 2
            await asker.request("ask", client_id=qid(), text="换到第二台后问的问题")
            await asker.wait_seq(3, timeout=TIMEOUT)
            await watcher.wait_seq(3, timeout=TIMEOUT)
            assert [e["seq"] for e in asker.events] == [2, 3] and asker.gaps == []
            assert [e["seq"] for e in watcher.events] == [2, 3] and watcher.gaps == []
    finally:
        for srv in (a, b):
            srv.stop()


async def test_no_device_client_id_or_contact_crosses_redis(
    pair: tuple[LiveServer, LiveServer], pg_url: str
) -> None:
    """Everything the workers publish is read off Redis while a citizen asks with a contact;
    the question still reaches the other worker's viewers (read from the log)."""
    import asyncpg
    from redis.asyncio import Redis

    a, b = pair
    sid = (await asyncio.to_thread(a.create_session, moderation="post"))["id"]
    heard: list[str] = []
    sniffer = Redis.from_url(REDIS, decode_responses=True)
    pubsub = sniffer.pubsub()
    await pubsub.psubscribe(f"live:session:{sid}:*")

    async def sniff() -> None:
        async for message in pubsub.listen():
            if message["type"] == "pmessage":
                heard.append(message["data"])

    sniffing = asyncio.create_task(sniff())
    try:
        async with a.client(sid) as asker, b.client(sid) as watcher:
            await asker.request("ask", client_id=qid(), text="我家门口的路灯坏了", contact="13912345678")
            await watcher.wait_seq(2)
            assert watcher.events[-1]["data"]["question"]["text"] == "我家门口的路灯坏了"
            await until(lambda: asyncio.sleep(0, bool(heard)), "the publish to be heard")
        conn = await asyncpg.connect(pg_url)
        try:
            private = json.loads(await conn.fetchval("SELECT private FROM events WHERE seq=2"))
        finally:
            await conn.close()
        secrets = {private["device"], private["client_id"], private["contact"]}
        assert private["contact"] == "13912345678" and len(secrets) == 3
        assert not [m for m in heard if any(s in m for s in secrets)], heard
    finally:
        sniffing.cancel()
        await pubsub.aclose()
        await sniffer.aclose()
