"""The commitment board's table in SQLite: a projection of the logs (:mod:`.commitments`).

Written by ``Store.append`` in the transaction that stores the events (through
``sqlite._index``, so ``live import`` and the migrations that rebuild derived rows write it
too); read by programme, one indexed join with the sessions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

import aiosqlite

from ..events import JSON, Event, NewEvent
from . import commitments

COMMITMENTS_MIGRATION = """
    CREATE TABLE IF NOT EXISTS commitments (
        session_id INTEGER NOT NULL, question_id INTEGER NOT NULL, due TEXT NOT NULL,
        updated_at INTEGER NOT NULL, question TEXT NOT NULL,
        PRIMARY KEY (session_id, question_id)) WITHOUT ROWID
"""
"""Appended to the store's MIGRATIONS. No log before it holds a commitment: nothing to rebuild.
(``IF NOT EXISTS``: a test rewinds the schema's version and migrates again.)"""

UPSERT = (
    "INSERT INTO commitments (session_id, question_id, due, updated_at, question) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (session_id, question_id) DO UPDATE SET due = excluded.due, "
    "updated_at = excluded.updated_at, question = excluded.question"
)


def write(w: sqlite3.Connection, session_id: int, events: Sequence[Event | NewEvent]) -> None:
    """The board rows ``events`` change, in the transaction that stores them."""
    changed = commitments.rows(events)
    if changed:
        w.executemany(UPSERT, [(session_id, *r) for r in changed])


class SQLiteCommitments:
    """The board's read for :class:`live.store.sqlite.SQLiteStore` (mixed in; reads use ``r``)."""

    if TYPE_CHECKING:

        @property
        def r(self) -> aiosqlite.Connection: ...

    async def programme_commitments(self, programme_id: int) -> list[JSON]:
        rows = await self.r.execute_fetchall(
            "SELECT c.session_id, c.question, s.info FROM commitments c "
            "JOIN sessions s ON s.id = c.session_id WHERE s.programme_id = ? "
            "ORDER BY c.due, c.session_id, c.question_id",
            (programme_id,),
        )
        return [
            {"session_id": sid, "question": json.loads(q), "info": json.loads(info)} for sid, q, info in rows
        ]
