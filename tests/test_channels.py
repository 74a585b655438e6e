"""Every channel (issue 21): questions staff enter from a call or a message join the same queue.

Staff type in what callers ask by hotline, SMS, WeChat or 12345 as an ``ask`` with ``channel``:
the same decision, the same ``question.asked`` event and queue, a receipt number the staff read
back, and the channel on every view of the question. A citizen asks on the page only (``web``).
Run on both engines against a real server.
"""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from live.client import ServerError

from .conftest import ADMIN, TIMEOUT, LiveServer

CONTACT = "139 0000 1234"


def get(srv: LiveServer, path: str, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    return httpx.get(f"{srv.http}{path}", params=params, headers=headers, timeout=TIMEOUT)


async def test_staff_enter_a_12345_question_into_the_same_queue_with_its_channel(server: LiveServer) -> None:
    s = server.create_session()
    sid = s["id"]
    async with (
        server.client(sid, token=s["moderator_token"]) as mod,
        server.client(sid) as citizen,
    ):
        call = await mod.request(
            "ask",
            client_id="call-1",
            text="小区门口路灯坏了一个月",
            name="张先生",
            contact=CONTACT,
            channel="12345",
        )
        # Another caller with the same words is another question: each call is its own asker.
        again = await mod.request("ask", client_id="call-2", text="小区门口路灯坏了一个月", channel="hotline")
        resent = await mod.request("ask", client_id="call-1", text="小区门口路灯坏了一个月", channel="12345")
        assert resent["question_id"] == call["question_id"] and resent["duplicate"] is True
        web = await citizen.request("ask", client_id="w", text="公交站牌太旧了", name="李女士", channel="web")
        for channel, code in (("12345", "forbidden"), ("hotline", "forbidden"), ("fax", "bad_channel")):
            with pytest.raises(ServerError) as refused:
                await citizen.request("ask", client_id=f"c-{channel}", text=f"冒充{channel}", channel=channel)
            assert (refused.value.code, refused.value.details.get("field")) == (code, "channel")
        asked = await mod.wait_for(
            lambda e: e.get("type") == "question.asked" and e["data"]["question"]["id"] == call["question_id"]
        )
        assert asked["data"]["question"]["channel"] == "12345"
        assert asked["data"]["question"]["status"] == "pending", "it waits in the same queue"
        # The receipt number read back is a real one: the lookup shows the channel, never the contact.
        looked = httpx.get(f"{server.http}/api/receipts/{call['receipt']}", timeout=TIMEOUT)
        assert looked.status_code == 200
        assert (looked.json()["id"], looked.json()["channel"]) == (call["question_id"], "12345")
        assert call["secret"], "the caller may rate by receipt and secret, read back with it"
        assert [m["id"] for m in (await mod.request("mine"))["mine"]] == [], "not the staff's own questions"
        await mod.request("approve", question_id=call["question_id"])
        await mod.request("approve", question_id=web["question_id"])
    queue = {q["id"]: q for q in get(server, f"/api/sessions/{sid}").json()["questions"]}
    assert [queue[a["question_id"]].get("channel") for a in (call, again, web)] == ["12345", "hotline", None]
    public = httpx.get(f"{server.http}/api/sessions/{sid}", timeout=TIMEOUT).json()["questions"]
    assert {q["id"]: q.get("channel") for q in public}[call["question_id"]] == "12345"
    stats = get(server, f"/api/sessions/{sid}/stats").json()
    assert stats["channels"] == {"web": 1, "hotline": 1, "sms": 0, "wechat": 0, "12345": 1}
    rows = list(csv.reader(io.StringIO(get(server, f"/api/sessions/{sid}/stats", format="csv").text)))
    assert ["channel_12345", "1"] in rows
    md = get(server, f"/api/sessions/{sid}/transcript", format="md", unanswered="1").text
    assert "张先生 · 12345" in md and CONTACT not in md
    exported = get(server, f"/api/sessions/{sid}/transcript", format="csv", unanswered="1", lang="en").text
    assert "Channel" in exported and CONTACT not in exported
