"""The store contract, run against both implementations (SQLite and PostgreSQL), plus what
only the shared engine must do: migrate once when workers start together, refuse when
PostgreSQL is gone and recover when it returns.

PostgreSQL is the real server on 127.0.0.1; if it is down these fail.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import asyncpg
import pytest

from live.commands import tally_event
from live.events import Event, NewEvent
from live.exceptions import Conflict, Unavailable
from live.state import apply, replay, with_results
from live.store import SeqConflict, Store, open_store
from live.store.postgres import PostgresStore
from live.store.postgres_schema import MIGRATIONS

from .conftest import PG, TIMEOUT, fresh_pg_database


@pytest.fixture(params=["sqlite", "postgres"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'live.db'}"
        return
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = open_store(store_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def asked(qid: int, text: str) -> dict:
    return {
        "question": {"id": qid, "text": text, "name": "网友", "status": "approved", "asked_at": 1000 + qid}
    }


async def new_session(store: Store) -> int:
    pid = await store.create_programme("qzzx", "区长在线", "")
    first = await store.create_session(
        pid, "p-hash", "m-hash", NewEvent("session.created", {"session": {"title": "第32期"}})
    )
    assert first.seq == 1
    return first.session_id


async def test_append_numbers_events_in_one_commit_and_reads_them_back(store: Store) -> None:
    sid = await new_session(store)
    events = [
        NewEvent(
            "question.asked",
            asked(1, "路灯 💡 什么时候修？"),
            public={"question": {"id": 1}},
            private={"contact": "13800000000"},
        ),
        NewEvent("session.updated", {"session": {"title": "第33期"}}),
    ]
    stored = await store.append(sid, 1, events, info={"title": "第33期"})
    assert [e.seq for e in stored] == [2, 3]
    back = await store.read(sid)
    assert [(e.seq, e.type, e.data, e.public, e.private) for e in back[1:]] == [
        (2, "question.asked", events[0].data, events[0].public, events[0].private),
        (3, "session.updated", events[1].data, None, {}),
    ]
    assert [e.seq for e in await store.read(sid, after=1, limit=1)] == [2]
    row = await store.get_session(sid)
    assert row is not None and row.last_seq == 3 and row.info == {"title": "第33期"}
    assert [r.id for r in await store.list_sessions(row.programme_id)] == [sid]
    assert await store.list_sessions(row.programme_id + 1) == []


async def test_a_large_append_is_stored_whole_and_in_order(store: Store) -> None:
    """More events than one multi-row statement takes (SQLite writes them in chunks)."""
    sid = await new_session(store)
    events = [NewEvent("question.asked", asked(i, f"第{i}个问题")) for i in range(1, 301)]
    stored = await store.append(sid, 1, events)
    assert [e.seq for e in stored] == list(range(2, 302))
    back = await store.read(sid, after=1)
    assert [(e.seq, e.data) for e in back] == [(e.seq, e.data) for e in stored]


async def test_a_stale_writer_gets_seq_conflict_and_stores_nothing(store: Store) -> None:
    sid = await new_session(store)
    await store.append(sid, 1, [NewEvent("a", {})])
    with pytest.raises(SeqConflict):
        await store.append(sid, 1, [NewEvent("b", {}), NewEvent("c", {})], info={"x": 1})
    assert [e.type for e in await store.read(sid)] == ["session.created", "a"]
    row = await store.get_session(sid)
    assert row is not None and row.last_seq == 2 and row.info == {"title": "第32期"}


async def test_writers_on_separate_connections_never_share_a_number(store_url: str) -> None:
    """Four stores (as four workers would) race to append; the log stays 1, 2, 3, ... once each."""
    stores = [open_store(store_url) for _ in range(4)]
    for s in stores:
        await s.open()
    try:
        sid = await new_session(stores[0])

        async def writer(n: int, s: Store) -> int:
            conflicts = 0
            for i in range(10):
                for _ in range(200):
                    row = await s.get_session(sid)
                    assert row is not None
                    try:
                        await s.append(sid, row.last_seq, [NewEvent("w", {"n": n, "i": i})])
                        break
                    except SeqConflict:
                        conflicts += 1
                else:
                    raise AssertionError("writer starved")
            return conflicts

        await asyncio.gather(*(writer(n, s) for n, s in enumerate(stores)))
        log = await stores[0].read(sid)
        assert [e.seq for e in log] == list(range(1, 42))
        assert sorted((e.data["n"], e.data["i"]) for e in log[1:]) == [
            (n, i) for n in range(4) for i in range(10)
        ]
        for n in range(4):
            assert [e.data["i"] for e in log[1:] if e.data["n"] == n] == list(range(10))
    finally:
        for s in stores:
            await s.close()


async def test_votes_one_per_device_moved_on_merge(store: Store) -> None:
    sid = await new_session(store)
    assert await store.set_vote(sid, 1, "dev-a", True) is True
    assert await store.set_vote(sid, 1, "dev-a", True) is False
    assert await store.set_vote(sid, 1, "dev-b", True) is True
    assert await store.set_vote(sid, 2, "dev-a", True) is True
    assert await store.vote_counts(sid) == {1: 2, 2: 1}
    assert await store.device_votes(sid, "dev-a") == [1, 2]
    assert await store.set_vote(sid, 1, "dev-b", False) is True
    assert await store.set_vote(sid, 1, "dev-b", False) is False
    await store.set_vote(sid, 1, "dev-c", True)
    with pytest.raises(SeqConflict):  # a merge refused for a stale seq moves nothing
        await store.append(sid, 0, [NewEvent("question.merged", {"id": 1, "into": 2})], moves=[(1, 2)])
    assert await store.vote_counts(sid) == {1: 2, 2: 1}
    await store.append(sid, 1, [NewEvent("question.merged", {"id": 1, "into": 2})], moves=[(1, 2)])
    assert await store.vote_counts(sid) == {2: 2}
    assert await store.device_votes(sid, "dev-c") == [2]


async def test_a_burst_of_votes_answers_each_one_by_what_it_changed(store: Store) -> None:
    """On SQLite the burst shares rounds, each written by one call for all of its votes."""
    sid = await new_session(store)
    for i in range(0, 300, 3):
        assert await store.set_vote(sid, 1, f"dev-{i}", True) is True
    changed = await asyncio.gather(
        *(store.set_vote(sid, 1 + i % 2, f"dev-{i}", i % 5 != 0) for i in range(300))
    )
    for i, answer in enumerate(changed):
        stored = i % 3 == 0 and i % 2 == 0  # question 1 already had this device's vote
        assert answer is (stored != (i % 5 != 0)), i
    counts = await store.vote_counts(sid)
    assert counts[1] == sum(1 for i in range(0, 300, 3) if i % 2 or i % 5 != 0) + sum(
        1 for i in range(0, 300, 2) if i % 3 and i % 5 != 0
    )
    assert counts[2] == sum(1 for i in range(1, 300, 2) if i % 5 != 0)


async def test_a_tally_reads_the_counts_inside_the_append(store: Store) -> None:
    sid = await new_session(store)
    last = (
        await store.append(
            sid, 1, [NewEvent("question.asked", asked(1, "一")), NewEvent("question.asked", asked(2, "二"))]
        )
    )[-1].seq
    await store.set_vote(sid, 1, "dev-a", True)
    await store.set_vote(sid, 1, "dev-b", True)
    shown = {1: 0, 2: 0}
    told: list[list[Event]] = []
    stored = await store.append(sid, last, [], tally=partial(tally_event, shown), on_commit=told.append)
    assert [(e.seq, e.type, e.data) for e in stored] == [(last + 1, "votes.tallied", {"votes": {"1": 2}})]
    assert told == [stored]
    assert (
        await store.append(sid, last + 1, [], tally=partial(tally_event, {1: 2, 2: 0}), on_commit=told.append)
        == []
    )
    assert told == [stored]  # nothing stored, nothing told
    with pytest.raises(SeqConflict):  # nothing new since, and yet a stale writer is refused
        await store.append(sid, last, [], tally=partial(tally_event, shown))
    event = NewEvent("question.asked", asked(3, "三"))
    stored = await store.append(sid, last + 1, [event], tally=partial(tally_event, {1: 0, 2: 0}))
    assert [(e.seq, e.type) for e in stored] == [(last + 2, "question.asked"), (last + 3, "votes.tallied")]
    assert [e.seq for e in await store.read(sid, after=last)] == [last + 1, last + 2, last + 3]


def resulting(sid: int, log: list[Event], events: list[NewEvent]) -> list[NewEvent]:
    """``events`` carrying their results, as a room hands them to ``append``."""
    state = replay(sid, log)
    out = []
    for e in events:
        apply(state, Event(sid, state.seq + 1, e.type, e.data, 0, e.public, e.private))
        out.append(with_results(state, e))
    return out


async def test_archive_projection_follows_the_log(store: Store) -> None:
    """Search sees answered questions only, in the commit that answered them."""
    sid = await new_session(store)
    row = await store.get_session(sid)
    assert row is not None
    await store.append(
        sid,
        1,
        resulting(
            sid,
            await store.read(sid),
            [
                NewEvent("question.asked", asked(1, "小区路灯什么时候修好？")),
                NewEvent("question.asked", asked(2, "路灯太暗了")),
                NewEvent("question.answered", {"id": 1, "answer": {"text": "下个月完工。", "at": 5000}}),
                NewEvent("question.rejected", {"id": 2}),
            ],
        ),
    )
    found = await store.search_answered(["路灯什么"], ["完工"], None, 10)
    assert [(r["session_id"], r["question_id"], r["answer"], r["at"]) for r in found] == [
        (sid, 1, "下个月完工。", 5000)
    ]
    assert found[0]["programme_id"] == row.programme_id and found[0]["info"] == row.info
    assert await store.search_answered(["太暗了"], [], None, 10) == []
    assert await store.search_answered(["路灯什么"], [], row.programme_id + 1, 10) == []
    similar = await store.similar_answered(["路灯", "修好", "公交"], row.programme_id, 10**13, 5)
    assert [r["question_id"] for r in similar] == [1]
    assert await store.answered_counts() == {sid: 1}
    await store.record_presence(sid, 30_000, 7)
    await store.record_presence(sid, 30_000, 5)
    await store.record_presence(sid, 0, 2)
    assert await store.presence(sid) == [(0, 2), (30_000, 7)]


async def test_meta_and_programmes(store: Store) -> None:
    assert await store.get_meta("secret") is None
    await store.set_meta("secret", "one")
    await store.set_meta("secret", "two")
    assert await store.get_meta("secret") == "two"
    pid = await store.create_programme("qzzx", "区长在线", "每周四晚")
    with pytest.raises(Conflict) as err:
        await store.create_programme("qzzx", "again", "")
    assert err.value.code == "programme_exists"
    await store.update_programme(pid, {"title": "区长在线（新）", "description": ""})
    [p] = await store.list_programmes()
    assert (p["id"], p["slug"], p["title"], p["description"]) == (pid, "qzzx", "区长在线（新）", "")


async def test_postgres_migrates_once_when_workers_start_together() -> None:
    async with fresh_pg_database() as url:
        stores = [PostgresStore(url) for _ in range(6)]
        await asyncio.gather(*(s.open() for s in stores))
        for s in stores:
            await s.close()
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "live", "migrate", "--db", url],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert done.returncode == 0, done.stderr
        conn = await asyncpg.connect(url)
        try:
            versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_version ORDER BY version")]
            assert versions == list(range(1, len(MIGRATIONS) + 1))
            await conn.execute("INSERT INTO schema_version(version) VALUES ($1)", len(MIGRATIONS) + 1)
        finally:
            await conn.close()
        with pytest.raises(SystemExit, match="newer than this code"):
            await PostgresStore(url).open()


async def test_postgres_outage_is_unavailable_and_the_pool_recovers() -> None:
    """The database refuses connections and drops ours; then it takes them again."""
    async with fresh_pg_database() as url:
        name = url.rsplit("/", 1)[1]
        store = PostgresStore(url)
        await store.open()
        admin = await asyncpg.connect(PG)
        try:
            sid = await new_session(store)
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
            for attempt in (
                lambda: store.append(sid, 1, [NewEvent("lost", {})]),
                lambda: store.read(sid),
                lambda: store.set_meta("ready_probe", "1"),
                lambda: store.set_vote(sid, 1, "d", True),
            ):
                with pytest.raises(Unavailable) as err:
                    await attempt()
                assert err.value.code == "unavailable" and err.value.status == 503
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            stored = await store.append(sid, 1, [NewEvent("kept", {})])
            assert [e.type for e in await store.read(sid)] == ["session.created", "kept"]
            assert stored[0].seq == 2
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
            await store.close()


async def test_no_trigger_or_function_reimplements_the_events(store: Store, store_url: str) -> None:
    """The search index is written from Python (live.store.index); the database holds no second
    copy of what an event does, which is how the old triggers drifted from ``apply``."""
    if store_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as db:
            triggers = db.execute(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"
            ).fetchall()
        assert {table for _, table in triggers} == {"search_items"}  # only FTS upkeep
        return
    conn = await asyncpg.connect(store_url)
    try:
        assert await conn.fetch("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal") == []
        assert (
            await conn.fetch(
                "SELECT proname FROM pg_proc p JOIN pg_namespace n "
                "ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
            )
            == []
        )
    finally:
        await conn.close()
