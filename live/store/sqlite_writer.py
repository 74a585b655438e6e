"""Group commit for SQLite: many writers, one transaction, one fsync.

With ``synchronous=FULL`` every commit waits for the disk, so committing each
question or vote on its own caps the server at one write per fsync. Instead
every write is a *job* (a plain function of a :class:`sqlite3.Connection`)
handed to :class:`GroupWriter`. It owns the writer connection on one thread of
its own. While a commit is in flight, new jobs queue; the next round takes all
of them (up to :data:`MAX_BATCH`) and runs them in one ``BEGIN IMMEDIATE ...
COMMIT``, each inside its own savepoint (a single statement needs none: SQLite
undoes a failed statement by itself). Only after that COMMIT returns is each
caller's future resolved, so an acknowledgement still means "on disk".

Failure rules, so nothing acknowledged is ever lost and nothing refused sticks:

* a job's own refusal (:class:`~live.store.base.SeqConflict`, a constraint
  violation, a :class:`~live.exceptions.LiveError`) rolls back to its savepoint
  (or its statement) and fails that caller alone; the others in the round commit;
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
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from ..exceptions import LiveError, Unavailable
from .base import SeqConflict

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
Pending = tuple[Job, "asyncio.Future[Any]", str]
"""A job, its caller's future, and how it runs: ``"savepoint"``, ``"single"`` (one statement,
which SQLite undoes by itself when it fails, so no savepoint) or ``"alone"`` (outside any
transaction: opening, migrations, closing)."""
MAX_BATCH = 256
"""Jobs per transaction at most, so one round never holds the write lock (and an urgent
append waiting behind it) for long: in a vote storm, with the event loop holding the GIL,
2,000 votes took the writer thread up to 450 ms."""
REFUSALS = (SeqConflict, sqlite3.IntegrityError, LiveError)
"""Exceptions that are a job's answer, not a failure of the round."""


class GroupWriter:
    """The writer connection on a thread of its own, which takes each next round itself.

    Why a thread that pulls rather than a task that pushes: in a storm every hop
    through the event loop waits behind thousands of other callbacks. If the loop
    had to hand the writer each round, the writer would sit idle for a whole loop
    pass after every commit; pulling, it starts the next round the moment the
    last one is on disk, and the loop only hears back once per round.
    """

    def __init__(self, path: str, pragmas: tuple[str, ...]) -> None:
        self.path = path
        self.pragmas = pragmas
        self._conn: sqlite3.Connection | None = None
        self._urgent: deque[Pending] = deque()
        self._queue: deque[Pending] = deque()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    async def open(self) -> None:
        self._thread = threading.Thread(target=self._work, name="live-sqlite-writer", daemon=True)
        self._thread.start()

        def connect(_: sqlite3.Connection | None) -> None:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            for pragma in self.pragmas:
                self._conn.execute(f"PRAGMA {pragma}")

        await self._submit(connect, "alone")

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the writer thread outside any batch (migrations, PRAGMAs)."""
        return await self._submit(lambda _: fn(self._connection()), "alone")

    async def run(self, job: Callable[[sqlite3.Connection], T], urgent: bool = False,
                  single: bool = False) -> T:
        """Run ``job`` in the next group transaction; return its result once committed.

        ``urgent`` jobs go ahead of every non-urgent one still waiting (in their own order).
        A ``single`` job runs one statement and so needs no savepoint: in a vote storm that
        is two statements fewer per vote.
        """
        return await self._submit(job, "single" if single else "savepoint", urgent)

    async def close(self) -> None:
        if self._thread is None:
            return

        def shut(conn: sqlite3.Connection | None) -> None:
            if conn is not None:
                conn.close()
            self._conn = None

        await self._submit(shut, "alone")
        with self._wake:
            self._thread, thread = None, self._thread
            self._wake.notify()
        await asyncio.to_thread(thread.join)

    def _connection(self) -> sqlite3.Connection:
        assert self._conn is not None, "store is not open"
        return self._conn

    def _submit(self, job: Job, how: str, urgent: bool = False) -> asyncio.Future[Any]:
        if self._thread is None:
            raise Unavailable(reason="store closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        with self._wake:
            (self._urgent if urgent else self._queue).append((job, future, how))
            self._wake.notify()
        return future

    def _work(self) -> None:
        """The writer thread: take a round, run it, post the outcomes back to the loop."""
        while True:
            with self._wake:
                while not (self._urgent or self._queue):
                    if self._thread is None:
                        return
                    self._wake.wait()
                batch = self._take()
            if batch[0][2] == "alone":
                try:
                    outcomes = [(True, batch[0][0](self._conn))]
                except Exception as exc:
                    outcomes = [(False, exc)]
            else:
                try:
                    outcomes = self._commit([(job, how) for job, _, how in batch])
                except Exception as exc:
                    outcomes = [(False, exc)] * len(batch)
            loop = batch[0][1].get_loop()
            with contextlib.suppress(RuntimeError):  # the loop closed under a last round
                loop.call_soon_threadsafe(_resolve, batch, outcomes)

    def _take(self) -> list[Pending]:
        """The next round: urgent jobs first, then the queue, up to a job run alone."""
        batch: list[Pending] = []
        for source in (self._urgent, self._queue):
            while source and len(batch) < MAX_BATCH:
                if source[0][2] == "alone":
                    if not batch:
                        batch.append(source.popleft())
                    return batch
                batch.append(source.popleft())
        return batch

    def _commit(self, jobs: list[tuple[Job, str]]) -> list[tuple[bool, Any]]:
        """On the writer thread: one transaction, a savepoint per job, one COMMIT."""
        conn = self._connection()
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, how in jobs:
                if how == "single":
                    try:
                        outcomes.append((True, job(conn)))
                    except REFUSALS as exc:
                        outcomes.append((False, exc))
                    continue
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


def _resolve(batch: list[Pending], outcomes: list[tuple[bool, Any]]) -> None:
    for (_, future, _), (ok, value) in zip(batch, outcomes, strict=True):
        if not future.done():
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
