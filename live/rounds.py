"""A session's group commit: every request waiting on a session decided in one round.

A session's appends are ordered (each one names the sequence number before
it), so one request at a time would mean one fsync per question. Instead the
requests that arrive while a commit is in flight form the next *round*: each
is decided against the state its predecessors in the round leave (applied to
a :class:`~live.state.Draft`), all their events go to the store in one append
(one transaction), and each caller is answered only after that commit.
Refusals and results wait for the commit too, since they may rest on a draft
that a failed append takes back.

While a draft is applied, the state holds events that are not stored yet:
readers that show state to people (snapshots, receipts) call
:meth:`Rounds.settled` first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial

from . import metrics
from .commands import Decision, tally_event
from .events import JSON, Event, NewEvent, OnCommit, Tally
from .exceptions import LiveError, Unavailable
from .state import Draft, State, apply, with_results
from .store import Log, SeqConflict

log = logging.getLogger("live.rounds")

Pending = tuple[Callable[[State], Decision], "asyncio.Future[Decision]"]
Committed = Callable[[list[Event]], Awaitable[None]]

MAX_ATTEMPTS = 32
"""Appends one round may lose to other workers. A room that lost must re-read before it
tries again, so while another worker has a queue of writes it tends to keep losing; the
bound must outlast such a queue, not just a coin toss (8 failed ~2% of asks in a burst)."""


def _nothing(state: State) -> Decision:
    return Decision([], {})


def _fail(batch: list[Pending], exc: Exception) -> None:
    for _, done in batch:
        if not done.done():
            done.set_exception(exc)


class Rounds:
    """Decides and appends for one session on one worker; ``committed`` publishes and delivers.

    ``at_commit`` is handed to the store (``Log.append(on_commit=)``): it may deliver
    the round's events the moment they are committed, before ``committed`` runs.
    """

    def __init__(self, state: State, store: Log, committed: Committed, at_commit: OnCommit) -> None:
        self.state = state
        self.store = store
        self.committed = committed
        self.at_commit = at_commit
        self._queue: list[Pending] = []
        self._rounds: asyncio.Task[None] | None = None
        self._draft: Draft | None = None
        self._settled: asyncio.Future[None] | None = None
        self._stale = False

    @property
    def drafting(self) -> bool:
        """Whether the state now holds events that are not committed yet."""
        return self._draft is not None

    async def catch_up(self) -> None:
        """Bring state (not delivery) up to the committed log; only ever between rounds.

        While the read is in flight the bus may deliver (and so apply) some of
        the same events: those are skipped, not applied twice.
        """
        for event in await self.store.read(self.state.session_id, after=self.state.seq):
            if event.seq == self.state.seq + 1:
                apply(self.state, event)

    async def settled(self) -> State:
        """The state with nothing uncommitted in it, for readers (snapshots, receipts).

        Use it without awaiting anything else before reading: the next round may
        start drafting at the following await.
        """
        while self._settled is not None:
            await asyncio.shield(self._settled)
        return self.state

    async def refresh(self) -> None:
        """Catch the state up with what other workers stored, before the next round decides."""
        self._stale = True
        await self.run(_nothing)

    async def run(self, decide: Callable[[State], Decision]) -> Decision:
        """Decide in the next round, append, publish; return once the round is committed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Decision] = loop.create_future()
        self._queue.append((decide, done))
        if self._rounds is None:
            self._rounds = loop.create_task(self._run_rounds())
        return await done

    async def _run_rounds(self) -> None:
        """Whatever queued while a round was committing is the next round."""
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    await self._round(batch)
                except Exception as exc:
                    _fail(batch, exc)
                    if not isinstance(exc, LiveError):
                        log.exception("a round of session %s failed", self.state.session_id)
                except BaseException:
                    _fail(batch, Unavailable())
                    raise
                await asyncio.sleep(0)  # readers waiting in settled() go before the next draft
        finally:
            self._rounds = None

    async def _round(self, batch: list[Pending]) -> None:
        for _ in range(MAX_ATTEMPTS):
            if self._stale:
                self._stale = False
                await self.catch_up()
            draft = self._begin()
            events: list[NewEvent] = []
            split = False
            try:
                outcomes, events, tally, moves = self._decide_all(batch, draft)
                if not events:
                    self._settle()  # nothing drafted (a tally's round): no reader need wait
                stored = (
                    await self.store.append(
                        self.state.session_id,
                        draft.seq,
                        events,
                        info=self._info_if_changed(events),
                        tally=tally,
                        on_commit=self.at_commit,
                        moves=moves,
                    )
                    if events or tally
                    else []
                )
            except SeqConflict:
                self._undo(draft)
                self._stale = True
                continue
            except Unavailable:
                self._undo(draft)
                raise
            except Exception:
                self._undo(draft)
                if len(batch) == 1:
                    raise
                split = True  # below, once this round has settled
            except BaseException:
                self._undo(draft)
                raise
            finally:
                self._settle()
            if split:
                await self._each_alone(batch)
                return
            for event in stored[len(events) :]:  # the store's tally: committed, never drafted
                if event.seq == self.state.seq + 1:  # unless delivering it applied it already
                    apply(self.state, event)
            if stored:
                metrics.ROUNDS.observe(len(outcomes))
                await self.committed(stored)
            for done, outcome in outcomes:
                if done.done():
                    continue
                if isinstance(outcome, Exception):
                    done.set_exception(outcome)
                else:
                    done.set_result(outcome)
            return
        raise Unavailable("busy", "系统繁忙，请重试", "Too much contention; try again")

    async def _each_alone(self, batch: list[Pending]) -> None:
        """The store refused a round for something in it, not for its own trouble (that is
        :class:`Unavailable`): one request's data it cannot take. Store each request in a
        round of its own, so that only the one at fault is refused; a bad request among
        honest ones used to fail them all."""
        log.warning(
            "session %s: a round of %d was refused; storing each on its own",
            self.state.session_id,
            len(batch),
        )
        for pending in batch:
            try:
                await self._round([pending])
            except Exception as exc:
                _fail([pending], exc)
                if not isinstance(exc, LiveError):
                    log.exception("a request of session %s failed", self.state.session_id)

    def _begin(self) -> Draft:
        """From here until :meth:`_settle`, readers wait in :meth:`settled`."""
        self._settled = asyncio.get_running_loop().create_future()
        self._draft = Draft(self.state)
        return self._draft

    def _decide_all(
        self, batch: list[Pending], draft: Draft
    ) -> tuple[
        list[tuple[asyncio.Future[Decision], Decision | Exception]],
        list[NewEvent],
        Tally | None,
        list[tuple[int, int]],
    ]:
        """Decide each request in turn, applying its events to the draft; a tally if one
        asked, and the votes to move with the round's merges.

        The tally's counts are compared with the state all of the round's events
        leave, since its event is stored after them.
        """
        outcomes: list[tuple[asyncio.Future[Decision], Decision | Exception]] = []
        events: list[NewEvent] = []
        moves: list[tuple[int, int]] = []
        tally = False
        for decide, done in batch:
            if done.done():  # the caller went away before its turn
                continue
            try:
                decision = decide(self.state)
            except Exception as exc:
                outcomes.append((done, exc))
                continue
            for e in decision.events:
                draft.apply(
                    Event(self.state.session_id, self.state.seq + 1, e.type, e.data, 0, e.public, e.private)
                )
                events.append(with_results(self.state, e))  # what it did, as each may see it
            tally = tally or decision.tally
            moves.extend(decision.moves)
            outcomes.append((done, decision))
        if not tally:
            return outcomes, events, None, moves
        shown = {q.id: q.votes for q in self.state.questions.values()}
        public = frozenset(q.id for q in self.state.questions.values() if q.public)
        return outcomes, events, partial(tally_event, shown, public=public), moves

    def _undo(self, draft: Draft) -> None:
        """Roll back a draft still open; one settled early drafted nothing, and since
        then the state may hold other workers' events that a rollback would drop."""
        if self._draft is draft:
            draft.rollback()

    def _settle(self) -> None:
        self._draft = None
        if self._settled is not None:
            self._settled.set_result(None)
            self._settled = None

    def _info_if_changed(self, events: list[NewEvent]) -> JSON | None:
        """The session listing as the drafted events leave it, if they change it."""
        return self.state.info if any(e.type.startswith("session.") for e in events) else None
