"""The notification outbox in SQLite (:mod:`live.store.outbox` says what it is for).

Every write is a job of the group writer, never urgent: a notifier's claim or cursor
waits behind the evening's questions and answers, never the other way round. The one
writer also makes a claim atomic: the select and the update of ``claim`` run in one
statement inside its transaction, where no other worker can come between.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import aiosqlite

from .outbox import COLUMNS, Delivery, NewDelivery

if TYPE_CHECKING:
    from .sqlite_writer import GroupWriter

OUTBOX_MIGRATION = """
    CREATE TABLE IF NOT EXISTS notify_cursors (session_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL);
    INSERT OR IGNORE INTO notify_cursors SELECT id, last_seq FROM sessions;
    CREATE TABLE IF NOT EXISTS notifications (
        id TEXT PRIMARY KEY, session_id INTEGER NOT NULL, seq INTEGER NOT NULL,
        question_id INTEGER NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL, sent_at INTEGER,
        error TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS notifications_due ON notifications (status, due_at);
    CREATE INDEX IF NOT EXISTS notifications_question ON notifications (session_id, question_id, seq);
"""
"""The outbox's tables. Sessions that exist when it is made start their cursor at their end:
outcomes given before this version never become messages. Safe to run twice (a schema version
set back by hand, as ``tests/test_views.py`` does to replay an upgrade)."""


def _delivery(row: Any) -> Delivery:
    return Delivery(*row)


class SQLiteOutbox:
    """:class:`~live.store.outbox.Outbox` for :class:`live.store.sqlite.SQLiteStore` (mixed in)."""

    writer: GroupWriter

    if TYPE_CHECKING:  # SQLiteStore.r: the reading connection

        @property
        def r(self) -> aiosqlite.Connection: ...

    async def notify_backlog(self) -> list[tuple[int, int]]:
        rows = await self.r.execute_fetchall(
            "SELECT s.id, coalesce(c.seq, 0) FROM sessions s "
            "LEFT JOIN notify_cursors c ON c.session_id = s.id WHERE s.last_seq > coalesce(c.seq, 0)"
        )
        return [(sid, seq) for sid, seq in rows]

    async def contacts(self, session_id: int, question_ids: list[int]) -> dict[int, str]:
        if not question_ids:
            return {}
        marks = ",".join("?" * len(question_ids))
        rows = await self.r.execute_fetchall(
            "SELECT json_extract(data, '$.question.id'), json_extract(private, '$.contact') FROM events "
            "WHERE session_id = ? AND instr(private, '\"contact\"') > 0 "
            f"AND json_extract(data, '$.question.id') IN ({marks}) ORDER BY seq",
            (session_id, *question_ids),
        )
        return {qid: contact for qid, contact in rows if isinstance(contact, str) and contact}

    async def receipts(self, session_id: int, question_ids: list[int]) -> dict[int, str]:
        if not question_ids:
            return {}
        marks = ",".join("?" * len(question_ids))
        rows = await self.r.execute_fetchall(
            "SELECT json_extract(data, '$.question.id'), json_extract(private, '$.receipt') FROM events "
            "WHERE session_id = ? AND type = 'question.carried_in' "
            f"AND json_extract(data, '$.question.id') IN ({marks})",
            (session_id, *question_ids),
        )
        return {qid: receipt for qid, receipt in rows if isinstance(receipt, str) and receipt}

    async def merged_into(self, session_id: int, question_ids: list[int]) -> dict[int, list[int]]:
        if not question_ids:
            return {}
        marks = ",".join("?" * len(question_ids))
        rows = await self.r.execute_fetchall(
            "SELECT json_extract(data, '$.into'), json_extract(data, '$.id') FROM events "
            "WHERE session_id = ? AND type = 'question.merged' "
            f"AND json_extract(data, '$.into') IN ({marks}) ORDER BY seq",
            (session_id, *question_ids),
        )
        found: dict[int, list[int]] = {}
        for into, qid in rows:
            found.setdefault(into, []).append(qid)
        return found

    async def enqueue(self, session_id: int, upto: int, deliveries: list[NewDelivery], now: int) -> int:
        def job(w: sqlite3.Connection) -> int:
            added = 0
            for d in deliveries:
                cur = w.execute(
                    "INSERT INTO notifications (id, session_id, seq, question_id, channel, due_at, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    (d.id, d.session_id, d.seq, d.question_id, d.channel, d.due_at, now),
                )
                if cur.rowcount:
                    added += 1
                    w.execute(
                        "UPDATE notifications SET status = 'superseded' WHERE session_id = ? "
                        "AND question_id = ? AND seq < ? AND status = 'pending' AND attempts = 0",
                        (d.session_id, d.question_id, d.seq),
                    )
            w.execute(
                "INSERT INTO notify_cursors VALUES (?, ?) "
                "ON CONFLICT (session_id) DO UPDATE SET seq = max(seq, excluded.seq)",
                (session_id, upto),
            )
            return added

        return await self.writer.run(job)

    async def claim(self, now: int, lease_ms: int, limit: int) -> list[Delivery]:
        due = await self.r.execute_fetchall(
            "SELECT 1 FROM notifications WHERE status = 'pending' AND due_at <= ? LIMIT 1", (now,)
        )
        if not due:  # the usual answer, read without taking the write lock every second
            return []

        def job(w: sqlite3.Connection) -> list[Delivery]:
            rows = w.execute(
                "UPDATE notifications SET due_at = ?, attempts = attempts + 1 WHERE id IN ("
                "SELECT id FROM notifications WHERE status = 'pending' AND due_at <= ? "
                f"ORDER BY due_at LIMIT ?) RETURNING {COLUMNS}",
                (now + lease_ms, now, limit),
            ).fetchall()
            return [_delivery(r) for r in rows]

        return await self.writer.run(job, single=True)

    async def settle(self, delivery: Delivery, status: str, due_at: int, error: str, now: int) -> bool:
        def job(w: sqlite3.Connection) -> bool:
            cur = w.execute(
                "UPDATE notifications SET status = ?, due_at = ?, error = ?, sent_at = ? "
                "WHERE id = ? AND attempts = ? AND status = 'pending'",
                (status, due_at, error, now if status == "sent" else None, delivery.id, delivery.attempts),
            )
            return cur.rowcount == 1

        return await self.writer.run(job, single=True)

    async def deliveries(self, session_id: int) -> list[Delivery]:
        rows = await self.r.execute_fetchall(
            f"SELECT {COLUMNS} FROM notifications WHERE session_id = ? ORDER BY seq, id", (session_id,)
        )
        return [_delivery(r) for r in rows]
