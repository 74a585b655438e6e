"""A worker's view of each live session: its state, its viewers, its order.

A :class:`Room` exists per session per worker process. It is the single place
where that worker (a) decides and appends, in rounds (:mod:`live.rounds`), and
(b) delivers committed events, in sequence order, to its viewers' outboxes.

Delivery starts from the bus, so a one-process server and a many-worker one
take the same path; the one exception is the writer's own events, which its
room delivers the moment they are committed, before the request is
acknowledged, so that on every bus an ack follows the events it acknowledges
(the bus's copy then arrives as an old number and is dropped). A room delivers
event ``n`` only after ``n - 1``; when the bus skips a number (a lost message,
a Redis restart) the room reads the missing events from the store first.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from itertools import islice

from . import metrics
from .bus import Bus
from .bus.base import Message
from .commands import Decision
from .connection import Outbox, encode_frame, flush_now
from .events import Event, dumps
from .exceptions import NotFound
from .rounds import Rounds
from .state import State, apply
from .stats import PresenceSampler
from .store import Store
from .tallies import Tallies
from .tasks import cancel_and_wait

log = logging.getLogger("live.rooms")

PRESENCE_INTERVAL = 1.0
"""Seconds between viewer counts reported to the bus (summed over workers) and sampled for
the session's statistics."""
PRESENCE_FRAME_INTERVAL = 5.0
"""Seconds at least between viewer-count frames. The count changes all evening, and each
frame is a broadcast to every viewer (at 10,000 viewers about 0.1 s of server CPU); a count
every few seconds is live enough, and it leaves a phone's frame budget to tallies and answers."""
RECENT = 500
RECENT_BYTES = 256 * 1024
"""A room keeps the frames of its last delivered events (at most this many, and this many
characters) so that a reconnect storm resumes from memory."""


def channel(session_id: int, epoch: str) -> str:
    """The bus channel; the random epoch keeps two databases sharing one Redis apart."""
    return f"live:session:{session_id}:{epoch}"


class Room:
    def __init__(self, session_id: int, epoch: str, store: Store, bus: Bus, tally_interval: float) -> None:
        self.session_id = session_id
        self.epoch = epoch
        self.store = store
        self.bus = bus
        self.state = State(session_id)
        self.delivered = 0
        self.outboxes: set[Outbox] = set()
        self.rounds = Rounds(self.state, store, self._committed, self._deliver_at_commit)
        self.tallies = Tallies(self.run, session_id, tally_interval)
        self.viewers_sent = -1
        self.viewers_sent_at = -PRESENCE_FRAME_INTERVAL
        self._filling: asyncio.Task[None] | None = None
        self._outgoing: list[Event] = []
        self._publishing: asyncio.Task[None] | None = None
        self._refill = False
        self.presence = PresenceSampler(store, session_id)
        self.recent: deque[tuple[int, str, str]] = deque()
        self._recent_size = 0

    async def load(self) -> None:
        """Read the whole log; called after subscribing, so nothing falls between."""
        await self.rounds.catch_up()
        self.delivered = self.state.seq
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
        await self._deliver_own(stored)

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

    def _deliver_at_commit(self, stored: list[Event]) -> None:
        """Fan out what this room just stored the moment it commits, if nothing comes between.

        Why not wait for :meth:`_committed`: the round's task resumes behind everything
        the event loop already queued, and in a vote storm that is hundreds of
        acknowledgements (~30 ms) while ten thousand viewers wait for the tally. A gap
        (another worker's events not yet here) is left to :meth:`_deliver_own`.
        """
        if stored[0].seq == self.delivered + 1:
            for event in stored:
                self.deliver(event)
            flush_now()

    async def _deliver_own(self, stored: list[Event]) -> None:
        """Deliver what this writer just stored, reading first any gap still on the bus."""
        behind = stored[0].seq - 1 - self.delivered
        try:
            if behind > 0:
                for event in await self.store.read(self.session_id, self.delivered, behind):
                    self.deliver(event)
        except Exception:
            log.exception("reading the gap before seq %s failed", stored[0].seq)
            self._fill()
        for event in stored:
            self.deliver(event)
        flush_now()

    def on_bus(self, message: Message | None) -> None:
        if message is None:
            self._fill()
            return
        event = message if isinstance(message, Event) else Event.from_bus(str(message))
        if event.seq <= self.delivered:
            return
        if event.seq == self.delivered + 1 and self._filling is None:
            self.deliver(event)
        else:
            self._fill()

    def recheck(self) -> None:
        """Read the log past what was delivered, in case a publish was lost for good.

        A gap is otherwise noticed when the next event arrives, and there may be none:
        the worker that committed the evening's last answer may have died before it
        published, or lost its Redis connection while every subscriber kept theirs.
        """
        if self._filling is None:
            self._fill()

    def _fill(self) -> None:
        """Read the log after ``delivered``; asked again while a read is in flight, read again."""
        self._refill = True
        if self._filling is None:
            self._filling = asyncio.get_running_loop().create_task(self._fill_gap())

    async def _fill_gap(self) -> None:
        try:
            while self._refill:
                self._refill = False
                for event in await self.store.read(self.session_id, after=self.delivered):
                    self.deliver(event)
                flush_now()
        except Exception:
            log.exception("filling a gap in session %s failed", self.session_id)
        finally:
            self._filling = None

    def deliver(self, event: Event) -> None:
        """Fan one committed event out: serialised and framed once per audience, then references.

        Each outbox only queues the shared string and WebSocket frame bytes; its
        connection writes them on the next flush (:mod:`live.connection`).
        """
        if event.seq != self.delivered + 1:
            return
        if not self.rounds.drafting and event.seq == self.state.seq + 1:
            apply(self.state, event)  # another worker's event (a round in flight re-reads instead)
        self.delivered = event.seq
        public = event.frame(staff=False)
        public_framed = encode_frame(public)
        staff, staff_framed = public, public_framed
        if event.public is not None:
            staff = event.frame(staff=True)
            staff_framed = encode_frame(staff)
        seq = event.seq
        self._remember(seq, public, staff)
        for outbox in self.outboxes:
            if outbox.staff:
                outbox.push(seq, staff, staff_framed)
            else:
                outbox.push(seq, public, public_framed)
        metrics.delivered(event)

    def _remember(self, seq: int, public: str, staff: str) -> None:
        recent = self.recent
        recent.append((seq, public, staff))
        self._recent_size += len(public) + (len(staff) if staff is not public else 0)
        while len(recent) > RECENT or (self._recent_size > RECENT_BYTES and len(recent) > 1):
            _, p, s = recent.popleft()
            self._recent_size -= len(p) + (len(s) if s is not p else 0)

    def frames_after(self, since: int, staff: bool) -> list[str] | None:
        """The frames of the delivered events after ``since``, if all of them are in memory.

        Why: after a network blip ten thousand viewers resume at once, each missing the
        same few events; reading and re-serialising them from the store per viewer made
        a 10,000-viewer reconnect storm several times slower than the baseline. Seqs in
        ``recent`` are contiguous (``deliver`` only ever takes the next one), and what
        comes after ``delivered`` reaches the already-registered outbox.
        """
        recent = self.recent
        if not recent or not recent[0][0] - 1 <= since <= self.delivered:
            return None
        return [s if staff else p for _, p, s in islice(recent, since - recent[0][0] + 1, None)]

    async def broadcast_presence(self) -> None:
        """The viewer count over every worker (the bus sums them), pushed when it changed."""
        try:
            count = await self.bus.presence(channel(self.session_id, self.epoch), len(self.outboxes))
        except Exception as exc:
            log.debug("presence for session %s unavailable: %r", self.session_id, exc)
            return
        await self.presence.observe(count)
        now = asyncio.get_running_loop().time()
        if count == self.viewers_sent or now < self.viewers_sent_at + PRESENCE_FRAME_INTERVAL:
            return
        self.viewers_sent, self.viewers_sent_at = count, now
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
        self._loading = asyncio.Lock()
        self._stack = AsyncExitStack()
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        await cancel_and_wait(self._ticker)
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
                self.bus.subscribe(channel(session_id, row.epoch), room.on_bus)
            )
            await room.load()
            self._rooms[session_id] = room
            return room

    async def _tick(self) -> None:
        """Once a second: every room's viewer count (each room sends it less often), and a
        look at its log for an event whose publish never arrived."""
        while True:
            await asyncio.sleep(PRESENCE_INTERVAL)
            for room in self:
                room.recheck()
                await room.broadcast_presence()
