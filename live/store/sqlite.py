"""The embedded store: one SQLite file in WAL mode.

Two connections: one writer, one reader. WAL lets the reader see only
committed data while a write is in flight, which is what makes "published only
after commit" hold for catch-up reads too. ``synchronous=FULL`` makes each
commit durable against power loss, not just a crashed process. Every write is a
job for :class:`~live.store.sqlite_writer.GroupWriter`, which commits whatever
writes arrived together in one transaction with one fsync (group commit) and
answers each caller only after that commit.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from .. import chain
from ..events import JSON, Event, NewEvent, OnCommit, Tally, dumps, now_ms
from ..exceptions import Conflict
from . import index, sqlite_commitments
from .base import Moves, SeqConflict, SessionRow
from .results import upgraded
from .sqlite_commitments import COMMITMENTS_MIGRATION, SQLiteCommitments
from .sqlite_outbox import OUTBOX_MIGRATION, SQLiteOutbox
from .sqlite_search import INDEX_MIGRATION, INDEX_UPSERT, SEARCH_MIGRATION, Params, SQLiteArchive
from .sqlite_writer import GroupWriter

T = TypeVar("T")
PRAGMAS = ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=5000", "foreign_keys=ON")
EVENTS = "SELECT seq, type, data, public, private, at FROM events"
"""The columns :meth:`live.events.Event.from_row` reads, in its order."""
LINKS = "SELECT seq, type, data, public, private, at, hash FROM events"
"""The columns of a :class:`live.chain.Link`, in its order."""


def _logs(w: sqlite3.Connection) -> Iterator[tuple[int, list[Event]]]:
    """Each session's whole log, for the migrations that rewrite what derives from it."""
    for (session_id,) in w.execute("SELECT id FROM sessions").fetchall():
        rows = w.execute(f"{EVENTS} WHERE session_id=? ORDER BY seq", (session_id,)).fetchall()
        yield session_id, [Event.from_row(session_id, r) for r in rows]


def _with_results(w: sqlite3.Connection) -> None:
    """Give a log written before protocol 2 its results (:mod:`live.store.results`)."""
    for session_id, events in _logs(w):
        w.executemany(
            "UPDATE events SET data=?, public=? WHERE session_id=? AND seq=?",
            [
                (dumps(data), None if public is None else dumps(public), session_id, seq)
                for seq, data, public in upgraded(session_id, events)
            ],
        )


def _reindex(w: sqlite3.Connection) -> None:
    """Rebuild the search index from the log's results, as appends write it (:mod:`.index`)."""
    for session_id, events in _logs(w):
        index_log(w, session_id, events)


def index_log(w: sqlite3.Connection, session_id: int, events: Iterable[Event]) -> None:
    """The search rows of a log stored without appending it (a migration, ``live import``).

    One event at a time, so each row keeps its first answer's time, as appends leave it.
    """
    for event in events:
        _index(w, session_id, [event])


def _index(w: sqlite3.Connection, session_id: int, events: Sequence[Event | NewEvent]) -> None:
    """The search rows ``events`` change, in the transaction that stores them.

    One statement per chunk of rows, not one step per row: every step lets go of the GIL
    and must win it back from a busy event loop (see "batched" in ``sqlite_writer``);
    per-row steps cost a tenth of the ingest rate.
    """
    rows = [(session_id, *r) for r in index.rows(events)]
    for chunk in _chunks(rows, PARAMS // 10):
        w.execute(
            INDEX_UPSERT.format(rows=",".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))),
            [x for row in chunk for x in row],
        )
    sqlite_commitments.write(w, session_id, events)  # the commitment board's rows, likewise


def _chain(w: sqlite3.Connection) -> None:
    """Give every stored event its hash (:mod:`live.chain`), from the text stored now.

    Adds the column unless it is there (a schema taken back to an older version by hand
    keeps it), and hashes every log whole: one whose text an earlier migration just
    rewrote is chained as it now reads.
    """
    if "hash" not in {r[1] for r in w.execute("PRAGMA table_info(events)")}:
        w.execute("ALTER TABLE events ADD COLUMN hash TEXT")
    for (session_id,) in w.execute("SELECT id FROM sessions").fetchall():
        rows = w.execute(f"{LINKS} WHERE session_id=? ORDER BY seq", (session_id,)).fetchall()
        hashes = chain.chained((t, d, p, v, at) for _, t, d, p, v, at, _ in rows)
        w.executemany(
            "UPDATE events SET hash=? WHERE session_id=? AND seq=?",
            [(h, session_id, r[0]) for h, r in zip(hashes, rows, strict=True)],
        )


Migration = str | Callable[[sqlite3.Connection], None]


def _studio(w: sqlite3.Connection) -> None:
    """The studio (issue 21): the host's key beside the other staff keys, and the photos' bytes
    (:class:`live.store.base.Photos`; their events are in the log like any other). Each only
    unless it is there, like :func:`_chain`'s column (a schema taken back by hand keeps them)."""
    if "host_hash" not in {r[1] for r in w.execute("PRAGMA table_info(sessions)")}:
        w.execute("ALTER TABLE sessions ADD COLUMN host_hash TEXT NOT NULL DEFAULT ''")
    w.execute(
        "CREATE TABLE IF NOT EXISTS photos (session_id INTEGER NOT NULL REFERENCES sessions(id), "
        "id TEXT NOT NULL, at INTEGER NOT NULL, image BLOB NOT NULL, PRIMARY KEY (session_id, id)) "
        "WITHOUT ROWID"
    )


MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE programmes (
        id INTEGER PRIMARY KEY, slug TEXT NOT NULL UNIQUE, title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL);
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY, programme_id INTEGER NOT NULL REFERENCES programmes(id),
        epoch TEXT NOT NULL, last_seq INTEGER NOT NULL, info TEXT NOT NULL,
        presenter_hash TEXT NOT NULL, moderator_hash TEXT NOT NULL);
    CREATE TABLE events (
        session_id INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,
        data TEXT NOT NULL, public TEXT, private TEXT NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (session_id, seq)) WITHOUT ROWID;
    CREATE TABLE votes (
        session_id INTEGER NOT NULL, question_id INTEGER NOT NULL, device TEXT NOT NULL,
        at INTEGER NOT NULL, PRIMARY KEY (session_id, question_id, device)) WITHOUT ROWID;
    """,
    SEARCH_MIGRATION,
    _with_results,
    INDEX_MIGRATION,
    _reindex,
    OUTBOX_MIGRATION,
    COMMITMENTS_MIGRATION,
    _chain,
    _studio,
)
"""The schema's history, in order: SQL run as one script, or Python run in one transaction."""


VOTE_COUNTS = "SELECT question_id, COUNT(*) FROM votes WHERE session_id=? GROUP BY question_id"
Vote = tuple[int, int, str, bool, int]
"""(session_id, question_id, device, on, at)"""
PARAMS = 800
"""Parameters per multi-row statement at most: under SQLite's old limit of 999."""


def _set_votes(w: sqlite3.Connection, votes: list[Vote]) -> list[bool]:
    """A round's votes in a few statements; each answer says whether that vote changed anything.

    The round's stored votes are read in one statement per question, the votes
    are played in order against that set (a device may vote and withdraw within
    one round), and the difference is written back in one INSERT for all of them
    and one DELETE per question (:data:`PARAMS` a statement at most). The round
    holds the write lock from the read on, so nothing comes between. Why not a
    statement per vote: see "batched" in :mod:`live.store.sqlite_writer`.
    """
    asked: dict[tuple[int, int], set[str]] = {}
    for session_id, question_id, device, _, _ in votes:
        asked.setdefault((session_id, question_id), set()).add(device)
    stored: set[tuple[int, int, str]] = set()
    for (session_id, question_id), devices in asked.items():
        for chunk in _chunks(sorted(devices), PARAMS - 2):
            rows = w.execute(
                "SELECT device FROM votes WHERE session_id=? AND question_id=? AND device IN "
                f"({','.join('?' * len(chunk))})",
                (session_id, question_id, *chunk),
            ).fetchall()
            stored.update((session_id, question_id, device) for (device,) in rows)
    now = set(stored)
    added_at: dict[tuple[int, int, str], int] = {}
    answers = []
    for session_id, question_id, device, on, at in votes:
        key = (session_id, question_id, device)
        answers.append((key in now) != on)
        if on and key not in now:
            added_at[key] = at
        (now.add if on else now.discard)(key)
    added = [(*key, at) for key, at in added_at.items() if key in now and key not in stored]
    for batch in _chunks(added, PARAMS // 4):
        w.execute(
            f"INSERT INTO votes VALUES {','.join(['(?, ?, ?, ?)'] * len(batch))}",
            [x for row in batch for x in row],
        )
    removed: dict[tuple[int, int], list[str]] = {}
    for session_id, question_id, device in stored - now:
        removed.setdefault((session_id, question_id), []).append(device)
    for (session_id, question_id), gone in removed.items():
        for part in _chunks(gone, PARAMS - 2):
            w.execute(
                "DELETE FROM votes WHERE session_id=? AND question_id=? AND device IN "
                f"({','.join('?' * len(part))})",
                (session_id, question_id, *part),
            )
    return answers


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _session(row: sqlite3.Row | tuple[Any, ...]) -> SessionRow:
    id_, programme_id, epoch, last_seq, info, p_hash, m_hash, h_hash = row
    return SessionRow(id_, programme_id, epoch, last_seq, json.loads(info), p_hash, m_hash, h_hash)


_SESSION_COLS = "id, programme_id, epoch, last_seq, info, presenter_hash, moderator_hash, host_hash"


def hold(path: str) -> int:
    """Mark ``path`` as in use for as long as the returned descriptor stays open.

    A shared ``flock`` on the database file itself: every store that has the
    file open holds one (all workers of a server at once), and ``live demo``
    takes it exclusively before it resets a file (:func:`live.demo.reset`), so
    it can never delete a database a running server holds. ``flock`` locks are
    separate from the POSIX locks SQLite uses, so they never meet; the
    descriptor is closed only after SQLite's own connections (closing a
    descriptor drops the process's POSIX locks on that file).
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


@contextlib.contextmanager
def unheld(path: str, command: str, why: str) -> Iterator[int]:
    """Hold ``path`` exclusively while the block runs: no server has it open, nor can open it.

    The other side of :func:`hold`, for the operator commands that must have a file to
    themselves (``live demo`` deletes it, ``live copy-to`` reads its every last write).
    Refused in one line (``command``: ..., then ``why``) while any store holds it; raises
    :class:`FileNotFoundError` for a missing file, which each command reads its own way.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SystemExit(f"{command}: cannot open {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"{command}: {path} is open in a running server; stop it first, {why}") from None
        yield fd
    finally:
        os.close(fd)


class SQLiteStore(SQLiteArchive, SQLiteOutbox, SQLiteCommitments):
    def __init__(self, path: str) -> None:
        self.path = path
        self.writer = GroupWriter(path, PRAGMAS)
        self._r: aiosqlite.Connection | None = None
        self._held: int | None = None

    async def open(self) -> None:
        """Open (creating the file, never its folder) and migrate; or exit in one line."""
        if self.path != ":memory:":
            where = Path(self.path)
            if not where.parent.is_dir():
                raise SystemExit(
                    f"--db {self.path}: the folder {where.parent} does not exist (create it first)"
                )
            if where.exists() and not where.is_file():
                raise SystemExit(f"--db {self.path}: not a file")
        try:
            await self.writer.open()
            await self.writer.call(self._migrate)
            self._r = await aiosqlite.connect(self.path, isolation_level=None)
            await self._r.execute("PRAGMA busy_timeout=5000")
        except sqlite3.DatabaseError as exc:
            await self.close()
            why = (
                "not a SQLite database"
                if "not a database" in str(exc)
                else f"cannot be opened for writing ({exc})"
            )
            raise SystemExit(f"--db {self.path}: {why}") from None
        if self.path != ":memory:":
            self._held = hold(self.path)

    @staticmethod
    def _migrate(w: sqlite3.Connection) -> None:
        (version,) = w.execute("PRAGMA user_version").fetchone()
        for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
            if isinstance(script, str):
                w.executescript(f"BEGIN IMMEDIATE; {script}; PRAGMA user_version={i}; COMMIT;")
                continue
            w.execute("BEGIN IMMEDIATE")
            try:
                script(w)
                w.execute(f"PRAGMA user_version={i}")
                w.execute("COMMIT")
            except BaseException:
                w.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        await self.writer.close()
        if self._r is not None:
            await self._r.close()
        self._r = None
        if self._held is not None:
            os.close(self._held)
            self._held = None

    @property
    def r(self) -> aiosqlite.Connection:
        assert self._r is not None, "store is not open"
        return self._r

    async def _write(self, sql: str, params: Params) -> int:
        """One statement in the next group commit; its row count once committed."""
        return await self.writer.run(lambda w: w.execute(sql, params).rowcount, single=True)

    async def get_meta(self, key: str) -> str | None:
        row = next(iter(await self.r.execute_fetchall("SELECT value FROM meta WHERE key=?", (key,))), None)
        value: str | None = None if row is None else row[0]
        return value

    async def set_meta(self, key: str, value: str, replace: bool = True) -> None:
        action = "DO UPDATE SET value=excluded.value" if replace else "DO NOTHING"
        await self._write(
            f"INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) {action}", (key, value)
        )

    async def create_programme(self, slug: str, title: str, description: str) -> int:
        params = (slug, title, description, now_ms())
        try:
            return await self.writer.run(
                lambda w: int(
                    w.execute(
                        "INSERT INTO programmes(slug, title, description, created_at) VALUES (?, ?, ?, ?)",
                        params,
                    ).lastrowid
                    or 0
                )
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict("programme_exists", "栏目标识已存在", "Programme slug exists", slug=slug) from exc

    async def update_programme(self, programme_id: int, fields: JSON) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        await self._write(f"UPDATE programmes SET {sets} WHERE id=?", (*fields.values(), programme_id))

    async def list_programmes(self) -> list[JSON]:
        rows = await self.r.execute_fetchall(
            "SELECT id, slug, title, description, created_at FROM programmes ORDER BY id"
        )
        return [dict(zip(("id", "slug", "title", "description", "created_at"), r, strict=True)) for r in rows]

    async def create_session(
        self,
        programme_id: int,
        presenter_hash: str,
        moderator_hash: str,
        first: NewEvent,
        host_hash: str = "",
    ) -> Event:
        at = now_ms()
        info = dumps(first.data.get("session", {}))

        def job(w: sqlite3.Connection) -> int:
            cur = w.execute(
                "INSERT INTO sessions(programme_id, epoch, last_seq, info, presenter_hash, "
                "moderator_hash, host_hash) VALUES (?, ?, 1, ?, ?, ?, ?)",
                (programme_id, secrets.token_hex(8), info, presenter_hash, moderator_hash, host_hash),
            )
            sid = int(cur.lastrowid or 0)
            w.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                *chain.stored(sid, chain.GENESIS, 1, [first], at),
            )
            return sid

        sid = await self.writer.run(job)
        return Event(sid, 1, first.type, first.data, at, first.public, first.private)

    async def get_session(self, session_id: int) -> SessionRow | None:
        rows = await self.r.execute_fetchall(
            f"SELECT {_SESSION_COLS} FROM sessions WHERE id=?", (session_id,)
        )
        row = next(iter(rows), None)
        return None if row is None else _session(row)

    async def list_sessions(self, programme_id: int | None = None) -> list[SessionRow]:
        sql = f"SELECT {_SESSION_COLS} FROM sessions"
        params: Params = ()
        if programme_id is not None:
            sql, params = sql + " WHERE programme_id=?", (programme_id,)
        rows = await self.r.execute_fetchall(sql + " ORDER BY id", params)
        return [_session(r) for r in rows]

    async def set_secrets(
        self, session_id: int, presenter_hash: str, moderator_hash: str, host_hash: str = ""
    ) -> None:
        await self._write(
            "UPDATE sessions SET presenter_hash=?, moderator_hash=?, host_hash=? WHERE id=?",
            (presenter_hash, moderator_hash, host_hash, session_id),
        )

    async def put_photo(self, session_id: int, photo_id: str, at: int, image: bytes) -> None:
        await self._write("INSERT INTO photos VALUES (?, ?, ?, ?)", (session_id, photo_id, at, image))

    async def get_photo(self, session_id: int, photo_id: str) -> bytes | None:
        rows = await self.r.execute_fetchall(
            "SELECT image FROM photos WHERE session_id=? AND id=?", (session_id, photo_id)
        )
        row = next(iter(rows), None)
        return None if row is None else bytes(row[0])

    async def drop_photo(self, session_id: int, photo_id: str) -> None:
        await self._write("DELETE FROM photos WHERE session_id=? AND id=?", (session_id, photo_id))

    async def append(
        self,
        session_id: int,
        expected_seq: int,
        events: list[NewEvent],
        info: JSON | None = None,
        tally: Tally | None = None,
        on_commit: OnCommit | None = None,
        moves: Moves = (),
    ) -> list[Event]:
        at = now_ms()
        listing = None if info is None else dumps(info)

        def job(w: sqlite3.Connection) -> list[Event]:
            stored = list(events)
            for from_question, into_question in moves:  # undone with the job on a SeqConflict
                w.execute(
                    "INSERT OR IGNORE INTO votes SELECT session_id, ?, device, at FROM votes "
                    "WHERE session_id=? AND question_id=?",
                    (into_question, session_id, from_question),
                )
                w.execute(
                    "DELETE FROM votes WHERE session_id=? AND question_id=?", (session_id, from_question)
                )
            if tally is not None:
                extra = tally(dict(w.execute(VOTE_COUNTS, (session_id,)).fetchall()))
                if extra is not None:
                    stored.append(extra)
            if not stored:
                return []
            claimed = w.execute(  # and the hash the new events chain from, in the same statement
                "UPDATE sessions SET last_seq=? WHERE id=? AND last_seq=? "
                "RETURNING (SELECT hash FROM events WHERE session_id=? AND seq=?)",
                (expected_seq + len(stored), session_id, expected_seq, session_id, expected_seq),
            ).fetchall()  # all: a statement left half-stepped would hold the COMMIT up
            if not claimed:
                raise SeqConflict(session_id, expected_seq)
            head = claimed[0]
            if listing is not None:
                w.execute("UPDATE sessions SET info=? WHERE id=?", (listing, session_id))
            # None before seq 1, or where a stored hash was removed: the chain restarts there,
            # and ``live verify`` names that event.
            rows = chain.stored(session_id, head[0] or chain.GENESIS, expected_seq + 1, stored, at)
            for chunk in _chunks(rows, PARAMS // 8):  # a statement per chunk, not a step per row
                w.execute(
                    "INSERT INTO events VALUES " + ",".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)),
                    [x for row in chunk for x in row],
                )
            _index(w, session_id, stored)
            return [
                Event(session_id, seq, e.type, e.data, at, e.public, e.private)
                for seq, e in enumerate(stored, start=expected_seq + 1)
            ]

        def told(stored: list[Event]) -> None:
            if stored and on_commit is not None:
                on_commit(stored)

        return await self.writer.run(job, urgent=True, then=told)

    async def read(self, session_id: int, after: int = 0, limit: int | None = None) -> list[Event]:
        rows = await self.r.execute_fetchall(
            f"{EVENTS} WHERE session_id=? AND seq>? ORDER BY seq LIMIT ?",
            (session_id, after, -1 if limit is None else limit),
        )
        return [Event.from_row(session_id, r) for r in rows]

    async def read_links(self, session_id: int, after: int = 0, limit: int | None = None) -> list[chain.Link]:
        rows = await self.r.execute_fetchall(
            f"{LINKS} WHERE session_id=? AND seq>? ORDER BY seq LIMIT ?",
            (session_id, after, -1 if limit is None else limit),
        )
        return [chain.Link(*r) for r in rows]

    async def set_vote(self, session_id: int, question_id: int, device: str, on: bool) -> bool:
        """One device's vote; a storm of them shares one call of :func:`_set_votes` per round."""
        changed: bool = await self.writer.run_batched(
            _set_votes, (session_id, question_id, device, on, now_ms())
        )
        return changed

    async def vote_counts(self, session_id: int) -> dict[int, int]:
        return {qid: n for qid, n in await self.r.execute_fetchall(VOTE_COUNTS, (session_id,))}

    async def device_votes(self, session_id: int, device: str) -> list[int]:
        rows = await self.r.execute_fetchall(
            "SELECT question_id FROM votes WHERE session_id=? AND device=? ORDER BY question_id",
            (session_id, device),
        )
        return [r[0] for r in rows]
