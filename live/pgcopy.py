"""Moving to PostgreSQL: one exported session, with ``live import FILE --db postgresql://...``.

The session lands here as :mod:`live.backup` lands it in SQLite: a new id, epoch
and staff links, its log (each event's text and results as exported, so replay
and transcripts read what they read before), votes and presence samples, and
its search rows written from the log by the code PostgreSQL's own appends use
(:func:`live.store.postgres_schema.index_log`), in one transaction.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from .events import JSON, Event, dumps, now_ms
from .store.postgres import where
from .store.postgres_schema import index_log

EVENTS = ("session_id", "seq", "type", "data", "public", "private", "at")
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


def _stored(session_id: int, e: Event) -> tuple[Any, ...]:
    """An event as the events table holds it (:data:`EVENTS`)."""
    public = None if e.public is None else dumps(e.public)
    return (session_id, e.seq, e.type, dumps(e.data), public, dumps(e.private), e.at)


# One exported session (``live import``) ----------------------------------------------------------


async def import_session(
    url: str, header: JSON, events: list[Event], rows: list[JSON], hashes: tuple[str, str]
) -> int:
    """Add an export :mod:`live.backup` has read and checked as a new session; its id.

    ``hashes`` are the new presenter and moderator token hashes. The schema must exist.
    """
    programme = header["programme"]
    async with _target(url) as conn, conn.transaction():
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
            "INSERT INTO sessions(programme_id, epoch, last_seq, info, presenter_hash, moderator_hash) "
            "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            pid,
            secrets.token_hex(8),
            len(events),
            dumps(header["session"]["info"]),
            *hashes,
        )
        await conn.copy_records_to_table(
            "events",
            records=[_stored(sid, e) for e in events],
            columns=EVENTS,
        )
        await index_log(conn, sid, events)
        for (table, columns), group in itertools.groupby(rows, lambda r: (r["table"], tuple(r["row"]))):
            await conn.copy_records_to_table(
                table,
                records=[(sid, *r["row"].values()) for r in group],
                columns=("session_id", *columns),
            )
    return sid
