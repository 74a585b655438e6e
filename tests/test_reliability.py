"""Faults, nothing lost: kill -9, dropped viewers, stalled viewers, SIGTERM, a locked or full disk.

Every test here attacks a real ``live serve`` process and then checks the
promise from the outside: what a client was acknowledged is in the log, the
log has no gap, and every viewer's stream is the log itself.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import signal
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench.writes import restart_wal, wal_pages
from live.client import ServerError
from live.protocol import PROTOCOL

from .attack import fetch, full_log, metric, rss_bytes, running, state, write_locked
from .conftest import ADMIN, TIMEOUT, LiveServer, until


def _seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["seq"] for e in events]


# 1. kill -9 while clients ask, vote and answer as fast as they can -----------------------------


async def test_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        s = srv.create_session(moderation="post")
        sid = s["id"]
        questions: dict[int, str] = {}
        votes: dict[str, set[int]] = {}
        answers: dict[int, str] = {}
        killed = asyncio.Event()

        async def citizen(n: int) -> None:
            async with srv.client(sid) as c:
                mine = votes.setdefault(c.device or "", set())
                own: set[int] = set()
                for i in range(300):
                    text = f"市民{n}的第{i}个问题"
                    ack = await c.request("ask", client_id=f"{n}-{i}", text=text, name=f"市民{n}")
                    questions[ack["question_id"]] = text
                    own.add(ack["question_id"])
                    others = [q for q in questions if q not in own]  # 同问 is for others' questions
                    if not others:
                        continue
                    target = random.choice(others)
                    if (await c.request("vote", question_id=target))["voted"]:
                        mine.add(target)

        async def official() -> None:
            async with srv.client(sid, token=s["presenter_token"]) as c:
                for i in range(3000):
                    todo = [q for q in questions if q not in answers]
                    if not todo:
                        await asyncio.sleep(0.01)
                        continue
                    text = f"第{i}条答复"
                    await c.request("answer", question_id=todo[0], text=text)
                    answers[todo[0]] = text

        async def killer() -> None:
            await until(lambda: len(questions) >= 150 and len(answers) >= 10, "enough acks")
            await asyncio.to_thread(srv.kill)
            killed.set()

        tasks = [citizen(n) for n in range(5)] + [official(), killer()]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert killed.is_set(), results
        assert all(r is None or isinstance(r, ConnectionError) for r in results), results
        assert all(isinstance(r, ConnectionError) for r in results[:5]), "kill while asking"

        await asyncio.to_thread(srv.start)
        now = state(srv, sid)
        log = full_log(srv, sid)
        assert _seqs(log) == list(range(1, len(log) + 1)), "the log has a gap"
        assert now["seq"] <= len(log)
        stored = {q["id"]: q for q in now["questions"]}
        for qid, text in questions.items():
            assert stored[qid]["text"] == text, f"acknowledged question {qid} lost"
        for qid, text in answers.items():
            assert stored[qid]["answer"]["text"] == text, f"acknowledged answer {qid} lost"
        counted: dict[int, int] = {}
        for device, acked in votes.items():
            async with srv.client(sid, device=device) as c:
                held = set(c.welcome["votes"])
            assert acked <= held, f"acknowledged votes lost: {acked - held}"
            for qid in held:
                counted[qid] = counted.get(qid, 0) + 1

        def tallied() -> bool:
            return all(q["votes"] == counted.get(q["id"], 0) for q in state(srv, sid)["questions"])

        await until(tallied, "the restarted server to tally the votes stored before the crash")
        with sqlite3.connect(srv.db) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# 2. viewers dropped at random moments resume onto exactly the whole log -------------------------


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running(tmp_path_factory.mktemp("reliability")) as srv:
        yield srv


DROPS = st.sampled_from(["close", "abort", "stay"])
PLAN = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 5), DROPS), min_size=2, max_size=8)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=PLAN)
def test_viewers_dropped_at_random_moments_end_with_exactly_the_log(
    shared: LiveServer, plan: list[tuple[int, int, str]]
) -> None:
    asyncio.run(_dropped_viewers(shared, plan))


async def _dropped_viewers(srv: LiveServer, plan: list[tuple[int, int, str]]) -> None:
    s = srv.create_session()
    sid = s["id"]
    epoch = state(srv, sid)["epoch"]
    asker = srv.client(sid)
    fan = srv.client(sid)  # votes for the asker's questions: 同问 is for others' questions
    mod = srv.client(sid, token=s["moderator_token"])
    viewers = [srv.client(sid) for _ in range(3)]
    await asker.connect()
    await fan.connect()
    await mod.connect()
    for v in viewers:
        await v.connect(since=0, epoch=epoch)

    async def write(step: int, k: int) -> None:
        for i in range(k):
            ack = await asker.request("ask", client_id=f"{step}-{i}", text=f"第{step}轮问题{i}")
            if i % 2 == 0:
                await mod.request("approve", question_id=ack["question_id"])
                await fan.request("vote", question_id=ack["question_id"])

    try:
        for step, (who, k, drop) in enumerate(plan):
            writing = asyncio.create_task(write(step, k))
            await asyncio.sleep(0.002 * k)
            v = viewers[who]
            if drop == "abort":
                assert v._ws is not None
                v._ws.transport.abort()
            if drop != "stay":
                await v.resume()
            await writing
        log = full_log(srv, sid, staff=False)
        for v in viewers:
            await v.wait_seq(log[-1]["seq"])
            assert v.gaps == [], "a resumed viewer saw a gap or a duplicate"
            assert v.events[: len(log)] == log, "a resumed viewer's stream differs from the log"
    finally:
        for c in (asker, fan, mod, *viewers):
            await c.close()


@pytest.mark.parametrize("case", ["stale_epoch", "past_the_end", "no_epoch"])
async def test_stale_epoch_or_seq_past_the_end_gets_a_reset_and_full_snapshot(
    shared: LiveServer, case: str
) -> None:
    s = shared.create_session(moderation="post")
    async with shared.client(s["id"]) as asker:
        for i in range(3):
            await asker.request("ask", client_id=f"q{i}", text=f"问题{i}")
        epoch = asker.epoch
    current = state(shared, s["id"])
    c = shared.client(s["id"])
    hello = {
        "stale_epoch": {"since": 2, "epoch": "0123456789abcdef"},
        "past_the_end": {"since": current["seq"] + 1, "epoch": epoch},
        "no_epoch": {"since": 2},
    }[case]
    welcome = await c.connect(**hello)
    try:
        assert welcome["mode"] == "snapshot" and welcome["reset"] is True
        await until(lambda: c.snapshot is not None, "the snapshot after a reset")
        assert c.snapshot is not None and c.snapshot["seq"] == current["seq"]
        assert c.snapshot["questions"] == current["questions"]
    finally:
        await c.close()


# 3. a stalled viewer is dropped, holds nobody up, and memory stays bounded ----------------------


async def test_stalled_viewers_are_dropped_and_memory_stays_bounded(tmp_path: Path) -> None:
    """Six viewers stop reading while 12 MB each is pushed at them; nobody else waits on them."""
    warm_up, answers, size, stalled = 60, 200, 60_000, 6
    with running(tmp_path, LIVE_SEND_QUEUE="16", LIVE_MAX_ANSWER_CHARS=str(size)) as srv:
        assert srv.proc is not None
        s = srv.create_session(moderation="post")
        sid = s["id"]
        async with srv.client(sid) as fast, srv.client(sid, token=s["presenter_token"]) as official:
            qid = (await fast.request("ask", client_id="q", text="请介绍一下今年的民生实事"))["question_id"]
            for i in range(warm_up):  # the heap grows to its working size before we measure
                await official.request("answer", question_id=qid, text=f"w{i:04d}" + "x" * (size - 5))
            slow = []
            for _ in range(stalled):
                sock = socket.create_connection(("127.0.0.1", srv.port))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 128 << 10)
                ws = await connect(
                    f"{srv.ws}/ws/{sid}",
                    sock=sock,
                    max_queue=1,
                    compression=None,
                    max_size=None,
                    ping_interval=None,
                )
                await ws.send(json.dumps({"type": "hello", "protocol": PROTOCOL}))
                await ws.recv()  # welcome; then it never reads again
                slow.append((sock, ws))
            drops = metric(srv, "live_outbox_drops_total")
            before = rss_bytes(srv.proc.pid)
            for i in range(answers):
                await official.request("answer", question_id=qid, text=f"{i:05d}" + "x" * (size - 5))
            last = official.seq
            await fast.wait_seq(last)
            grown = rss_bytes(srv.proc.pid) - before
            assert fast.gaps == [], "a stalled viewer held up a reading one"
            pushed = answers * size
            # Unbounded outboxes grow by about ``pushed`` (measured: 5.9 MiB for 6 MB); bounded ones
            # by the transport buffers and allocator slack, which does not grow with ``pushed``
            # (-1 to 4.5 MiB seen, the larger since events carry their results and the index its
            # folded keys): 12 MB pushed keeps half of it clear of that.
            assert grown < pushed / 2, f"server grew {grown >> 20} MiB for {pushed >> 20} MiB per viewer"
            assert metric(srv, "live_outbox_drops_total") - drops == stalled

            for sock, ws in slow:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
                seen, events = 0, []
                with pytest.raises(ConnectionClosed):
                    async with asyncio.timeout(TIMEOUT):
                        async for message in ws:
                            frames = json.loads(message)
                            for f in frames if isinstance(frames, list) else [frames]:
                                seen = f.get("seq", seen)
                                if "data" in f:
                                    events.append(f["seq"])
                assert ws.close_code == 4000, "a stalled viewer must be told to resume"
                assert events == list(range(seen - len(events) + 1, seen + 1)) and seen < last
                catch_up = srv.client(sid)
                catch_up.seq, catch_up.epoch = seen, fast.epoch
                await catch_up.connect(resume=True)
                await catch_up.wait_seq(last)
                assert catch_up.gaps == []
                await catch_up.close()


# 4. SIGTERM: refuse new connections, finish the write in flight, 1012, restart losing nothing --


async def test_sigterm_finishes_writes_in_flight_and_clients_resume_after_restart(tmp_path: Path) -> None:
    with running(tmp_path, LIVE_LOG_LEVEL="info") as srv:
        assert srv.proc is not None
        s = srv.create_session(moderation="post")
        sid = s["id"]
        async with srv.client(sid) as asker:
            await asker.request("ask", client_id="before", text="重启前的问题")
            device = asker.device
            viewer = srv.client(sid)
            await viewer.connect(since=0, epoch=asker.epoch)
            with write_locked(srv.db):
                in_flight = asyncio.create_task(
                    asker.request("ask", client_id="during", text="重启时正在写入的问题")
                )
                await until(lambda: metric(srv, "live_commands_in_flight") == 1, "the ask to reach the store")
                srv.proc.send_signal(signal.SIGTERM)
                await until(lambda: asker.close_code and viewer.close_code, "clients told to go")
                assert (asker.close_code, viewer.close_code) == (1012, 1012)
                with pytest.raises(httpx.ConnectError):
                    httpx.get(f"{srv.http}/healthz", timeout=TIMEOUT)
                assert srv.proc.poll() is None, "exited before finishing the write in flight"
            with pytest.raises(ConnectionError):
                await in_flight
            # uvicorn re-raises the signal once it has shut down cleanly, so the status is -SIGTERM
            assert await asyncio.to_thread(srv.proc.wait, TIMEOUT) == -signal.SIGTERM
            assert "Application shutdown complete" in srv.log.read_text()

        await asyncio.to_thread(srv.start)
        async with srv.client(sid, device=device) as again:
            resent = await again.request("ask", client_id="during", text="重启时正在写入的问题")
            assert resent.get("duplicate") is True, "the write in flight at SIGTERM was lost"
        await viewer.resume()
        log = full_log(srv, sid, staff=False)
        await viewer.wait_seq(log[-1]["seq"])
        assert viewer.gaps == [] and viewer.events == log
        await viewer.close()


# 5. database locked or disk full: a clear `unavailable`, never a false ack -----------------------


def _refused(exc: BaseException) -> None:
    assert isinstance(exc, ServerError), exc
    assert exc.code == "unavailable" and exc.message["zh"] and exc.message["en"]


async def test_locked_database_gets_unavailable_and_no_false_ack(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        s = srv.create_session(moderation="post")
        sid = s["id"]
        async with srv.client(sid) as c:
            q = (await c.request("ask", client_id="a", text="第一个问题"))["question_id"]
            seq = state(srv, sid)["seq"]
            with write_locked(srv.db):  # longer than the store's 5 s busy timeout
                with pytest.raises(ServerError) as err:
                    await c.request("ask", client_id="b", text="锁住时的问题", timeout=TIMEOUT)
                _refused(err.value)
                assert (await c.request("ping"))["type"] == "pong"
            assert state(srv, sid)["seq"] == seq, "a refused write reached the log"
            ack = await c.request("ask", client_id="b", text="锁住时的问题")
            assert "duplicate" not in ack and ack["question_id"] == q + 1


async def test_full_disk_gets_unavailable_and_no_false_ack(tmp_path: Path) -> None:
    """RLIMIT_FSIZE on the server makes every write past the WAL's end fail, as a full disk does."""
    with running(tmp_path) as srv:
        assert srv.proc is not None
        s = srv.create_session(moderation="post")
        sid = s["id"]
        wal = Path(srv.db + "-wal")
        async with srv.client(sid) as c, srv.client(sid) as fan:
            q = (await c.request("ask", client_id="a", text="磁盘满之前的问题"))["question_id"]
            seq = state(srv, sid)["seq"]
            full = wal.stat().st_size
            resource.prlimit(srv.proc.pid, resource.RLIMIT_FSIZE, (full, resource.RLIM_INFINITY))
            try:
                refused = await asyncio.gather(
                    c.request("ask", client_id="b", text="磁盘满时的问题" + "长" * 400),
                    *(
                        c.request("ask", client_id=f"c{n}", text=f"同一轮的问题 {n}" + "长" * 400)
                        for n in range(5)
                    ),
                    fan.request("vote", question_id=q),  # another's question: 同问 is for others
                    return_exceptions=True,
                )
                for r in refused:
                    _refused(r)
                assert (await c.request("ping"))["type"] == "pong"
                after = state(srv, sid)
                assert after["seq"] == seq and len(after["questions"]) == 1, "a refused ask shows"
                assert fetch(srv, "GET", "/readyz").status_code == 503, "not ready: it cannot write"
            finally:
                resource.prlimit(
                    srv.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
                )
            assert fetch(srv, "GET", "/readyz").json() == {"ok": True}
            ack = await c.request("ask", client_id="b", text="磁盘满时的问题" + "长" * 400)
            assert "duplicate" not in ack
            assert (await fan.request("vote", question_id=q))["changed"] is True, "a refused vote stuck"
        await asyncio.to_thread(srv.kill)
        await asyncio.to_thread(srv.start)
        log = full_log(srv, sid)
        assert _seqs(log) == list(range(1, len(log) + 1))
        assert [e["type"] for e in log[seq:]] in (["question.asked"], ["question.asked", "votes.tallied"])
        texts = [q["text"] for q in state(srv, sid)["questions"]]
        assert texts == ["磁盘满之前的问题", "磁盘满时的问题" + "长" * 400]


FRAME = 4096 + 24
"""One WAL frame: a page and its header."""


def _disk_left(srv: LiveServer, room: int | None) -> None:
    """Let the server's files grow by ``room`` more bytes (``None``: without limit), as a disk
    with that much space left would: the WAL is the file a commit grows."""
    assert srv.proc is not None
    limit = resource.RLIM_INFINITY if room is None else Path(srv.db + "-wal").stat().st_size + room
    resource.prlimit(srv.proc.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))


async def test_readiness_fails_exactly_while_a_nearly_full_disk_refuses_questions(tmp_path: Path) -> None:
    """Room for one more WAL page: ``/readyz``'s old probe, one small row, fit there and said
    ready while every question (its log page and its session's at least) was refused."""
    with running(tmp_path) as srv:
        sid = srv.create_session(moderation="post")["id"]
        async with srv.client(sid) as c:
            await c.request("ask", client_id="before", text="磁盘快满之前的问题")
            assert fetch(srv, "GET", "/readyz").json() == {"ok": True}
            assert fetch(srv, "PUT", "/api/filter/words", ADMIN, json={"words": []}).status_code == 200
            _disk_left(srv, FRAME + FRAME // 2)
            try:
                for i in range(3):
                    with pytest.raises(ServerError) as err:
                        await c.request("ask", client_id=f"full{i}", text=f"磁盘快满时的第{i}个问题")
                    _refused(err.value)
                    ready = fetch(srv, "GET", "/readyz")
                    assert ready.status_code == 503 and ready.json()["reason"], ready.text
                # Replacing one stored row, as the old probe did, writes one page: it still fits.
                words = fetch(srv, "PUT", "/api/filter/words", ADMIN, json={"words": ["一页"]})
                assert words.status_code == 200, words.text
            finally:
                _disk_left(srv, None)
            assert fetch(srv, "GET", "/readyz").json() == {"ok": True}
            for i in range(3):
                ack = await c.request("ask", client_id=f"full{i}", text=f"磁盘快满时的第{i}个问题")
                assert "duplicate" not in ack
        assert len(state(srv, sid)["questions"]) == 4


async def test_the_readiness_probe_writes_more_than_the_longest_question(tmp_path: Path) -> None:
    """What makes the test above hold on any disk: counted in WAL pages, the probe's commit is
    larger than the commit of the longest question (text and name at their limits)."""
    with running(tmp_path) as srv:
        sid = srv.create_session(moderation="post")["id"]
        longest = []
        async with srv.client(sid) as c:
            for i in range(30):
                assert restart_wal(srv.db)
                await c.request("ask", client_id=f"l{i}", text=f"{i:02d}" + "长" * 498, name="名" * 40)
                longest.append(len(wal_pages(srv.db)))
        probes = []
        for _ in range(3):
            assert restart_wal(srv.db)
            assert fetch(srv, "GET", "/readyz").status_code == 200
            probes.append(len(wal_pages(srv.db)))
        assert min(probes) > max(longest), (probes, longest)
