"""Full-text search across every episode, and "already answered?" suggestions.

Questions are asked, moderated and answered through real WebSocket clients;
search reads the index the store keeps in the same transaction as the log.
Each test runs on SQLite (FTS5 trigram) and on PostgreSQL (substring scan).
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bench.writes import restart_wal, tables, wal_pages

from .conftest import REDIS, TIMEOUT, TZ, LiveServer, fresh_pg_database


@dataclass
class Archive:
    server: LiveServer
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    ids: dict[str, tuple[int, int]] = field(default_factory=dict)
    """question key -> (session id, question id)."""

    def search(self, q: str, **params: Any) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.server.http}/api/search", params={"q": q, **params}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return r.json()["results"]

    def found(self, q: str, **params: Any) -> list[str]:
        keys = {v: k for k, v in self.ids.items()}
        return sorted(keys[(r["session_id"], r["question_id"])] for r in self.search(q, **params))

    def suggest(self, session: str, q: str) -> list[dict[str, Any]]:
        r = httpx.get(
            f"{self.server.http}/api/suggest",
            timeout=TIMEOUT,
            params={"session_id": self.sessions[session]["id"], "q": q},
        )
        assert r.status_code == 200, r.text
        return r.json()["results"]


def _second_programme(server: LiveServer) -> dict[str, Any]:
    from datetime import datetime

    with server.admin() as http:
        pid = http.post("/api/programmes", json={"slug": "zwgk", "title": "政务公开"}).json()["id"]
        begin = datetime.now(TZ) - timedelta(minutes=5)
        r = http.post(
            "/api/sessions",
            json={
                "programme_id": pid,
                "episode": 1,
                "title": "政务公开 第1期",
                "guest_name": "张华",
                "starts_at": begin.isoformat(),
                "ends_at": (begin + timedelta(hours=2)).isoformat(),
            },
        )
        data = r.json()
    data["presenter_token"] = data["links"]["presenter"].split("#key=")[1]
    data["moderator_token"] = data["links"]["moderator"].split("#key=")[1]
    return data


async def _fill(archive: Archive, key: str, items: list[tuple[str, str, str | None, str]]) -> None:
    """(question key, text, answer or None, what happens: answer|pending|reject|approve|hide).

    Each question comes from its own citizen (device), as the per-device limit expects.
    """
    s = archive.sessions[key]
    async with (
        archive.server.client(s["id"], token=s["moderator_token"]) as mod,
        archive.server.client(s["id"], token=s["presenter_token"]) as official,
    ):
        for qkey, text, answer, outcome in items:
            async with archive.server.client(s["id"]) as v:
                ack = await v.request(
                    "ask", client_id=str(uuid.uuid4()), text=text, name="市民", contact="13800000000"
                )
            qid = ack["question_id"]
            archive.ids[qkey] = (s["id"], qid)
            if outcome == "pending":
                continue
            if outcome == "reject":
                await mod.request("reject", question_id=qid, reason="off_topic")
                continue
            await mod.request("approve", question_id=qid)
            if answer:
                await official.request("answer", question_id=qid, text=answer)
            if outcome == "hide":
                await mod.request("hide", question_id=qid)


async def _archive(server: LiveServer) -> Archive:
    a = Archive(server)
    a.sessions["early"] = server.create_session(
        start=timedelta(hours=-2), length=timedelta(hours=3), episode=31
    )
    a.sessions["late"] = server.create_session(episode=32)
    a.sessions["other"] = _second_programme(server)
    await _fill(
        a,
        "early",
        [
            (
                "parking",
                "老城区停车难，晚上下班回家经常找不到车位，区里有没有增加停车位的计划？",
                "今年将新增公共停车泊位1200个，并推动机关单位停车场夜间错时开放。",
                "answer",
            ),
            (
                "hotline",
                "Is there an English service line for foreign residents?",
                "Yes. The 12345 hotline offers English service on working days.",
                "answer",
            ),
            (
                "school",
                "孩子明年上小学，学区划分什么时候公布？",
                "学区划分方案将于4月底在区教育局网站公布。",
                "answer",
            ),
            ("pending", "秘密花园什么时候开放？", None, "pending"),
            ("rejected", "月亮湖能不能游泳？", None, "reject"),
            ("unanswered", "星光广场的路灯坏了", None, "approve"),
            ("hidden", "彩虹桥的维修进度", "彩虹桥下月通车。", "hide"),
        ],
    )
    await _fill(a, "late", [("bus", "公交线路调整的事", "12路公交将延伸到新城区。", "answer")])
    await _fill(a, "other", [("other", "停车位紧张怎么办", "我们正在建设立体停车库。", "answer")])
    return a


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def archive(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    """One archive per backend, shared by the tests that only read it."""
    loop = asyncio.new_event_loop()
    database = fresh_pg_database()
    try:
        if request.param == "sqlite":
            srv = LiveServer(str(tmp_path_factory.mktemp("search") / "live.db"))
        else:
            srv = LiveServer(loop.run_until_complete(database.__aenter__()), REDIS)
        try:
            yield loop.run_until_complete(_archive(srv.start()))
        finally:
            srv.kill()
    finally:
        if request.param == "postgres":
            loop.run_until_complete(database.__aexit__(None, None, None))
        loop.close()


async def test_chinese_answers_found_by_2_3_and_5_characters(archive: Archive) -> None:
    assert archive.found("停车") == ["other", "parking"]
    assert archive.found("停车泊") == ["parking"]
    assert archive.found("区教育局网") == ["school"]
    assert archive.found("明年上小学") == ["school"]
    assert archive.found("停车 夜间") == ["parking"], "every term must match"
    assert archive.found("停车", programme_id=archive.sessions["early"]["programme_id"]) == ["parking"]
    assert archive.found("车") == ["other", "parking"], "one character still finds by substring"
    assert archive.found('停车"泊') == ["parking"] and archive.found("停车\x00泊位") == ["parking"]


async def test_english_found_by_a_word_in_any_case(archive: Archive) -> None:
    assert archive.found("hotline") == ["hotline"]
    assert archive.found("HOTLINE") == ["hotline"]
    assert archive.found("english service") == ["hotline"]
    assert archive.found("12") == ["bus", "hotline", "parking"]


async def test_only_published_answers_are_searchable(archive: Archive) -> None:
    for q in ("秘密花园", "月亮湖", "星光广场", "彩虹桥", "13800000000"):
        assert archive.search(q) == [], q


async def test_results_link_into_the_replay_at_the_question(archive: Archive) -> None:
    (hit,) = archive.search("停车泊")
    sid, qid = archive.ids["parking"]
    assert hit == {
        "session_id": sid,
        "programme_id": archive.sessions["early"]["programme_id"],
        "episode": 31,
        "title": "区长在线 第32期",
        "timezone": "Asia/Shanghai",
        "question_id": qid,
        "name": "市民",
        "question": "老城区停车难，晚上下班回家经常找不到车位，区里有没有增加停车位的计划？",
        "answer": "今年将新增公共停车泊位1200个，并推动机关单位停车场夜间错时开放。",
        "at": hit["at"],
        "link": f"/s/{sid}/replay#q{qid}",
    }
    assert isinstance(hit["at"], int)


async def test_bad_queries_get_structured_errors(archive: Archive) -> None:
    http = archive.server.http
    for params, code in [
        ({"q": " "}, "missing_field"),
        ({"q": "x" * 201}, "too_long"),
        ({"q": "停车", "limit": "0"}, "bad_query"),
        ({"q": "停车", "programme_id": "abc"}, "bad_query"),
        ({"q": "停车", "programme_id": "9" * 30}, "bad_query"),
        ({"q": "停车", "limit": "²"}, "bad_query"),
    ]:
        r = httpx.get(f"{http}/api/search", params=params, timeout=TIMEOUT)
        assert r.status_code == 400 and r.json()["code"] == code, params
    assert httpx.get(f"{http}/api/suggest", params={"q": "x"}, timeout=TIMEOUT).status_code == 400
    r = httpx.get(f"{http}/api/suggest", params={"session_id": 999, "q": "停车"}, timeout=TIMEOUT)
    assert r.status_code == 404 and r.json()["code"] == "session_not_found"


async def test_index_follows_edits_revisions_and_hiding(server: LiveServer) -> None:
    s = server.create_session()
    a = Archive(server, {"s": s})
    async with (
        server.client(s["id"]) as v,
        server.client(s["id"], token=s["moderator_token"]) as mod,
        server.client(s["id"], token=s["presenter_token"]) as official,
    ):
        q = (
            await v.request("ask", client_id=str(uuid.uuid4()), text="Is there an Englsh hotline?", name="")
        )["question_id"]
        a.ids["q"] = (s["id"], q)
        await mod.request("edit", question_id=q, text="Is there an English hotline?")
        await mod.request("approve", question_id=q)
        await official.request("answer", question_id=q, text="Call 12345.")
        assert a.found("English") == ["q"] and a.found("Englsh") == []
        await official.request("answer", question_id=q, text="Call 12345, or write to mayor@example.org.")
        assert a.found("mayor") == ["q"]
        await mod.request("hide", question_id=q)
        assert a.found("English") == []
        await mod.request("approve", question_id=q)
        await official.request("answer", question_id=q, text="Call 12345 for English service.")
        assert a.found("English service") == ["q"] and a.found("mayor") == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_index_is_rebuilt_from_the_log_by_the_migration(server: LiveServer) -> None:
    """A SQLite file from before the index: the migration folds the existing log into it."""
    archive = await _archive(server)
    before = {q: archive.found(q) for q in ("停车", "hotline", "学区划分", "彩虹桥")}
    archive.server.stop()
    with sqlite3.connect(archive.server.db) as db:
        db.executescript("""
            DROP TABLE search_fts; DROP TABLE search_items; DROP TABLE presence;
            PRAGMA user_version = 1;""")
    await asyncio.to_thread(archive.server.start)
    assert {q: archive.found(q) for q in before} == before
    assert before["停车"] == ["other", "parking"] and before["彩虹桥"] == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_question_writes_its_event_and_the_index_takes_answers_alone(server: LiveServer) -> None:
    """Write amplification (``docs/benchmarks.md``, "Bytes written per question"): a lone
    question's commit changes the log's pages and its session's row, none of the search
    index's; the question's answer gives it its index row."""
    s = server.create_session(moderation="post")
    async with server.client(s["id"]) as v, server.client(s["id"], token=s["presenter_token"]) as official:
        first = (await v.request("ask", client_id="a", text="小区门口的路什么时候修好？"))["question_id"]
        assert restart_wal(server.db), "the WAL could not be emptied"
        for i in range(10):
            await v.request("ask", client_id=f"q{i}", text=f"第{i}个问题：路灯坏了谁来修？")
        touched = tables(server.db, wal_pages(server.db))
        # Page 1 (sqlite_schema) holds the file's size; a 30-second presence sample may land too.
        assert set(touched) <= {"events", "sessions", "sqlite_schema", "presence"}, touched
        assert touched["sessions"] == 10, touched  # one page a commit: the sequence number
        await official.request("answer", question_id=first, text="下个月开工。")
    with sqlite3.connect(server.db) as db:
        indexed = db.execute("SELECT question_id, status FROM search_items").fetchall()
    assert indexed == [(first, "answered")]


async def test_traditional_characters_and_punctuation_find_what_the_plain_query_finds(
    archive: Archive,
) -> None:
    """The index and the query are folded alike (Simplified, case-folded), and any punctuation
    or symbol separates terms, in /api/search and /api/suggest."""
    plain = archive.found("停车")
    assert plain == ["other", "parking"]
    for query in ("停車", "「停车」", "停车-", "停車。", "《停车》"):
        assert archive.found(query) == plain, query
    assert archive.found("停车/泊位") == archive.found("停车 泊位") != []
    assert archive.found("HOTLINE") == archive.found("hotline") != []
    rephrased = "晚上回家小区附近停车位太少了，区里会增加车位吗？"
    traditional = "晚上回家小區附近停車位太少了，區裏會增加車位嗎？"
    assert (
        [r["question_id"] for r in archive.suggest("late", traditional)]
        == [r["question_id"] for r in archive.suggest("late", rephrased)]
        != []
    )


async def test_suggestions_for_a_rephrased_question(archive: Archive) -> None:
    got = archive.suggest("late", "晚上回家小区附近停车位太少了，区里会增加车位吗？")
    sid, qid = archive.ids["parking"]
    assert got and (got[0]["session_id"], got[0]["question_id"]) == (sid, qid)
    assert got[0]["link"] == f"/s/{sid}/replay#q{qid}" and got[0]["answer"].startswith("今年将新增")
    assert all(r["programme_id"] == archive.sessions["late"]["programme_id"] for r in got)
    assert len(got) <= 3
    english = archive.suggest("late", "Does the hotline have an English service for foreigners?")
    assert [r["question_id"] for r in english][:1] == [archive.ids["hotline"][1]]
    assert archive.suggest("late", "今天天气怎么样？") == []
    assert archive.suggest("late", "星光广场的路灯什么时候修") == [], "unanswered is not an answer"


async def test_suggestions_come_from_this_or_earlier_episodes_only(archive: Archive) -> None:
    later = archive.suggest("early", "公交线路什么时候调整？")
    assert later == [], "an earlier episode is never told about a later one"
    same = archive.suggest("late", "公交线路什么时候调整？")
    assert [(r["session_id"], r["question_id"]) for r in same] == [archive.ids["bus"]]
