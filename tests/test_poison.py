"""A bad request among honest ones: it is refused alone, and everyone else's write commits.

Issue 18, point 3. A lone surrogate (``"\\ud800"``) used to raise inside the SQLite
group commit and fail every honest question of the same round (50 of 50 in five
bursts), and over HTTP the 500 reset the next request on the same keep-alive
connection. Text is now checked where it enters (both transports, both engines),
and a storage error in one request refuses that request alone.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from live.bus.memory import MemoryBus
from live.client import ServerError
from live.commands import Decision
from live.events import NewEvent
from live.rooms import Room
from live.state import State
from live.store import open_store
from live.store.sqlite_writer import GroupWriter

from .conftest import ADMIN, TIMEOUT, Backend, LiveServer
from .test_store import new_session

POISON = ["\ud800", "前\udfff后", "\u0000"]


def escaped(obj: object) -> dict[str, object]:
    """A JSON body as an attacker writes it: surrogates and NULs as ``\\u`` escapes."""
    return {"content": json.dumps(obj), "headers": {"content-type": "application/json"}}


async def test_a_poisoned_burst_refuses_only_the_poison(server: LiveServer) -> None:
    """Twenty-eight honest askers and fourteen poisoned ones at once, over WebSockets: every honest
    question is acknowledged and stored, every poisoned one gets ``invalid_text``."""
    sid = server.create_session()["id"]
    clients = [server.client(sid) for _ in range(42)]
    await asyncio.gather(*(c.connect() for c in clients))
    try:

        async def ask(i: int) -> str:
            text = f"第{i}个问题" + (POISON[i % len(POISON)] if i % 3 == 0 else "")
            try:
                await clients[i].request("ask", client_id=f"c{i}", text=text, name=f"市民{i}")
            except ServerError as exc:
                return exc.code
            return "ok"

        outcomes = await asyncio.gather(*(ask(i) for i in range(42)))
        assert outcomes == ["invalid_text" if i % 3 == 0 else "ok" for i in range(42)]
        with server.admin() as http:
            stored = http.get(f"/api/sessions/{sid}").json()["questions"]
        assert sorted(q["text"] for q in stored) == sorted(f"第{i}个问题" for i in range(42) if i % 3)
        # and the connections of the poisoned askers carry on
        ack = await clients[0].request("ask", client_id="again", text="重新提问")
        assert ack["status"] == "pending"
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def test_poison_over_http_keeps_the_connection_and_its_neighbours(server: LiveServer) -> None:
    """Over ``POST /commands`` a poisoned body is a 400 ``invalid_text``, and the next request
    on the same kept-alive connection is answered; so are admin bodies."""
    sid = server.create_session()["id"]
    async with httpx.AsyncClient(base_url=server.http, timeout=TIMEOUT) as http:
        await http.get(f"/s/{sid}")  # the device cookie
        url = f"/api/sessions/{sid}/commands"
        for i, bad in enumerate(POISON):
            r = await http.post(url, **escaped({"type": "ask", "client_id": f"p{i}", "text": "问" + bad}))
            assert r.status_code == 400 and r.json()["code"] == "invalid_text", r.text
            r = await http.post(url, json={"type": "ask", "client_id": f"h{i}", "text": f"好问题{i}"})
            assert r.status_code == 200, r.text
        http.headers["Authorization"] = f"Bearer {ADMIN}"
        r = await http.patch(f"/api/sessions/{sid}", **escaped({"title": "标题\udc00"}))
        assert r.status_code == 400 and r.json()["code"] == "invalid_text"
        r = await http.put("/api/filter/words", **escaped({"words": ["词\ud800"]}))
        assert r.status_code == 400 and r.json()["code"] == "invalid_text"
        assert (await http.get("/healthz")).status_code == 200


async def test_invisible_and_direction_characters_follow_the_documented_rule(server: LiveServer) -> None:
    """Bidi overrides (U+202E) and zero-width characters are removed from what people type;
    the joiners that emoji need stay (docs/protocol.md, "Text")."""
    sid = server.create_session(moderation="post")["id"]
    async with server.client(sid) as viewer:
        ack = await viewer.request(
            "ask",
            client_id="b",
            text="\u202e停车\u200b难\ufeff 👨\u200d👩\u200d👧",
            name="\u2066王\u2069先生",
        )
        with server.admin() as http:
            q = next(
                q
                for q in http.get(f"/api/sessions/{sid}").json()["questions"]
                if q["id"] == ack["question_id"]
            )
        assert q["text"] == "停车难 👨\u200d👩\u200d👧" and q["name"] == "王先生"
        with pytest.raises(ServerError) as refused:
            await viewer.request("ask", client_id="z", text="\u200b\u202e\u200b")
        assert refused.value.code == "empty_text"


async def test_a_write_that_fails_by_itself_fails_alone_in_its_round(tmp_path: Path) -> None:
    """The SQLite writer: a job that raises on its own data (not the database's trouble)
    is rolled back to its savepoint; the rest of the round commits."""
    writer = GroupWriter(str(tmp_path / "w.db"), ())
    await writer.open()
    try:
        await writer.call(lambda w: w.execute("CREATE TABLE t (x TEXT)"))
        stall = asyncio.ensure_future(writer.run(lambda w: time.sleep(0.2)))
        await asyncio.sleep(0.05)  # what follows queues behind the stall: one round

        def insert(text: str, single: bool) -> asyncio.Future[object]:
            return asyncio.ensure_future(
                writer.run(lambda w: w.execute("INSERT INTO t VALUES (?)", (text,)).rowcount, single=single)
            )

        jobs = [insert(f"ok{i}", single=i % 2 == 0) for i in range(10)]
        jobs[3:3] = [insert("bad\ud800", single=False), insert("bad\udc00", single=True)]
        done = await asyncio.gather(*jobs, return_exceptions=True)
        await stall
        assert [type(d).__name__ for d in done] == (["int"] * 3 + ["UnicodeEncodeError"] * 2 + ["int"] * 7)
        rows = await writer.call(lambda w: w.execute("SELECT x FROM t ORDER BY x").fetchall())
        assert [r[0] for r in rows] == sorted(f"ok{i}" for i in range(10))
    finally:
        await writer.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_a_round_the_store_refuses_is_stored_request_by_request(backend: Backend) -> None:
    """Past the entry checks (a bug, a new field): a room whose round holds one event the
    store cannot take stores every other request of that round, on both engines."""
    store = open_store(backend.db)
    await store.open()
    room: Room | None = None
    try:
        sid = await new_session(store)
        row = await store.get_session(sid)
        assert row is not None
        room = Room(sid, row.epoch, store, MemoryBus(), tally_interval=60)
        await room.load()

        def describe(text: str) -> Callable[[State], Decision]:
            def decide(state: State) -> Decision:
                info = {**state.info, "description": text}
                return Decision([NewEvent("session.updated", {"session": info})], {"text": text})

            return decide

        texts = ["a", "b\ud800", "c", "d"]
        runs = [asyncio.ensure_future(room.run(describe(t))) for t in texts]
        results = await asyncio.gather(*runs, return_exceptions=True)
        assert [getattr(r, "result", None) for r in results] == [
            {"text": "a"},
            None,
            {"text": "c"},
            {"text": "d"},
        ]
        stored = [
            e.data["session"]["description"] for e in await store.read(sid) if e.type == "session.updated"
        ]
        assert stored == ["a", "c", "d"]
        assert room.state.info["description"] == "d" and room.state.seq == 4
    finally:
        if room is not None:
            await room.close()
        await store.close()
