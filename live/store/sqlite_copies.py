"""Copies of a SQLite database, for ``live backup``, ``live export`` and ``live import``.

The SQL of the CLI's copies, kept with the schema it must match (see
:mod:`.sqlite`); :mod:`live.backup` owns the file format and the commands and
reaches this only through :class:`~live.store.base.Copies` (:class:`~live.store.base.Imports`
for an import, which :mod:`.postgres_copies` also implements). Why not through
an open :class:`~live.store.sqlite.SQLiteStore`: a copy must not migrate the
database it copies, start writer threads, or hold the file's lock, and
SQLite's online backup API works on plain connections. Synchronous, because
the CLI runs one copy and exits.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import chain
from ..events import JSON, Event, dumps, now_ms
from .base import ROW_TABLES, SessionCopy
from .sqlite import index_log


def _connect(path: str) -> sqlite3.Connection:
    if not Path(path).exists():
        raise SystemExit(f"no database at {path}")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _rows(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> Iterator[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [c[0] for c in cur.description]
    for row in cur:
        yield dict(zip(names, row, strict=True))


class SQLiteCopies:
    """:class:`~live.store.base.Copies` of the SQLite file at ``path`` (a server may run on it)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def backup(self, dest: str) -> dict[str, int]:
        """Copy the database to ``dest`` (atomically replaced) with new epochs; count what it holds."""
        tmp = f"{dest}.tmp"
        Path(tmp).unlink(missing_ok=True)
        src = _connect(self.path)
        dst = sqlite3.connect(tmp, isolation_level=None)
        try:
            src.backup(dst)
            dst.execute("UPDATE sessions SET epoch = lower(hex(randomblob(8)))")
            dst.execute("PRAGMA journal_mode=DELETE")
            (check,) = dst.execute("PRAGMA integrity_check").fetchone()
            if check != "ok":
                raise SystemExit(f"the copy failed its integrity check: {check}")
            counts = {
                table: int(dst.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in ("sessions", "events")
            }
        finally:
            dst.close()
            src.close()
        os.replace(tmp, dest)
        return counts

    def export_session(self, session_id: int) -> SessionCopy | None:
        """One session from one read snapshot, or None if there is no such session."""
        conn = _connect(self.path)
        try:
            conn.execute("BEGIN")
            session = next(_rows(conn, "SELECT * FROM sessions WHERE id=?", (session_id,)), None)
            if session is None:
                return None
            programme = next(
                _rows(
                    conn,
                    "SELECT slug, title, description FROM programmes WHERE id=?",
                    (session["programme_id"],),
                )
            )
            stored = list(
                _rows(
                    conn,
                    "SELECT seq, type, data, public, private, at, hash FROM events "
                    "WHERE session_id=? ORDER BY seq",
                    (session_id,),
                )
            )
            events = [
                Event(
                    session_id,
                    e["seq"],
                    e["type"],
                    json.loads(e["data"]),
                    e["at"],
                    None if e["public"] is None else json.loads(e["public"]),
                    json.loads(e["private"]),
                )
                for e in stored
            ]
            rows: dict[str, list[JSON]] = {}
            for table in (t for t in ROW_TABLES if t in _tables(conn)):
                columns = ", ".join(ROW_TABLES[table])
                rows[table] = list(
                    _rows(conn, f"SELECT {columns} FROM {table} WHERE session_id=?", (session_id,))
                )
            conn.execute("COMMIT")
        finally:
            conn.close()
        return SessionCopy(
            programme,
            {
                "id": session_id,
                "epoch": session["epoch"],
                "last_seq": session["last_seq"],
                "info": json.loads(session["info"]),
            },
            events,
            rows,
            [e["hash"] for e in stored],
        )

    def import_session(
        self, copy: SessionCopy, presenter_hash: str, moderator_hash: str, host_hash: str = ""
    ) -> int:
        """Add ``copy`` as a new session (new id and epoch) in one transaction; return its id.

        Its programme is found by slug, or created; its search rows are written as its
        appends would have written them (:func:`.sqlite.index_log`).
        """
        conn = _connect(self.path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                sid = self._insert(conn, copy, presenter_hash, moderator_hash, host_hash)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
        return sid

    @staticmethod
    def _insert(
        conn: sqlite3.Connection, copy: SessionCopy, presenter_hash: str, moderator_hash: str, host_hash: str
    ) -> int:
        programme = copy.programme
        found = conn.execute("SELECT id FROM programmes WHERE slug=?", (programme["slug"],)).fetchone()
        pid = (
            found[0]
            if found
            else conn.execute(
                "INSERT INTO programmes(slug, title, description, created_at) VALUES (?, ?, ?, ?)",
                (programme["slug"], programme["title"], programme["description"], now_ms()),
            ).lastrowid
        )
        sid = conn.execute(
            "INSERT INTO sessions(programme_id, epoch, last_seq, info, presenter_hash, "
            "moderator_hash, host_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                pid,
                secrets.token_hex(8),
                len(copy.events),
                dumps(copy.session["info"]),
                presenter_hash,
                moderator_hash,
                host_hash,
            ),
        ).lastrowid
        assert sid is not None
        log = [(e.type, *chain.texts(e.data, e.public, e.private), e.at) for e in copy.events]
        conn.executemany(
            "INSERT INTO events(session_id, seq, type, data, public, private, at, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(sid, e.seq, *row, h) for e, row, h in zip(copy.events, log, chain.chained(log), strict=True)],
        )
        index_log(conn, sid, copy.events)
        for table, rows in copy.rows.items():
            columns = ["session_id", *ROW_TABLES[table]]
            conn.executemany(
                f"INSERT INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [(sid, *(row[c] for c in ROW_TABLES[table])) for row in rows],
            )
        return sid
