"""The broadcast delay's clock: every worker releases the held answers that fall due.

A delayed answer's deadline is in the log (``release_at`` on its hold, :mod:`live.review`),
not in a timer's memory. Twice a second each worker looks at the rooms it holds and has each
answer whose deadline passed released in its room's next round
(:func:`live.review.release_due`). So:

- **Several workers release it once.** Each decides against the state its append is made
  on, and the store refuses an append made against a stale log (``SeqConflict``): the worker
  that lost re-reads the log, decides again and finds nothing held. The same holds for a
  person's release or withdrawal racing the clock, on any worker.
- **A restart neither loses nor repeats it.** A release is one committed event: committed,
  it is in the log the next worker reads (a crash after the commit cannot release twice);
  not committed, the hold is still in the log and falls due again. A worker that starts
  loads the rooms of every session in a delay mode whose window ended less than
  :data:`RECENT_MS` ago, so what fell due while no worker ran goes out at its first sweep,
  late but once, with nobody connected; any other room releases what is due at the first
  sweep after something (a page, a receipt lookup) loads it.
"""

from __future__ import annotations

import asyncio
import logging

from . import review
from .events import now_ms
from .exceptions import LiveError
from .rooms import Room, Rooms
from .state import ENDED, phase
from .store import Catalog
from .tasks import cancel_and_wait

log = logging.getLogger("live.releases")

INTERVAL = 0.5
"""Seconds between sweeps: the most a delayed answer goes out after its deadline."""
RECENT_MS = 24 * 3600 * 1000
"""How long after its window a session's room is loaded at start to release what fell due."""
DELAYED = frozenset({"delay", "both"})


class Releases:
    """This worker's clock for the delayed answers in the rooms it holds."""

    def __init__(self, rooms: Rooms, catalog: Catalog) -> None:
        self.rooms = rooms
        self.catalog = catalog
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        await self._load_recent()
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("a sweep for delayed answers failed")
            await asyncio.sleep(INTERVAL)

    async def _load_recent(self) -> None:
        """Load the rooms that may hold a delayed answer: see the module's docstring."""
        now = now_ms()
        try:
            rows = await self.catalog.list_sessions()
        except Exception:
            log.exception("cannot list sessions to release delayed answers")
            return
        for row in rows:
            ended = row.info.get("closed_at") or row.info.get("ends_at") or 0
            recent = phase(row.info, now) not in ENDED or ended > now - RECENT_MS
            if row.info.get("answer_review") in DELAYED and recent:
                try:
                    await self.rooms.get(row.id)
                except Exception:
                    log.exception("cannot load session %s to release delayed answers", row.id)

    async def sweep(self) -> int:
        """Release what is due in every room this worker holds; how many were released."""
        released = 0
        for room in self.rooms:
            state = await room.settled()
            for question_id, hold in review.due(state, now_ms()):
                released += await self._release(room, question_id, hold)
        return released

    async def _release(self, room: Room, question_id: int, hold: int) -> int:
        try:
            decision = await room.run(lambda state: review.release_due(state, question_id, hold, now_ms()))
        except LiveError as exc:  # the store is away: the hold stays in the log, due at the next sweep
            log.warning("session %s: release of question %s failed: %s", room.session_id, question_id, exc)
            return 0
        except Exception:
            log.exception("session %s: release of question %s failed", room.session_id, question_id)
            return 0
        return len(decision.events)
