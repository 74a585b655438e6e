"""Copies of the data: the whole database, or one session moved to another installation.

``live backup PATH`` uses SQLite's online backup API in one step: it reads one
consistent snapshot (WAL lets the server keep committing meanwhile), so the
copy holds every session's log up to some commit and nothing half-written.
The copy gets **new epochs**: a backup is only ever used by restoring it, and
a restored log may reuse sequence numbers the live one already gave to other
events, so every client that saw the live log must be told to reset
(``welcome.reset``) rather than resume onto a different history.

``live export SESSION_ID FILE`` writes one session as JSON lines: a header
(format, programme, session info), its events in order, then the rows that
belong to it outside the log (votes, presence samples). ``live import FILE``
adds it to another database as a new session with a new id, a new epoch and
new staff links, keeping event timestamps so replay still works, and writes
its search rows as its appends would have (the index is the log's projection:
an import that skipped it left the session out of every search). The file
holds private contacts: treat it like the database. Backup and export read
SQLite (on PostgreSQL use ``pg_dump``); import writes either engine, PostgreSQL
through :mod:`live.pgcopy`.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import pgcopy
from .auth import hash_token, new_token
from .events import Event, dumps, now_ms
from .store import sqlite_file
from .store.results import upgraded
from .store.sqlite import index_log

FORMAT = "live-session"
VERSION = 1
ROW_TABLES: dict[str, dict[str, type]] = {
    "votes": {"question_id": int, "device": str, "at": int},
    "presence": {"at": int, "viewers": int},
}
"""Tables keyed by ``session_id`` whose rows are data, not derived from the log; their other
columns, as both engines have them."""


def sqlite_path(db: str) -> str:
    path = sqlite_file(db)
    if path is None:
        raise SystemExit("backup and export read SQLite; use pg_dump for PostgreSQL")
    return path


def _connect(path: str) -> sqlite3.Connection:
    if not Path(path).exists():
        raise SystemExit(f"no database at {path}")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def backup(db: str, dest: str) -> dict[str, int]:
    """Copy a live database to ``dest`` (atomically replaced); return what it holds."""
    tmp = f"{dest}.tmp"
    Path(tmp).unlink(missing_ok=True)
    src = _connect(sqlite_path(db))
    dst = sqlite3.connect(tmp, isolation_level=None)
    try:
        src.backup(dst)
        dst.execute("UPDATE sessions SET epoch = lower(hex(randomblob(8)))")
        dst.execute("PRAGMA journal_mode=DELETE")
        (check,) = dst.execute("PRAGMA integrity_check").fetchone()
        if check != "ok":
            raise SystemExit(f"the copy failed its integrity check: {check}")
        counts = {
            table: dst.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("sessions", "events")
        }
    finally:
        dst.close()
        src.close()
    os.replace(tmp, dest)
    return counts


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _rows(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> Iterator[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [c[0] for c in cur.description]
    for row in cur:
        yield dict(zip(names, row, strict=True))


def export_session(db: str, session_id: int, file: str) -> int:
    """Write one session as JSON lines, from one read snapshot; return the number of events."""
    conn = _connect(sqlite_path(db))
    try:
        conn.execute("BEGIN")
        session = next(_rows(conn, "SELECT * FROM sessions WHERE id=?", (session_id,)), None)
        if session is None:
            raise SystemExit(f"no session {session_id}")
        programme = next(
            _rows(
                conn, "SELECT slug, title, description FROM programmes WHERE id=?", (session["programme_id"],)
            )
        )
        with open(file, "w", encoding="utf-8") as out:
            out.write(
                dumps(
                    {
                        "kind": FORMAT,
                        "version": VERSION,
                        "exported_at": now_ms(),
                        "programme": programme,
                        "session": {
                            "id": session_id,
                            "epoch": session["epoch"],
                            "last_seq": session["last_seq"],
                            "info": json.loads(session["info"]),
                        },
                    }
                )
                + "\n"
            )
            count = 0
            for e in _rows(
                conn,
                "SELECT seq, type, data, public, private, at FROM events WHERE session_id=? ORDER BY seq",
                (session_id,),
            ):
                out.write(
                    dumps(
                        {
                            "kind": "event",
                            "seq": e["seq"],
                            "type": e["type"],
                            "at": e["at"],
                            "data": json.loads(e["data"]),
                            "public": None if e["public"] is None else json.loads(e["public"]),
                            "private": json.loads(e["private"]),
                        }
                    )
                    + "\n"
                )
                count += 1
            for table in (t for t in ROW_TABLES if t in _tables(conn)):
                for row in _rows(conn, f"SELECT * FROM {table} WHERE session_id=?", (session_id,)):
                    row.pop("session_id")
                    out.write(dumps({"kind": "row", "table": table, "row": row}) + "\n")
        conn.execute("COMMIT")
    finally:
        conn.close()
    return count


def _read(file: str) -> tuple[dict[str, Any], list[Event], list[dict[str, Any]]]:
    """Parse and check an export: a known header, a log that folds from seq 1 without a gap."""
    try:
        with open(file, encoding="utf-8") as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except OSError as exc:
        raise SystemExit(f"{file}: {exc.strerror}") from None
    except (UnicodeDecodeError, ValueError):
        raise SystemExit(f"{file} is not a {FORMAT} export (not JSON lines)") from None
    if (
        not lines
        or not all(isinstance(x, dict) for x in lines)
        or lines[0].get("kind") != FORMAT
        or lines[0].get("version") != VERSION
    ):
        raise SystemExit(f"{file} is not a {FORMAT} v{VERSION} export")
    header = lines[0]
    if not all(isinstance(header.get(k), dict) for k in ("session", "programme")):
        raise SystemExit(f"{file}: the header lacks its session or programme")
    try:
        events = [
            Event(0, x["seq"], x["type"], x["data"], x["at"], x["public"], x["private"])
            for x in lines[1:]
            if x["kind"] == "event"
        ]
        rows = [x for x in lines[1:] if x["kind"] == "row"]
        last_seq = header["session"]["last_seq"]
    except KeyError as exc:
        raise SystemExit(f"{file}: a line lacks {exc}") from None
    if [e.seq for e in events] != list(range(1, len(events) + 1)):
        raise SystemExit(f"{file}: the event log has a gap or is out of order")
    if len(events) != last_seq:
        raise SystemExit(f"{file}: expected {last_seq} events")
    try:
        fixed = {seq: (data, public) for seq, data, public in upgraded(0, events)}
    except (KeyError, TypeError, ValueError) as exc:
        raise SystemExit(f"{file}: the event log does not replay: {exc!r}") from None
    for e in events:  # an export made before protocol 2: its events get their results
        if e.seq in fixed:
            e.data, e.public = fixed[e.seq]
    if not all(isinstance(header["programme"].get(k), str) for k in ("slug", "title", "description")) or (
        not isinstance(header["session"].get("info"), dict)
    ):
        raise SystemExit(f"{file}: the header's programme or session is incomplete")
    for r in rows:
        columns = ROW_TABLES.get(r.get("table"))
        if columns is None:
            raise SystemExit(f"{file}: rows for an unknown table")
        row = r.get("row")
        if not (
            isinstance(row, dict)
            and set(row) == set(columns)
            and all(type(row[c]) is kind for c, kind in columns.items())
        ):
            raise SystemExit(f"{file}: a {r['table']} row is not {', '.join(columns)}")
    return header, events, rows


def import_session(db: str, file: str, migrate: Callable[[], None]) -> tuple[int, dict[str, str]]:
    """Add an exported session as a new one, on either engine; its id and new staff tokens.

    ``migrate`` creates or upgrades the schema, called only once the file has been read and
    checked, so a refused import creates nothing; the server may be running.
    """
    header, events, rows = _read(file)
    migrate()
    tokens = {"presenter": new_token(), "moderator": new_token()}
    hashes = (hash_token(tokens["presenter"]), hash_token(tokens["moderator"]))
    path = sqlite_file(db)
    if path is None:
        return asyncio.run(pgcopy.import_session(db, header, events, rows, hashes)), tokens
    return _import_sqlite(path, header, events, rows, hashes), tokens


def _import_sqlite(
    path: str,
    header: dict[str, Any],
    events: list[Event],
    rows: list[dict[str, Any]],
    hashes: tuple[str, str],
) -> int:
    conn = _connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            programme = header["programme"]
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
                "moderator_hash) VALUES (?, ?, ?, ?, ?, ?)",
                (pid, secrets.token_hex(8), len(events), dumps(header["session"]["info"]), *hashes),
            ).lastrowid
            conn.executemany(
                "INSERT INTO events(session_id, seq, type, data, public, private, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        sid,
                        e.seq,
                        e.type,
                        dumps(e.data),
                        None if e.public is None else dumps(e.public),
                        dumps(e.private),
                        e.at,
                    )
                    for e in events
                ],
            )
            assert sid is not None
            index_log(conn, sid, events)
            for r in rows:
                cols = ["session_id", *r["row"]]
                conn.execute(
                    f"INSERT INTO {r['table']}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    (sid, *r["row"].values()),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return sid


def add_commands(sub: Any) -> None:
    """The ``backup``, ``export`` and ``import`` sub-commands of ``live``."""
    p = sub.add_parser("backup", help="copy the live SQLite database consistently (server may run)")
    p.add_argument("path", help="where to write the copy (replaced atomically)")
    p = sub.add_parser("export", help="write one session as JSON lines, to move it elsewhere")
    p.add_argument("session_id", type=int)
    p.add_argument("file")
    p = sub.add_parser("import", help="add an exported session (new id, epoch and staff links)")
    p.add_argument("file")
    for name in ("backup", "export"):
        sub.choices[name].add_argument("--db", help="SQLite database (default: LIVE_DB, else live.db)")
    p.add_argument("--db", help="SQLite file or postgresql:// URL (default: LIVE_DB, else live.db)")


def _writable(file: str) -> None:
    """Refuse, before any work, a destination whose folder does not exist."""
    folder = Path(file).parent
    if not folder.is_dir():
        raise SystemExit(f"{file}: the folder {folder} does not exist")


def run(args: Any, db: str, base: str, migrate: Callable[[], None]) -> None:
    """One of the commands; ``migrate`` creates or upgrades the schema (import only, and only
    once the file has been read and checked, so a refused import creates nothing)."""
    if args.command == "backup":
        sqlite_path(db)
        _writable(args.path)
        counts = backup(db, args.path)
        print(
            f"backup written: {args.path} ({counts['sessions']} sessions, "
            f"{counts['events']} events; epochs renewed, so clients reset after a restore)"
        )
    elif args.command == "export":
        sqlite_path(db)
        _writable(args.file)
        count = export_session(db, args.session_id, args.file)
        print(f"exported session {args.session_id}: {count} events to {args.file}")
    else:
        sid, tokens = import_session(db, args.file, migrate)
        print(
            f"imported as session {sid}. New staff links (shown once):",
            f"  观众 Viewer    : {base}/s/{sid}",
            f"  嘉宾 Presenter : {base}/s/{sid}/presenter#key={tokens['presenter']}",
            f"  审核 Moderator : {base}/s/{sid}/moderator#key={tokens['moderator']}",
            sep="\n",
        )
