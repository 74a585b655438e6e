"""Closing (有问必答) and carry-over, over real connections on both engines (issue 19, points 1 and 4).

After the window every question gets an outcome (answered live, written reply, forwarded,
merged, declined with a reason, carried over); the session is archived only when none is left
without one, or by an admin's override whose reason the audit trail keeps. Carried-over
questions move into the programme's next episode keeping their receipt numbers, marked on both.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from live.client import Client, ServerError
from live.closing import carry_in
from live.events import Event, NewEvent
from live.state import Question, State, apply

from .conftest import ADMIN, TIMEOUT, LiveServer

CONTACT = "13912345678"


async def ask(c: Client, text: str, **extra: Any) -> dict[str, Any]:
    return await c.request("ask", client_id=str(uuid.uuid4()), text=text, name="王先生", **extra)


async def refused(code: str, c: Client, kind: str, **fields: Any) -> ServerError:
    with pytest.raises(ServerError) as err:
        await c.request(kind, **fields)
    assert err.value.code == code, err.value
    assert err.value.message["zh"] and err.value.message["en"]
    return err.value


def get(server: LiveServer, path: str, staff: bool = False, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ADMIN}"} if staff else {}
    return httpx.get(f"{server.http}{path}", params=params, headers=headers, timeout=TIMEOUT)


def snapshot(server: LiveServer, sid: int, staff: bool = False) -> dict[str, Any]:
    return get(server, f"/api/sessions/{sid}", staff).json()


async def test_every_question_gets_an_outcome_before_the_session_is_archived(server: LiveServer) -> None:
    s = server.create_session()
    sid = s["id"]
    async with (
        server.client(sid) as asker,
        server.client(sid) as watcher,
        server.client(sid, token=s["moderator_token"], name="小王") as mod,
        server.client(sid, token=s["presenter_token"]) as official,
    ):
        ids = {}
        for key in ("live", "pending", "written", "forward", "merge", "carry", "hidden"):
            ids[key] = (await ask(asker, f"{key} 的问题", contact=CONTACT))["question_id"]
        for key in ("live", "written", "forward", "merge", "carry", "hidden"):
            await mod.request("approve", question_id=ids[key])
        await mod.request("hide", question_id=ids["hidden"])
        await official.request("answer", question_id=ids["live"], text="现场回答")
        # During the window a published question is not declined: that is for the closing stage.
        await refused(
            "question_already_handled", mod, "settle", question_ids=[ids["forward"]], outcome="declined"
        )
        await refused("session_not_closed", mod, "archive")
        await mod.request("close")

        await refused("written_only", official, "answer", question_id=ids["written"], text="文字")
        await official.request("answer", question_id=ids["written"], text="会后书面答复", mode="written")
        missing = await refused("outcomes_missing", mod, "archive")
        assert missing.details["count"] == 5 and ids["pending"] in missing.details["question_ids"]

        await refused("bad_outcome", mod, "settle", question_ids=[ids["pending"]], outcome="lost")
        await refused("missing_field", mod, "settle", question_ids=[], outcome="declined")
        await refused("wrong_type", mod, "settle", question_ids=["1"], outcome="declined")
        await refused("missing_field", mod, "settle", question_ids=[ids["forward"]], outcome="forwarded")
        await mod.request(
            "settle",
            question_ids=[ids["pending"], ids["hidden"]],
            outcome="declined",
            reason="personal_case",
            note="请拨打12345热线",
        )
        await mod.request(
            "settle",
            question_ids=[ids["forward"]],
            outcome="forwarded",
            department="区交通局",
            note="十日内答复",
        )
        await mod.request("settle", question_ids=[ids["merge"]], outcome="merged", into=ids["written"])
        await refused("no_next_episode", mod, "carry_over")
        await refused("outcomes_missing", mod, "archive")
        nxt = server.create_session(start=timedelta(days=7), episode=33, title="区长在线 第33期")
        carried = await mod.request("carry_over")
        assert carried["session_id"] == nxt["id"] and [p[0] for p in carried["carried"]] == [ids["carry"]]
        assert carried["skipped"] == []

        done = await mod.request("archive")
        assert done == {"phase": "archived", "without_outcome": 0}
        event = await watcher.wait_for(lambda e: e["type"] == "session.archived")
        # Decided a moment before the store stamps the event: the same instant, give or take.
        assert abs(event["data"]["session"]["archived_at"] - event["at"]) < 5_000
        for kind, fields in (
            ("answer", {"question_id": ids["carry"], "text": "x", "mode": "written"}),
            ("settle", {"question_ids": [ids["live"]], "outcome": "declined"}),
            ("extend", {"ends_at": event["at"] + 3_600_000}),
            ("carry_over", {}),
            ("archive", {}),
        ):
            await refused("session_archived", official if kind == "answer" else mod, kind, **fields)
        await refused("session_archived", watcher, "vote", question_id=ids["live"])

    public = snapshot(server, sid)
    assert public["phase"] == "archived" and public["session"]["archived_at"]
    outcome = {q["id"]: q["outcome"] for q in public["questions"]}
    assert outcome == {
        ids["live"]: "answered",
        ids["pending"]: "declined",
        ids["written"]: "written",
        ids["forward"]: "forwarded",
        ids["merge"]: "merged",
        ids["carry"]: "carried_over",
        ids["hidden"]: "declined",
    }
    assert public["outcomes"] == {
        "answered": 1,
        "written": 1,
        "forwarded": 1,
        "carried_over": 1,
        "merged": 1,
        "declined": 2,
        "none": 0,
        "replied": 3,
        "due": 5,
        "reply_rate": 3 / 5,
    }
    by_id = {q["id"]: q for q in public["questions"]}
    assert by_id[ids["hidden"]] == {
        "id": ids["hidden"],
        "status": "rejected",
        "asked_at": by_id[ids["hidden"]]["asked_at"],
        "outcome": "declined",
        "reason": "personal_case",
        "note": "请拨打12345热线",
    }, "a declined question shows its outcome, never its text"
    assert by_id[ids["carry"]]["text"] == "carry 的问题", "a carried-over question stays readable"
    assert by_id[ids["forward"]]["text"] == "forward 的问题", "published, then forwarded: still readable"
    assert CONTACT not in json.dumps(public) + json.dumps(snapshot(server, sid, staff=True))
    trail = get(server, f"/api/sessions/{sid}/audit", staff=True).json()["audit"]
    archived = next(r for r in trail if r["action"] == "session.archived")
    assert archived["who"] == "moderator:小王" and archived["reason"] is None
    assert archived["before"] == {"phase": "closed", "without_outcome": []}
    assert {r["action"] for r in trail} >= {"question.carried_over", "question.rejected", "question.merged"}
    listed = {r["id"]: r["phase"] for r in get(server, "/api/sessions").json()["sessions"]}
    assert listed == {sid: "archived", nxt["id"]: "upcoming"}
    archive = get(server, "/api/archive").json()["programmes"][0]["sessions"]
    assert [a["id"] for a in archive] == [sid], "an archived session is listed with the finished ones"


async def test_an_admin_may_archive_over_open_questions_with_a_recorded_reason(server: LiveServer) -> None:
    s = server.create_session()
    sid = s["id"]
    async with (
        server.client(sid) as asker,
        server.client(sid, token=s["moderator_token"]) as mod,
        server.client(sid, token=ADMIN, name="主任") as admin,
    ):
        left = (await ask(asker, "没人处理的问题"))["question_id"]
        await mod.request("close")
        await refused("forbidden", mod, "archive_override", note="时间到了")
        await refused("missing_field", admin, "archive_override", note="   ")
        done = await admin.request("archive_override", note="栏目停播，剩余问题转12345热线办理")
        assert done == {"phase": "archived", "without_outcome": 1}
    trail = get(server, f"/api/sessions/{sid}/audit", staff=True).json()["audit"]
    row = next(r for r in trail if r["action"] == "session.archived")
    assert row["who"] == "admin:主任" and row["reason"] == "栏目停播，剩余问题转12345热线办理"
    assert row["before"]["without_outcome"] == [left]
    csv_text = get(server, f"/api/sessions/{sid}/audit", staff=True, format="csv").text
    assert "栏目停播" in csv_text
    events = get(server, f"/api/sessions/{sid}/events").json()["events"]
    assert "栏目停播" not in json.dumps(events, ensure_ascii=False), "the reason is for the audit trail"
    public = snapshot(server, sid)
    assert public["phase"] == "archived"
    assert [q["outcome"] for q in public["questions"]] == ["none"]
    assert public["outcomes"]["none"] == 1 and public["outcomes"]["reply_rate"] == 0


async def test_carried_over_questions_keep_their_receipts_and_show_on_both_sessions(
    server: LiveServer,
) -> None:
    s = server.create_session()
    sid = s["id"]
    async with (
        server.client(sid) as asker,
        server.client(sid, token=s["moderator_token"]) as mod,
    ):
        first = await ask(asker, "夜市什么时候恢复？", contact=CONTACT)
        second = await ask(asker, "公园厕所太少")
        other = await ask(asker, "还在审核的问题")
        for q in (first, second):
            await mod.request("approve", question_id=q["question_id"])
        await refused("session_not_closed", mod, "carry_over")
        await mod.request("close")
        await refused("no_next_episode", mod, "carry_over", question_ids=[first["question_id"]])
        later = server.create_session(start=timedelta(days=14), episode=34, title="第34期")
        nxt = server.create_session(start=timedelta(days=7), episode=33, title="第33期")
        await refused("not_carriable", mod, "carry_over", question_ids=[other["question_id"]])
        await refused("question_not_found", mod, "carry_over", question_ids=[999])
        one = await mod.request("carry_over", question_ids=[first["question_id"]])
        assert one["session_id"] == nxt["id"], "the earliest later episode, not any later one"
        [[old, new]] = one["carried"]
        assert old == first["question_id"]
        rest = await mod.request("carry_over")
        assert [p[0] for p in rest["carried"]] == [second["question_id"]]
        assert (await mod.request("carry_over"))["carried"] == [], "nothing approved is left"
        device = asker.device

    there = snapshot(server, nxt["id"])
    copies = {q["carried_from"]["question_id"]: q for q in there["questions"]}
    assert sorted(copies) == [first["question_id"], second["question_id"]], "each carried once"
    copy = copies[first["question_id"]]
    assert copy["id"] == new and copy["status"] == "approved" and copy["outcome"] == "none"
    assert copy["carried_from"] == {"session_id": sid, "question_id": first["question_id"]}
    assert copy["text"] == "夜市什么时候恢复？" and copy["name"] == "王先生"
    here = {q["id"]: q for q in snapshot(server, sid)["questions"]}
    assert here[first["question_id"]]["carried_to"] == {"session_id": nxt["id"], "question_id": new}
    assert here[first["question_id"]]["status"] == "carried_over"
    assert later["id"] not in {q.get("carried_to", {}).get("session_id") for q in here.values()}

    # The asker sees it in the next episode under the receipt number they were given.
    async with server.client(nxt["id"], device=device) as again:
        mine = {m["id"]: m for m in again.welcome["mine"]}
        assert mine[new]["receipt"] == first["receipt"] and mine[new]["text"] == "夜市什么时候恢复？"

    # The receipt shows the question where it was asked and where it went.
    r = get(server, f"/api/receipts/{first['receipt']}").json()
    assert r["status"] == "carried_over" and r["outcome"] == "carried_over" and r["session_id"] == sid
    assert r["carried_to"] == {"session_id": nxt["id"], "question_id": new}
    there = {"session_id": nxt["id"], "session_title": "第33期", "rated": False, "rating_until": None}
    assert r["carried"] == [{**copy, **there}], "not yet answered there: nothing to rate yet"

    # Answered in the next episode: the old receipt says so.
    async with (
        server.client(nxt["id"], token=nxt["moderator_token"]) as mod,
        server.client(nxt["id"], token=nxt["presenter_token"]) as official,
        server.client(nxt["id"], device=device) as again,
    ):
        await mod.request("open")
        await refused("duplicate_text", again, "ask", client_id="x", text="夜市什么时候恢复？")
        await official.request("answer", question_id=new, text="夜市下月恢复")
    r = get(server, f"/api/receipts/{first['receipt']}").json()
    assert r["carried"][0]["outcome"] == "answered" and r["carried"][0]["answer"]["text"] == "夜市下月恢复"

    for sess in (sid, nxt["id"]):
        for staff in (False, True):
            events = get(server, f"/api/sessions/{sess}/events", staff, limit=1000).text
            assert CONTACT not in events
        assert CONTACT not in get(server, f"/api/sessions/{sess}/transcript", format="csv").text


def test_a_carry_over_sent_twice_adds_each_question_once() -> None:
    """A carry-over cut off between its two appends is sent again: the copies are found."""
    state = State(9)
    apply(state, Event(9, 1, "session.created", {"session": {"starts_at": 10, "ends_at": 20}}, 0))
    old = Question(4, "路灯不亮", "李女士", "approved", 1, device="d1")
    first = carry_in(state, 3, [old], {4: "3-4-ABCDEF"}, {4: CONTACT}, "moderator:x", 0)
    assert [e.type for e in first.events] == ["question.carried_in"] and first.result == {"carried": [[4, 1]]}
    assert first.events[0].private == {
        "by": "moderator:x",
        "device": "d1",
        "receipt": "3-4-ABCDEF",
        "contact": CONTACT,
    }
    new: NewEvent = first.events[0]
    apply(state, Event(9, 2, new.type, new.data, 0, new.public, new.private))
    again = carry_in(state, 3, [old], {4: "3-4-ABCDEF"}, {}, "moderator:x", 0)
    assert again.events == [] and again.result == {"carried": [[4, 1]]}
    assert state.questions[1].receipt == "3-4-ABCDEF" and state.by_device == {"d1": [1]}


def test_the_reply_rate_is_replies_over_questions_due() -> None:
    state = State(1)
    kinds = [
        ("answered", "video"),
        ("answered", "written"),
        ("forwarded", ""),
        ("rejected", ""),
        ("merged", ""),
        ("carried_over", ""),
        ("pending", ""),
        ("hidden", ""),
    ]
    for n, (status, mode) in enumerate(kinds, start=1):
        q = Question(n, "x", "y", status, 0)
        if mode:
            q.answer = {"text": "", "mode": mode}
        state.questions[n] = q
    assert [q.settled_as for q in state.questions.values()] == [
        "answered",
        "written",
        "forwarded",
        "declined",
        "merged",
        "carried_over",
        "none",
        "none",
    ]
    counts = state.outcomes()
    assert (counts["replied"], counts["due"], counts["reply_rate"]) == (3, 6, 0.5)
    assert State(2).outcomes()["reply_rate"] is None


async def test_the_transcript_lists_every_question_by_outcome(server: LiveServer) -> None:
    s = server.create_session()
    sid = s["id"]
    async with (
        server.client(sid) as asker,
        server.client(sid, token=s["moderator_token"]) as mod,
        server.client(sid, token=s["presenter_token"]) as official,
    ):
        a = (await ask(asker, "公交线路能延长吗？", contact=CONTACT))["question_id"]
        b = (await ask(asker, "=1+1 垃圾站太臭"))["question_id"]
        c = (await ask(asker, "我家楼上装修吵"))["question_id"]
        d = (await ask(asker, "还没人看的问题"))["question_id"]
        e = (await ask(asker, "没公开就转交的问题"))["question_id"]
        for q in (a, b):
            await mod.request("approve", question_id=q)
        await official.request("answer", question_id=a, text="明年延长到新区")
        await mod.request("close")
        await official.request("answer", question_id=b, text="本周清运", mode="written")
        await mod.request(
            "settle", question_ids=[c], outcome="declined", reason="personal_case", note="请找物业"
        )
        await mod.request("settle", question_ids=[e], outcome="forwarded", department="区城管局")

    doc = get(server, f"/api/sessions/{sid}/transcript").json()
    assert [i["id"] for i in doc["items"]] == [a, b]
    section = doc["outcomes"]
    assert [(q["id"], q["outcome"]) for q in section["questions"]] == [
        (a, "answered"),
        (b, "written"),
        (e, "forwarded"),
        (c, "declined"),
        (d, "none"),
    ]
    assert section["counts"]["replied"] == 3 and section["counts"]["due"] == 5
    assert [("text" in q) for q in section["questions"]] == [True, True, False, False, False]
    assert section["questions"][2]["department"] == "区城管局", "never published: its outcome alone"
    assert section["questions"][0]["link"] == f"/s/{sid}/replay#q{a}"
    assert all(q["asked_at_local"] for q in section["questions"])
    text = json.dumps(doc, ensure_ascii=False)
    for never in ("我家楼上装修吵", "还没人看的问题", "没公开就转交的问题", CONTACT):
        assert never not in text

    md = get(server, f"/api/sessions/{sid}/transcript", format="md").text
    assert "## 办理结果" in md and "回复率 60.0%（已答复 3 / 应答复 5）" in md
    assert md.index("### 现场回答（1）") < md.index("### 书面答复（1）") < md.index("### 未采用（1）")
    assert "原因：涉及个人具体事项" in md and "请找物业" in md and "我家楼上装修吵" not in md
    en = get(server, f"/api/sessions/{sid}/transcript", format="md", lang="en").text
    assert "## Outcomes" in en and "Reply rate 60.0% (3 replied of 5 due)." in en

    rows = list(csv.reader(io.StringIO(get(server, f"/api/sessions/{sid}/transcript", format="csv").text)))
    block = rows[rows.index([]) + 1 :]
    assert block[0][:2] == ["办理结果", "编号"]
    assert [(r[0], r[1]) for r in block[1:]] == [
        ("现场回答", str(a)),
        ("书面答复", str(b)),
        ("转交办理", str(e)),
        ("未采用", str(c)),
        ("尚无结果", str(d)),
    ]
    assert block[2][4] == "'=1+1 垃圾站太臭", "a formula a citizen typed is defused"
    assert CONTACT not in json.dumps(rows, ensure_ascii=False)
