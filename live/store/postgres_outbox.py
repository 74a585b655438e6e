"""The notification outbox in PostgreSQL (:mod:`live.store.outbox` says what it is for).

Many workers on many hosts scan and claim at once. Queuing is idempotent (a delivery id is
the primary key; the cursor only moves forward, ``greatest``), and a claim skips the rows
another worker holds locked (``FOR UPDATE SKIP LOCKED``), so two workers never take the
same message in the same moment and neither waits for the other.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from asyncpg.pool import PoolConnectionProxy

from .outbox import COLUMNS, Delivery, NewDelivery

OUTBOX_MIGRATION = """
    CREATE TABLE IF NOT EXISTS notify_cursors (session_id bigint PRIMARY KEY, seq bigint NOT NULL);
    INSERT INTO notify_cursors SELECT id, last_seq FROM sessions ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS notifications (
        id text PRIMARY KEY, session_id bigint NOT NULL, seq bigint NOT NULL,
        question_id bigint NOT NULL, channel text NOT NULL, status text NOT NULL DEFAULT 'pending',
        attempts int NOT NULL DEFAULT 0, due_at bigint NOT NULL, sent_at bigint,
        error text NOT NULL DEFAULT '', created_at bigint NOT NULL);
    CREATE INDEX IF NOT EXISTS notifications_due ON notifications (status, due_at);
    CREATE INDEX IF NOT EXISTS notifications_question ON notifications (session_id, question_id, seq);
"""
"""The same tables as SQLite's (:data:`live.store.sqlite_outbox.OUTBOX_MIGRATION`)."""


def _delivery(row: Any) -> Delivery:
    return Delivery(*row)


class PostgresOutbox:
    """:class:`~live.store.outbox.Outbox` for :class:`live.store.postgres.PostgresStore` (mixed in)."""

    _conn: Callable[[], AbstractAsyncContextManager[PoolConnectionProxy]]
    _tx: Callable[[], AbstractAsyncContextManager[PoolConnectionProxy]]

    async def notify_backlog(self) -> list[tuple[int, int]]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT s.id, coalesce(c.seq, 0) FROM sessions s "
                "LEFT JOIN notify_cursors c ON c.session_id = s.id WHERE s.last_seq > coalesce(c.seq, 0)"
            )
        return [(sid, seq) for sid, seq in rows]

    async def contacts(self, session_id: int, question_ids: list[int]) -> dict[int, str]:
        if not question_ids:
            return {}
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT (data #>> '{question,id}')::bigint, private ->> 'contact' FROM events "
                "WHERE session_id = $1 AND strpos(private::text, '\"contact\"') > 0 "
                "AND (data #>> '{question,id}')::bigint = ANY($2::bigint[]) ORDER BY seq",
                session_id,
                question_ids,
            )
        return {qid: contact for qid, contact in rows if contact}

    async def receipts(self, session_id: int, question_ids: list[int]) -> dict[int, str]:
        if not question_ids:
            return {}
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT (data #>> '{question,id}')::bigint, private ->> 'receipt' FROM events "
                "WHERE session_id = $1 AND type = 'question.carried_in' "
                "AND (data #>> '{question,id}')::bigint = ANY($2::bigint[])",
                session_id,
                question_ids,
            )
        return {qid: receipt for qid, receipt in rows if receipt}

    async def merged_into(self, session_id: int, question_ids: list[int]) -> dict[int, list[int]]:
        if not question_ids:
            return {}
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT (data ->> 'into')::bigint, (data ->> 'id')::bigint FROM events "
                "WHERE session_id = $1 AND type = 'question.merged' "
                "AND (data ->> 'into')::bigint = ANY($2::bigint[]) ORDER BY seq",
                session_id,
                question_ids,
            )
        found: dict[int, list[int]] = {}
        for into, qid in rows:
            found.setdefault(into, []).append(qid)
        return found

    async def enqueue(self, session_id: int, upto: int, deliveries: list[NewDelivery], now: int) -> int:
        added = 0
        async with self._tx() as conn:
            for d in deliveries:
                status = await conn.execute(
                    "INSERT INTO notifications (id, session_id, seq, question_id, channel, due_at, "
                    "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                    d.id,
                    d.session_id,
                    d.seq,
                    d.question_id,
                    d.channel,
                    d.due_at,
                    now,
                )
                if status.endswith(" 1"):
                    added += 1
                    await conn.execute(
                        "UPDATE notifications SET status = 'superseded' WHERE session_id = $1 "
                        "AND question_id = $2 AND seq < $3 AND status = 'pending' AND attempts = 0",
                        d.session_id,
                        d.question_id,
                        d.seq,
                    )
            await conn.execute(
                "INSERT INTO notify_cursors VALUES ($1, $2) ON CONFLICT (session_id) "
                "DO UPDATE SET seq = greatest(notify_cursors.seq, excluded.seq)",
                session_id,
                upto,
            )
        return added

    async def claim(self, now: int, lease_ms: int, limit: int) -> list[Delivery]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                "UPDATE notifications SET due_at = $1, attempts = attempts + 1 WHERE id IN ("
                "SELECT id FROM notifications WHERE status = 'pending' AND due_at <= $2 "
                f"ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}",
                now + lease_ms,
                now,
                limit,
            )
        return [_delivery(r) for r in rows]

    async def settle(self, delivery: Delivery, status: str, due_at: int, error: str, now: int) -> bool:
        async with self._conn() as conn:
            done = await conn.execute(
                "UPDATE notifications SET status = $1, due_at = $2, error = $3, sent_at = $4 "
                "WHERE id = $5 AND attempts = $6 AND status = 'pending'",
                status,
                due_at,
                error,
                now if status == "sent" else None,
                delivery.id,
                delivery.attempts,
            )
        return done.endswith(" 1")

    async def deliveries(self, session_id: int) -> list[Delivery]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM notifications WHERE session_id = $1 ORDER BY seq, id", session_id
            )
        return [_delivery(r) for r in rows]
