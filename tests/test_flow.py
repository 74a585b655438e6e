"""The whole flow over real WebSockets: ask, moderate, answer, vote, reconnect, restart."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest

from live.client import ServerError

from .attack import metric
from .conftest import TIMEOUT, LiveServer, until


def qid() -> str:
    return str(uuid.uuid4())


async def test_full_flow_seen_by_everyone_in_the_same_order(server: LiveServer) -> None:
    s = server.create_session()
    sid = s["id"]
    async with (
        server.client(sid) as v1,
        server.client(sid) as v2,
        server.client(sid, token=s["moderator_token"]) as mod,
        server.client(sid, token=s["presenter_token"]) as official,
    ):
        assert mod.welcome["role"] == "moderator" and official.welcome["role"] == "presenter"
        ack = await v1.request(
            "ask", client_id=qid(), text="小区门口的路什么时候修好？", name="王先生", contact="13800000000"
        )
        q = ack["question_id"]
        assert ack["status"] == "pending" and ack["receipt"].startswith(f"{sid}-{q}-")

        pending = await v2.wait_for(lambda e: e["type"] == "question.asked")
        assert "text" not in pending["data"]["question"], "unreviewed text reached a viewer"
        staff_view = await mod.wait_for(lambda e: e["type"] == "question.asked")
        assert staff_view["data"]["question"]["text"] == "小区门口的路什么时候修好？"

        await mod.request("approve", question_id=q)
        approved = await v2.wait_for(lambda e: e["type"] == "question.approved")
        assert approved["data"]["question"]["text"] == "小区门口的路什么时候修好？"
        assert approved["data"]["question"]["name"] == "王先生"
        await official.request("answering", question_id=q)
        await v2.request("vote", question_id=q)
        await official.request("answer", question_id=q, text="下个月完工。")
        for c in (v1, v2, mod, official):
            answered = await c.wait_for(lambda e: e["type"] == "question.answered")
            assert answered["data"]["question"]["answer"]["text"] == "下个月完工。"
        # The tally may come before the answer (the vote was first): read it from what v1 kept,
        # not from its queue, where waiting for the answer has already passed it.
        await until(lambda: any(e["type"] == "votes.tallied" for e in v1.events), "the tally")
        tally = next(e for e in v1.events if e["type"] == "votes.tallied")
        assert tally["data"]["votes"] == {str(q): 1}
        await asyncio.sleep(0.3)
        streams = [[(e["seq"], e["type"]) for e in c.events] for c in (v1, v2, mod, official)]
        assert streams[0] == streams[1] == streams[2] == streams[3]
        assert [seq for seq, _ in streams[0]] == list(range(2, 2 + len(streams[0])))
        for c in (v1, v2, mod, official):
            assert c.gaps == []
            assert "13800000000" not in str(c.events)

    r = httpx.get(f"{server.http}/api/receipts/{ack['receipt']}")
    assert r.json()["status"] == "answered" and r.json()["answer"]["text"] == "下个月完工。"
    assert "13800000000" not in r.text
    assert httpx.get(f"{server.http}/api/receipts/{sid}-{q}-AAAAAA").status_code == 404
    for typed in (
        f"{sid}-{q}-回执",
        f"{sid}-{q}-ＡＢＣ１２３",
    ):  # typed on a Chinese keyboard: no receipt, no 500
        missing = httpx.get(f"{server.http}/api/receipts/{typed}")
        assert (missing.status_code, missing.json()["code"]) == (404, "receipt_not_found"), missing.text
        page = httpx.get(f"{server.http}/", params={"receipt": typed})
        assert page.status_code == 200, page.text[:300]
    transcript = httpx.get(f"{server.http}/api/sessions/{sid}/transcript").json()
    assert [i["question"] for i in transcript["items"]] == ["小区门口的路什么时候修好？"]
    assert "13800000000" not in str(transcript)


async def test_a_vote_after_a_quiet_spell_is_tallied_at_once_and_the_next_ones_together(db_path: str) -> None:
    """Tallies are coalesced, at most one per ``LIVE_TALLY_INTERVAL`` (3 s here), but the
    first vote after a quiet interval does not wait for a tick of arbitrary phase."""
    srv = await asyncio.to_thread(LiveServer(db_path, env={"LIVE_TALLY_INTERVAL": "3"}).start)
    try:
        s = srv.create_session()
        async with (
            srv.client(s["id"]) as asker,
            srv.client(s["id"]) as a,
            srv.client(s["id"]) as b,
            srv.client(s["id"], token=s["moderator_token"]) as mod,
        ):
            q = (await asker.request("ask", client_id=qid(), text="公交站能不能挪近一点？", name=""))[
                "question_id"
            ]
            await mod.request("approve", question_id=q)
            await asyncio.sleep(3.5)  # quiet for an interval since the room's recount on load
            loop = asyncio.get_running_loop()
            await a.request("vote", question_id=q)
            acked = loop.time()
            first = await a.wait_for(lambda e: e["type"] == "votes.tallied")
            first_at = loop.time()
            await b.request("vote", question_id=q)
            second = await a.wait_for(lambda e: e["type"] == "votes.tallied")
            second_at = loop.time()
    finally:
        srv.kill()
    assert first["data"]["votes"] == {str(q): 1} and second["data"]["votes"] == {str(q): 2}
    assert first_at - acked < 1.5, "the first vote waited for a tick"
    assert second_at - first_at > 2.0, "the second vote was not coalesced into the next interval"


async def test_resend_with_same_client_id_never_duplicates(server: LiveServer) -> None:
    s = server.create_session()
    cid = qid()
    async with server.client(s["id"]) as v:
        first = await v.request("ask", client_id=cid, text="同一个问题", name="")
        device = v.device
    async with server.client(s["id"], device=device) as v:
        again = await v.request("ask", client_id=cid, text="同一个问题", name="")
        assert again["question_id"] == first["question_id"] and again["duplicate"] is True
        assert v.snapshot is not None
    with server.admin() as http:
        state = http.get(f"/api/sessions/{s['id']}").json()
    assert len(state["questions"]) == 1 and state["questions"][0]["name"] == "网友"


async def test_a_burst_of_requests_is_decided_in_order_and_committed_together(server: LiveServer) -> None:
    """Requests that arrive together share one commit; each is decided after the ones before it."""
    s = server.create_session(moderation="post")
    async with (
        server.client(s["id"]) as a,
        server.client(s["id"]) as b,
        server.client(s["id"], token=s["moderator_token"]) as mod,
    ):
        first = await a.request("ask", client_id=qid(), text="第一个问题", name="甲")
        burst = await asyncio.gather(
            *(
                c.request("ask", client_id=qid(), text=f"问题 {n}", name="乙")
                for n in range(12)
                for c in (a, b)
            ),
            a.request("ask", client_id=qid(), text="同一句话", name="甲"),
            a.request("ask", client_id=qid(), text="同一 句话", name="甲"),
            mod.request("hide", question_id=first["question_id"]),
            mod.request("hide", question_id=first["question_id"]),
            return_exceptions=True,
        )
        asked, twins, hides = burst[:24], burst[24:26], burst[26:]
        assert all(isinstance(r, dict) for r in asked), asked
        refused = [r for r in twins if isinstance(r, ServerError)]
        assert len(refused) == 1 and refused[0].code == "duplicate_text", twins
        (twin,) = (r for r in twins if isinstance(r, dict))
        # Two connections' frames have no order between them: the twin may come before b's last.
        ids = sorted([r["question_id"] for r in asked] + [twin["question_id"]])
        assert ids == list(range(2, 27)), "each stored question got the next id, none twice"
        hidden = [r for r in hides if isinstance(r, ServerError)]
        assert len(hidden) == 1 and hidden[0].code == "question_already_handled", hides
        seq = mod.seq
        await a.wait_seq(seq)
        await b.wait_seq(seq)
        for c in (a, b):
            assert c.gaps == [] and [e["seq"] for e in c.events] == list(range(2, seq + 1))
    with server.admin() as http:
        state = http.get(f"/api/sessions/{s['id']}").json()
    assert state["seq"] == seq and len(state["questions"]) == 26
    assert state["questions"][0]["status"] == "hidden"
    shared = metric(server, "live_round_requests_sum") - metric(server, "live_round_requests_count")
    assert shared > 0, "no two requests ever shared a commit"


async def test_resume_gets_exactly_the_missed_events(server: LiveServer) -> None:
    s = server.create_session(moderation="post")
    async with server.client(s["id"]) as asker, server.client(s["id"]) as watcher:
        await asker.request("ask", client_id=qid(), text="第一个问题", name="甲")
        await watcher.wait_seq(2)
        await watcher.close()
        for n in range(5):
            await asker.request("ask", client_id=qid(), text=f"问题 {n}", name="乙")
        welcome = await watcher.connect(resume=True)
        assert welcome["mode"] == "resume" and welcome["reset"] is False
        await watcher.wait_seq(7)
        await asker.request("ask", client_id=qid(), text="之后的问题", name="丙")
        await watcher.wait_seq(8)
        assert [e["seq"] for e in watcher.events] == list(range(2, 9))
        assert watcher.gaps == []

        stale = server.client(s["id"])
        stale.epoch, stale.seq = "not-the-epoch", 3
        welcome = await stale.connect(resume=True)
        assert welcome["mode"] == "snapshot" and welcome["reset"] is True
        await stale.close()
        beyond = server.client(s["id"])
        beyond.epoch, beyond.seq = welcome["epoch"], 999
        welcome = await beyond.connect(resume=True)
        assert welcome["mode"] == "snapshot" and welcome["reset"] is True
        assert beyond.snapshot is not None and beyond.snapshot["seq"] == 8
        await beyond.close()


async def test_everything_survives_a_restart(server: LiveServer) -> None:
    s = server.create_session()
    async with server.client(s["id"], token=s["moderator_token"]) as mod:
        ack = await mod.request("ask", client_id=qid(), text="重启前的问题", name="丁")
        await mod.request("approve", question_id=ack["question_id"])
        seq, epoch = mod.seq, mod.epoch
    server.stop()
    await asyncio.to_thread(server.start)
    async with server.client(s["id"]) as v:
        assert v.welcome["epoch"] == epoch and v.snapshot is not None
        assert v.snapshot["seq"] >= seq
        texts = [q.get("text") for q in v.snapshot["questions"]]
        assert texts == ["重启前的问题"]
    r = httpx.get(f"{server.http}/api/sessions/{s['id']}/events?after=0")
    assert [e["seq"] for e in r.json()["events"]] == list(range(1, seq + 1))


@pytest.mark.parametrize(
    ("start", "length"), [(timedelta(hours=1), timedelta(hours=2)), (timedelta(hours=-3), timedelta(hours=2))]
)
async def test_asking_outside_the_window_is_refused(
    server: LiveServer, start: timedelta, length: timedelta
) -> None:
    s = server.create_session(start=start, length=length)
    async with server.client(s["id"]) as v:
        with pytest.raises(ServerError) as err:
            await v.request("ask", client_id=qid(), text="现在可以问吗？", name="")
        assert err.value.code == "session_not_open"
        assert err.value.message["zh"] and err.value.message["en"]
        pong = await v.request("ping")
        assert pong["type"] == "pong"


@pytest.mark.parametrize(
    "command",
    [
        {"type": "approve", "question_id": 1},
        {"type": "reject", "question_id": 1},
        {"type": "answering", "question_id": 1},
        {"type": "answer", "question_id": 1, "text": "x"},
        {"type": "open"},
        {"type": "close"},
        {"type": "extend", "ends_at": 4102444800000},
    ],
)
async def test_privileged_commands_refused_to_a_viewer(server: LiveServer, command: dict) -> None:
    s = server.create_session(moderation="post")
    async with server.client(s["id"]) as v:
        await v.request("ask", client_id=qid(), text="一个问题", name="")
        command = dict(command)  # the parameter is shared by every backend's run
        kind = command.pop("type")
        with pytest.raises(ServerError) as err:
            await v.request(kind, **command)
        assert err.value.code == "forbidden"
        assert (await v.request("ping"))["type"] == "pong"
    with httpx.Client(base_url=server.http, timeout=TIMEOUT) as http:
        r = http.post(f"/api/sessions/{s['id']}/commands", json={"type": kind, **command})
        assert r.status_code == 403
        assert http.post("/api/sessions", json={"programme_id": 1}).status_code == 403


async def test_bad_frames_get_errors_and_the_connection_carries_on(server: LiveServer) -> None:
    s = server.create_session()
    async with server.client(s["id"]) as v:
        for raw, code in [
            ("not json", "invalid_json"),
            ("[1,2]", "not_an_object"),
            ('{"type":"nope"}', "unknown_type"),
            ('{"type":"vote","question_id":"1"}', "wrong_type"),
            ('{"type":"vote","question_id":1e400}', "wrong_type"),
            ('{"type":"vote","question_id":99999999999999999999}', "out_of_range"),
            ('{"type":"ask"}', "missing_field"),
            ("[" * 30000 + "]" * 30000, "invalid_json"),
            ('{"type":"ping","x":' + "[" * 30000 + "]" * 30000 + "}", "invalid_json"),
        ]:
            await v.send_raw(raw)
            frame = await v.next_event()
            assert frame["type"] == "error" and frame["code"] == code, (raw[:40], frame)
        assert (await v.request("ping"))["type"] == "pong"


async def test_oversized_frame_closes_with_1009_and_others_carry_on(server: LiveServer) -> None:
    s = server.create_session()
    async with server.client(s["id"]) as big, server.client(s["id"]) as other:
        await big.send_raw('{"type":"ping","pad":"' + "x" * 70000 + '"}')
        for _ in range(100):
            if big.close_code is not None:
                break
            await asyncio.sleep(0.05)
        assert big.close_code == 1009
        assert (await other.request("ping"))["type"] == "pong"
