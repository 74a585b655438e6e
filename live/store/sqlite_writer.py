"""Group commit for SQLite: many writers, one transaction, one fsync.

With ``synchronous=FULL`` every commit waits for the disk, so committing each
question or vote on its own caps the server at one write per fsync. Instead
every write is a *job* (a plain function of a :class:`sqlite3.Connection`)
handed to :class:`GroupWriter`. It owns the writer connection on one thread of
its own. While a commit is in flight, new jobs queue; the next round takes all
of them (up to :data:`MAX_BATCH`) and runs them in one ``BEGIN IMMEDIATE ...
COMMIT``, each inside its own savepoint. Only after that COMMIT returns is each
caller's future resolved, so an acknowledgement still means "on disk".

Failure rules, so nothing acknowledged is ever lost and nothing refused sticks:

* a job's own refusal (:class:`~live.store.base.SeqConflict`, a constraint
  violation, a :class:`~live.exceptions.LiveError`) rolls back to its savepoint
  and fails that caller alone; the others in the round commit;
* anything else (the database is locked past ``busy_timeout``, the disk is
  full, the COMMIT itself fails) rolls the whole round back and fails every
  caller in it with :class:`~live.exceptions.Unavailable`: none of them was
  acknowledged, all of them may retry.

A lone write on an idle server goes straight through (no batching delay); the
batches form by themselves exactly when writes arrive faster than fsyncs.

Appends to the event log are *urgent*: they go at the head of the next round,
ahead of any votes still queued. In a vote storm ten thousand votes may be
waiting; the official's answer, and the coalesced tally that reports those very
votes, must not wait behind them (measured: without this the tally arrived
seconds late in a 10,000-viewer vote storm).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..exceptions import LiveError, Unavailable
from .base import SeqConflict

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
MAX_BATCH = 2000
"""Jobs per transaction at most, so one round never holds the write lock for long."""
REFUSALS = (SeqConflict, sqlite3.IntegrityError, LiveError)
"""Exceptions that are a job's answer, not a failure of the round."""


class GroupWriter:
    def __init__(self, path: str, pragmas: tuple[str, ...]) -> None:
        self.path = path
        self.pragmas = pragmas
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="live-sqlite-writer")
        self._conn: sqlite3.Connection | None = None
        self._queue: list[tuple[Job, asyncio.Future[Any]]] = []
        self._urgent: list[tuple[Job, asyncio.Future[Any]]] = []
        self._draining: asyncio.Task[None] | None = None
        self.rounds = 0
        """Transactions committed or attempted (for tests and the benchmarks)."""

    async def open(self) -> None:
        def connect() -> None:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            for pragma in self.pragmas:
                self._conn.execute(f"PRAGMA {pragma}")

        await self._run(connect)

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the writer thread outside any batch (migrations, PRAGMAs)."""
        await self.idle()
        return await self._run(lambda: fn(self._connection()))

    def _connection(self) -> sqlite3.Connection:
        assert self._conn is not None, "store is not open"
        return self._conn

    async def run(self, job: Callable[[sqlite3.Connection], T], urgent: bool = False) -> T:
        """Run ``job`` in the next group transaction; return its result once committed.

        ``urgent`` jobs go ahead of every non-urgent one still waiting (in their own order).
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._queue).append((job, future))
        if self._draining is None:
            self._draining = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def idle(self) -> None:
        """Wait until every queued job has been committed or refused."""
        while self._draining is not None:
            await asyncio.shield(self._draining)

    async def _drain(self) -> None:
        try:
            while self._urgent or self._queue:
                waiting, self._urgent = self._urgent + self._queue, []
                batch, self._queue = waiting[:MAX_BATCH], waiting[MAX_BATCH:]
                jobs = [job for job, _ in batch]
                try:
                    outcomes = await self._run(lambda jobs=jobs: self._commit(jobs))
                except asyncio.CancelledError:
                    self._fail([*batch, *self._urgent, *self._queue],
                               Unavailable(reason="store closing"))
                    self._queue, self._urgent = [], []
                    raise
                except Exception as exc:
                    outcomes = [(False, exc)] * len(batch)
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if not future.done():
                        if ok:
                            future.set_result(value)
                        else:
                            future.set_exception(value)
        finally:
            self._draining = None

    @staticmethod
    def _fail(waiting: list[tuple[Job, asyncio.Future[Any]]], exc: Exception) -> None:
        for _, future in waiting:
            if not future.done():
                future.set_exception(exc)

    def _commit(self, jobs: list[Job]) -> list[tuple[bool, Any]]:
        """On the writer thread: one transaction, a savepoint per job, one COMMIT."""
        conn = self._connection()
        self.rounds += 1
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in jobs:
                conn.execute("SAVEPOINT job")
                try:
                    value = job(conn)
                except REFUSALS as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((False, exc))
                    continue
                conn.execute("RELEASE job")
                outcomes.append((True, value))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._abandon(conn)
            return [(False, Unavailable(reason=str(exc)))] * len(jobs)
        except BaseException:
            self._abandon(conn)
            raise
        return outcomes

    @staticmethod
    def _abandon(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:  # a full disk or I/O error may have rolled back already
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    async def close(self) -> None:
        await self.idle()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self._run(conn.close)
        self._thread.shutdown(wait=True)
