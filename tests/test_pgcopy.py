"""``live copy-to``: a whole SQLite installation moved into PostgreSQL (issue 18, point 10).

The installation is built by driving real servers: ``live demo`` (a programme with a
staged past evening, a live episode, an announced one, blocked words), then a second
programme whose sessions see every kind of moderation, answers, votes and a merge.
Everything a person can read is fetched from a server on the SQLite file; the file is
copied; the same reads from a server on the PostgreSQL copy, on the same port (exports
carry the address), must give the same bytes. Then the copy takes new writes, whose
ids and sequence numbers follow on from the copied ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from PIL import Image

from live.client import Client
from live.events import now_ms
from live.stats import BUCKET_MS
from live.store.outbox import NewDelivery
from live.store.postgres import PostgresStore
from live.store.postgres_copies import COPIED, REBUILT, SQLITE_ONLY
from live.store.sqlite import SQLiteStore

from .attack import UNLIMITED
from .conftest import (
    ADMIN,
    PG,
    REDIS,
    SHARED_REDIS_ENV,
    TIMEOUT,
    TZ,
    LiveServer,
    free_port,
    fresh_pg_database,
    until,
)
from .test_operator import digest, one_line_refusal

TERMS = ("停车", "学区划分", "English", "电梯", "補貼", "library", "公交线路", "代开发票")
"""Searches: two-character terms (a substring scan), phrases (FTS5 on SQLite), a Traditional
spelling, an edited question's new text, and a rejected question's words (found nowhere)."""
FOUND_NOWHERE = "代开发票"


def copy_to(source: Path | str, target: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVE_")}
    return subprocess.run(
        [sys.executable, "-m", "live", "copy-to", target, "--db", str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 4,
    )


@dataclass
class Installation:
    db: Path
    receipts: list[str] = field(default_factory=list)
    keeper: dict[str, Any] = field(default_factory=dict)
    """A viewer of the ongoing session as it left: its session, device, epoch and seq."""


def _create(http: httpx.Client, programme_id: int, episode: int, title: str) -> dict[str, Any]:
    begin = datetime.now(TZ) - timedelta(minutes=10)
    r = http.post(
        "/api/sessions",
        json={
            "programme_id": programme_id,
            "episode": episode,
            "title": title,
            "guest_name": "周局长",
            "guest_post": "区交通局局长",
            "starts_at": begin.isoformat(),
            "ends_at": (begin + timedelta(hours=2)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    s = r.json()
    return {"id": s["id"], **{k: s["links"][k].split("#key=")[1] for k in ("presenter", "moderator")}}


async def _evening(srv: LiveServer, s: dict[str, Any], inst: Installation) -> None:
    """Every kind of outcome: approved, merged, rejected with notes, forwarded, edited,
    answered and revised, hidden, voted and withdrawn, post-moderated, extended, closed."""
    sid = s["id"]
    async with (
        srv.client(sid) as v1,
        srv.client(sid) as v2,
        srv.client(sid) as v3,
        srv.client(sid, token=s["moderator"], name="小王") as mod,
        srv.client(sid, token=s["presenter"]) as official,
    ):

        async def ask(c: Client, text: str, name: str, **extra: str) -> int:
            ack = await c.request("ask", client_id=str(uuid.uuid4()), text=text, name=name, **extra)
            inst.receipts.append(ack["receipt"])
            return ack["question_id"]

        lift = await ask(v1, "老旧小区加装电梯的补贴怎么申请？", "张先生", contact="13800000000")
        lift2 = await ask(v2, "加装电梯有补贴吗？申请流程是什么？", "李女士")
        bus = await ask(v3, "公交线路能否延伸到新建小区？", "市民")
        blocked = await ask(v1, "小区门口有人代开发票", "匿名")
        rubbish = await ask(v2, "垃圾清运车早上五点就来，太吵了", "王先生", contact="lw@example.com")
        off = await ask(v3, "这是一条与本期无关的内容", "")
        library = await ask(v1, "Is the library open on Sundays?", "Anna")
        hidden = await ask(v2, "这个问题后来会被隐藏", "赵先生")
        for q in (lift, bus, library, hidden):
            await mod.request("approve", question_id=q)
        await mod.request("merge", question_id=lift2, into=lift)
        await mod.request("reject", question_id=blocked, reason="abusive", note="含屏蔽词，不予公开")
        await mod.request("reject", question_id=off, reason="off_topic", note="与本期主题无关")
        await mod.request("forward", question_id=rubbish, department="区城管局", note="请三日内答复")
        await mod.request("edit", question_id=library, text="Is the city library open on Sundays?")
        for c, q in ((v2, lift), (v3, lift), (v1, bus), (v2, bus), (v3, library)):  # never one's own
            await c.request("vote", question_id=q)
        await v2.request("unvote", question_id=bus)
        await official.request("answering", question_id=lift)
        await official.request("answer", question_id=lift, text="可向所在街道办申请，每台补贴15万元。")
        await official.request("answer", question_id=lift, text="补充：申请材料见区住建局网站。", append=True)
        await official.request("answer", question_id=bus, text="明年一季度起，12路公交线路延伸到新建小区。")
        await official.request("answer", question_id=library, text="Yes, from 9:00 to 17:00.", mode="written")
        await official.request("answer", question_id=hidden, text="会被隐藏的回答")
        await mod.request("hide", question_id=hidden)
        await mod.request("set_moderation", mode="post")
        await official.request(
            "answer", question_id=await ask(v3, "地铁站出口能增加停车点吗", "市民"), text="会增加。"
        )
        await mod.request("extend", ends_at=int((datetime.now(TZ) + timedelta(hours=3)).timestamp() * 1000))
        await mod.request("remark", text="欢迎收看部门在线。")  # the studio (issue 21): a line, a photo
        desk = io.BytesIO()
        Image.new("RGB", (64, 48), (30, 60, 120)).save(desk, "JPEG")
        posted = httpx.post(
            f"{srv.http}/api/sessions/{sid}/photos",
            headers={"Authorization": f"Bearer {s['moderator']}"},
            files={"photo": ("desk.jpg", desk.getvalue(), "image/jpeg")},
            data={"caption": "演播室"},
            timeout=TIMEOUT,
        )
        assert posted.status_code == 200, posted.text
        await _tallied(srv, sid, {lift: 2, bus: 1, library: 1})
        await mod.request("close")


async def _tallied(srv: LiveServer, sid: int, votes: dict[int, int]) -> int:
    """Wait until the log shows these vote counts, so no tally is still due; the last seq."""
    state: dict[str, Any] = {}

    def shown() -> bool:
        state.update(httpx.get(f"{srv.http}/api/sessions/{sid}", timeout=TIMEOUT).json())
        return {q["id"]: q["votes"] for q in state["questions"] if q.get("votes")} == votes

    await until(shown, f"the tallies of session {sid}")
    return state["seq"]


async def _ongoing(srv: LiveServer, s: dict[str, Any], inst: Installation) -> None:
    """A session still open when the server stops, and a viewer who will come back."""
    sid = s["id"]
    async with (
        srv.client(sid) as keeper,
        srv.client(sid) as other,
        srv.client(sid, token=s["moderator"]) as mod,
        srv.client(sid, token=s["presenter"]) as official,
    ):
        ack = await keeper.request(
            "ask", client_id="k1", text="社区食堂什么时候开业？", contact="13999999999"
        )
        inst.receipts.append(ack["receipt"])
        second = await other.request("ask", client_id="o1", text="老年人助餐有補貼吗", name="老人家")
        inst.receipts.append(second["receipt"])
        await mod.request("approve", question_id=ack["question_id"])
        await mod.request("approve", question_id=second["question_id"])
        await keeper.request("vote", question_id=second["question_id"])  # 同问: another's question
        await other.request("vote", question_id=ack["question_id"])
        await official.request("answering", question_id=ack["question_id"])
        seq = await _tallied(srv, sid, {ack["question_id"]: 1, second["question_id"]: 1})
        await keeper.wait_seq(seq)
        inst.keeper = {"sid": sid, "device": keeper.device, "epoch": keeper.epoch, "seq": keeper.seq}


def build(tmp_path: Path) -> Installation:
    """``live demo``, then a second programme with two sessions; the server stopped."""
    inst = Installation(tmp_path / "live.db")
    srv = LiveServer(str(inst.db), command="demo", env=UNLIMITED).start()
    try:
        with srv.admin() as http:
            words = ["敏感词", "测试屏蔽", "spamword", "代开发票"]
            assert http.put("/api/filter/words", json={"words": words}).status_code == 200
            pid = http.post("/api/programmes", json={"slug": "bmzx", "title": "部门在线"}).json()["id"]
            http.patch(f"/api/programmes/{pid}", json={"description": "各部门负责人每月在线答复市民提问"})
            evening = _create(http, pid, 1, "部门在线 第1期：城市交通")
            ongoing = _create(http, pid, 2, "部门在线 第2期：社区服务")
        asyncio.run(_evening(srv, evening, inst))
        asyncio.run(_ongoing(srv, ongoing, inst))
    finally:
        srv.stop()
    asyncio.run(_presence(inst.db, evening["id"]))
    asyncio.run(_notified(inst.db, evening["id"]))
    return inst


async def _notified(db: Path, sid: int) -> None:
    """The outbox of the evening's two askers who left a contact, written through the store as
    the notifier writes it (this installation sends nothing): one message sent, one waiting."""
    store = SQLiteStore(str(db))
    await store.open()
    try:
        row = await store.get_session(sid)
        assert row is not None and (sid, 0) in await store.notify_backlog()
        seq = row.last_seq
        contacts = await store.contacts(sid, list(range(1, 20)))
        assert sorted(contacts.values()) == ["13800000000", "lw@example.com"]
        queued = [NewDelivery(f"t-{sid}-{q}", sid, seq, q, "sms", 0) for q in sorted(contacts)]
        await store.enqueue(sid, seq, queued, now_ms())
        first = (await store.claim(now_ms(), 1000, 1))[0]
        await store.settle(first, "sent", first.due_at, "", now_ms())
    finally:
        await store.close()


async def _presence(db: Path, sid: int) -> None:
    """Viewer-count samples, written through the store as the sampler writes them: a server
    writes one only when a 30-second bucket ends, and this test does not wait for that."""
    store = SQLiteStore(str(db))
    await store.open()
    try:
        start = now_ms() // BUCKET_MS * BUCKET_MS - 10 * BUCKET_MS
        for i, viewers in enumerate((3, 8, 5)):
            await store.record_presence(sid, start + i * BUCKET_MS, viewers)
    finally:
        await store.close()


GENERATED_AT = re.compile(rb'"generated_at":[0-9]+,')
"""A clock reading in what is compared: when a JSON transcript was made."""
NOW = re.compile(rb',"now":[0-9]+\}$')
"""The other: the server's clock, which the session list carries for the countdown."""


def _ok(r: httpx.Response) -> bytes:
    assert r.status_code == 200, (r.url, r.text)
    return r.content


def reads(srv: LiveServer, receipts: list[str]) -> dict[str, bytes]:
    """Everything a viewer, the staff and the archive can read over HTTP, as bytes."""
    out: dict[str, bytes] = {}
    with srv.admin() as admin, httpx.Client(base_url=srv.http, timeout=TIMEOUT) as anon:
        for path in ("/api/programmes", "/api/sessions", "/api/archive"):
            out[path] = NOW.sub(b"}", _ok(anon.get(path)))
        out["words"] = _ok(admin.get("/api/filter/words"))
        for s in json.loads(out["/api/sessions"])["sessions"]:
            base = f"/api/sessions/{s['id']}"
            for who, http in (("viewer", anon), ("staff", admin)):
                out[f"{base} {who}"] = _ok(http.get(base))
                log = http.get(f"{base}/events", params={"limit": 1000})
                assert not log.json()["more"]
                out[f"{base}/events {who}"] = _ok(log)
            for params in ({}, {"format": "md"}, {"format": "csv", "lang": "en"}, {"format": "json"}):
                transcript = _ok(anon.get(f"{base}/transcript", params=params))
                out[f"{base}/transcript {params}"] = GENERATED_AT.sub(b"", transcript)
            for post in json.loads(out[f"{base} viewer"]).get("posts", []):
                if post["kind"] == "photo":  # the studio's photos, served from the database
                    out[f"photo {post['url']}"] = _ok(anon.get(f"/s/{s['id']}/{post['url']}"))
            out[f"{base}/transcript unanswered"] = _ok(
                admin.get(f"{base}/transcript", params={"unanswered": "1", "format": "md"})
            )
            for what in ("stats", "audit"):
                out[f"{base}/{what}"] = _ok(admin.get(f"{base}/{what}"))
                out[f"{base}/{what} csv"] = _ok(admin.get(f"{base}/{what}", params={"format": "csv"}))
            for q in ("晚上回家停车难怎么办", "加装电梯的补贴怎么申请"):
                suggest = {"session_id": s["id"], "q": q}
                out[f"suggest {s['id']} {q}"] = _ok(anon.get("/api/suggest", params=suggest))
        for term in TERMS:
            out[f"search {term}"] = _ok(anon.get("/api/search", params={"q": term}))
        for receipt in receipts:
            out[f"receipt {receipt}"] = _ok(anon.get(f"/api/receipts/{receipt}"))
    return out


async def snapshots(srv: LiveServer, session_ids: list[int]) -> dict[str, Any]:
    """What a new viewer and a new staff member are sent on connecting to each session."""
    out: dict[str, Any] = {}
    for sid in session_ids:
        for who, token in (("viewer", None), ("staff", ADMIN)):
            async with srv.client(sid, token=token) as c:
                welcome = {k: v for k, v in c.welcome.items() if k not in ("device", "server_time")}
                out[f"{sid} {who}"] = (welcome, c.snapshot)
    return out


INDEX = (
    "session_id, question_id, name, question, answer, status, asked_at, answered_at, question_key, answer_key"
)
"""The search index's columns but its row id, which each engine numbers as it writes."""


async def _rows(db: Path, url: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Every copied table, and the search index, from both databases: each row's repr, sorted
    (each engine collates text its own way)."""
    wanted = {**{t: ", ".join(c) for t, c in COPIED.items()}, "search_items": INDEX}
    with contextlib.closing(sqlite3.connect(db)) as src:
        before = {t: sorted(map(repr, src.execute(f"SELECT {c} FROM {t}"))) for t, c in wanted.items()}
    conn = await asyncpg.connect(url)
    try:
        after = {
            t: sorted(repr(tuple(r)) for r in await conn.fetch(f"SELECT {c} FROM {t}"))
            for t, c in wanted.items()
        }
    finally:
        await conn.close()
    return before, after


async def test_copy_to_postgresql_serves_every_session_exactly_as_sqlite_did(tmp_path: Path) -> None:
    inst = await asyncio.to_thread(build, tmp_path)
    port = free_port()

    sqlite_srv = await asyncio.to_thread(LiveServer(str(inst.db), env=UNLIMITED).start)
    try:
        sessions = [s["id"] for s in httpx.get(f"{sqlite_srv.http}/api/sessions").json()["sessions"]]
        assert len(sessions) == 5, "three demo episodes and two of the second programme"
        seen = await snapshots(sqlite_srv, sessions)
        keeper = sqlite_srv.client(inst.keeper["sid"], device=inst.keeper["device"])
        await keeper.connect()
        own = (keeper.welcome["mine"], keeper.welcome["votes"])
        await keeper.close()
    finally:
        sqlite_srv.stop()
    # Read on a fresh process, so that no viewer's presence is still being sampled.
    sqlite_srv = await asyncio.to_thread(LiveServer(str(inst.db), port=port, env=UNLIMITED).start)
    try:
        before = await asyncio.to_thread(reads, sqlite_srv, inst.receipts)
    finally:
        sqlite_srv.stop()
    assert own[0] and own[1], "the keeper asked and voted"
    for q in ("停车难", "电梯"):
        assert any(json.loads(v)["results"] for k, v in before.items() if k.startswith("suggest") and q in k)
    assert json.loads(before[f"search {FOUND_NOWHERE}"])["results"] == []
    assert all(json.loads(before[f"search {t}"])["results"] for t in TERMS if t != FOUND_NOWHERE)
    assert json.loads(before["words"])["words"][-1] == "代开发票"

    async with fresh_pg_database() as url:
        file_before = digest(inst.db)
        done = await asyncio.to_thread(copy_to, inst.db, url)
        assert done.returncode == 0, done.stderr
        assert "5 sessions" in done.stdout and "search index rebuilt" in done.stdout
        assert digest(inst.db) == file_before, "the SQLite file is left as it was"
        in_sqlite, in_pg = await _rows(inst.db, url)
        for table in in_sqlite:
            assert in_pg[table] == in_sqlite[table], f"{table} differs"
        assert {t: len(rows) > 0 for t, rows in in_pg.items()} == dict.fromkeys(in_pg, True)

        pg = await asyncio.to_thread(
            LiveServer(url, REDIS, port=port, env={**UNLIMITED, **SHARED_REDIS_ENV}).start
        )
        try:
            after = await asyncio.to_thread(reads, pg, inst.receipts)
            assert sorted(after) == sorted(before)
            for key in before:
                assert after[key] == before[key], key
            assert await snapshots(pg, sessions) == seen
            await _carries_on(pg, inst, own, sessions)
        finally:
            pg.kill()


async def _carries_on(pg: LiveServer, inst: Installation, own: tuple[Any, Any], sessions: list[int]) -> None:
    """The viewer who was there resumes without a reset; new ids follow the copied ones."""
    sid = inst.keeper["sid"]
    state = httpx.get(f"{pg.http}/api/sessions/{sid}", headers={"Authorization": f"Bearer {ADMIN}"}).json()
    last_seq, last_question = state["seq"], max(q["id"] for q in state["questions"])
    keeper = pg.client(sid, device=inst.keeper["device"])
    keeper.epoch, keeper.seq = inst.keeper["epoch"], inst.keeper["seq"]
    welcome = await keeper.connect(resume=True)
    try:
        assert welcome["mode"] == "resume" and welcome["reset"] is False, "same epoch, same log"
        assert (welcome["mine"], welcome["votes"]) == own, "the device cookie still signs the same device"
        ack = await keeper.request("ask", client_id="after-the-move", text="搬到新数据库以后提的问题")
        assert ack["question_id"] == last_question + 1
        asked = await keeper.wait_for(lambda e: e["type"] == "question.asked")
        assert asked["seq"] == last_seq + 1 and keeper.gaps == []
        mine = httpx.get(f"{pg.http}/api/receipts/{ack['receipt']}").json()
        assert mine["id"] == ack["question_id"] and mine["status"] == "pending"
    finally:
        await keeper.close()
    with pg.admin() as http:
        created = http.post("/api/programmes", json={"slug": "new", "title": "新栏目"})
        assert created.status_code == 201, created.text
        assert created.json()["id"] == 3, "the programmes' identity moved past the copied ids"
        pid = created.json()["id"]
        assert _create(http, pid, 1, "新栏目 第1期")["id"] == max(sessions) + 1


async def test_copy_to_refuses_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    srv = LiveServer(str(db), env=UNLIMITED).start()
    try:
        s = srv.create_session(moderation="post")
        async with srv.client(s["id"]) as v, srv.client(s["id"]) as fan:
            q = (await v.request("ask", client_id="a", text="复制之前的问题"))["question_id"]
            await fan.request("vote", question_id=q)
        async with fresh_pg_database() as url:
            one_line_refusal(copy_to(db, url), str(db), "running server")
            srv.stop()
            await _refusals(tmp_path, db, url)
    finally:
        if srv.proc is not None:
            srv.kill()


async def _tables(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    finally:
        await conn.close()


async def _refusals(tmp_path: Path, db: Path, url: str) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("minutes of the meeting\n" * 50)
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE notes (line TEXT)")
        conn.commit()
    broken = tmp_path / "broken.db"  # PostgreSQL refuses its votes, which are copied after the logs
    shutil.copy(db, broken)
    with contextlib.closing(sqlite3.connect(broken)) as conn:
        assert conn.execute("UPDATE votes SET device = device || char(0)").rowcount == 1
        conn.commit()
    old = tmp_path / "old.db"  # as an older live left it, before its last migrations
    shutil.copy(db, old)
    with contextlib.closing(sqlite3.connect(old)) as conn:
        conn.execute("PRAGMA user_version=3")
    files = {p.name: digest(p) for p in tmp_path.iterdir() if p.is_file()}
    for source, target, words in (
        (text, url, ("not a SQLite database",)),
        (other, url, ("not a live database",)),
        (old, url, ("schema version 3", f"live migrate --db {old}")),
        (tmp_path / "missing.db", url, ("no SQLite database at",)),
        (tmp_path, url, ("no SQLite database at",)),
        (url, url, ("not a SQLite file",)),
        (db, "postgresql://postgres@127.0.0.1:1/live", ("127.0.0.1:1/live", "not reachable")),
        (db, f"{PG.rsplit('/', 1)[0]}/live_no_such_database", ("not reachable", "does not exist")),
        (db, str(tmp_path / "copy.db"), ("not a postgresql:// URL",)),
        (broken, url, ("refused", "nothing was written")),
    ):
        one_line_refusal(copy_to(source, target), *words)
        assert await _tables(url) == [], f"{source} -> {target}: something was made"
    assert {p.name: digest(p) for p in tmp_path.iterdir() if p.is_file()} == files, "a source changed"

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE notes (line text); INSERT INTO notes VALUES ('keep me')")
        one_line_refusal(copy_to(db, url), "already holds tables (notes)", "empty database")
        assert await _tables(url) == ["notes"]
        assert await conn.fetch("SELECT line FROM notes") == [("keep me",)]
    finally:
        await conn.close()


async def test_every_table_is_copied_or_rebuilt(tmp_path: Path) -> None:
    """A table added by a later migration fails this until ``live copy-to`` knows it."""
    store = SQLiteStore(str(tmp_path / "t.db"))
    await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / "t.db") as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {n for n in names if not n.startswith(SQLITE_ONLY)} == {*COPIED, *REBUILT}
    async with fresh_pg_database() as url:
        pg = PostgresStore(url)
        await pg.open()
        await pg.close()
        assert set(await _tables(url)) == {*COPIED, *REBUILT, "schema_version"}
