"""Every view of the same state agrees: one definition of what an event does (issue 17).

What an event does is defined once, in ``live/state.py`` (``apply``), and every event carries
its result. These tests compare every view of a session after random commands, on both
engines: the snapshot staff and viewers get, the state the browser's own ``model.js`` builds
from the logged events and from the live wire (run in node, the real file), the asker's view
by receipt, and the events a connected client received. And the four drift bugs that the old
per-layer copies caused each have a test here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from live.channels import channels
from live.client import Client, ServerError
from live.events import RESULTS
from live.protocol import PROTOCOL

from .conftest import ADMIN, TIMEOUT, LiveServer
from .test_notify import unclassified

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = [c for c in channels() if c != "web"]
"""The channels staff enter questions from (issue 21)."""
FOLD = """
import { Session } from 'MODEL';
const input = JSON.parse(await new Promise((done) => {
  let text = ''; process.stdin.on('data', (c) => { text += c; }); process.stdin.on('end', () => done(text));
}));
const out = input.map(({ snapshot, events }) => {
  const s = new Session();
  if (snapshot) s.load(snapshot);
  for (const e of events) s.apply(e);
  return { session: s.info, answering: s.answering, counts: s.counts(), phase: s.phase(Date.now()),
    questions: [...s.questions.values()].sort((a, b) => a.id - b.id), outcomes: s.outcomes(),
    posts: [...s.posts.values()] };
});
process.stdout.write(JSON.stringify(out));
""".replace("MODEL", (ROOT / "static" / "js" / "model.js").as_uri())


def browser_fold(*runs: dict[str, Any]) -> list[dict[str, Any]]:
    """The real ``static/js/model.js`` folding each run's snapshot and events, in node."""
    node = shutil.which("node")
    assert node, "node is needed to run the browser's model (it comes with the machine)"
    done = subprocess.run(
        [node, "--input-type=module", "-e", FOLD],
        input=json.dumps(list(runs)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    return json.loads(done.stdout)


def snapshot_view(snap: dict[str, Any]) -> dict[str, Any]:
    return {
        "session": snap["session"],
        "answering": snap["answering"],
        "counts": snap["counts"],
        "phase": snap["phase"],
        "questions": sorted(snap["questions"], key=lambda q: q["id"]),
        "outcomes": snap["outcomes"],
        "posts": snap["posts"],
    }


def log(srv: LiveServer, sid: int, staff: bool) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {ADMIN}"} if staff else {}
    r = httpx.get(
        f"{srv.http}/api/sessions/{sid}/events", params={"limit": 10_000}, headers=headers, timeout=TIMEOUT
    )
    return r.json()["events"]


def snapshot(srv: LiveServer, sid: int, staff: bool) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {ADMIN}"} if staff else {}
    return httpx.get(f"{srv.http}/api/sessions/{sid}", headers=headers, timeout=TIMEOUT).json()


OWN_HIDDEN = {"original_text", "flags", "handled_by", "held"}
"""What staff see of a question and its asker does not."""
RECEIPT_ONLY = {
    "session_id",
    "session_title",
    "receipt",
    "rated",
    "rating_until",
    "session_timezone",
    "carried",
}
"""What the receipt lookup adds to the question as everyone sees it."""


async def check_every_view_agrees(
    srv: LiveServer,
    sid: int,
    watchers: dict[str, Client],
    asker: Client,
    receipts: dict[int, str],
    entered: frozenset[int] | set[int] = frozenset(),
) -> None:
    """The snapshot of each audience == model.js over the logged events == model.js over the
    live wire events each watcher got; the receipt lookup == the public view; the search index
    holds exactly the answered questions, as they read; the asker's own view (``mine``) == the
    staff view less what only staff see; the programme's commitment board holds exactly the
    questions with a commitment, as everyone sees them, late exactly when their receipts say;
    the statistics count each channel as the questions carry it. ``entered``: the questions
    staff typed in from a call (issue 21), which are no device's own."""
    seq = snapshot(srv, sid, staff=True)["seq"]
    for c in watchers.values():
        await c.wait_seq(seq)
    staff, public = snapshot(srv, sid, staff=True), snapshot(srv, sid, staff=False)
    runs = [
        {"events": log(srv, sid, staff=True)},
        {"events": log(srv, sid, staff=False)},
        {"snapshot": watchers["staff"].snapshot, "events": watchers["staff"].events},
        {"snapshot": watchers["viewer"].snapshot, "events": watchers["viewer"].events},
    ]
    from_log_staff, from_log_public, wire_staff, wire_public = browser_fold(*runs)
    assert from_log_staff == snapshot_view(staff) == wire_staff
    assert from_log_public == snapshot_view(public) == wire_public
    late: dict[int, bool] = {}
    for q in public["questions"]:
        got = httpx.get(f"{srv.http}/api/receipts/{receipts[q['id']]}", timeout=TIMEOUT).json()
        if "overdue" in got:
            late[q["id"]] = got.pop("overdue")
        assert {k: v for k, v in got.items() if k not in RECEIPT_ONLY} == q, q["id"]
        assert [c["carried_from"]["question_id"] for c in got.get("carried", [])[:1]] == (
            [q["id"]] if "carried_to" in q else []
        ), "a receipt follows a carried-over question to the next episode"
    board = httpx.get(f"{srv.http}/api/commitments", params={"programme": "qzzx"}, timeout=TIMEOUT).json()
    mine_on_board = [e for e in board["commitments"] if e["session_id"] == sid]
    assert sorted((e["question"]["id"], e["question"]) for e in mine_on_board) == [
        (q["id"], q) for q in public["questions"] if "commitment" in q
    ], "the commitment board differs from the state"
    assert {e["question"]["id"]: e["overdue"] for e in mine_on_board} == late
    found = httpx.get(
        f"{srv.http}/api/search", params={"q": f"问题{sid}x", "limit": 100}, timeout=TIMEOUT
    ).json()["results"]
    assert sorted(
        (r["question_id"], r["question"], r["answer"]) for r in found if r["session_id"] == sid
    ) == [
        (q["id"], q["text"], q["answer"]["text"]) for q in public["questions"] if q["status"] == "answered"
    ], "the search index differs from the state"
    mine = (await asker.request("mine"))["mine"]
    own = [q for q in staff["questions"] if q["id"] not in entered]
    own_only = ("receipt", "rating_until", "overdue")
    assert [{k: v for k, v in m.items() if k not in own_only} for m in mine] == [
        {k: v for k, v in q.items() if k not in OWN_HIDDEN} for q in own
    ]
    assert [m["receipt"] for m in mine] == [receipts[q["id"]] for q in own]
    assert {m["id"]: m["overdue"] for m in mine if "overdue" in m} == {
        q["id"]: late[q["id"]] for q in own if "commitment" in q
    }, "我的问题 says a commitment is overdue as the receipt does"
    stats = httpx.get(
        f"{srv.http}/api/sessions/{sid}/stats", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=TIMEOUT
    ).json()
    assert {k: n for k, n in stats["channels"].items() if n} == dict(
        Counter(q.get("channel", "web") for q in staff["questions"])
    ), "the statistics count each channel as the questions carry it"
    assert {q["id"] for q in staff["questions"] if "channel" in q} == set(entered)
    assert unclassified(log(srv, sid, staff=False)) == set(), (
        "an outcome change notifies nobody: live/notify.py"
    )


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "ask",
                "approve",
                "reject",
                "edit",
                "merge",
                "hide",
                "forward",
                "answering",
                "answer",
                "vote",
                "stop_answering",
                "commitment",
                "progress",
                "type_answer",
                "release",
                "withdraw",
                "rate",
                "rate_by_receipt",
                "follow_up",
                "enter",
                "remark",
                "announce",
                "withdraw_post",
            ]
        ),
        st.integers(0, 5),
        st.integers(0, 5),
    ),
    min_size=3,
    max_size=14,
)
CLOSING = st.lists(
    st.tuples(
        st.sampled_from(
            ["written", "settle", "carry", "archive", "approve", "answer", "merge", "hide", "vote", "reject"]
        ),
        st.integers(0, 5),
        st.integers(0, 5),
    ),
    max_size=8,
)
"""What staff do after the window (issue 19): ``close`` comes between ``ACTIONS`` and these, and
every example ends carrying over whatever approved question is left."""


HELD = [
    *[("ask", n, n) for n in range(4)],
    ("enter", 5, 0),
    *[("approve", n, 0) for n in range(5)],
    ("type_answer", 0, 1),
    ("vote", 0, 0),
    ("release", 0, 0),
    ("type_answer", 1, 2),
    ("withdraw", 1, 0),
    ("type_answer", 2, 0),
    ("type_answer", 3, 0),
    ("hide", 3, 0),
    ("answer", 0, 3),
    ("remark", 0, 0),
    ("announce", 4, 0),
    ("withdraw_post", 1, 0),
    ("remark", 1, 1),
]
"""Answers held for review, always among the examples: released, withdrawn, still held (one on a
question hidden since), and a direct answer after a release; and a question staff entered from a
call (issue 21), published and, at the end, carried over with its channel; and the host's lines
(issue 21): a remark, a question read out, a remark withdrawn, another remark."""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_random_commands_leave_every_view_agreeing(server: LiveServer) -> None:
    srv = server
    done: dict[str, int] = {"commitment": 0, "progress": 0, "withdraw_post": 0}

    @settings(
        max_examples=8,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(ACTIONS, CLOSING)
    @example(HELD, [])
    def run(actions: list[tuple[str, int, int]], closing: list[tuple[str, int, int]]) -> None:
        asyncio.run(_run([*actions, ("close", 0, 0), *closing, ("carry", 0, 0)]))

    following = srv.create_session(start=timedelta(days=7))  # where "carry" and follow-ups take questions

    async def _run(actions: list[tuple[str, int, int]]) -> None:
        s = srv.create_session()
        sid = s["id"]
        staff = srv.client(sid, token=s["moderator_token"])
        presenter = srv.client(sid, token=s["presenter_token"])
        viewer, asker = srv.client(sid), srv.client(sid)
        admin = srv.client(sid, token=ADMIN)
        host = srv.client(sid, token=s["host_token"])  # the studio's lines (issue 21)
        clients = [staff, presenter, viewer, asker, admin, host]
        await asyncio.gather(*(c.connect() for c in clients))
        receipts: dict[int, str] = {}
        committed: list[int] = []

        async def commitment(kind: str, qid: int, a: int, b: int) -> None:
            """A commitment made on ``qid`` (forwarded first where it can be), or progress reported
            on one made earlier (made first when there is none yet, so both kinds of event occur)."""
            if kind == "commitment" or not committed:
                with contextlib.suppress(ServerError):
                    await staff.request("forward", question_id=qid, department="区住建局")
                due = f"20{20 + 2 * a}-0{b + 1}-15"  # days past and future: some are overdue
                await staff.request(
                    "commitment", question_id=qid, department="区住建局", promise=f"承诺{a}{b}", due=due
                )
                done["commitment"] += 1
                committed.append(qid)
            if kind == "progress":
                status = ("in_progress", "done", "postponed")[a % 3]
                await staff.request(
                    "progress",
                    question_id=committed[b % len(committed)],
                    status=status,
                    note=f"进展{a}{b}",
                    due="2099-12-31",
                )
                done["progress"] += 1

        secrets: dict[int, str] = {}
        entered: set[int] = set()
        try:
            for kind, a, b in actions:
                ids = sorted(receipts)
                qid = ids[a % len(ids)] if ids else 1
                other = ids[b % len(ids)] if ids else 1
                try:
                    if kind in ("commitment", "progress") and ids:
                        await commitment(kind, qid, a, b)
                    elif kind in ("ask", "enter") or not ids:
                        by_phone = kind == "enter"  # staff type in a call (issue 21): the same ask
                        ack = await (staff if by_phone else asker).request(
                            "ask",
                            client_id=f"c{len(ids)}",
                            text=f"问题{sid}x{len(ids)}·{a}{b}",
                            name=f"市民{b}",
                            **(
                                {"channel": CHANNELS[a % len(CHANNELS)], "contact": "139 0000 1234"}
                                if by_phone
                                else {}
                            ),
                        )
                        receipts[ack["question_id"]] = ack["receipt"]
                        secrets[ack["question_id"]] = ack.get("secret", "")
                        if by_phone:
                            entered.add(ack["question_id"])
                    elif kind == "reject":
                        await staff.request("reject", question_id=qid, reason="off_topic", note=f"说明{a}")
                    elif kind == "edit":
                        await staff.request(
                            "edit", question_id=qid, text=f"改过的問題{sid}x{a}{b}"
                        )  # Traditional: folded
                    elif kind == "merge":
                        await staff.request("merge", question_id=qid, into=other)
                    elif kind == "forward":
                        await staff.request(
                            "forward", question_id=qid, department="区交通局", note=f"转交说明{b}"
                        )
                    elif kind == "answer":
                        await presenter.request("answer", question_id=qid, text=f"回答{a}{b}")
                    elif kind == "vote":
                        await viewer.request("vote", question_id=qid)
                    elif kind == "stop_answering":
                        await presenter.request("answering", question_id=None)
                    elif kind == "type_answer":  # a moderator's answer is held for a second person
                        await staff.request("answer", question_id=qid, text=f"代答{a}{b}")
                    elif kind == "release":
                        await presenter.request("release", question_id=qid)
                    elif kind == "withdraw":
                        await staff.request("withdraw", question_id=qid)
                    elif kind == "rate":
                        level = ("satisfied", "basically_satisfied", "dissatisfied")[a % 3]
                        await asker.request("rate", question_id=qid, level=level, comment=f"评价{b}")
                    elif kind == "rate_by_receipt":
                        await viewer.request(
                            "rate", receipt=receipts[qid], secret=secrets[qid], level="dissatisfied"
                        )
                    elif kind == "follow_up":
                        await asker.request("follow_up", question_id=qid, text=f"追问{sid}x{a}{b}")
                    elif kind == "close":
                        await staff.request("close")
                    elif kind == "written":
                        await presenter.request("answer", question_id=qid, text=f"书面{a}{b}", mode="written")
                    elif kind == "settle":
                        outcome = ("declined", "forwarded", "merged")[a % 3]
                        await staff.request(
                            "settle",
                            question_ids=[qid] if outcome == "merged" else [qid, other],
                            outcome=outcome,
                            reason="other",
                            department="区城管局",
                            note=f"办结{b}",
                            into=other,
                        )
                    elif kind == "carry":
                        await staff.request("carry_over", **({"question_ids": [qid]} if a % 2 else {}))
                    elif kind == "remark":
                        await host.request("remark", text=f"主持人的话{a}{b}")
                    elif kind == "announce":
                        await host.request("announce", question_id=qid)
                    elif kind == "withdraw_post":
                        await (staff if a % 2 else host).request("withdraw_post", post_id=b + 1)
                        done["withdraw_post"] += 1
                    elif kind == "archive":
                        await (
                            admin.request("archive_override", note=f"理由{a}")
                            if b % 2
                            else staff.request("archive")
                        )
                    else:
                        await (presenter if kind == "answering" else staff).request(kind, question_id=qid)
                except ServerError:
                    pass  # refused (already handled, not published...): the views must agree still
            await asyncio.sleep(0.3)  # the last tally
            await check_every_view_agrees(
                srv, sid, {"staff": staff, "viewer": viewer}, asker, receipts, entered
            )
        finally:
            await asyncio.gather(*(c.close() for c in clients))

    await asyncio.to_thread(run)
    fid = following["id"]
    staff_view, public_view = snapshot(srv, fid, staff=True), snapshot(srv, fid, staff=False)
    from_staff, from_public = browser_fold({"events": log(srv, fid, True)}, {"events": log(srv, fid, False)})
    assert from_staff == snapshot_view(staff_view) and from_public == snapshot_view(public_view)
    assert staff_view["questions"], "no example carried a question over: the actions are out of date"
    assert all("carried_from" in q or "follows" in q for q in staff_view["questions"]), (
        "only carried questions and follow-ups arrive"
    )
    assert all(done.values()), f"the random commands never reached a commitment's events: {done}"


async def test_ratings_and_follow_ups_leave_every_view_agreeing(server: LiveServer) -> None:
    """The asker's say on every kind of outcome, by device and by receipt (the random commands
    above reach an outcome too rarely to be sure of it)."""
    server.create_session(start=timedelta(days=7))  # where follow-ups go
    s = server.create_session()
    sid = s["id"]
    clients = [server.client(sid, token=s["moderator_token"]), server.client(sid), server.client(sid)]
    presenter = server.client(sid, token=s["presenter_token"])
    staff, viewer, asker = clients
    await asyncio.gather(*(c.connect() for c in (*clients, presenter)))
    try:
        acks = [
            await asker.request("ask", client_id=f"c{i}", text=f"问题{sid}x{i}", name="市民")
            for i in range(5)
        ]
        ids = [a["question_id"] for a in acks]
        await staff.request("approve", question_id=ids[0])
        await viewer.request("vote", question_id=ids[0])
        await presenter.request("answer", question_id=ids[0], text="已答复")
        await staff.request("reject", question_id=ids[1], reason="off_topic", note="请另行反映")
        await staff.request("forward", question_id=ids[2], department="区交通局")
        await staff.request("merge", question_id=ids[3], into=ids[0])
        await asker.request("rate", question_id=ids[0], level="satisfied", comment="很好")
        await viewer.request(
            "rate", receipt=acks[1]["receipt"], secret=acks[1]["secret"], level="dissatisfied"
        )
        await asker.request("rate", question_id=ids[2], level="basically_satisfied")
        await asker.request("follow_up", question_id=ids[2], text="什么时候办好？")
        await viewer.request(
            "follow_up", receipt=acks[3]["receipt"], secret=acks[3]["secret"], text="合并后呢？"
        )
        await staff.request("hide", question_id=ids[0])
        await asyncio.sleep(0.3)  # the last tally
        receipts = {a["question_id"]: a["receipt"] for a in acks}
        await check_every_view_agrees(server, sid, {"staff": staff, "viewer": viewer}, asker, receipts)
    finally:
        await asyncio.gather(*(c.close() for c in (*clients, presenter)))


# The four drift bugs, each seen where a citizen saw it ---------------------------------------


async def test_a_merge_names_its_target_the_same_in_snapshot_and_live_events(server: LiveServer) -> None:
    """A page loaded after a merge linked to ``#q-undefined``: the snapshot said
    ``merged_into``, live events ``into``. Both now carry the question as it stands."""
    s = server.create_session(moderation="post")
    sid = s["id"]
    async with server.client(sid) as early, server.client(sid, token=s["moderator_token"]) as mod:
        first = (await early.request("ask", client_id="a", text="路灯坏了"))["question_id"]
        dup = (await early.request("ask", client_id="b", text="路灯不亮"))["question_id"]
        await mod.request("merge", question_id=dup, into=first)
        live = await early.wait_for(lambda e: e.get("type") == "question.merged")
        async with server.client(sid) as late:
            later = next(q for q in late.snapshot["questions"] if q["id"] == dup)
        assert live["data"]["question"] == later
        assert later["merged_into"] == first and later["status"] == "merged"


async def test_a_declined_or_forwarded_asker_sees_the_staffs_note(server: LiveServer) -> None:
    """docs/protocol.md promised ``note`` with a decline; viewers and the receipt lookup never
    got it, so a declined citizen saw only 原因：其他原因."""
    s = server.create_session()
    sid = s["id"]
    async with server.client(sid) as asker, server.client(sid, token=s["moderator_token"]) as mod:
        one = await asker.request("ask", client_id="a", text="我家门口的私事")
        two = await asker.request("ask", client_id="b", text="公交站牌太旧")
        await mod.request(
            "reject",
            question_id=one["question_id"],
            reason="personal_case",
            note="请拨打12345热线反映个人事项",
        )
        await mod.request(
            "forward", question_id=two["question_id"], department="区交通局", note="已转交，十个工作日内答复"
        )
        declined = await asker.wait_for(lambda e: e.get("type") == "question.rejected")
        assert declined["data"]["question"]["note"] == "请拨打12345热线反映个人事项"
        for ack, note in ((one, "请拨打12345热线反映个人事项"), (two, "已转交，十个工作日内答复")):
            r = httpx.get(f"{server.http}/api/receipts/{ack['receipt']}", timeout=TIMEOUT).json()
            assert r["note"] == note
        async with server.client(sid, device=asker.device) as again:
            mine = {m["id"]: m for m in again.welcome["mine"]}
        assert mine[two["question_id"]]["note"] == "已转交，十个工作日内答复"


async def test_an_edit_reaches_the_askers_own_view(server: LiveServer) -> None:
    """A moderator's edit reached the public list, but the author's 我的问题 kept the old text."""
    s = server.create_session()
    sid = s["id"]
    async with server.client(sid) as asker, server.client(sid, token=s["moderator_token"]) as mod:
        ack = await asker.request("ask", client_id="a", text="小区停车难怎么般？")
        await mod.request("edit", question_id=ack["question_id"], text="小区停车难怎么办？")
        [mine] = (await asker.request("mine"))["mine"]
        assert (mine["text"], mine["status"]) == ("小区停车难怎么办？", "pending")
        r = httpx.get(f"{server.http}/api/receipts/{ack['receipt']}", timeout=TIMEOUT).json()
        assert "text" not in r, "a receipt number shows the outcome, not unpublished text"
        async with server.client(sid, device=asker.device) as again:
            assert again.welcome["mine"][0]["text"] == "小区停车难怎么办？"


async def test_a_vote_tallied_after_its_question_was_hidden_stays_off_viewers_pages(
    server: LiveServer,
) -> None:
    """A vote's tally waits up to ``LIVE_TALLY_INTERVAL`` after the first; a question hidden
    meanwhile got its count on viewers' pages, where its snapshot shows none."""
    s = server.create_session(moderation="post")
    sid = s["id"]
    async with (
        server.client(sid) as one,
        server.client(sid) as two,
        server.client(sid) as three,
        server.client(sid, token=s["moderator_token"]) as mod,
    ):
        qid = (await one.request("ask", client_id="a", text="路灯坏了"))["question_id"]
        await three.request("vote", question_id=qid)  # tallied at once (not its asker: 同问 is for others)
        await two.request("vote", question_id=qid)  # tallied after the interval...
        await mod.request("hide", question_id=qid)  # ...which this falls in
        staff = await mod.wait_for(
            lambda e: e["type"] == "votes.tallied" and e["data"]["votes"].get(str(qid)) == 2
        )
        await two.wait_seq(staff["seq"])
    [seen] = [e for e in two.events if e["seq"] == staff["seq"]]
    assert seen["data"]["votes"] == {}
    [public] = browser_fold({"snapshot": two.snapshot, "events": two.events})
    assert public["questions"] == snapshot(server, sid, staff=False)["questions"]


async def test_a_page_of_the_old_protocol_is_told_to_reload(server: LiveServer) -> None:
    from websockets.asyncio.client import connect

    sid = server.create_session()["id"]
    for hello in ({"type": "hello"}, {"type": "hello", "protocol": PROTOCOL - 1}):
        async with connect(f"{server.ws}/ws/{sid}") as ws:
            await ws.send(json.dumps(hello))
            frame = json.loads(await ws.recv())
            assert frame["code"] == "protocol_version" and frame["details"] == {"expected": PROTOCOL}
            assert "刷新" in frame["message"]["zh"]
            await ws.wait_closed()
            assert ws.close_code == 4400


# A log written before protocol 2 is given its results by the migration ----------------------

INSTRUCTIONS = {
    "question.asked": ("question",),
    "question.approved": ("question",),
    "session.created": ("session",),
    "session.updated": ("session",),
    "votes.tallied": ("votes",),
}
"""Of the result keys, those an event of protocol 1 already carried as its instruction."""


def protocol_1(kind: str, data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    keep = INSTRUCTIONS.get(kind, ())
    return {k: v for k, v in data.items() if k in keep or k not in RESULTS}


async def test_an_old_log_is_given_its_results_on_upgrade(backend: Any) -> None:
    import sqlite3

    import asyncpg

    srv = await asyncio.to_thread(LiveServer(backend.db, backend.bus, env=backend.env).start)
    try:
        s = srv.create_session(moderation="pre")
        sid = s["id"]
        async with srv.client(sid) as v, srv.client(sid, token=s["moderator_token"]) as mod:
            a = (await v.request("ask", client_id="a", text="路灯坏了"))["question_id"]
            b = (await v.request("ask", client_id="b", text="路灯不亮"))["question_id"]
            c = (await v.request("ask", client_id="c", text="私事"))["question_id"]
            await mod.request("approve", question_id=a)
            await mod.request("merge", question_id=b, into=a)
            await mod.request("reject", question_id=c, reason="other", note="请找社区")
            await mod.request("answering", question_id=a)
            await mod.request("close")
        before = (log(srv, sid, staff=True), log(srv, sid, staff=False))
    finally:
        await asyncio.to_thread(srv.stop)
    # Take the log back to protocol 1, and the schema to the version before the upgrade.
    if backend.name == "sqlite":
        with sqlite3.connect(backend.db) as db:
            rows = db.execute(
                "SELECT seq, type, data, public FROM events WHERE session_id=?", (sid,)
            ).fetchall()
            for seq, kind, data, public in rows:
                old = protocol_1(kind, json.loads(data))
                old_public = protocol_1(kind, json.loads(public) if public else None)
                db.execute(
                    "UPDATE events SET data=?, public=? WHERE session_id=? AND seq=?",
                    (json.dumps(old), json.dumps(old_public) if old_public else None, sid, seq),
                )
            db.execute("PRAGMA user_version=2")
    else:
        conn = await asyncpg.connect(backend.db)
        try:
            for r in await conn.fetch("SELECT seq, type, data, public FROM events WHERE session_id=$1", sid):
                old_public = protocol_1(r["type"], json.loads(r["public"]) if r["public"] else None)
                await conn.execute(
                    "UPDATE events SET data=$1, public=$2 WHERE session_id=$3 AND seq=$4",
                    json.dumps(protocol_1(r["type"], json.loads(r["data"]))),
                    json.dumps(old_public) if old_public else None,
                    sid,
                    r["seq"],
                )
            await conn.execute("DELETE FROM schema_version WHERE version >= 3")
        finally:
            await conn.close()
    srv = await asyncio.to_thread(LiveServer(backend.db, backend.bus, env=backend.env).start)
    try:
        stripped = [e for e in log(srv, sid, staff=True) if not e["data"]]
        assert stripped == [], "the upgrade left events without their results"
        assert (log(srv, sid, staff=True), log(srv, sid, staff=False)) == before
    finally:
        await asyncio.to_thread(srv.stop)


async def test_an_export_made_before_protocol_2_imports_with_its_results(tmp_path: Path) -> None:
    import subprocess as sp
    import sys

    from .attack import full_log, running

    exported, old = tmp_path / "s.jsonl", tmp_path / "old.jsonl"
    with running(tmp_path, "a.db") as a:
        s = a.create_session(moderation="pre")
        async with a.client(s["id"]) as v, a.client(s["id"], token=s["moderator_token"]) as mod:
            q = (await v.request("ask", client_id="x", text="老格式的问题"))["question_id"]
            await mod.request("forward", question_id=q, department="区住建局", note="已转交")
        before = full_log(a, s["id"])
        sp.run(
            [sys.executable, "-m", "live", "export", str(s["id"]), str(exported), "--db", a.db],
            check=True,
            capture_output=True,
        )
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    for line in lines:
        if line.get("kind") == "event":
            line["data"] = protocol_1(line["type"], line["data"])
            line["public"] = protocol_1(line["type"], line["public"])
            del line["hash"]  # an export made then had no hash chain either
    old.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    with running(tmp_path, "b.db") as b:
        done = sp.run(
            [sys.executable, "-m", "live", "import", str(old), "--db", b.db],
            check=True,
            capture_output=True,
            text=True,
        )
        new_id = int(re.search(r"imported as session (\d+)", done.stdout)[1])  # type: ignore[index]
        after = full_log(b, new_id)
    assert [(e["type"], e["data"]) for e in after] == [(e["type"], e["data"]) for e in before]
    assert after[-1]["data"]["question"]["note"] == "已转交"
