"""Coalesced vote tallies: a ``votes.tallied`` event at most once per interval.

One vote is not something a viewer sees (votes live in their own table); the
counts are, and a storm of ten thousand votes must not become ten thousand
broadcasts. So a room asks for a tally whenever a stored vote changed
something, and this module turns those requests into at most one tally per
``LIVE_TALLY_INTERVAL``: at once after a quiet interval (the leading edge),
then at a fixed rate while votes keep changing.

Why the leading edge: with one fixed tick for every room, the first votes
after a quiet spell waited for a tick of arbitrary phase, up to a whole
interval, and in a 10,000-viewer vote storm that first tally was the latest
of all (``docs/benchmarks.md``). Why a fixed rate, due an interval after the
last tally *began*: in a storm a tally's own work (its commit, its fan-out) is
what makes it late, and counting the interval from its end would add it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .commands import Decision
from .exceptions import Unavailable
from .state import State
from .tasks import cancel_and_wait

log = logging.getLogger("live.tallies")

Run = Callable[[Callable[[State], Decision]], Awaitable[Decision]]


def _tally(state: State) -> Decision:
    """A round that stores no events of its own; the store appends the counts' event."""
    return Decision([], {}, tally=True)


class Tallies:
    """One room's tally requests, coalesced; ``run`` is the room's next round."""

    def __init__(self, run: Run, session_id: int, interval: float) -> None:
        self.run = run
        self.session_id = session_id
        self.interval = interval
        self._dirty = False
        self._due = 0.0
        self._task: asyncio.Task[None] | None = None

    def changed(self) -> None:
        """A stored vote changed something: tally now, or when the interval allows."""
        self._dirty = True
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._keep_tallying())

    async def close(self) -> None:
        await cancel_and_wait(self._task)

    async def _keep_tallying(self) -> None:
        """While votes keep changing; a failed tally is tried again an interval later.

        The store counts the votes inside the tally's own append: a read of our
        own first was one more trip through a loop busy with the votes themselves.
        """
        loop = asyncio.get_running_loop()
        try:
            while self._dirty:
                await asyncio.sleep(self._due - loop.time())
                self._due = loop.time() + self.interval
                self._dirty = False
                try:
                    await self.run(_tally)
                except Unavailable as exc:
                    self._dirty = True
                    log.warning("tally for session %s postponed: %s", self.session_id, exc)
                except Exception:
                    self._dirty = True
                    log.exception("tally failed for session %s", self.session_id)
        finally:
            self._task = None
