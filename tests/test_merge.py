"""A merge and the votes it carries over are one commit, on both engines (issue 17, point 5).

The merged question's votes used to move in a second write after the merge event was
stored: a crash between the two left the merge in the log and its votes behind. Now the
append that stores the merge moves them, so there is no between: killed at any moment,
every merge in the log has moved all of its votes and no merge that is not in it has.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

from live.client import Client

from .attack import full_log, running
from .conftest import TIMEOUT, LiveServer


async def test_kill_9_during_merges_never_splits_a_merge_from_its_votes(tmp_path: Path) -> None:
    rng = random.Random(7)
    stored = []
    with running(tmp_path) as srv:
        for trial in range(4):
            s = srv.create_session(moderation="post")
            sid = s["id"]
            asker = srv.client(sid)  # not a voter: 同问 is for others' questions
            voters = [srv.client(sid) for _ in range(6)]
            await asyncio.gather(*(v.connect() for v in [asker, *voters]))
            ids = [
                (await asker.request("ask", client_id=f"q{i}", text=f"第{trial}轮问题{i}"))["question_id"]
                for i in range(12)
            ]
            for n, v in enumerate(voters):
                for qid in ids[n % 3 :: 2]:
                    await v.request("vote", question_id=qid)
            mod = srv.client(sid, token=s["moderator_token"])
            await mod.connect()
            acked = asyncio.Event()
            flying = asyncio.ensure_future(merge_all(mod, ids, rng.randint(1, 8), acked))
            await asyncio.wait_for(acked.wait(), TIMEOUT)  # the kill lands among the merges
            await asyncio.to_thread(srv.kill)
            await asyncio.gather(flying, return_exceptions=True)
            for c in [asker, *voters, mod]:
                await c.close()
            await asyncio.to_thread(srv.start)
            stored.append(check(srv, sid, ids))
    assert any(0 < n < 11 for n in stored), f"no kill landed among the merges: {stored}"


async def merge_all(mod: Client, ids: list[int], kill_after: int, acked: asyncio.Event) -> None:
    """Merge every question into the first, one after another; set ``acked`` after
    ``kill_after`` of them were acknowledged."""
    for n, qid in enumerate(ids[1:], start=1):
        await mod.request("merge", question_id=qid, into=ids[0])
        if n == kill_after:
            acked.set()


def check(srv: LiveServer, sid: int, ids: list[int]) -> int:
    """Every merge in the log moved its votes; every question not merged kept its own."""
    log = full_log(srv, sid)
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1)), "a gap in the log"
    merged = {e["data"]["question"]["id"] for e in log if e["type"] == "question.merged"}
    with sqlite3.connect(srv.db) as db:
        votes: dict[int, set[str]] = {}
        for qid, device in db.execute("SELECT question_id, device FROM votes WHERE session_id=?", (sid,)):
            votes.setdefault(qid, set()).add(device)
    for qid in ids[1:]:
        if qid in merged:
            assert qid not in votes, f"question {qid} is merged but kept its votes"
        else:
            assert votes.get(qid), f"question {qid} lost its votes without being merged"
    return len(merged)
