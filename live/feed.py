"""How a committed event reaches a viewer: one feed per session per worker, and this is it.

Events reach a worker from several sources, and every one of them goes through
:meth:`Feed.offer` (or asks the feed to read the log with :meth:`Feed.fill`):

- this worker's own commits, the moment the store commits them
  (:meth:`~live.rooms.Room` passes them in before the request is acknowledged,
  so that an ack always follows the events it acknowledges);
- the bus, which carries other workers' commits (in one process it hands over
  the :class:`~live.events.Event` objects themselves; between processes it
  carries their text, parsed here);
- the log itself: when a source skips a number (a lost publish, a Redis
  restart, a bus that says it may have lost messages) and once a second in case
  a publish was lost for good, the feed reads what follows ``delivered``;
- a reconnecting viewer's backlog (:meth:`Feed.backlog`), from the feed's
  memory of its last events when it still holds them, else from the log.

The feed owns the order: it delivers event ``n`` only after ``n - 1``, exactly
once, whichever source brought it first; a copy arriving later from another
source is dropped by that one check. Delivering means serialising and framing
the event once per audience (public, staff) and queueing those shared frames in
every outbox (:mod:`live.connection` writes them). A reconnecting viewer gets
the same frames, so what a viewer sees never depends on the path it took.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from itertools import islice
from typing import Protocol

from . import metrics
from .bus.base import Message
from .connection import Outbox, encode_frame, flush_now
from .events import Event

log = logging.getLogger("live.feed")

RECENT = 500
RECENT_BYTES = 256 * 1024
"""A feed keeps the frames of its last delivered events (at most this many, and this many
characters) so that a reconnect storm resumes from memory."""
BACKLOG_PAGE = 500
"""Events per frame (and per read) when a reconnecting viewer's backlog comes from the log."""


class Log(Protocol):
    """What a feed reads: a session's committed events after a sequence number."""

    def __call__(self, after: int, limit: int | None = None) -> Awaitable[list[Event]]: ...


class Feed:
    """Delivers one session's committed events, in order and once, to this worker's viewers.

    ``observe`` sees each event just before it is fanned out (the room applies other
    workers' events to its state there).
    """

    def __init__(self, session_id: int, read: Log, observe: Callable[[Event], None]) -> None:
        self.session_id = session_id
        self.read = read
        self.observe = observe
        self.delivered = 0
        self.outboxes: set[Outbox] = set()
        self.recent: deque[tuple[int, str, str]] = deque()
        self._recent_size = 0
        self._filling: asyncio.Task[None] | None = None
        self._refill = False

    def offer(self, events: Iterable[Event]) -> bool:
        """Deliver the events that come next, in order; return ``False`` if one is missing.

        Events already delivered are dropped. On the first one that is not next, the
        feed starts reading the log after ``delivered`` (which holds it, since it was
        committed) and the rest are left to that read.
        """
        complete = self._take(events)
        flush_now()
        if not complete:
            self.fill()
        return complete

    def _take(self, events: Iterable[Event]) -> bool:
        for event in events:
            if event.seq > self.delivered + 1:
                return False
            if event.seq == self.delivered + 1:
                self._deliver(event)
        return True

    def on_bus(self, message: Message | None) -> None:
        """The bus's callback: an event (object or text), or ``None`` when messages may be lost.

        Between processes an event that names a device comes as its number only
        (:meth:`~live.events.Event.to_bus`): the feed reads it from the log.
        """
        if message is None:
            self.fill()
            return
        event = message if isinstance(message, Event) else Event.from_bus(str(message))
        if isinstance(event, int):  # too private for the bus: it is in the log
            if event > self.delivered:
                self.fill()
            return
        self.offer((event,))

    async def offer_and_wait(self, events: list[Event]) -> None:
        """Offer this worker's own commit, and if an earlier event is missing, wait for the read.

        Why wait: the caller acknowledges these events next, and a viewer must never see an
        ack before the events it acknowledges. If the read fails it is logged and retried
        on the next fill; the ack then goes out without waiting further.
        """
        if self.offer(events):
            return
        while (filling := self._filling) is not None and self.delivered < events[-1].seq:
            await asyncio.shield(filling)

    def fill(self) -> None:
        """Read the log after ``delivered``; asked again while a read is in flight, read again."""
        self._refill = True
        if self._filling is None:
            self._filling = asyncio.get_running_loop().create_task(self._fill())

    async def _fill(self) -> None:
        try:
            while self._refill:
                self._refill = False
                self._take(await self.read(self.delivered))
                flush_now()
        except Exception:
            log.exception("reading the log of session %s after %s failed", self.session_id, self.delivered)
        finally:
            self._filling = None

    def _deliver(self, event: Event) -> None:
        """Fan one event out: serialised and framed once per audience, then references.

        Each outbox only queues the shared string and WebSocket frame bytes; its
        connection writes them on the next flush (:mod:`live.connection`).
        """
        self.observe(event)
        self.delivered = seq = event.seq
        public = event.frame(staff=False)
        public_framed = encode_frame(public)
        staff, staff_framed = public, public_framed
        if event.public is not None:
            staff = event.frame(staff=True)
            staff_framed = encode_frame(staff)
        self._remember(seq, public, staff)
        for outbox in self.outboxes:
            if outbox.staff:
                outbox.push(seq, staff, staff_framed)
            else:
                outbox.push(seq, public, public_framed)
        metrics.delivered(event)

    def push(self, frame: str) -> None:
        """Queue a frame that is not an event (the viewer count) to every viewer."""
        for outbox in self.outboxes:
            outbox.push(0, frame)

    def _remember(self, seq: int, public: str, staff: str) -> None:
        recent = self.recent
        recent.append((seq, public, staff))
        self._recent_size += len(public) + (len(staff) if staff is not public else 0)
        while len(recent) > RECENT or (self._recent_size > RECENT_BYTES and len(recent) > 1):
            _, p, s = recent.popleft()
            self._recent_size -= len(p) + (len(s) if s is not p else 0)

    def _remembered(self, since: int, staff: bool) -> list[str] | None:
        """The frames of the delivered events after ``since``, if all of them are in memory.

        Why: after a network blip ten thousand viewers resume at once, each missing the
        same few events; reading and re-serialising them from the store per viewer made
        a 10,000-viewer reconnect storm several times slower than the baseline. Seqs in
        ``recent`` are contiguous (only the next event is ever delivered).
        """
        recent = self.recent
        if not recent or not recent[0][0] - 1 <= since <= self.delivered:
            return None
        return [s if staff else p for _, p, s in islice(recent, since - recent[0][0] + 1, None)]

    async def backlog(self, since: int, staff: bool) -> AsyncIterator[list[str]]:
        """The frames a viewer resuming after ``since`` missed, contiguous, in pages.

        The viewer's outbox is registered before this is called, so whatever the feed
        delivers meanwhile reaches it too (its own seq check drops the overlap).
        """
        remembered = self._remembered(since, staff)
        if remembered is not None:
            if remembered:
                yield remembered
            return
        while events := await self.read(since, BACKLOG_PAGE):
            yield [event.frame(staff) for event in events]
            since = events[-1].seq
