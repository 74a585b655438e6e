"""Moderation, the window and abuse controls, over real WebSocket connections."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
import pytest

from live.client import Client, ServerError

from .conftest import LiveServer


def cid() -> str:
    return str(uuid.uuid4())


async def ask(c: Client, text: str, name: str = "") -> dict:
    return await c.request("ask", client_id=cid(), text=text, name=name)


async def test_two_moderators_racing_never_double_handle(server: LiveServer) -> None:
    s = server.create_session()
    key = s["moderator_token"]
    async with (
        server.client(s["id"]) as v,
        server.client(s["id"], token=key, name="小王") as m1,
        server.client(s["id"], token=key, name="小李") as m2,
    ):
        for second in ("approve", "reject", "approve", "merge", "reject", "forward"):
            q = (await ask(v, f"问题 {uuid.uuid4().hex[:6]}"))["question_id"]
            extra = {
                "reject": {"reason": "off_topic"},
                "merge": {"into": 1},
                "forward": {"department": "区信访局"},
            }.get(second, {})
            results = await asyncio.gather(
                m1.request("approve", question_id=q, expect="pending"),
                m2.request(second, question_id=q, expect="pending", **extra),
                return_exceptions=True,
            )
            if second == "merge" and q == 1:
                continue
            acks = [r for r in results if isinstance(r, dict)]
            refusals = [r for r in results if isinstance(r, ServerError)]
            assert len(acks) == 1 and len(refusals) == 1, results
            assert refusals[0].code == "question_already_handled"
            assert refusals[0].details["by"] in ("moderator:小王", "moderator:小李")
            assert refusals[0].details["by"] in refusals[0].message["zh"]


async def test_banned_words_caught_through_spelling_tricks(server: LiveServer) -> None:
    s = server.create_session(moderation="post")
    with server.admin() as http:
        assert http.put("/api/filter/words", json={"words": ["敏感词", "spam"]}).json()["count"] == 2
    async with server.client(s["id"]) as v, server.client(s["id"], token=s["moderator_token"]) as mod:
        clean = await ask(v, "正常的问题")
        assert clean["status"] == "approved"
        for text in ["这是敏 感 词吗", "這是敏感詞嗎", "ｓｐａｍ offer", "ѕраm offer", "s\u200bp.a m"]:
            result = await ask(v, text)
            assert result["status"] == "pending", text
            staff = await mod.wait_for(
                lambda e, q=result["question_id"]: (
                    e["type"] == "question.asked" and e["data"]["question"]["id"] == q
                )
            )
            flags = staff["data"]["question"]["flags"]
            assert flags["words"] and flags["spans"], text
            start, end = flags["spans"][0]
            assert text[start:end].replace(" ", "").replace("\u200b", "").replace(".", ""), text
        public = [e for e in v.events if e["type"] == "question.asked"]
        assert all("flags" not in e["data"]["question"] for e in public)
        assert all(
            "text" not in e["data"]["question"]
            for e in public
            if e["data"]["question"]["status"] == "pending"
        )


async def test_flood_from_one_device_is_limited_while_others_ask(db_path: str) -> None:
    srv = await asyncio.to_thread(LiveServer(db_path, env={"LIVE_QUESTIONS_PER_MINUTE": "3"}).start)
    try:
        s = srv.create_session()
        async with srv.client(s["id"]) as flooder, srv.client(s["id"]) as other:
            for n in range(3):
                await ask(flooder, f"第{n}个问题")
            with pytest.raises(ServerError) as err:
                await ask(flooder, "第四个问题")
            assert err.value.code == "rate_limited" and 0 < err.value.details["retry_after"] <= 60
            assert "秒后再试" in err.value.message["zh"]
            assert (await ask(other, "另一台设备的问题"))["status"] == "pending"
            with pytest.raises(ServerError) as dup:
                await ask(other, "另一台设备的 问题")
            assert dup.value.code == "duplicate_text"
    finally:
        srv.kill()


async def test_window_close_and_early_open_take_effect_at_once(server: LiveServer) -> None:
    closing = server.create_session(start=timedelta(minutes=-5), length=timedelta(minutes=5, seconds=2))
    async with server.client(closing["id"]) as v:
        await ask(v, "结束前的问题")
        await asyncio.sleep(max(0.0, closing["ends_at"] / 1000 - time.time() + 1))
        with pytest.raises(ServerError) as err:
            await ask(v, "结束后一秒的问题")
        assert err.value.code == "session_not_open" and err.value.details["phase"] == "closed"

    upcoming = server.create_session(start=timedelta(hours=1))
    async with (
        server.client(upcoming["id"]) as v,
        server.client(upcoming["id"], token=upcoming["moderator_token"]) as mod,
    ):
        with pytest.raises(ServerError):
            await ask(v, "开始前的问题")
        await mod.request("open")
        opened = await v.wait_for(lambda e: e["type"] == "session.opened")
        assert opened["data"]["session"]["opened_at"] > 0
        await asyncio.sleep(1)
        assert (await ask(v, "提前开放后一秒的问题"))["status"] == "pending"
        await mod.request("close")
        await v.wait_for(lambda e: e["type"] == "session.closed")
        with pytest.raises(ServerError):
            await ask(v, "提前结束后的问题")
        await mod.request("extend", ends_at=int((time.time() + 3600) * 1000))
        await v.wait_for(lambda e: e["type"] == "session.extended")


async def test_question_collected_a_day_ahead_is_answered_in_the_window(server: LiveServer) -> None:
    from datetime import datetime

    from .conftest import TZ

    s = server.create_session(
        start=timedelta(days=1), collect_from=(datetime.now(TZ) - timedelta(minutes=1)).isoformat()
    )
    async with server.client(s["id"]) as v:
        assert v.snapshot is not None
        r = await ask(v, "提前征集的问题：农村公路什么时候硬化？")
    with server.admin() as http:
        sessions = http.get("/api/sessions").json()["sessions"]
        assert next(x for x in sessions if x["id"] == s["id"])["phase"] == "collecting"
        now = datetime.now(TZ)
        http.patch(
            f"/api/sessions/{s['id']}",
            json={
                "starts_at": (now - timedelta(minutes=1)).isoformat(),
                "ends_at": (now + timedelta(hours=2)).isoformat(),
            },
        ).raise_for_status()
    async with (
        server.client(s["id"], token=s["moderator_token"]) as mod,
        server.client(s["id"], token=s["presenter_token"]) as official,
    ):
        await mod.request("approve", question_id=r["question_id"])
        await official.request("answer", question_id=r["question_id"], text="今年年底前完成。")
    status = httpx.get(f"{server.http}/api/receipts/{r['receipt']}").json()
    assert status["status"] == "answered" and status["answer"]["mode"] == "text"


async def test_every_outcome_is_visible_by_receipt_and_audited(server: LiveServer) -> None:
    s = server.create_session()
    async with (
        server.client(s["id"]) as v,
        server.client(s["id"]) as v2,
        server.client(s["id"]) as v3,
        server.client(s["id"], token=s["moderator_token"], name="审核员") as mod,
        server.client(s["id"], token=s["presenter_token"]) as official,
    ):
        live_q, video_q, written_q, fwd_q, dup_q, bad_q, target = [
            await ask(v, f"问题{n}：{uuid.uuid4().hex[:4]}") for n in range(7)
        ]
        for r in (live_q, video_q, written_q, fwd_q, target):
            await mod.request("approve", question_id=r["question_id"])
        await mod.request("edit", question_id=live_q["question_id"], text="修改后的问题")
        await v2.request("vote", question_id=target["question_id"])
        await mod.request("approve", question_id=dup_q["question_id"])
        await v3.request("vote", question_id=dup_q["question_id"])  # v asked it: 同问 is for others
        await v2.request("vote", question_id=dup_q["question_id"])
        await mod.request("merge", question_id=dup_q["question_id"], into=target["question_id"])
        await mod.request(
            "reject", question_id=bad_q["question_id"], reason="personal_case", note="请拨打12345"
        )
        await mod.request("forward", question_id=fwd_q["question_id"], department="区住建局")
        await official.request("answer", question_id=live_q["question_id"], text="第一版回答")
        await official.request("answer", question_id=live_q["question_id"], text="补充说明", append=True)
        await official.request("answer", question_id=video_q["question_id"], mode="video")
        await mod.request("close")
        await official.request(
            "answer", question_id=written_q["question_id"], text="会后书面答复", mode="written"
        )
        await v.wait_for(
            lambda e: e["type"] == "votes.tallied" and e["data"]["votes"].get(str(target["question_id"])) == 2
        )

    def outcome(r: dict) -> dict:
        resp = httpx.get(f"{server.http}/api/receipts/{r['receipt']}")
        assert resp.status_code == 200
        return resp.json()

    first = outcome(live_q)
    assert first["answer"]["text"] == "第一版回答\n\n补充说明" and first["answer"]["revision"] == 2
    assert first["text"] == "修改后的问题" and "original_text" not in first
    assert outcome(video_q)["answer"]["mode"] == "video"
    assert outcome(written_q)["answer"]["mode"] == "written"
    assert outcome(fwd_q) | {"department": "区住建局"} == outcome(fwd_q)
    assert outcome(fwd_q)["status"] == "forwarded" and outcome(fwd_q)["outcome"] == "forwarded"
    assert "text" in outcome(fwd_q), "published before it was forwarded: its text stays public"
    merged = outcome(dup_q)
    assert merged["status"] == "merged" and merged["merged_into"] == target["question_id"]
    declined = outcome(bad_q)
    assert declined["status"] == "rejected" and declined["reason"] == "personal_case"
    # the staff's note is written to the asker (issue 17): the receipt shows it, never the text
    assert "text" not in declined and declined["note"] == "请拨打12345"

    with server.admin() as http:
        state = http.get(f"/api/sessions/{s['id']}").json()
        counts = state["counts"]
        assert counts == {
            "received": 7,
            "pending": 0,
            "published": 5,  # forwarded once published: its text stays public (issue 19)
            "answered": 3,
            "merged": 1,
            "declined": 1,
            "forwarded": 1,
            "hidden": 0,
            "carried_over": 0,
        }
        votes = {q["id"]: q["votes"] for q in state["questions"]}
        assert votes[target["question_id"]] == 2 and votes[dup_q["question_id"]] == 0
        staff_view = next(q for q in state["questions"] if q["id"] == live_q["question_id"])
        assert staff_view["original_text"].startswith("问题0")
        trail = http.get(f"/api/sessions/{s['id']}/audit").json()["audit"]
        edit = next(r for r in trail if r["action"] == "question.edited")
        assert edit["who"] == "moderator:审核员" and edit["before"]["text"].startswith("问题0")
        assert edit["after"]["text"] == "修改后的问题"
        assert {r["action"] for r in trail} >= {
            "question.approved",
            "question.merged",
            "question.rejected",
            "question.forwarded",
            "question.answered",
            "session.closed",
        }
        csv_text = http.get(f"/api/sessions/{s['id']}/audit?format=csv").text
        assert "moderator:审核员" in csv_text
    public_events = httpx.get(f"{server.http}/api/sessions/{s['id']}/events").json()["events"]
    assert "审核员" not in str(public_events) and "before" not in str(public_events)
    assert httpx.get(f"{server.http}/api/sessions/{s['id']}/audit").status_code == 403
