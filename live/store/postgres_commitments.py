"""The commitment board's table in PostgreSQL: the same projection as
:mod:`.sqlite_commitments`, written in the append's transaction (through
``postgres_schema.write_index``) and read by programme."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from asyncpg.pool import PoolConnectionProxy

from ..events import JSON, Event, NewEvent
from . import commitments

if TYPE_CHECKING:
    from .postgres_schema import Connection

COMMITMENTS_MIGRATION = """
    CREATE TABLE IF NOT EXISTS commitments (
        session_id bigint NOT NULL REFERENCES sessions(id), question_id bigint NOT NULL,
        due text NOT NULL, updated_at bigint NOT NULL, question json NOT NULL,
        PRIMARY KEY (session_id, question_id))
"""
"""Appended to the store's MIGRATIONS. No log before it holds a commitment: nothing to rebuild.
(``IF NOT EXISTS``: a test rewinds the schema's version and migrates again.)"""

UPSERT = (
    "INSERT INTO commitments (session_id, question_id, due, updated_at, question) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id, question_id) DO UPDATE SET "
    "due = excluded.due, updated_at = excluded.updated_at, question = excluded.question"
)


async def write(conn: Connection, session_id: int, events: Sequence[Event | NewEvent]) -> None:
    """The board rows ``events`` change, in the transaction that stores them."""
    changed = commitments.rows(events)
    if changed:
        await conn.executemany(UPSERT, [(session_id, *r) for r in changed])


class PostgresCommitments:
    """The board's read for :class:`live.store.postgres.PostgresStore` (mixed in)."""

    _conn: Callable[[], AbstractAsyncContextManager[PoolConnectionProxy]]

    async def programme_commitments(self, programme_id: int) -> list[JSON]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT c.session_id, c.question, s.info FROM commitments c "
                "JOIN sessions s ON s.id = c.session_id WHERE s.programme_id = $1 "
                "ORDER BY c.due, c.session_id, c.question_id",
                programme_id,
            )
        return [{"session_id": r[0], "question": json.loads(r[1]), "info": json.loads(r[2])} for r in rows]
