"""Replay's log, the transcript in every format, statistics and the archive listing.

One session is recorded through real WebSocket clients (two citizens, a
watching viewer, a moderator and the official) with pauses between steps, and
every test reads it back over HTTP from the real server.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from live import archive

from .conftest import ADMIN, TIMEOUT, LiveServer

CONTACTS = ("13800000000", "lina@example.com", "13999999999")
PAUSE = 0.15


@dataclass
class Recording:
    server: LiveServer
    session: dict[str, Any]
    ids: dict[str, int] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    watched: list[dict[str, Any]] = field(default_factory=list)
    paused: list[tuple[int, int, float]] = field(default_factory=list)
    """(seq before a pause, seq after it, seconds paused)."""

    @property
    def sid(self) -> int:
        return self.session["id"]


async def _record(server: LiveServer) -> Recording:
    """A session with every kind of outcome, recorded as a viewer watched it live."""
    s = server.create_session(start=timedelta(seconds=-1))
    rec = Recording(server, s)
    sid = s["id"]
    async with (
        server.client(sid) as v1,
        server.client(sid) as v2,
        server.client(sid) as watcher,
        server.client(sid, token=s["moderator_token"], name="小王") as mod,
        server.client(sid, token=s["presenter_token"]) as official,
    ):

        async def ask(key: str, c: Any, text: str, name: str, contact: str = "") -> None:
            extra = {"contact": contact} if contact else {}
            ack = await c.request("ask", client_id=str(uuid.uuid4()), text=text, name=name, **extra)
            rec.ids[key], rec.texts[key] = ack["question_id"], text

        async def pause(seconds: float = PAUSE) -> None:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                before = (await http.get(f"{server.http}/api/sessions/{sid}")).json()["seq"]
            await asyncio.sleep(seconds)
            rec.paused.append((before, before + 1, seconds))

        await ask("road", v1, "小区门口的路什么时候修好？", "王先生", CONTACTS[0])
        await ask("hotline", v2, "Is there an English hotline?", "Anna")
        await ask("rubbish", v1, "垃圾分类投放点太远了", "李女士", CONTACTS[1])
        await ask("park", v2, "公园开放时间能延长吗？", "")
        await ask("waiting", v1, "这个问题没人审核", "赵先生", CONTACTS[2])
        await ask("markup", v2, "=SUM(A1) <b>粗体</b> *星号* [链接](http://evil.example)", "<img src=x>")
        await ask("hidden", v1, "后来被隐藏的问题", "钱先生")
        await pause()
        await mod.request("approve", question_id=rec.ids["road"])
        await pause()
        await official.request("answering", question_id=rec.ids["road"])
        await pause(0.4)
        await official.request("answer", question_id=rec.ids["road"], text="下个月完工。")
        await pause()
        rec.texts["hotline"] = "Is there an English service hotline?"
        await mod.request("edit", question_id=rec.ids["hotline"], text=rec.texts["hotline"])
        await mod.request("approve", question_id=rec.ids["hotline"])
        await official.request(
            "answer",
            question_id=rec.ids["hotline"],
            text="Yes: call 12345 for English service, 9:00-17:00 on working days.",
        )
        await mod.request("reject", question_id=rec.ids["rubbish"], reason="off_topic")
        await mod.request("approve", question_id=rec.ids["park"])
        for key in ("markup", "hidden"):
            await mod.request("approve", question_id=rec.ids[key])
        await official.request(
            "answer", question_id=rec.ids["markup"], text="答：*不是* <script>alert(1)</script>\n# 不是标题"
        )
        await official.request("answer", question_id=rec.ids["hidden"], text="会隐藏的回答")
        await mod.request("hide", question_id=rec.ids["hidden"])
        await pause()
        await official.request("answer", question_id=rec.ids["road"], text="下个月底前全部完工。")
        for c, key in ((v1, "park"), (watcher, "park"), (v2, "road")):  # v2 asked park
            await c.request("vote", question_id=rec.ids[key])
        await watcher.wait_for(
            lambda e: e["type"] == "votes.tallied" and e["data"]["votes"].get(str(rec.ids["road"])) == 1
        )
        await asyncio.wait_for(_until(lambda: watcher.viewers == 5), TIMEOUT)
        rec.watched = list(watcher.events)
        assert watcher.gaps == []
    return rec


async def _until(check: Any) -> None:
    while not check():
        await asyncio.sleep(0.02)


def record(server: LiveServer) -> Recording:
    return asyncio.run(_record(server))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recording]:
    srv = LiveServer(str(tmp_path_factory.mktemp("archive") / "live.db")).start()
    try:
        yield record(srv)
    finally:
        srv.kill()


def _get(rec: Recording, path: str, token: str | None = None, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{rec.server.http}{path}", params=params, headers=headers, timeout=TIMEOUT)


def read_log(rec: Recording, token: str | None = None, limit: int = 4) -> list[dict[str, Any]]:
    """The whole log through the paged events API, as the replay page reads it."""
    events: list[dict[str, Any]] = []
    after = 0
    for _ in range(1000):
        page = _get(rec, f"/api/sessions/{rec.sid}/events", token, after=after, limit=limit).json()
        events += page["events"]
        after = page["next"]
        if not page["more"]:
            return events
    raise AssertionError("the log did not end")


def test_replay_reads_every_event_in_order_as_viewers_saw_it(recorded: Recording) -> None:
    log = read_log(recorded)
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert log[0]["type"] == "session.created"
    assert log[1:] == recorded.watched, "replay must read exactly what the live viewer was sent"
    types = {e["type"] for e in log}
    assert types >= {
        "question.asked",
        "question.approved",
        "question.answering",
        "question.answered",
        "question.edited",
        "question.rejected",
        "question.hidden",
        "votes.tallied",
    }
    at = [e["at"] for e in log]
    assert at == sorted(at)
    by_seq = {e["seq"]: e["at"] for e in log}
    for before, after, seconds in recorded.paused:
        assert by_seq[after] - by_seq[before] >= seconds * 1000, "the recorded pace is in the log"
    staff_log = read_log(recorded, ADMIN, limit=100)
    for text in (json.dumps(log, ensure_ascii=False), json.dumps(staff_log, ensure_ascii=False)):
        assert not any(c in text for c in CONTACTS)
    pending = [
        e
        for e in log
        if e["type"] == "question.asked" and e["data"]["question"]["id"] == recorded.ids["waiting"]
    ]
    assert "text" not in pending[0]["data"]["question"], "viewers' log never holds unreviewed text"


PUBLISHED = ("road", "hotline", "markup")
"""Answered and still public, in the order first answered (a later revision keeps its place)."""
NEVER = ("rubbish", "waiting", "hidden")
"""Never in the public record: declined, never reviewed, hidden."""
WAITING = "park"
"""Published, never answered: not among the answers, but listed with its outcome (none yet)."""


def test_transcript_json_holds_exactly_the_published_answers(recorded: Recording) -> None:
    doc = _get(recorded, f"/api/sessions/{recorded.sid}/transcript").json()
    items = doc["items"]
    assert [i["id"] for i in items] == [recorded.ids[k] for k in PUBLISHED]
    assert [i["question"] for i in items] == [recorded.texts[k] for k in PUBLISHED]
    assert [i["n"] for i in items] == [1, 2, 3] and doc["answered"] == 3
    road = items[0]
    assert road["name"] == "王先生" and road["answer"]["text"] == "下个月底前全部完工。"
    assert road["answer"]["revision"] == 2 and road["answered_at"] < road["answer"]["at"]
    assert road["link"] == f"/s/{recorded.sid}/replay#q{recorded.ids['road']}"
    assert items[2]["name"] == "<img src=x>"
    assert doc["session"]["timezone"] == "Asia/Shanghai" and doc["session"]["programme"]["title"]
    assert set(road) == {
        "n",
        "id",
        "status",
        "name",
        "question",
        "asked_at",
        "asked_at_local",
        "answer",
        "answered_at",
        "answered_at_local",
        "link",
    }
    _assert_private_free(json.dumps(doc, ensure_ascii=False), recorded)
    assert recorded.texts[WAITING] not in json.dumps(items, ensure_ascii=False)
    every = {q["id"]: q for q in doc["outcomes"]["questions"]}
    assert sorted(every) == sorted(recorded.ids.values()), "every question, with its outcome"
    assert every[recorded.ids[WAITING]]["text"] == recorded.texts[WAITING]
    assert every[recorded.ids[WAITING]]["outcome"] == "none"
    assert every[recorded.ids["rubbish"]] == {
        "id": recorded.ids["rubbish"],
        "status": "rejected",
        "outcome": "declined",
        "reason": "off_topic",
        "asked_at": every[recorded.ids["rubbish"]]["asked_at"],
        "asked_at_local": every[recorded.ids["rubbish"]]["asked_at_local"],
    }

    download = _get(recorded, f"/api/sessions/{recorded.sid}/transcript", format="json")
    assert download.headers["content-disposition"].startswith('attachment; filename="qzzx-32-')
    assert "filename*=UTF-8''" in download.headers["content-disposition"]
    assert [i["id"] for i in download.json()["items"]] == [i["id"] for i in items]


def _assert_private_free(text: str, rec: Recording) -> None:
    for contact in CONTACTS:
        assert contact not in text
    for key in NEVER:
        assert rec.texts[key] not in text, key
    assert "会隐藏的回答" not in text and "original_text" not in text and "下个月完工。" not in text


def test_transcript_markdown_escapes_and_keeps_order(recorded: Recording) -> None:
    r = _get(recorded, f"/api/sessions/{recorded.sid}/transcript", format="md")
    assert r.headers["content-type"].startswith("text/markdown")
    assert r.headers["content-disposition"].endswith(".md")
    md = r.text
    _assert_private_free(md, recorded)
    positions = [
        md.index(t)
        for t in ("小区门口的路什么时候修好？", "Is there an English service hotline?", "=SUM(A1)")
    ]
    assert positions == sorted(positions)
    assert "下个月底前全部完工。" in md and "12345 for English service" in md
    assert re.findall(r"(?<!\\)<(?!http://)", md) == [], "every < a person typed is escaped"
    assert r"\<script\>" in md and r"\*不是\*" in md and r"\[链接\](http://evil.example)" in md
    assert "\n\\# 不是标题" in md, "a line of an answer never becomes a heading"
    assert f"/s/{recorded.sid}/replay#q{recorded.ids['road']}>" in md
    assert "（2" not in md.split("\n")[0]


def test_transcript_csv_rows_are_the_published_answers(recorded: Recording) -> None:
    r = _get(recorded, f"/api/sessions/{recorded.sid}/transcript", format="csv", lang="en")
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    _assert_private_free(r.text, recorded)
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["No.", "Name", "Asked at", "Question"]
    body = rows[1 : rows.index([])]  # then every question by outcome (tests/test_closing.py)
    assert [row[3] for row in body[:2]] == [recorded.texts["road"], recorded.texts["hotline"]]
    assert body[2][3] == "'" + recorded.texts["markup"], "a formula is defused"
    assert [row[5] for row in body][:1] == ["下个月底前全部完工。"]
    assert [row[9].rsplit("#q", 1)[1] for row in body] == [str(recorded.ids[k]) for k in PUBLISHED]
    assert [(row[7], row[8]) for row in body] == [("Text", "Answered live")] * len(body), "words, not codes"
    zh = _get(recorded, f"/api/sessions/{recorded.sid}/transcript", ADMIN, format="csv", unanswered="1").text
    rows = list(csv.reader(io.StringIO(zh.lstrip("\ufeff"))))
    assert rows[0][7:9] == ["答复方式", "状态"]
    body = rows[1 : rows.index([])]
    assert [(row[7], row[8]) for row in body] == [("文字", "现场回答")] * 3 + [("", "已公开，未答复")]


def test_transcript_csv_names_each_answer_mode_in_words() -> None:
    """答复方式 and 状态 hold the export's language's words for each mode (no ``text``, no blank)."""
    item = {
        "n": 1,
        "id": 1,
        "name": "",
        "asked_at_local": "",
        "question": "问",
        "answered_at_local": "",
        "link": "/s/1",
    }
    doc = {
        "items": [
            {**item, "answer": {"text": "答", "by": "李明", "mode": m}} for m in ("text", "video", "written")
        ],
        "outcomes": {"questions": []},
    }
    for lang, want in (
        ("zh", [("文字", "现场回答"), ("口头（直播中）", "现场回答"), ("书面", "书面答复")]),
        ("en", [("Text", "Answered live"), ("Spoken on air", "Answered live"), ("Written", "Written reply")]),
    ):
        rows = list(csv.reader(io.StringIO(archive.to_csv(doc, "https://x", lang).lstrip("\ufeff"))))
        assert [(row[7], row[8]) for row in rows[1:4]] == want, lang


def test_unanswered_questions_only_on_a_staff_request(recorded: Recording) -> None:
    path = f"/api/sessions/{recorded.sid}/transcript"
    refused = _get(recorded, path, unanswered="1")
    assert refused.status_code == 403 and refused.json()["code"] == "staff_only"
    assert _get(recorded, path, "not-a-key", unanswered="1").status_code == 403
    for token in (ADMIN, recorded.session["moderator_token"]):
        doc = _get(recorded, path, token, unanswered="1").json()
        assert [i["id"] for i in doc["items"]] == [recorded.ids[k] for k in (*PUBLISHED, "park")]
        assert doc["items"][-1]["answer"] is None and doc["include_unanswered"] is True
        md = _get(recorded, path, token, unanswered="1", format="md").text
        assert "公园开放时间能延长吗？" in md and "未答复的问题" in md
        for key in ("rubbish", "waiting", "hidden"):
            assert recorded.texts[key] not in md
    assert _get(recorded, path, format="xml").json()["code"] == "bad_format"


def test_statistics_for_staff_only(recorded: Recording) -> None:
    path = f"/api/sessions/{recorded.sid}/stats"
    assert _get(recorded, path).status_code == 403
    data = _get(recorded, path, recorded.session["presenter_token"]).json()
    assert data["questions"] == {
        "asked": 7,
        "approved": 5,
        "answered": 3,
        "rejected": 1,
        "merged": 0,
        "hidden": 1,
        "forwarded": 0,
        "pending": 1,
        "unanswered": 1,
    }
    assert data["votes"] == 3
    assert data["peak_viewers"] == 5, "five connections were open at once"
    assert data["viewers"] and max(s["viewers"] for s in data["viewers"]) == 5
    votes = {q["id"]: q["votes"] for q in data["per_question"]}
    assert votes[recorded.ids["park"]] == 2 and votes[recorded.ids["road"]] == 1
    r = _get(recorded, path, ADMIN, format="csv")
    assert r.headers["content-disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert ["questions_asked", "7"] in rows and ["peak_viewers", "5"] in rows
    assert ["time", "viewers"] in rows


def test_archive_lists_finished_episodes_newest_first(server: LiveServer) -> None:
    old = server.create_session(start=timedelta(days=-14), episode=30, title="第30期")
    newer = server.create_session(start=timedelta(days=-7), episode=31, title="第31期")
    server.create_session(episode=32, title="第32期")
    server.create_session(start=timedelta(days=7), episode=33, title="第33期")
    archive = httpx.get(f"{server.http}/api/archive", timeout=TIMEOUT).json()["programmes"]
    assert [s["id"] for s in archive[0]["sessions"]] == [newer["id"], old["id"]]
    first = archive[0]["sessions"][0]
    assert first["links"] == {
        "replay": f"/s/{newer['id']}/replay",
        "transcript": f"/s/{newer['id']}/transcript",
    }
    assert first["answered"] == 0 and first["episode"] == 31
    other = httpx.get(f"{server.http}/api/archive?programme_id=999", timeout=TIMEOUT).json()
    assert other["programmes"] == []


async def test_presence_samples_keep_each_buckets_peak(tmp_path: Path) -> None:
    """The sampler against a real store: one write per finished bucket, an empty room once."""
    from live.stats import BUCKET_MS, PresenceSampler
    from live.store.sqlite import SQLiteStore

    store = SQLiteStore(str(tmp_path / "p.db"))
    await store.open()
    try:
        sampler = PresenceSampler(store, 1)
        t0 = 1_800_000_000_000 // BUCKET_MS * BUCKET_MS
        for offset, count in [
            (0, 3),
            (1_000, 9),
            (2_000, 4),
            (BUCKET_MS, 2),
            (2 * BUCKET_MS, 0),
            (3 * BUCKET_MS, 0),
            (4 * BUCKET_MS, 0),
        ]:
            await sampler.observe(count, now=t0 + offset)
        assert await store.presence(1) == [(t0, 9), (t0 + BUCKET_MS, 2), (t0 + 2 * BUCKET_MS, 0)]
        assert sampler.current() is None
        await sampler.observe(6, now=t0 + 5 * BUCKET_MS)
        assert sampler.current() == (t0 + 5 * BUCKET_MS, 6)
    finally:
        await store.close()
