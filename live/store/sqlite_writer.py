"""Group commit for SQLite: many writers, one transaction, one fsync.

With ``synchronous=FULL`` every commit waits for the disk, so committing each
question or vote on its own caps the server at one write per fsync. Instead
every write is a *job* (a plain function of a :class:`sqlite3.Connection`)
handed to :class:`GroupWriter`. It owns the writer connection on one thread of
its own. While a commit is in flight, new jobs queue; the next round takes all
of them (up to :data:`MAX_ROUND`) and runs them in one ``BEGIN IMMEDIATE ...
COMMIT``, each inside its own savepoint (a single statement needs none: SQLite
undoes a failed statement by itself). Only after that COMMIT returns is each
caller's future resolved, so an acknowledgement still means "on disk".

Failure rules, so nothing acknowledged is ever lost and nothing refused sticks:

* a job's own failure (:class:`~live.store.base.SeqConflict`, a constraint
  violation, a :class:`~live.exceptions.LiveError`, or any error of its own
  data or code, such as text no encoder takes) rolls back to its savepoint (or
  its statement) and fails that caller alone; the others in the round commit.
  One poisoned request used to fail every honest write committed with it;
* only the database's own trouble (:func:`fails_round`: locked past
  ``busy_timeout``, the disk full, an I/O error, the COMMIT itself failing)
  rolls the whole round back and fails every caller in it with
  :class:`~live.exceptions.Unavailable`: none of them was acknowledged, all of
  them may retry.

A lone write on an idle server goes straight through (no batching delay); the
batches form by themselves exactly when writes arrive faster than fsyncs.

Jobs of one kind that are many and alike (votes) can be *batched*: all of a
round's items of one batch function go to a single call of it, which answers
each item. Why: every statement the writer thread runs lets go of the GIL and
must win it back from the event loop, which, busy, keeps it for up to the
interpreter's switch interval (5 ms). Run one statement per vote, a round of 256
votes took the writer up to a second in a 10,000-viewer storm, and the tally's
append waited behind it.

Appends to the event log are *urgent*: they go into the next round ahead of
any votes still queued. In a vote storm ten thousand votes may be waiting; the
official's answer, and the coalesced tally that reports those very votes, must
not wait behind them (measured: without this the tally arrived seconds late in
a 10,000-viewer vote storm). Within its round an urgent job runs last, so a
tally counts the votes committed with it. And an urgent job may name what to
do the moment it commits (``then``): it runs in the loop's callback for the
round, before any caller of that round or an earlier one resumes, because
those resumptions queue behind each other: in a vote storm the hundreds of
acknowledgements queued there kept a tally's fan-out waiting ~30 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from ..exceptions import LiveError, Unavailable
from .base import SeqConflict

log = logging.getLogger("live.store")

T = TypeVar("T")
BatchFn = Callable[[sqlite3.Connection, list[Any]], list[Any]]
Outcome = tuple[bool, Any]
"""(True, the job's answer) or (False, the exception its caller gets)."""


class Pending(NamedTuple):
    """A queued job and its caller's future."""

    run: Callable[..., Any]
    """The job, ``run(conn)``, or for a batch item the batch function, ``run(conn, items)``."""
    item: Any
    future: asyncio.Future[Any]
    how: str
    """``"savepoint"``; ``"single"`` (one statement, which SQLite undoes by itself when it
    fails, so no savepoint); ``"batch"`` (``item`` goes to one call of ``run`` with the
    round's other items of it); ``"alone"`` (outside any transaction: opening, migrations,
    closing)."""
    then: Callable[[Any], None] | None = None
    """Called on the loop with the job's answer once committed, before any future is resolved."""


MAX_ROUND = 256
"""Jobs per transaction at most, so one round never holds the write lock (and an urgent
append waiting behind it) for long: in a vote storm, with the event loop holding the GIL,
2,000 votes took the writer thread up to 450 ms."""
SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the GIL while another waits for it (the interpreter's default
is 0.005), set for the process when a writer opens. The writer thread gives the GIL up at
every statement and, when the event loop is busy, waits this long to get it back: at the
default, each of a commit's statements (count, update, insert, COMMIT) cost up to 5 ms: in
a 10,000-viewer vote storm a tally's commit took 30-130 ms, at 0.5 ms 35-45 ms, and the tally
went out 80-120 ms after the votes it counts instead of 170-200 ms (``docs/benchmarks.md``)."""
EXPECTED = (SeqConflict, sqlite3.IntegrityError, LiveError)
"""A job's refusals that are answers, not faults: the caller gets them and nothing is logged."""


def fails_round(exc: BaseException) -> bool:
    """Whether ``exc`` is the database's trouble, which no job of the round escapes.

    SQLite's errors but those that one statement's own input causes (a constraint,
    a value out of range, a misuse of the API).
    """
    return isinstance(exc, sqlite3.Error) and not isinstance(
        exc, (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.ProgrammingError, sqlite3.InterfaceError)
    )


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
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self._thread = threading.Thread(target=self._work, name="live-sqlite-writer", daemon=True)
        self._thread.start()

        def connect(_: sqlite3.Connection | None) -> None:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            for pragma in self.pragmas:
                self._conn.execute(f"PRAGMA {pragma}")

        await self._submit(connect, "alone")

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the writer thread outside any batch (migrations, PRAGMAs)."""
        done: asyncio.Future[T] = self._submit(lambda _: fn(self._connection()), "alone")
        return await done

    async def run(
        self,
        job: Callable[[sqlite3.Connection], T],
        urgent: bool = False,
        single: bool = False,
        then: Callable[[T], None] | None = None,
    ) -> T:
        """Run ``job`` in the next group transaction; return its result once committed.

        ``urgent`` jobs go ahead of every non-urgent one still waiting (in their own order).
        A ``single`` job runs one statement and so needs no savepoint: in a vote storm that
        is two statements fewer per vote. ``then(result)`` runs on the event loop as soon
        as the round is committed, before this or any other caller resumes.
        """
        done: asyncio.Future[T] = self._submit(job, "single" if single else "savepoint", urgent, then=then)
        return await done

    async def run_batched(self, fn: BatchFn, item: Any) -> Any:
        """Run ``item`` in the next round's one call of ``fn``; return its answer once committed.

        ``fn(conn, items)`` returns one answer per item, in order, and runs in a
        savepoint where the round's first item of it stands: if it refuses (raises),
        every item of that call is refused.
        """
        return await self._submit(fn, "batch", item=item)

    async def close(self) -> None:
        if self._thread is None:
            return

        def shut(conn: sqlite3.Connection | None) -> None:
            if conn is not None:
                conn.close()
            self._conn = None

        await self._submit(shut, "alone")
        with self._wake:
            thread, self._thread = self._thread, None
            self._wake.notify()
        await asyncio.to_thread(thread.join)

    def _connection(self) -> sqlite3.Connection:
        assert self._conn is not None, "store is not open"
        return self._conn

    def _submit(
        self,
        run: Callable[..., Any],
        how: str,
        urgent: bool = False,
        item: Any = None,
        then: Callable[[Any], None] | None = None,
    ) -> asyncio.Future[Any]:
        if self._thread is None:
            raise Unavailable(reason="store closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        with self._wake:
            (self._urgent if urgent else self._queue).append(Pending(run, item, future, how, then))
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
                jobs = self._take()
            outcomes: list[Outcome]
            if jobs[0].how == "alone":
                try:
                    outcomes = [(True, jobs[0].run(self._conn))]
                except Exception as exc:
                    outcomes = [(False, exc)]
            else:
                try:
                    outcomes = self._commit(jobs)
                except Exception as exc:
                    outcomes = [(False, exc)] * len(jobs)
            loop = jobs[0].future.get_loop()
            with contextlib.suppress(RuntimeError):  # the loop closed under a last round
                loop.call_soon_threadsafe(_resolve, jobs, outcomes)

    def _take(self) -> list[Pending]:
        """The next round: every urgent job (up to :data:`MAX_ROUND`), after as many queued
        ones as fit before it, up to a job run alone.

        Urgent jobs run at the round's end, not its start: they are in the same
        transaction either way, and a tally counted last counts the round's own votes,
        which are acknowledged together with it (counted first, those votes waited for
        the next tally: one more fan-out, ~0.1 s at 10,000 viewers).
        """
        urgent = [self._urgent.popleft() for _ in range(min(MAX_ROUND, len(self._urgent)))]
        queue = self._queue
        jobs: list[Pending] = []
        while queue and len(jobs) + len(urgent) < MAX_ROUND and queue[0].how != "alone":
            jobs.append(queue.popleft())
        if not (jobs or urgent):
            return [queue.popleft()]
        return jobs + urgent

    def _commit(self, jobs: list[Pending]) -> list[Outcome]:
        """On the writer thread: one transaction, a savepoint per job or batch, one COMMIT."""
        conn = self._connection()
        outcomes: list[Outcome] = [(False, None)] * len(jobs)
        batches: dict[Callable[..., Any], list[int]] = {}
        for i, job in enumerate(jobs):
            if job.how == "batch":
                batches.setdefault(job.run, []).append(i)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for i, job in enumerate(jobs):
                if job.how == "single":
                    try:
                        outcomes[i] = (True, job.run(conn))
                    except Exception as exc:
                        if fails_round(exc):
                            raise
                        outcomes[i] = (False, _refusal(exc))
                elif job.how == "batch":
                    at = batches.pop(job.run, None)  # None: it ran with the first of its batch
                    if at is not None:
                        ok, answers = _in_savepoint(conn, job.run, [jobs[k].item for k in at])
                        for n, k in enumerate(at):
                            outcomes[k] = (True, answers[n]) if ok else (False, answers)
                else:
                    outcomes[i] = _in_savepoint(conn, job.run)
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


def _in_savepoint(conn: sqlite3.Connection, fn: Callable[..., Any], *args: Any) -> Outcome:
    """``fn(conn, *args)`` in a savepoint: its answer, or its refusal with its writes undone."""
    conn.execute("SAVEPOINT job")
    try:
        value = fn(conn, *args)
    except Exception as exc:
        if fails_round(exc):
            raise
        conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")
        return (False, _refusal(exc))
    conn.execute("RELEASE job")
    return (True, value)


def _refusal(exc: Exception) -> Exception:
    """What the caller of a job that failed by itself gets: the refusal, logged if unexpected."""
    if not isinstance(exc, EXPECTED):
        log.error("a write failed on its own; the rest of its round commits", exc_info=exc)
    return exc


def _resolve(jobs: list[Pending], outcomes: list[Outcome]) -> None:
    """Run the round's ``then`` callbacks, then wake its callers (which queue behind them)."""
    for job, (ok, value) in zip(jobs, outcomes, strict=True):
        if ok and job.then is not None:
            try:
                job.then(value)
            except Exception:
                log.exception("after a commit")
    for job, (ok, value) in zip(jobs, outcomes, strict=True):
        if not job.future.done():
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
