"""Four eyes on typed answers (issue 19, point 6), over real connections on both engines.

An answer typed by staff on the official's behalf is held (``question.answer_held``): staff
see it, nobody else learns a word of it. A second person releases it, or its broadcast delay
runs out and the server releases it; until then anyone on staff may withdraw it (撤回). The
viewer below is a raw socket that keeps every frame as sent, so "never reached a viewer"
means never in any byte of any frame, not just never shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from live.client import Client, ServerError
from live.protocol import PROTOCOL
from live.review import CLOCK

from .conftest import ADMIN, REDIS, SHARED_REDIS_ENV, TIMEOUT, Backend, LiveServer, fresh_pg_database, until


class Wiretap:
    """A viewer that keeps every text frame the server sends it, exactly as sent."""

    def __init__(self, server: LiveServer, session_id: int) -> None:
        self.url = f"{server.ws}/ws/{session_id}"
        self.frames: list[str] = []
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Wiretap:
        self._ws = await connect(self.url, compression=None)
        await self._ws.send(json.dumps({"type": "hello", "protocol": PROTOCOL}))
        self._reader = asyncio.create_task(self._read(self._ws))
        await until(lambda: any('"snapshot"' in f for f in self.frames), "the wiretap's snapshot")
        return self

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for message in ws:
                self.frames.append(message if isinstance(message, str) else message.decode())

    async def __aexit__(self, *exc: object) -> None:
        assert self._ws is not None and self._reader is not None
        await self._ws.close()
        await self._reader

    def events(self) -> list[dict[str, Any]]:
        out = []
        for text in self.frames:
            data = json.loads(text)
            out += [f for f in (data if isinstance(data, list) else [data]) if "seq" in f and "data" in f]
        return out


def cid() -> str:
    return str(uuid.uuid4())


async def ask(c: Client, text: str) -> dict[str, Any]:
    return await c.request("ask", client_id=cid(), text=text)


def staff_log(srv: LiveServer, sid: int) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{srv.http}/api/sessions/{sid}/events",
        params={"limit": 1000},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=TIMEOUT,
    )
    r.raise_for_status()
    return r.json()["events"]


def answered_events(log: list[dict[str, Any]], qid: int) -> list[dict[str, Any]]:
    return [e for e in log if e["type"] == "question.answered" and e["data"]["question"]["id"] == qid]


def transcript_answered(srv: LiveServer, sid: int) -> set[int]:
    """Answered questions as the transcript reads them: from the log, loading no room."""
    r = httpx.get(f"{srv.http}/api/sessions/{sid}/transcript", timeout=TIMEOUT)
    r.raise_for_status()
    return {item["id"] for item in r.json()["items"]}


def audit(srv: LiveServer, sid: int) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{srv.http}/api/sessions/{sid}/audit", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=TIMEOUT
    )
    r.raise_for_status()
    return r.json()["audit"]


async def held_on(c: Client, qid: int) -> dict[str, Any]:
    """The next ``question.answer_held`` a staff client receives for ``qid``: its held answer."""
    e = await c.wait_for(lambda e: e["type"] == "question.answer_held" and e["data"]["question"]["id"] == qid)
    return e["data"]["question"]["held"]


SECRET = "撤回的草稿：这句话绝不能播出"
KEPT = "下周一前把路灯修好。"


async def test_a_held_answer_reaches_staff_alone_until_a_second_person_releases_it(
    server: LiveServer,
) -> None:
    s = server.create_session(moderation="post", answer_review="approve")
    sid = s["id"]
    async with (
        Wiretap(server, sid) as tap,
        server.client(sid) as asker,
        server.client(sid, token=s["moderator_token"], name="审核员") as mod,
        server.client(sid, token=s["presenter_token"], name="秘书") as official,
    ):
        kept, dropped = await ask(asker, "路灯坏了什么时候修？"), await ask(asker, "公交线路能延长吗？")
        ack = await official.request("answer", question_id=kept["question_id"], text=KEPT)
        assert ack == {"question_id": kept["question_id"], "held": "approve", "release_at": None}
        held = await held_on(mod, kept["question_id"])
        assert (held["text"], held["typed_by"], held["review"]) == (KEPT, "presenter:秘书", "approve")

        with pytest.raises(ServerError) as same:
            await official.request("release", question_id=kept["question_id"])
        assert same.value.code == "second_person_required"
        assert same.value.details["typed_by"] == "presenter:秘书"

        await official.request("answer", question_id=dropped["question_id"], text=SECRET)
        secret = await held_on(mod, dropped["question_id"])
        assert await mod.request("withdraw", question_id=dropped["question_id"], hold=secret["seq"]) == {
            "question_id": dropped["question_id"],
            "withdrawn": secret["seq"],
        }
        withdrawn = await mod.wait_for(lambda e: e["type"] == "question.answer_withdrawn")
        assert "held" not in withdrawn["data"]["question"]
        for late in ("release", "withdraw"):
            with pytest.raises(ServerError) as gone:
                await official.request(late, question_id=dropped["question_id"], hold=secret["seq"])
            assert gone.value.code == "answer_not_held" and gone.value.details["hold"] is None

        released = await mod.request("release", question_id=kept["question_id"], hold=held["seq"])
        assert released == {"question_id": kept["question_id"], "revision": 1, "released": held["seq"]}
        shown = await asker.wait_for(lambda e: e["type"] == "question.answered")
        answer = shown["data"]["question"]["answer"]
        assert answer["text"] == KEPT and answer["by"] == "李明" and answer["revision"] == 1
        assert shown["data"]["question"]["status"] == "answered"
        await until(lambda: any('"question.answered"' in f for f in tap.frames), "the wiretap's answer")
        mine = (await asker.request("mine"))["mine"]
        async with server.client(sid) as late:
            fresh = json.dumps(late.snapshot, ensure_ascii=False)

    # Nothing of the withdrawn answer, and nothing of the kept one before its release, left the
    # server for anyone but staff: not in a frame, the public log, a snapshot, a receipt, the
    # asker's own view, the transcript or the search.
    release_seq = answered_events(tap.events(), kept["question_id"])[0]["seq"]
    assert not [f for f in tap.frames if SECRET in f]
    assert all(e["seq"] >= release_seq for e in tap.events() if KEPT in json.dumps(e, ensure_ascii=False))
    assert not [f for f in tap.frames if '"held"' in f]
    public = httpx.get(f"{server.http}/api/sessions/{sid}/events", timeout=TIMEOUT).text
    assert SECRET not in public and '"held"' not in public
    assert SECRET in json.dumps(staff_log(server, sid), ensure_ascii=False)  # staff saw it
    assert SECRET not in fresh and KEPT in fresh
    assert not [m for m in mine if "held" in m or SECRET in json.dumps(m, ensure_ascii=False)]
    receipts = [
        httpx.get(f"{server.http}/api/receipts/{r['receipt']}", timeout=TIMEOUT) for r in (kept, dropped)
    ]
    assert receipts[0].json()["answer"]["text"] == KEPT
    assert SECRET not in receipts[1].text and "held" not in receipts[1].json()
    transcript = httpx.get(f"{server.http}/api/sessions/{sid}/transcript?format=md", timeout=TIMEOUT).text
    assert KEPT.replace("。", "") in transcript and SECRET not in transcript
    for query, found in ((SECRET[:8], 0), (KEPT[:6], 1)):
        r = httpx.get(f"{server.http}/api/search", params={"q": query}, timeout=TIMEOUT).json()
        assert len([x for x in r["results"] if x["session_id"] == sid]) == found, query

    # The audit trail says who typed, who released, who withdrew, and what.
    trail = audit(server, sid)
    typed = [r for r in trail if r["action"] == "question.answer_held"]
    assert [r["who"] for r in typed] == ["presenter:秘书", "presenter:秘书"]
    out = next(r for r in trail if r["action"] == "question.answered")
    assert (out["who"], out["typed_by"]) == ("moderator:审核员", "presenter:秘书")
    assert out["before"]["held"]["text"] == KEPT
    taken_back = next(r for r in trail if r["action"] == "question.answer_withdrawn")
    assert taken_back["who"] == "moderator:审核员" and taken_back["before"]["held"]["text"] == SECRET


async def test_a_moderators_answer_is_held_even_where_the_officials_goes_out_at_once(
    server: LiveServer,
) -> None:
    """Review off (the default): the official's seat publishes at once, as before; what a
    moderator types on the official's behalf waits for a second person all the same."""
    s = server.create_session(moderation="post")
    sid = s["id"]
    async with (
        server.client(sid) as asker,
        server.client(sid, token=s["moderator_token"], name="小王") as mod,
        server.client(sid, token=s["moderator_token"], name="小李") as other,
        server.client(sid, token=s["presenter_token"]) as official,
    ):
        one, two = await ask(asker, "停车难怎么办？"), await ask(asker, "学校什么时候开学？")
        assert (await official.request("answer", question_id=one["question_id"], text="新增泊位。"))[
            "revision"
        ] == 1
        ack = await mod.request("answer", question_id=two["question_id"], text="九月一日开学。")
        assert ack["held"] == "approve"
        video = await mod.request("answer", question_id=one["question_id"], mode="video")
        assert video["revision"] == 2, "an answer with no text has nothing to hold"
        with pytest.raises(ServerError) as same:
            await mod.request("release", question_id=two["question_id"])
        assert same.value.code == "second_person_required"
        await other.request("release", question_id=two["question_id"])  # same key, another person
        shown = await asker.wait_for(
            lambda e: e["type"] == "question.answered" and e["data"]["question"]["id"] == two["question_id"]
        )
        assert shown["data"]["question"]["answer"]["text"] == "九月一日开学。"


async def test_a_delayed_answer_goes_out_by_itself_once_unless_withdrawn(server: LiveServer) -> None:
    s = server.create_session(moderation="post", answer_review="delay", answer_delay_s=1)
    sid = s["id"]
    async with (
        Wiretap(server, sid) as tap,
        server.client(sid) as asker,
        server.client(sid, token=s["moderator_token"], name="审核员") as mod,
        server.client(sid, token=s["presenter_token"], name="秘书") as official,
    ):
        q = [(await ask(asker, f"第{n}个问题"))["question_id"] for n in range(6)]

        def answered(qid: int) -> Any:
            return asker.wait_for(
                lambda e: e["type"] == "question.answered" and e["data"]["question"]["id"] == qid,
                timeout=TIMEOUT,
            )

        ack = await official.request("answer", question_id=q[0], text="到点自动播出。")
        assert ack["held"] == "delay" and ack["release_at"] > asker.welcome["server_time"]
        withheld = await official.request("answer", question_id=q[1], text=SECRET)
        await mod.request("withdraw", question_id=q[1])
        early = await official.request("answer", question_id=q[2], text="第二人提前放行。")
        await mod.request("release", question_id=q[2])
        await answered(q[2])
        first = await answered(q[0])
        assert first["at"] >= ack["release_at"]
        # A hold typed after q[1]'s deadline has passed goes out after it: by then the clock has
        # swept past q[1] (withdrawn) and q[2] (released early) and must have left both alone.
        later = await official.request("answer", question_id=q[3], text="后来的回答。")
        assert later["release_at"] > withheld["release_at"] and later["release_at"] > early["release_at"]
        await answered(q[3])

        # "both": a second person approves, then the delay runs, then the clock releases.
        with httpx.Client(base_url=server.http, headers={"Authorization": f"Bearer {ADMIN}"}) as http:
            http.patch(f"/api/sessions/{sid}", json={"answer_review": "both"}).raise_for_status()
        ack = await official.request("answer", question_id=q[4], text="审核后延时播出。")
        assert ack["held"] == "both" and ack["release_at"] is None
        approved = await mod.request("release", question_id=q[4])
        assert approved["release_at"] > 0
        event = await mod.wait_for(lambda e: e["type"] == "question.answer_approved")
        assert event["data"]["question"]["held"]["approved_by"] == "moderator:审核员"
        assert event["data"]["question"]["held"]["release_at"] == approved["release_at"]
        shown = await answered(q[4])
        assert shown["at"] >= approved["release_at"]

    log = staff_log(server, sid)
    assert [len(answered_events(log, qid)) for qid in q] == [1, 0, 1, 1, 1, 0]
    assert not [f for f in tap.frames if SECRET in f]
    trail = {
        r["after"]["question"]["id"]: r for r in audit(server, sid) if r["action"] == "question.answered"
    }
    assert (trail[q[0]]["who"], trail[q[0]]["typed_by"]) == (CLOCK, "presenter:秘书")
    assert trail[q[2]]["who"] == "moderator:审核员"
    assert (trail[q[4]]["who"], trail[q[4]]["before"]["held"]["approved_by"]) == (CLOCK, "moderator:审核员")


@contextlib.asynccontextmanager
async def database(engine: str, tmp_path: Path) -> AsyncIterator[str]:
    if engine == "postgres":
        async with fresh_pg_database() as url:
            yield url
    else:
        yield str(tmp_path / "live.db")


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_two_workers_release_each_delayed_answer_exactly_once(engine: str, tmp_path: Path) -> None:
    """Both workers hold the session's room, so both clocks see every deadline pass."""
    async with database(engine, tmp_path) as db:
        env = {**SHARED_REDIS_ENV, "LIVE_QUESTIONS_PER_MINUTE": "1000"}
        a = await asyncio.to_thread(LiveServer(db, REDIS, env=env).start)  # one migrates, then the other
        b = LiveServer(db, REDIS, env=env)
        try:
            await asyncio.to_thread(b.start)
            s = a.create_session(moderation="post", answer_review="delay", answer_delay_s=1)
            sid = s["id"]
            heard: list[str] = []
            sniffer = Redis.from_url(REDIS, decode_responses=True)
            pubsub = sniffer.pubsub()
            await pubsub.psubscribe(f"live:session:{sid}:*")

            async def sniff() -> None:
                async for message in pubsub.listen():
                    if message["type"] == "pmessage":
                        heard.append(message["data"])

            sniffing = asyncio.create_task(sniff())
            async with (
                a.client(sid) as asker,
                b.client(sid, token=s["moderator_token"]) as watcher,
                a.client(sid, token=s["presenter_token"]) as official,
            ):
                q = [(await ask(asker, f"问题{n}"))["question_id"] for n in range(13)]
                await official.request("answer", question_id=q[12], text=SECRET)
                await official.request("withdraw", question_id=q[12])
                await watcher.wait_for(lambda e: e["type"] == "question.answer_withdrawn")
                for qid in q[:10]:
                    await official.request("answer", question_id=qid, text=f"回答{qid}")
                await until(lambda: len(transcript_answered(a, sid)) == 10, "ten answers released")
                for qid in q[10:12]:  # a barrier: both clocks have swept past the ten by then
                    await official.request("answer", question_id=qid, text=f"回答{qid}")
                await until(lambda: len(transcript_answered(b, sid)) == 12, "the barrier released")
                await watcher.wait_seq(staff_log(a, sid)[-1]["seq"])
            sniffing.cancel()
            await pubsub.aclose()
            await sniffer.aclose()
            assert heard and not [m for m in heard if SECRET in m], "a withdrawn answer crossed Redis"
            log = staff_log(b, sid)
            assert [len(answered_events(log, qid)) for qid in q] == [1] * 12 + [0]
            assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
        finally:
            for srv in (a, b):
                if srv.proc is not None:
                    srv.kill()


async def test_a_delayed_answer_survives_kill_9_and_goes_out_once(backend: Backend) -> None:
    """Killed around the deadline (before it, after it, while releasing), restarted: each held
    answer goes out exactly once, by the new process's clock, with nobody connected."""
    srv = await asyncio.to_thread(LiveServer(backend.db, backend.bus, env=backend.env).start)
    try:
        s = srv.create_session(moderation="post", answer_review="delay", answer_delay_s=1)
        sid = s["id"]
        rng = random.Random(19)
        qids = []
        for n, pause in enumerate([0.5, 0.95, 1.05, 1.6]):  # before, around and after the deadline
            async with (
                srv.client(sid) as asker,
                srv.client(sid, token=s["presenter_token"]) as official,
            ):
                qid = (await ask(asker, f"重启前的问题{n}"))["question_id"]
                await official.request("answer", question_id=qid, text=f"重启前的回答{n}")
            qids.append(qid)
            await asyncio.sleep(pause + rng.uniform(0, 0.1))
            srv.kill()
            srv = await asyncio.to_thread(LiveServer(backend.db, backend.bus, env=backend.env).start)
            await until(lambda q=qid, now=srv: q in transcript_answered(now, sid), f"question {qid} released")
        log = staff_log(srv, sid)
        assert [len(answered_events(log, qid)) for qid in qids] == [1] * len(qids)
        assert all(e["seq"] == n for n, e in enumerate(log, start=1))
    finally:
        if srv.proc is not None:
            srv.kill()


async def test_review_settings_are_checked(server: LiveServer) -> None:
    s = server.create_session()
    with httpx.Client(base_url=server.http, headers={"Authorization": f"Bearer {ADMIN}"}) as http:
        for bad in ({"answer_review": "later"}, {"answer_delay_s": 0}, {"answer_delay_s": 601}):
            r = http.patch(f"/api/sessions/{s['id']}", json=bad)
            assert (r.status_code, r.json()["code"]) == (400, "bad_review"), bad
            assert r.json()["details"]["field"] == next(iter(bad))
        r = http.patch(f"/api/sessions/{s['id']}", json={"answer_delay_s": "30"})
        assert r.json()["code"] == "wrong_type"
        ok = http.patch(f"/api/sessions/{s['id']}", json={"answer_review": "both", "answer_delay_s": 600})
        assert ok.json()["session"]["answer_review"] == "both"
