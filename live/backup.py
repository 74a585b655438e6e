"""Copies of the data: the whole database, or one session moved to another installation.

``live backup PATH`` uses SQLite's online backup API in one step: it reads one
consistent snapshot (WAL lets the server keep committing meanwhile), so the
copy holds every session's log up to some commit and nothing half-written.
The copy gets **new epochs**: a backup is only ever used by restoring it, and
a restored log may reuse sequence numbers the live one already gave to other
events, so every client that saw the live log must be told to reset
(``welcome.reset``) rather than resume onto a different history.

``live export SESSION_ID FILE`` writes one session as JSON lines: a header
(format, programme, session info, the chain's head), its events in order, each
with its hash (:mod:`live.chain`), then the rows that belong to it outside the
log (votes, presence samples, the studio's photos as base64). ``live import FILE``
adds it to another database as a new session with a new id, a new epoch and
new staff links, keeping event timestamps so replay still works (and so its
hash chain and head: the chain does not cover the session's id), refusing a file
whose events do not match their hashes, and writes
its search rows as its appends would have (the index is the log's projection:
an import that skipped it left the session out of every search). The file
holds private contacts: treat it like the database. Backup and export read
SQLite (on PostgreSQL use ``pg_dump``); import writes either engine.

This module is the file format, its checks and the commands. It reaches a database
only through the store's narrow protocols: :class:`live.store.Copies` for backup and
export (SQLite), :class:`live.store.Imports` for import (either engine). Their SQL is in
:mod:`live.store.sqlite_copies` and :mod:`live.store.postgres_copies`, beside the
schemas it must match.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import chain
from .auth import hash_token, new_token
from .events import Event, dumps, now_ms
from .store import ROW_TABLES, SessionCopy, open_copies, open_imports
from .store.results import upgraded

FORMAT = "live-session"
VERSION = 1


def backup(db: str, dest: str) -> dict[str, int]:
    """Copy a live database to ``dest`` (atomically replaced); return what it holds."""
    return open_copies(db).backup(dest)


def export_session(db: str, session_id: int, file: str) -> int:
    """Write one session as JSON lines, from one read snapshot; return the number of events."""
    copy = open_copies(db).export_session(session_id)
    if copy is None:
        raise SystemExit(f"no session {session_id}")
    header = {
        "kind": FORMAT,
        "version": VERSION,
        "exported_at": now_ms(),
        "programme": copy.programme,
        "session": copy.session,
        "head": copy.hashes[-1] if copy.hashes else None,
    }
    with open(file, "w", encoding="utf-8") as out:
        out.write(dumps(header) + "\n")
        for e, hash_ in zip(copy.events, copy.hashes, strict=True):
            line = {
                "kind": "event",
                "seq": e.seq,
                "type": e.type,
                "at": e.at,
                "data": e.data,
                "public": e.public,
                "private": e.private,
                "hash": hash_,
            }
            out.write(dumps(line) + "\n")
        for table, rows in copy.rows.items():
            for row in rows:
                out.write(dumps({"kind": "row", "table": table, "row": _to_file(table, row)}) + "\n")
    return len(copy.events)


def _to_file(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row as an export line holds it: a ``bytes`` column (a photo) as base64 text."""
    kinds = ROW_TABLES[table]
    return {c: base64.b64encode(v).decode() if kinds[c] is bytes else v for c, v in row.items()}


def _from_file(table: str, row: dict[str, Any]) -> dict[str, Any] | None:
    """The row an export line holds, its ``bytes`` columns decoded; None if one is not base64."""
    kinds, out = ROW_TABLES[table], dict(row)
    for c, kind in kinds.items():
        if kind is bytes:
            if not isinstance(row.get(c), str):
                return None
            try:
                out[c] = base64.b64decode(row[c], validate=True)
            except binascii.Error:
                return None
    return out


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
    problem = check_chain(lines[1:], last_seq)
    if problem:
        raise SystemExit(f"{file}: {problem}")
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
        row = _from_file(r["table"], r["row"]) if isinstance(r.get("row"), dict) else None
        if not (
            isinstance(row, dict)
            and set(row) == set(columns)
            and all(type(row[c]) is kind for c, kind in columns.items())
        ):
            raise SystemExit(f"{file}: a {r['table']} row is not {', '.join(columns)}")
        r["row"] = row
    return header, events, rows


def check_chain(lines: list[dict[str, Any]], last_seq: int) -> str | None:
    """What is wrong with an export's hash chain (:mod:`live.chain`), if anything.

    An export written before the chain has no hashes and nothing to check; the session it
    becomes is chained when it is imported, from the text it then has.
    """
    events = [x for x in lines if x.get("kind") == "event"]
    if all(x.get("hash") is None for x in events):
        return None
    try:
        return chain.check((chain.entry(chain.parsed(x)) for x in events), last_seq).problem
    except (KeyError, TypeError, AttributeError) as exc:
        return f"an event line cannot be read: {exc!r}"


def import_session(db: str, file: str, migrate: Callable[[], None]) -> tuple[int, dict[str, str]]:
    """Add an exported session as a new one, on either engine; its id and new staff tokens.

    ``migrate`` creates or upgrades the schema, called only once the file has been read and
    checked, so a refused import creates nothing; the server may be running.
    """
    header, events, rows = _read(file)
    migrate()
    tokens = {"presenter": new_token(), "moderator": new_token(), "host": new_token()}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        grouped.setdefault(r["table"], []).append(r["row"])
    copy = SessionCopy(header["programme"], header["session"], events, grouped)
    sid = open_imports(db).import_session(
        copy, hash_token(tokens["presenter"]), hash_token(tokens["moderator"]), hash_token(tokens["host"])
    )
    return sid, tokens


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
        open_copies(db)  # refuses PostgreSQL before any work
        _writable(args.path)
        counts = backup(db, args.path)
        print(
            f"backup written: {args.path} ({counts['sessions']} sessions, "
            f"{counts['events']} events; epochs renewed, so clients reset after a restore)"
        )
    elif args.command == "export":
        open_copies(db)
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
            f"  主持 Host      : {base}/s/{sid}/host#key={tokens['host']}",
            sep="\n",
        )
