"""Copies into PostgreSQL: a whole SQLite installation (``live copy-to``), or one exported session.

``live copy-to URL [--db FILE]`` copies every table that holds data, row for row,
into an **empty** PostgreSQL database, in one transaction: the schema is made
and filled together, so a copy that fails half-way leaves the database as empty
as it found it. What is kept exactly: programme and session ids, epochs, each
log's sequence numbers, timestamps, stored text and hashes (events are copied as
the text SQLite holds, and PostgreSQL's ``json`` columns keep text as written, so
each hash chain holds as it was: :mod:`live.chain`), votes
per device, presence samples, the studio's photos, and ``meta`` (the cookie-signing secret, so device
cookies and receipt numbers stay valid; the admin token's hash; the blocked
words). Epochs are kept because the copy is the whole log, not an older one: a
viewer who reconnects after the move resumes where it was, with no reset.

Why the server must be stopped (the copy takes the file's lock exclusively, see
:func:`live.store.sqlite.hold`): a write made after the copy read its table
would exist only in SQLite.

**Derived data is rebuilt, not copied.** The search index (``search_items``)
is a projection of the log: PostgreSQL's is made from the copied log by the
code its own appends use (:func:`live.store.postgres_schema.index_log`), so it
can only agree with the log it was made from, whatever an older version left in
SQLite's. SQLite's full-text table (``search_fts``) has no counterpart (matching
is a substring scan there). The results each event carries (protocol 2) *are*
the log: they are copied as stored, never recomputed, so a transcript or a
replay reads byte for byte what it read before.

``live import FILE --db postgresql://...`` lands one exported session here as
:mod:`.sqlite_copies` lands it in SQLite: a new id, epoch and staff links, its log,
votes, presence samples and photos, and its search rows, in one transaction.

Why this lives in the store: it is SQL through and through, for both engines, and
must change with their schemas (:mod:`.postgres_schema`, :mod:`.sqlite`). The
commands reach it only through the store's public surface: :func:`live.store.copy_to`
for ``live copy-to`` (:mod:`live.pgcopy`), and :class:`~.base.Imports` from
:func:`live.store.open_imports` for ``live import`` (:mod:`live.backup`), as a
SQLite import reaches :mod:`.sqlite_copies`. Not through an open
:class:`~.postgres.PostgresStore`: a copy runs once from the command line on one
connection of its own, in one transaction, with no pool; and synchronously
(``asyncio.run``), as the commands are.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg

from .. import chain
from ..events import Event, dumps, now_ms
from . import sqlite_file, where
from .base import ROW_TABLES, SessionCopy
from .postgres_schema import MIGRATION_LOCK, index_log, migrate
from .sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from .sqlite import unheld

COPIED: dict[str, tuple[str, ...]] = {
    "meta": ("key", "value"),
    "programmes": ("id", "slug", "title", "description", "created_at"),
    "sessions": (
        "id",
        "programme_id",
        "epoch",
        "last_seq",
        "info",
        "presenter_hash",
        "moderator_hash",
        "host_hash",
    ),
    "events": ("session_id", "seq", "type", "data", "public", "private", "at", "hash"),
    "votes": ("session_id", "question_id", "device", "at"),
    "presence": ("session_id", "at", "viewers"),
    "photos": ("session_id", "id", "at", "image"),
    "notify_cursors": ("session_id", "seq"),
    "notifications": (
        "id",
        "session_id",
        "seq",
        "question_id",
        "channel",
        "status",
        "attempts",
        "due_at",
        "sent_at",
        "error",
        "created_at",
    ),
}
"""Every table that holds data, in an order that satisfies the foreign keys, with its columns."""
REBUILT = ("search_items", "commitments")
"""Tables derived from the log: made afresh from the copied log."""
SQLITE_ONLY = "search_fts"
"""SQLite's full-text index (and its shadow tables, ``search_fts_*``): nothing to copy to."""
IDENTITIES = ("programmes", "sessions")
"""Tables whose ids are copied: their identity sequences move past the largest."""
CONNECT_TIMEOUT = 10.0


def _flat(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@contextlib.asynccontextmanager
async def _target(url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to ``url``, or a one-line exit. A database error inside becomes one line
    too; the transaction it broke has rolled back by then, so nothing was written."""
    try:
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise SystemExit(f"PostgreSQL at {where(url)} is not reachable: {_flat(exc)}") from None
    try:
        yield conn
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise SystemExit(
            f"PostgreSQL at {where(url)} refused the data, so nothing was written: {_flat(exc)}"
        ) from None
    finally:
        await conn.close()


def _stored(session_id: int, events: list[Event]) -> list[tuple[Any, ...]]:
    """A log as the events table holds it (:data:`COPIED`'s columns), chained from seq 1."""
    rows = [(e.type, *chain.texts(e.data, e.public, e.private), e.at) for e in events]
    return [(session_id, e.seq, *row, h) for e, row, h in zip(events, rows, chain.chained(rows), strict=True)]


# One exported session (``live import``) ----------------------------------------------------------


class PostgresImports:
    """:class:`~.base.Imports` into the PostgreSQL database at ``url`` (a server may run on it)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def import_session(
        self, copy: SessionCopy, presenter_hash: str, moderator_hash: str, host_hash: str = ""
    ) -> int:
        """Add ``copy`` as a new session in one transaction; its id. The schema must exist."""
        return asyncio.run(self._import(copy, presenter_hash, moderator_hash, host_hash))

    async def _import(
        self, copy: SessionCopy, presenter_hash: str, moderator_hash: str, host_hash: str
    ) -> int:
        programme = copy.programme
        async with _target(self.url) as conn, conn.transaction():
            pid = await conn.fetchval("SELECT id FROM programmes WHERE slug=$1", programme["slug"])
            if pid is None:
                pid = await conn.fetchval(
                    "INSERT INTO programmes(slug, title, description, created_at) "
                    "VALUES ($1, $2, $3, $4) RETURNING id",
                    programme["slug"],
                    programme["title"],
                    programme["description"],
                    now_ms(),
                )
            sid: int = await conn.fetchval(
                "INSERT INTO sessions(programme_id, epoch, last_seq, info, presenter_hash, moderator_hash, "
                "host_hash) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                pid,
                secrets.token_hex(8),
                len(copy.events),
                dumps(copy.session["info"]),
                presenter_hash,
                moderator_hash,
                host_hash,
            )
            await conn.copy_records_to_table(
                "events",
                records=_stored(sid, copy.events),
                columns=COPIED["events"],
            )
            await index_log(conn, sid, copy.events)
            for table, rows in copy.rows.items():
                columns = tuple(ROW_TABLES[table])
                await conn.copy_records_to_table(
                    table,
                    records=[(sid, *(row[c] for c in columns)) for row in rows],
                    columns=("session_id", *columns),
                )
        return sid


# The whole installation (``live copy-to``) --------------------------------------------------------


@contextlib.contextmanager
def _source(db: str) -> Iterator[sqlite3.Connection]:
    """The SQLite installation ``db``, held exclusively (no server may have it open) and
    checked to be a live database at this code's schema version; or a one-line exit."""
    path = sqlite_file(db)
    if path is None or path == ":memory:":
        raise SystemExit(f"live copy-to: --db {db} is not a SQLite file; --db names the installation to copy")
    if not Path(path).is_file():
        raise SystemExit(f"live copy-to: no SQLite database at {path}")
    with unheld(path, "live copy-to", "so that the copy holds its every last write"):
        conn = sqlite3.connect(path, isolation_level=None)  # read-write, so WAL files are tidied
        try:
            _check(conn, path)
            yield conn
        finally:
            conn.close()  # before the descriptor: closing it drops this process's locks on the file


def _check(conn: sqlite3.Connection, path: str) -> None:
    try:
        conn.execute("PRAGMA query_only=ON")  # the copy only reads
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        why = "is not a SQLite database" if "not a database" in str(exc) else f"cannot be read ({exc})"
        raise SystemExit(f"live copy-to: {path} {why}") from None
    if not set(COPIED) <= tables:
        raise SystemExit(f"live copy-to: {path} is not a live database (it lacks live's tables)")
    expected = len(SQLITE_MIGRATIONS)
    if version < expected:
        raise SystemExit(
            f"live copy-to: {path} has schema version {version}, this live copies {expected}: "
            f"run `live migrate --db {path}` first"
        )
    if version > expected:
        raise SystemExit(f"live copy-to: {path} was written by a newer live (schema {version}): upgrade live")


async def _empty(conn: asyncpg.Connection, url: str) -> None:
    """Refuse a database that holds any table (run under the migrations' lock)."""
    found = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
    )
    if found:
        names = ", ".join(r[0] for r in found[:5]) + (", ..." if len(found) > 5 else "")
        raise SystemExit(
            f"live copy-to: PostgreSQL at {where(url)} already holds tables ({names}); "
            "the copy only fills an empty database: create one (createdb) and give its URL"
        )


async def _copy_events(conn: asyncpg.Connection, source: sqlite3.Connection) -> None:
    """Every log as stored, each session's search rows rebuilt from it."""
    cur = source.execute(f"SELECT {', '.join(COPIED['events'])} FROM events ORDER BY session_id, seq")
    for sid, rows in itertools.groupby(cur, lambda r: r[0]):
        log = list(rows)
        await conn.copy_records_to_table("events", records=log, columns=COPIED["events"])
        await index_log(conn, sid, [Event.from_row(sid, r[1:7]) for r in log])


def copy_to(db: str, url: str) -> dict[str, int]:
    """Copy the SQLite installation ``db`` into the empty database ``url``; the rows it holds
    (by table: :data:`COPIED` and :data:`REBUILT`)."""
    return asyncio.run(_copy_to(db, url))


async def _copy_to(db: str, url: str) -> dict[str, int]:
    if sqlite_file(url) is not None:
        raise SystemExit(f"live copy-to: {url} is not a postgresql:// URL")
    with _source(db) as source:
        async with _target(url) as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await _empty(conn, url)
            await migrate(conn)
            source.execute("BEGIN")  # one read snapshot
            try:
                for table, columns in COPIED.items():
                    if table == "events":
                        await _copy_events(conn, source)
                        continue
                    cur = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
                    await conn.copy_records_to_table(table, records=cur, columns=columns)
            except (sqlite3.Error, json.JSONDecodeError) as exc:  # rolls the target back on its way out
                raise SystemExit(
                    f"live copy-to: {db} could not be read whole ({_flat(exc)}); nothing was written"
                ) from None
            finally:
                source.execute("ROLLBACK")
            for table in IDENTITIES:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce(max(id), 0) + 1, false) FROM {table}"
                )
            return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in (*COPIED, *REBUILT)}
