"""A worker's view of each live session: its state, its viewers, its order.

A :class:`Room` exists per session per worker process. It is the single place
where that worker (a) decides and appends under the session's lock and (b)
delivers committed events, in sequence order, to its viewers' outboxes.

Delivery only ever starts from the bus, never from the writer directly, so a
one-process server and a many-worker one take the same path. A room delivers
event ``n`` only after ``n - 1``; when the bus skips a number (a lost message,
a Redis restart) the room reads the missing events from the store first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack

from .bus import Bus
from .connection import Outbox
from .events import Event, NewEvent, dumps
from .exceptions import NotFound, Unavailable
from .state import Decision, State, apply
from .store import SeqConflict, Store

log = logging.getLogger("live.rooms")

MAX_ATTEMPTS = 8


def channel(session_id: int) -> str:
    return f"live:session:{session_id}"


class Room:
    def __init__(self, session_id: int, epoch: str, store: Store, bus: Bus) -> None:
        self.session_id = session_id
        self.epoch = epoch
        self.store = store
        self.bus = bus
        self.state = State(session_id)
        self.delivered = 0
        self.outboxes: set[Outbox] = set()
        self.lock = asyncio.Lock()
        self.votes_dirty = False
        self.viewers_sent = -1
        self._filling: asyncio.Task[None] | None = None

    async def load(self) -> None:
        """Read the whole log; called after subscribing, so nothing falls between."""
        await self.catch_up()
        self.delivered = self.state.seq

    async def catch_up(self) -> None:
        """Bring state (not delivery) up to the committed log."""
        for event in await self.store.read(self.session_id, after=self.state.seq):
            apply(self.state, event)

    async def run(self, decide: Callable[[State], Decision]) -> Decision:
        """Decide against current state, append, then publish, retrying on a lost race."""
        async with self.lock:
            for _ in range(MAX_ATTEMPTS):
                decision = decide(self.state)
                if not decision.events:
                    return decision
                try:
                    stored = await self.store.append(
                        self.session_id, self.state.seq, decision.events,
                        info=self._info_after(decision.events))
                except SeqConflict:
                    await self.catch_up()
                    continue
                for event in stored:
                    apply(self.state, event)
                for event in stored:
                    await self._publish(event)
                return decision
        raise Unavailable("busy", "系统繁忙，请重试", "Too much contention; try again")

    def _info_after(self, events: list[NewEvent]) -> dict | None:
        """The session listing as it will be after ``events``, if they change it."""
        if not any(e.type.startswith("session.") for e in events):
            return None
        probe = State(self.session_id, self.state.seq, dict(self.state.info))
        for i, e in enumerate(events, start=self.state.seq + 1):
            apply(probe, Event(self.session_id, i, e.type, e.data, 0))
        return probe.info

    async def _publish(self, event: Event) -> None:
        try:
            await self.bus.publish(channel(self.session_id), event.to_bus())
        except Exception:
            # Committed is committed: the ack stands, and every room fills the gap
            # from the store when the bus comes back or the next event arrives.
            log.exception("publish failed for session %s seq %s", self.session_id, event.seq)

    def on_bus(self, message: str | None) -> None:
        if message is None:
            self._fill()
            return
        event = Event.from_bus(message)
        if event.seq <= self.delivered:
            return
        if event.seq == self.delivered + 1 and self._filling is None:
            self.deliver(event)
        else:
            self._fill()

    def _fill(self) -> None:
        if self._filling is None:
            self._filling = asyncio.get_running_loop().create_task(self._fill_gap())

    async def _fill_gap(self) -> None:
        try:
            while True:
                missing = await self.store.read(self.session_id, after=self.delivered)
                if not missing:
                    return
                for event in missing:
                    self.deliver(event)
        except Exception:
            log.exception("filling a gap in session %s failed", self.session_id)
        finally:
            self._filling = None

    def deliver(self, event: Event) -> None:
        """Fan one committed event out: serialised once per audience, then references."""
        if event.seq != self.delivered + 1:
            return
        if event.seq == self.state.seq + 1:
            apply(self.state, event)
        self.delivered = event.seq
        public = event.frame(staff=False)
        staff = event.frame(staff=True) if event.public is not None else public
        seq = event.seq
        for outbox in self.outboxes:
            outbox.push(seq, staff if outbox.staff else public)

    async def tally(self) -> None:
        """Append one event with every vote count that changed since the last tally."""
        counts = await self.store.vote_counts(self.session_id)

        def decide(state: State) -> Decision:
            changed = {str(q.id): counts.get(q.id, 0) for q in state.questions.values()
                       if counts.get(q.id, 0) != q.votes}
            events = [NewEvent("votes.tallied", {"votes": changed})] if changed else []
            return Decision(events, {})

        await self.run(decide)

    def broadcast_presence(self) -> None:
        count = len(self.outboxes)
        if count == self.viewers_sent:
            return
        self.viewers_sent = count
        frame = dumps({"type": "presence", "viewers": count})
        for outbox in self.outboxes:
            outbox.push(0, frame)


class Rooms:
    """Every room this worker holds, their bus subscriptions and the periodic work."""

    def __init__(self, store: Store, bus: Bus, tally_interval: float) -> None:
        self.store = store
        self.bus = bus
        self.tally_interval = tally_interval
        self._rooms: dict[int, Room] = {}
        self._loading: dict[int, asyncio.Lock] = {}
        self._stack = AsyncExitStack()
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self._stack.aclose()
        self._rooms.clear()

    def __iter__(self) -> Iterator[Room]:
        return iter(tuple(self._rooms.values()))

    async def get(self, session_id: int) -> Room:
        room = self._rooms.get(session_id)
        if room is not None:
            return room
        lock = self._loading.setdefault(session_id, asyncio.Lock())
        async with lock:
            room = self._rooms.get(session_id)
            if room is not None:
                return room
            row = await self.store.get_session(session_id)
            if row is None:
                raise NotFound("session_not_found", "访谈不存在", "No such session", id=session_id)
            room = Room(session_id, row.epoch, self.store, self.bus)
            await self._stack.enter_async_context(
                self.bus.subscribe(channel(session_id), room.on_bus))
            await room.load()
            self._rooms[session_id] = room
            return room

    async def _tick(self) -> None:
        """Coalesce: at most one tally event and one presence frame per interval."""
        while True:
            await asyncio.sleep(self.tally_interval)
            for room in self:
                room.broadcast_presence()
                if room.votes_dirty:
                    room.votes_dirty = False
                    try:
                        await room.tally()
                    except Exception:
                        room.votes_dirty = True
                        log.exception("tally failed for session %s", room.session_id)
