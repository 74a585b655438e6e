"""Bytes written to disk per acknowledged question, and where they go.

An acknowledgement means committed with ``synchronous=FULL``: the commit's pages
are in the WAL and the WAL is fsynced. What a question costs the disk is read
from outside the server, in one run:

* **lone**: one client asks one question after another, so each is a commit of
  its own (an evening's ordinary pace, and how the small disk that filled was
  used). Per question: the server process's ``write_bytes`` (``/proc/<pid>/io``:
  every page it dirtied, in the WAL, the database file at checkpoints and the
  ``-shm`` index alike), and the WAL frames it appended, by table (each frame
  names its page; ``dbstat`` names the page's table).
* **concurrent**: many clients at once, whose questions share commits (the
  group commit): ``write_bytes`` per question.
* **baselines, measured in the same run**: the stored row's own bytes (what the
  data needs), and a bare SQLite table, same pragmas, written one row of that
  size per commit (the *floor*: the least a WAL store with a durable commit per
  acknowledgement writes; a commit rewrites at least one whole page).
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import struct
import tempfile
from pathlib import Path
from typing import Any

from live.client import Client

from .fanout import running
from .targets import Target

WAL_HEADER = 32
FRAME_HEADER = 24
SAMPLE = 50
"""Lone questions whose WAL frames are counted: SQLite checkpoints and restarts the WAL at
1,000 frames, which 50 questions stay under even at the 8+ pages each wrote before."""
ROW_BYTES = (
    "SELECT avg(length(CAST(data AS BLOB)) + coalesce(length(CAST(public AS BLOB)), 0) "
    "+ length(CAST(private AS BLOB)) + length(type) + 24) FROM events WHERE type = 'question.asked'"
)
"""A stored question's bytes: its JSON columns, its type, and three integers (session, seq, time)."""


def write_bytes(pid: int | str) -> int:
    """Bytes a process has caused to be written to storage so far (``/proc/<pid>/io``)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError(f"no write_bytes for {pid}")


def wal_pages(db: str) -> list[int]:
    """The page number of every valid frame in ``db``'s WAL, in order.

    A frame is valid while its salts match the header's: a WAL restarted after a
    checkpoint keeps the old frames behind the new ones.
    """
    data = Path(db + "-wal").read_bytes()
    if len(data) < WAL_HEADER:
        return []
    (page_size,) = struct.unpack(">I", data[8:12])
    salts = data[16:24]
    pages, at = [], WAL_HEADER
    while at + FRAME_HEADER + page_size <= len(data) and data[at + 8 : at + 16] == salts:
        pages.append(struct.unpack(">I", data[at : at + 4])[0])
        at += FRAME_HEADER + page_size
    return pages


def tables(db: str, pages: list[int]) -> dict[str, int]:
    """How many of ``pages`` belong to each table or index (page 1 is ``sqlite_schema``)."""
    with sqlite3.connect(db) as conn:
        names = dict(conn.execute("SELECT pageno, name FROM dbstat").fetchall())
    return dict(collections.Counter(names.get(p, "free") for p in pages).most_common())


def restart_wal(db: str) -> bool:
    """Checkpoint and empty the WAL, so the frames that follow are the measured ones alone."""
    with sqlite3.connect(db, isolation_level=None) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0


def floor(rows: int, size: int) -> float:
    """``write_bytes`` per row of ``size`` bytes, one commit each, in a bare WAL-mode table."""
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        conn = sqlite3.connect(str(Path(tmp) / "floor.db"), isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, row BLOB NOT NULL)")
        for _ in range(20):
            conn.execute("INSERT INTO log (row) VALUES (randomblob(?))", (size,))
        before = write_bytes("self")
        for _ in range(rows):
            conn.execute("INSERT INTO log (row) VALUES (randomblob(?))", (size,))
        spent = write_bytes("self") - before
        conn.close()
    return spent / rows


async def _ask(target: Target, client: int, count: int) -> None:
    async with Client(f"ws://127.0.0.1:{target.port}", target.session_id) as c:
        for i in range(count):
            await c.request(
                "ask",
                client_id=f"w{client}-{i}",
                name="网友",
                text=f"第{client}-{i}个问题：小区门口的路什么时候修好？",
            )


async def writes(kind: str, lone: int, clients: int, each: int) -> dict[str, Any]:
    # Every asker also watches the session: a queue long enough that none is dropped as slow.
    async with running(kind, 0, raise_limits=True, env={"LIVE_SEND_QUEUE": "100000"}) as (target, _):
        db = str(target.tmp / "live.db")
        await _ask(target, 0, 20)  # warm: the pages every question touches exist
        emptied = restart_wal(db)
        sample = min(lone, SAMPLE)
        w0 = write_bytes(target.pid)
        await _ask(target, 1, sample)
        pages = wal_pages(db) if emptied else []
        await _ask(target, 2, lone - sample)
        w1 = write_bytes(target.pid)
        await asyncio.gather(*(_ask(target, c + 3, each) for c in range(clients)))
        w2 = write_bytes(target.pid)
        with sqlite3.connect(db) as conn:
            (row,) = conn.execute(ROW_BYTES).fetchone()
        by_table = tables(db, pages) if pages else {}
    concurrent = clients * each
    floor_bytes = await asyncio.to_thread(floor, lone, round(row))
    return {
        "lone_questions": lone,
        "lone_bytes_per_question": (w1 - w0) / lone,
        "lone_wal_pages_per_question": len(pages) / sample if pages else None,
        "concurrent_questions": concurrent,
        "concurrent_bytes_per_question": (w2 - w1) / concurrent,
        "row_bytes": row,
        "floor_bytes_per_row": floor_bytes,
        "lone_vs_floor": (w1 - w0) / lone / floor_bytes,
        "lone_vs_row": (w1 - w0) / lone / row,
        "concurrent_vs_row": (w2 - w1) / concurrent / row,
        "lone_wal_pages_by_table": {k: v / sample for k, v in by_table.items()},
    }
