"""The shared store: PostgreSQL through an asyncpg pool, for many workers on many hosts.

Same interface and semantics as :mod:`live.store.sqlite`. What differs is
how they are kept when several processes write at once:

* **Sequence numbers.** :meth:`PostgresStore.append` moves ``sessions.last_seq``
  with ``UPDATE ... WHERE last_seq = expected``. Under READ COMMITTED a second
  writer blocks on the row lock, then re-checks the condition against the
  committed row, finds it changed and matches nothing: that is the
  :class:`SeqConflict`. So event ``n + 1`` can only commit after ``n`` has,
  and a reader never sees a hole in the log. ``(session_id, seq)`` is the
  events' primary key as a last line of defence.
* **Migrations** (:mod:`live.store.postgres_schema`). Applied under an
  advisory lock, so workers starting at once take turns.
* **Outages.** A database that cannot be reached, refuses connections, or is
  shutting down surfaces as :class:`Unavailable`: the request is refused and
  nothing is acknowledged. The pool drops dead connections and opens new ones
  on the next acquire, so the server recovers by itself when PostgreSQL returns.

JSON columns use the ``json`` type (validated, stored as written), not
``jsonb``, so an event read back is byte for byte the event that was stored.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from .. import chain
from ..events import JSON, Event, NewEvent, OnCommit, Tally, dumps, now_ms
from ..exceptions import BadRequest, Conflict, Unavailable
from . import where
from .base import Moves, SeqConflict, SessionRow
from .postgres_commitments import PostgresCommitments
from .postgres_outbox import PostgresOutbox
from .postgres_schema import EVENTS, LINKS, migrate, write_index
from .postgres_search import PostgresArchive

log = logging.getLogger("live.store.postgres")

POOL_MAX = 10
"""Connections per worker process; N workers on H hosts open up to N * H * POOL_MAX."""
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 10.0
ACQUIRE_TIMEOUT = 10.0

_LOST = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,  # a pooled socket the server just closed
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.TransactionRollbackError,
)
"""Errors that mean "the database did not do it, try later", not "this request is wrong"."""

_SESSION_COLS = "id, programme_id, epoch, last_seq, info, presenter_hash, moderator_hash, host_hash"
PREVIOUS = "SELECT hash FROM events WHERE session_id=$1 AND seq=$2"
"""The hash an append chains from. Read in the ``UPDATE`` that claims the next numbers, and
read again on its own (this) should that find none: a sub-query sees the statement's snapshot,
taken before the row lock it may have waited for (the appender knew of event ``seq``
only once it was committed, so it should be there; the second read costs nothing when it
is). None only for a log whose hash was removed: the chain restarts, and ``live verify``
names the event."""
VOTE_COUNTS = "SELECT question_id, count(*) FROM votes WHERE session_id=$1 GROUP BY question_id"


def _session(row: asyncpg.Record) -> SessionRow:
    id_, programme_id, epoch, last_seq, info, p_hash, m_hash, h_hash = row
    return SessionRow(id_, programme_id, epoch, last_seq, json.loads(info), p_hash, m_hash, h_hash)


def _count(status: str) -> int:
    """Rows affected, from a command tag such as ``UPDATE 1`` or ``INSERT 0 1``."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresStore(PostgresArchive, PostgresOutbox, PostgresCommitments):
    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=POOL_MAX,
                timeout=CONNECT_TIMEOUT,
                command_timeout=COMMAND_TIMEOUT,
            )
            async with self.pool.acquire() as conn:
                await migrate(conn)
        except BaseException as exc:
            await self.close()
            if isinstance(exc, (*_LOST, asyncpg.PostgresError)):
                raise SystemExit(f"PostgreSQL at {where(self.url)} is not usable: {exc}") from exc
            raise

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "store is not open"
        return self._pool

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[PoolConnectionProxy]:
        """A pooled connection; an outage becomes :class:`Unavailable`, bad text BadRequest."""
        try:
            conn = await self.pool.acquire(timeout=ACQUIRE_TIMEOUT)
        except (*_LOST, asyncpg.PostgresError) as exc:
            why = (
                "every pooled connection busy, or the server not answering"
                if isinstance(exc, TimeoutError)
                else repr(exc)
            )
            log.warning("no connection to PostgreSQL at %s: %s", where(self.url), why)
            raise Unavailable() from exc
        try:
            yield conn
        except _LOST as exc:
            log.warning("PostgreSQL at %s failed mid-request: %r", where(self.url), exc)
            raise Unavailable() from exc
        except asyncpg.DataError as exc:
            raise BadRequest(
                "invalid_text", "内容包含无法保存的字符", "Text contains characters that cannot be stored"
            ) from exc
        finally:
            await self.pool.release(conn)

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[PoolConnectionProxy]:
        async with self._conn() as conn, conn.transaction():
            yield conn

    async def get_meta(self, key: str) -> str | None:
        async with self._conn() as conn:
            return cast(str | None, await conn.fetchval("SELECT value FROM meta WHERE key=$1", key))

    async def set_meta(self, key: str, value: str, replace: bool = True) -> None:
        action = "DO UPDATE SET value=excluded.value" if replace else "DO NOTHING"
        async with self._conn() as conn:
            await conn.execute(
                f"INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT (key) {action}", key, value
            )

    async def create_programme(self, slug: str, title: str, description: str) -> int:
        try:
            async with self._conn() as conn:
                return cast(
                    int,
                    await conn.fetchval(
                        "INSERT INTO programmes(slug, title, description, created_at) "
                        "VALUES ($1, $2, $3, $4) RETURNING id",
                        slug,
                        title,
                        description,
                        now_ms(),
                    ),
                )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("programme_exists", "栏目标识已存在", "Programme slug exists", slug=slug) from exc

    async def update_programme(self, programme_id: int, fields: JSON) -> None:
        sets = ", ".join(f"{k}=${i}" for i, k in enumerate(fields, start=1))
        async with self._conn() as conn:
            await conn.execute(
                f"UPDATE programmes SET {sets} WHERE id=${len(fields) + 1}", *fields.values(), programme_id
            )

    async def list_programmes(self) -> list[JSON]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT id, slug, title, description, created_at FROM programmes ORDER BY id"
            )
        return [dict(r) for r in rows]

    async def create_session(
        self,
        programme_id: int,
        presenter_hash: str,
        moderator_hash: str,
        first: NewEvent,
        host_hash: str = "",
    ) -> Event:
        at = now_ms()
        async with self._tx() as conn:
            sid = await conn.fetchval(
                "INSERT INTO sessions(programme_id, epoch, last_seq, info, presenter_hash, "
                "moderator_hash, host_hash) VALUES ($1, $2, 1, $3, $4, $5, $6) RETURNING id",
                programme_id,
                secrets.token_hex(8),
                dumps(first.data.get("session", {})),
                presenter_hash,
                moderator_hash,
                host_hash,
            )
            await conn.execute(
                "INSERT INTO events VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                *chain.stored(sid, chain.GENESIS, 1, [first], at)[0],
            )
        return Event(sid, 1, first.type, first.data, at, first.public, first.private)

    async def get_session(self, session_id: int) -> SessionRow | None:
        async with self._conn() as conn:
            row = await conn.fetchrow(f"SELECT {_SESSION_COLS} FROM sessions WHERE id=$1", session_id)
        return _session(row) if row else None

    async def list_sessions(self, programme_id: int | None = None) -> list[SessionRow]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"SELECT {_SESSION_COLS} FROM sessions "
                "WHERE $1::bigint IS NULL OR programme_id=$1 ORDER BY id",
                programme_id,
            )
        return [_session(r) for r in rows]

    async def set_secrets(
        self, session_id: int, presenter_hash: str, moderator_hash: str, host_hash: str = ""
    ) -> None:
        async with self._conn() as conn:
            await conn.execute(
                "UPDATE sessions SET presenter_hash=$1, moderator_hash=$2, host_hash=$3 WHERE id=$4",
                presenter_hash,
                moderator_hash,
                host_hash,
                session_id,
            )

    async def put_photo(self, session_id: int, photo_id: str, at: int, image: bytes) -> None:
        async with self._conn() as conn:
            await conn.execute("INSERT INTO photos VALUES ($1, $2, $3, $4)", session_id, photo_id, at, image)

    async def get_photo(self, session_id: int, photo_id: str) -> bytes | None:
        async with self._conn() as conn:
            image = await conn.fetchval(
                "SELECT image FROM photos WHERE session_id=$1 AND id=$2", session_id, photo_id
            )
        return None if image is None else bytes(image)

    async def drop_photo(self, session_id: int, photo_id: str) -> None:
        async with self._conn() as conn:
            await conn.execute("DELETE FROM photos WHERE session_id=$1 AND id=$2", session_id, photo_id)

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
        stored = list(events)
        async with self._tx() as conn:
            for from_question, into_question in moves:  # rolled back with a SeqConflict
                await conn.execute(
                    "INSERT INTO votes SELECT session_id, $1, device, at FROM votes "
                    "WHERE session_id=$2 AND question_id=$3 ON CONFLICT DO NOTHING",
                    into_question,
                    session_id,
                    from_question,
                )
                await conn.execute(
                    "DELETE FROM votes WHERE session_id=$1 AND question_id=$2", session_id, from_question
                )
            if tally is not None:
                extra = tally({q: n for q, n in await conn.fetch(VOTE_COUNTS, session_id)})
                if extra is not None:
                    stored.append(extra)
            if not stored:
                return []
            head = await conn.fetchrow(  # and the hash the new events chain from
                "UPDATE sessions SET last_seq=$1, info=coalesce($2::json, info) WHERE id=$3 AND last_seq=$4 "
                "RETURNING (SELECT hash FROM events WHERE session_id=$3 AND seq=$4)",
                expected_seq + len(stored),
                None if info is None else dumps(info),
                session_id,
                expected_seq,
            )
            if head is None:
                raise SeqConflict(session_id, expected_seq)
            prev = head[0]
            if prev is None and expected_seq:  # see PREVIOUS
                prev = await conn.fetchval(PREVIOUS, session_id, expected_seq)
            await conn.executemany(
                "INSERT INTO events VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                chain.stored(session_id, prev or chain.GENESIS, expected_seq + 1, stored, at),
            )
            await write_index(conn, session_id, stored)
        committed = [
            Event(session_id, seq, e.type, e.data, at, e.public, e.private)
            for seq, e in enumerate(stored, start=expected_seq + 1)
        ]
        if on_commit is not None:
            try:
                on_commit(committed)
            except Exception:
                log.exception("after a commit")
        return committed

    async def read(self, session_id: int, after: int = 0, limit: int | None = None) -> list[Event]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"{EVENTS} WHERE session_id=$1 AND seq>$2 ORDER BY seq LIMIT $3",
                session_id,
                after,
                limit,
            )
        return [Event.from_row(session_id, r) for r in rows]

    async def read_links(self, session_id: int, after: int = 0, limit: int | None = None) -> list[chain.Link]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                f"{LINKS} WHERE session_id=$1 AND seq>$2 ORDER BY seq LIMIT $3", session_id, after, limit
            )
        return [chain.Link(*r) for r in rows]

    async def set_vote(self, session_id: int, question_id: int, device: str, on: bool) -> bool:
        async with self._conn() as conn:
            if on:
                status = await conn.execute(
                    "INSERT INTO votes VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    session_id,
                    question_id,
                    device,
                    now_ms(),
                )
            else:
                status = await conn.execute(
                    "DELETE FROM votes WHERE session_id=$1 AND question_id=$2 AND device=$3",
                    session_id,
                    question_id,
                    device,
                )
        return _count(status) == 1

    async def vote_counts(self, session_id: int) -> dict[int, int]:
        async with self._conn() as conn:
            return {q: n for q, n in await conn.fetch(VOTE_COUNTS, session_id)}

    async def device_votes(self, session_id: int, device: str) -> list[int]:
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT question_id FROM votes WHERE session_id=$1 AND device=$2 ORDER BY question_id",
                session_id,
                device,
            )
        return [r[0] for r in rows]
