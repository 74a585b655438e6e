"""The SQLite store's group commit: what a round of the writer thread promises.

A tally's append runs last in its round, so it counts the votes acknowledged with it, and
the room hears of it before any of those voters resumes; a round that only tallies keeps
no reader waiting; a refused batch refuses its own items and the round commits the rest;
one round may vote, withdraw and vote again for the same device. PostgreSQL commits each
vote alone, so none of this applies to it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from functools import partial
from pathlib import Path

from live.bus.memory import MemoryBus
from live.commands import Decision, tally_event
from live.events import NewEvent
from live.rooms import Room
from live.store import open_store
from live.store.sqlite import _set_votes
from live.store.sqlite_writer import GroupWriter

from .test_store import asked, new_session


async def test_a_tally_counts_the_votes_that_share_its_round_and_is_told_first(tmp_path: Path) -> None:
    """An append goes ahead of queued votes but runs last in its round, so its tally
    counts the votes acknowledged with it; and ``on_commit`` hears of it before any of
    those voters resumes (SQLite: PostgreSQL commits each vote alone)."""
    store = open_store(f"sqlite:///{tmp_path / 'live.db'}")
    await store.open()
    order: list[object] = []

    async def vote(i: int) -> bool:
        changed = await store.set_vote(sid, 1, f"dev-{i}", True)
        order.append("voter resumed")
        return changed

    try:
        sid = await new_session(store)
        await store.append(sid, 1, [NewEvent("question.asked", asked(1, "一"))])
        stall = asyncio.ensure_future(store.writer.run(lambda w: time.sleep(0.2)))
        await asyncio.sleep(0.05)  # the writer is inside the stall: what follows is one round
        votes = [asyncio.ensure_future(vote(i)) for i in range(20)]
        await asyncio.sleep(0)
        stored = await store.append(
            sid, 2, [], tally=partial(tally_event, {1: 0}), on_commit=lambda events: order.append(events)
        )
        assert [(e.type, e.data) for e in stored] == [("votes.tallied", {"votes": {"1": 20}})]
        assert await asyncio.gather(*votes) == [True] * 20
        assert order == [stored] + ["voter resumed"] * 20
        await stall
    finally:
        await store.close()


async def test_readers_do_not_wait_for_a_round_that_only_tallies(tmp_path: Path) -> None:
    """A tally's round drafts nothing, so a reader (a vote's check, a viewer's snapshot)
    need not wait for its commit; the tally event is then applied once, by its delivery."""
    store = open_store(f"sqlite:///{tmp_path / 'live.db'}")
    await store.open()
    room: Room | None = None
    try:
        sid = await new_session(store)
        await store.append(sid, 1, [NewEvent("question.asked", asked(1, "一"))])
        row = await store.get_session(sid)
        assert row is not None
        room = Room(sid, row.epoch, store, MemoryBus(), tally_interval=60)
        await room.load()
        await asyncio.sleep(0.05)  # the recount on load found nothing to tally
        await store.set_vote(sid, 1, "dev-a", True)
        stall = asyncio.ensure_future(store.writer.run(lambda w: time.sleep(0.3)))
        await asyncio.sleep(0.05)
        tally = asyncio.ensure_future(room.run(lambda state: Decision([], {}, tally=True)))
        await asyncio.sleep(0.01)  # the round is waiting for its commit behind the stall
        assert not tally.done()
        state = await asyncio.wait_for(room.settled(), 0.1)
        assert state.seq == 2 and state.questions[1].votes == 0
        await tally
        await stall
        assert room.state.seq == room.feed.delivered == 3 and room.state.questions[1].votes == 1
        assert [e.type for e in await store.read(sid, after=2)] == ["votes.tallied"]
    finally:
        if room is not None:
            await room.close()
        await store.close()


async def test_a_refused_batch_refuses_its_items_and_the_round_commits_the_rest(tmp_path: Path) -> None:
    writer = GroupWriter(str(tmp_path / "w.db"), ("journal_mode=WAL",))
    await writer.open()
    try:
        await writer.run(lambda w: w.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)"))

        def insert_all(w: sqlite3.Connection, xs: list[int]) -> list[int]:
            w.execute(f"INSERT INTO t VALUES {','.join(['(?)'] * len(xs))}", xs)
            return xs

        def slow_first(w: sqlite3.Connection) -> int:
            time.sleep(0.2)  # the rest queue meanwhile, and form the next round together
            return w.execute("INSERT INTO t VALUES (1)").rowcount

        results = await asyncio.gather(
            writer.run(slow_first),
            *(writer.run_batched(insert_all, x) for x in (2, 3, 1)),  # 1 is taken: refused
            writer.run(lambda w: w.execute("INSERT INTO t VALUES (4)").rowcount),
            return_exceptions=True,
        )
        assert results[0] == 1 and results[-1] == 1
        assert all(isinstance(r, sqlite3.IntegrityError) for r in results[1:4]), results
        rows = await writer.run(lambda w: w.execute("SELECT x FROM t ORDER BY x").fetchall())
        assert rows == [(1,), (4,)]
    finally:
        await writer.close()


def test_one_round_may_vote_withdraw_and_vote_again() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE votes (session_id INTEGER NOT NULL, question_id INTEGER NOT NULL, "
        "device TEXT NOT NULL, at INTEGER NOT NULL, "
        "PRIMARY KEY (session_id, question_id, device)) WITHOUT ROWID"
    )
    conn.execute("INSERT INTO votes VALUES (1, 1, 'old', 5)")
    answers = _set_votes(
        conn,
        [
            (1, 1, "a", True, 10),
            (1, 1, "a", False, 11),
            (1, 1, "a", True, 12),
            (1, 1, "old", True, 13),
            (1, 1, "old", False, 14),
            (1, 2, "b", False, 15),
            (1, 2, "b", True, 16),
            (1, 2, "b", True, 17),
        ],
    )
    assert answers == [True, True, True, False, True, False, True, False]
    assert sorted(conn.execute("SELECT * FROM votes")) == [(1, 1, "a", 12), (1, 2, "b", 16)]
