"""A worker's view of each live session: its state, its order, its feed.

A :class:`Room` exists per session per worker process. It is where that worker
decides and appends, in rounds (:mod:`live.rounds`), and it owns the session's
:class:`~live.feed.Feed`, the one path by which committed events (its own, the
bus's, the log's) reach the viewers connected to this worker. Its own events
enter the feed the moment they are committed, before the request is
acknowledged, so that on every bus an ack follows the events it acknowledges.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from functools import partial
from typing import Protocol

from . import metrics
from .bus import Bus
from .commands import Decision
from .events import Event, dumps
from .exceptions import NotFound
from .feed import Feed
from .rounds import Rounds
from .state import State, apply
from .stats import PresenceSampler
from .store import Catalog, Log, Presence
from .tallies import Tallies
from .tasks import cancel_and_wait

log = logging.getLogger("live.rooms")

PRESENCE_INTERVAL = 1.0
"""Seconds between viewer counts reported to the bus (summed over workers) and sampled for
the session's statistics; also the most a count may wait on the bus."""
RECHECK_INTERVAL = 1.0
"""Seconds between reads of each room's log for events whose publish never arrived."""
PRESENCE_FRAME_INTERVAL = 5.0
"""Seconds at least between viewer-count frames. The count changes all evening, and each
frame is a broadcast to every viewer (at 10,000 viewers about 0.1 s of server CPU); a count
every few seconds is live enough, and it leaves a phone's frame budget to tallies and answers."""


def channel(session_id: int, epoch: str) -> str:
    """The bus channel; the random epoch keeps two databases sharing one Redis apart."""
    return f"live:session:{session_id}:{epoch}"


class RoomStore(Log, Presence, Protocol):
    """What a room reads and writes: its session's log, and its presence samples."""


class RoomsStore(Catalog, RoomStore, Protocol):
    """What opening a room needs besides: the session's row (its epoch)."""


class Room:
    def __init__(
        self, session_id: int, epoch: str, store: RoomStore, bus: Bus, tally_interval: float
    ) -> None:
        self.session_id = session_id
        self.epoch = epoch
        self.store = store
        self.bus = bus
        self.state = State(session_id)
        self.feed = Feed(session_id, partial(store.read, session_id), self._observe)
        self.rounds = Rounds(self.state, store, self._committed, self.feed.offer)
        self.tallies = Tallies(self.run, session_id, tally_interval)
        self.viewers_sent = -1
        self.viewers_sent_at = -PRESENCE_FRAME_INTERVAL
        self._outgoing: list[Event] = []
        self._publishing: asyncio.Task[None] | None = None
        self.presence = PresenceSampler(store, session_id)

    async def load(self) -> None:
        """Read the whole log; called after subscribing, so nothing falls between."""
        await self.rounds.catch_up()
        self.feed.delivered = self.state.seq
        self.tallies.changed()  # votes stored before a crash may be untallied: recount once

    async def settled(self) -> State:
        """The state with nothing uncommitted in it (see :meth:`Rounds.settled`)."""
        return await self.rounds.settled()

    async def run(self, decide: Callable[[State], Decision]) -> Decision:
        """Decide in the session's next round, append, publish; return once committed."""
        return await self.rounds.run(decide)

    async def refresh(self) -> None:
        """Catch up with what other workers stored before the next round decides."""
        await self.rounds.refresh()

    async def _committed(self, stored: list[Event]) -> None:
        metrics.appended(stored)
        self._outgoing.extend(stored)
        if self._publishing is None:
            self._publishing = asyncio.get_running_loop().create_task(self._publish())
        await self.feed.offer_and_wait(stored)

    async def _publish(self) -> None:
        """One publish in flight per room, carrying everything committed since the last.

        Why not publish within the round: rounds are sequential, so every round took
        one more round trip to Redis, and the acks waited for it; with Redis 2.3 ms
        away, publishing here took ingest from ~2,000 to ~2,400 questions/s and their
        acks from 25 to 20 ms (``docs/benchmarks.md``). Order is kept: one publish at
        a time, in commit order.
        """
        try:
            while self._outgoing:
                messages, self._outgoing = self._outgoing, []
                try:
                    await self.bus.publish(channel(self.session_id, self.epoch), *messages)
                except Exception:
                    # Committed is committed: the acks stand, this room delivered the events
                    # itself, and the others fill the gap when the next event arrives.
                    log.exception("publish failed for session %s (%d events)", self.session_id, len(messages))
        finally:
            self._publishing = None

    async def close(self) -> None:
        """Stop tallying; let what is committed reach the bus before the bus goes."""
        await self.tallies.close()
        if self._publishing is not None:
            await self._publishing

    def _observe(self, event: Event) -> None:
        """Another worker's event, on its way to the viewers: apply it to this room's state.

        Skipped while a round is drafting (the round re-reads the log before it appends)
        and for this worker's own events (their round applied them already).
        """
        if not self.rounds.drafting and event.seq == self.state.seq + 1:
            apply(self.state, event)

    async def broadcast_presence(self) -> None:
        """The viewer count over every worker (the bus sums them), pushed when it changed."""
        try:
            async with asyncio.timeout(PRESENCE_INTERVAL):
                count = await self.bus.presence(channel(self.session_id, self.epoch), len(self.feed.outboxes))
        except Exception as exc:
            log.debug("presence for session %s unavailable: %r", self.session_id, exc)
            return
        await self.presence.observe(count)
        now = asyncio.get_running_loop().time()
        if count == self.viewers_sent or now < self.viewers_sent_at + PRESENCE_FRAME_INTERVAL:
            return
        self.viewers_sent, self.viewers_sent_at = count, now
        self.feed.push(dumps({"type": "presence", "viewers": count}))


class Rooms:
    """Every room this worker holds, their bus subscriptions and the periodic work."""

    def __init__(self, store: RoomsStore, bus: Bus, tally_interval: float) -> None:
        self.store = store
        self.bus = bus
        self.tally_interval = tally_interval
        self._rooms: dict[int, Room] = {}
        self._loading = asyncio.Lock()
        self._stack = AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._recheck()), loop.create_task(self._count())]

    async def stop(self) -> None:
        for task in self._tasks:
            await cancel_and_wait(task)
        for room in self:
            await room.close()
        await self._stack.aclose()
        self._rooms.clear()

    def __iter__(self) -> Iterator[Room]:
        return iter(tuple(self._rooms.values()))

    async def get(self, session_id: int) -> Room:
        room = self._rooms.get(session_id)
        if room is not None:
            return room
        async with self._loading:
            room = self._rooms.get(session_id)
            if room is not None:
                return room
            row = await self.store.get_session(session_id)
            if row is None:
                raise NotFound("session_not_found", "访谈不存在", "No such session", id=session_id)
            room = Room(session_id, row.epoch, self.store, self.bus, self.tally_interval)
            await self._stack.enter_async_context(
                self.bus.subscribe(channel(session_id, row.epoch), room.feed.on_bus)
            )
            await room.load()
            self._rooms[session_id] = room
            return room

    async def _recheck(self) -> None:
        """Once a second, every room reads its log past what it delivered.

        A gap is otherwise noticed when the next event arrives, and there may be none: the
        worker that committed the evening's last answer may have died before it published,
        or Redis may drop this worker's packets while the others keep theirs. This loop
        reads only the store, never the bus, so such a partition delays other workers'
        events by about this interval, not by however long a Redis call hangs.
        """
        while True:
            await asyncio.sleep(RECHECK_INTERVAL)
            for room in self:
                room.feed.fill()

    async def _count(self) -> None:
        """Once a second, every room's viewer count (each room sends it less often)."""
        while True:
            await asyncio.sleep(PRESENCE_INTERVAL)
            for room in self:
                await room.broadcast_presence()
