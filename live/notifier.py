"""Telling askers, in the background: the log is the outbox, each message is claimed and retried.

Two tasks per worker, beside the rooms and never in their way:

* **scan**: once a second, every session whose log is past its notify cursor is read
  from the cursor on (the committed log, as any reader sees it); each event of
  :data:`live.notify.NOTIFYING` whose question was asked with a usable contact becomes a
  delivery row, and the cursor moves past the events read, in one transaction
  (:meth:`~live.store.outbox.Outbox.enqueue`). Nothing on the live path waits for it: an
  answer is acknowledged when it is stored, and this finds it in the log afterwards.
* **send**: due deliveries are claimed (a lease of twice ``LIVE_NOTIFY_TIMEOUT``), each
  message rendered from the log and sent (:mod:`live.delivery`), and the attempt settled:
  sent; failed for good; or due again after a back-off that doubles from
  ``LIVE_NOTIFY_BACKOFF`` up to an hour, until ``LIVE_NOTIFY_ATTEMPTS`` are spent.

Every worker of every host runs both: the rows make it safe (see :mod:`live.store.outbox`).
A worker killed with ``kill -9`` between the claim and the settle leaves a claim that
expires, and the message is sent again under the same delivery id: **at least once**,
deduplicated by the receiver. Nothing is lost in a crash: the row, or the cursor before
it, is in the database.

An outcome older than :data:`MAX_AGE` when it is read is skipped, not sent: a worker that
starts with notifications configured for the first time on an old database (or after they
were switched off for a while) does not write to everyone about last year's answers. (The
migration that made the outbox also put every existing session's cursor at its end.)

Logs name delivery ids, channels and why an attempt failed, never a contact or a text.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from .auth import Devices
from .delivery import Mailer, Undelivered, Webhook
from .events import JSON, Event, dumps, now_ms
from .notify import NOTIFYING, channel, mask, message, public_question, question_id, receipt_link
from .settings import Settings
from .store import Catalog, Log
from .store.outbox import Delivery, NewDelivery, Outbox
from .tasks import cancel_and_wait

log = logging.getLogger("live.notifier")

INTERVAL = 1.0
"""Seconds between scans of the logs, and the longest a due message waits to be claimed."""
PAGE = 500
"""Events read from one log at a time."""
BATCH = 16
"""Messages claimed, and sent concurrently, at a time by one worker."""
MAX_AGE = 3 * 24 * 3600 * 1000
"""Milliseconds: an outcome older than this when the scan reads it is not sent."""
MAX_MERGED = 1000
"""Askers told of one outcome by way of merged questions, at most (a bound, not a policy)."""
MAX_BACKOFF = 3600.0


class NotifierStore(Log, Catalog, Outbox, Protocol):
    """What the notifier reads and writes: the logs, the sessions' rows, the outbox."""


class Notifier:
    """The scan and send tasks of one worker; on only if a channel is configured."""

    def __init__(self, store: NotifierStore, devices: Devices, settings: Settings, namespace: str) -> None:
        self.store = store
        self.devices = devices
        self.settings = settings
        self.namespace = namespace
        self.mailer = (
            Mailer(settings.smtp_url, settings.smtp_from, settings.notify_timeout)
            if settings.smtp_url
            else None
        )
        self.webhook = (
            Webhook(settings.webhook_url, settings.webhook_secret, settings.notify_timeout)
            if settings.webhook_url
            else None
        )
        if self.enabled and not settings.public_url:
            raise SystemExit(
                "LIVE_PUBLIC_URL: needed to notify askers (each message links to the receipt lookup)"
            )
        self.channels = {name for name, on in (("email", self.mailer), ("sms", self.webhook)) if on}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return self.mailer is not None or self.webhook is not None

    def start(self) -> None:
        """Begin scanning and sending, in a serving worker (not in ``live serve``'s start-up check,
        which opens every service once and closes it again, nor while ``live demo`` seeds)."""
        if not self.enabled:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._scanning()), loop.create_task(self._sending())]

    async def stop(self) -> None:
        """Stop scanning and sending; an attempt cut short is sent again once its claim expires."""
        for task in (*self._tasks, *self._inflight):
            await cancel_and_wait(task)
        if self.webhook is not None:
            await self.webhook.aclose()

    async def _scanning(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception as exc:  # the database away: the next pass resumes from the cursors
                log.warning("notification scan failed: %s", type(exc).__name__)
            await asyncio.sleep(INTERVAL)

    async def _sending(self) -> None:
        """Keep up to :data:`BATCH` attempts in flight; a receiver that hangs holds only its own."""
        while True:
            room = BATCH - len(self._inflight)
            claimed = 0
            if room > 0:
                try:
                    claimed = await self.send_due(room)
                except Exception as exc:
                    log.warning("notification claim failed: %s", type(exc).__name__)
            if claimed < room or room <= 0:
                self._wake.clear()
                try:
                    async with asyncio.timeout(INTERVAL):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def scan(self) -> int:
        """Queue what every log says past its cursor; how many messages were queued."""
        added = 0
        for session_id, cursor in await self.store.notify_backlog():
            while True:
                events = await self.store.read(session_id, after=cursor, limit=PAGE)
                if not events:
                    break
                deliveries = await self._deliveries(session_id, events)
                added += await self.store.enqueue(session_id, events[-1].seq, deliveries, now_ms())
                cursor = events[-1].seq
                if len(events) < PAGE:
                    break
        if added:
            self._wake.set()
        return added

    async def _deliveries(self, session_id: int, events: list[Event]) -> list[NewDelivery]:
        oldest = now_ms() - MAX_AGE
        telling = [
            (e, qid)
            for e in events
            if e.type in NOTIFYING and e.at >= oldest and (qid := question_id(e)) is not None
        ]
        merged = await self._merged(session_id, {qid for e, qid in telling if e.type != "question.merged"})
        whom = [(e, qid, "") for e, qid in telling]
        whom += [
            (e, m, f"-{m}") for e, qid in telling if e.type != "question.merged" for m in merged.get(qid, ())
        ]
        contacts = await self.store.contacts(session_id, sorted({qid for _, qid, _ in whom}))
        out = []
        for e, qid, suffix in whom:
            how = channel(contacts.get(qid, ""))
            if how in self.channels:
                due = e.at + int(self.settings.notify_delay * 1000)
                key = f"{self.namespace}-{session_id}-{e.seq}{suffix}"
                out.append(NewDelivery(key, session_id, e.seq, qid, how, due))
        return out

    async def _merged(self, session_id: int, ids: set[int]) -> dict[int, list[int]]:
        """Every question merged into each of ``ids``, also by way of another merged one: its
        asker was told that the outcome is the target's, so each outcome of it is told them too
        (under a delivery id of their own: the event's id and the question's).

        One query per hop for all of ``ids`` together, not one per question and hop: a scan
        page costs one query more than its longest chain of merges is deep."""
        found: dict[int, list[int]] = {qid: [] for qid in ids}
        frontiers = {qid: [qid] for qid in ids}
        while frontiers:
            asking = sorted({m for frontier in frontiers.values() for m in frontier})
            step = await self.store.merged_into(session_id, asking)
            going: dict[int, list[int]] = {}
            for qid, frontier in frontiers.items():
                seen = found[qid]
                frontier = [m for into in frontier for m in step.get(into, ()) if m not in seen and m != qid]
                seen += frontier
                if frontier and len(seen) < MAX_MERGED:
                    going[qid] = frontier
            frontiers = going
        return {qid: seen for qid, seen in found.items() if seen}

    async def send_due(self, limit: int = BATCH) -> int:
        """Claim up to ``limit`` messages that are due and start one attempt at each; how many."""
        lease = int(2 * self.settings.notify_timeout * 1000)
        batch = await self.store.claim(now_ms(), lease, limit)
        for d in batch:
            task = asyncio.get_running_loop().create_task(self._attempt(d))
            self._inflight.add(task)
            task.add_done_callback(self._done)
        return len(batch)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()  # room for one more

    async def _attempt(self, d: Delivery) -> None:
        try:
            async with asyncio.timeout(self.settings.notify_timeout):
                await self._deliver(d)
        except Undelivered as exc:
            failure = exc
        except TimeoutError:
            failure = Undelivered(f"timed out after {self.settings.notify_timeout:g} s")
        except Exception as exc:  # the log could not be read: try again later
            failure = Undelivered(type(exc).__name__)
        else:
            await self.store.settle(d, "sent", d.due_at, d.error, now_ms())  # the last failure stays
            log.info("notification %s sent by %s (attempt %d)", d.id, d.channel, d.attempts)
            return
        now = now_ms()
        if failure.final or d.attempts >= self.settings.notify_attempts:
            await self.store.settle(d, "failed", now, failure.reason, now)
            log.warning("notification %s given up after attempt %d: %s", d.id, d.attempts, failure.reason)
            return
        wait = min(MAX_BACKOFF, self.settings.notify_backoff * 2 ** (d.attempts - 1))
        await self.store.settle(d, "pending", now + int(wait * 1000), failure.reason, now)
        log.warning(
            "notification %s attempt %d failed (%s); next in %g s", d.id, d.attempts, failure.reason, wait
        )

    async def _deliver(self, d: Delivery) -> None:
        """One attempt: the event, the contact and the session read from the database, then sent."""
        events = await self.store.read(d.session_id, after=d.seq - 1, limit=1)
        contact = (await self.store.contacts(d.session_id, [d.question_id])).get(d.question_id, "")
        row = await self.store.get_session(d.session_id)
        if not events or row is None or channel(contact) != d.channel:
            raise Undelivered("the question or its contact is gone", final=True)
        event = events[0]
        kept = await self.store.receipts(d.session_id, [d.question_id])  # carried over: the first number
        receipt = kept.get(d.question_id) or self.devices.receipt(d.session_id, d.question_id)
        link = receipt_link(self.settings.public_url, receipt)
        target = question_id(event)
        into = target if target is not None and target != d.question_id else None  # told as merged
        said = message(NOTIFYING.get(event.type, "update"), event, row.info, receipt, link, into)
        if d.channel == "email":
            assert self.mailer is not None
            await self.mailer.send(d.id, contact, said)
            return
        assert self.webhook is not None
        body = {
            "id": d.id,
            "type": event.type,
            "to": contact,
            "session_id": d.session_id,
            "session_title": row.info.get("title", ""),
            "question_id": d.question_id,
            "receipt": receipt,
            "link": link,
            "at": event.at,
            "outcome": public_question(event),
            "text": said.short,
        }
        if into is not None:
            body["merged_into"] = into
        await self.webhook.send(d.id, d.attempts, dumps(body).encode())

    async def listing(self, session_id: int) -> JSON:
        """A session's messages for its staff: what each told whom (the contact masked), and how
        its delivery stands. Contacts never reach any other view."""
        rows = await self.store.deliveries(session_id)
        contacts = await self.store.contacts(session_id, sorted({r.question_id for r in rows}))
        types = {e.seq: e.type for e in await self.store.read(session_id)} if rows else {}
        return {
            "channels": sorted(self.channels),
            "notifications": [
                {
                    "id": r.id,
                    "question_id": r.question_id,
                    "seq": r.seq,
                    "type": types.get(r.seq, ""),
                    "channel": r.channel,
                    "to": mask(contacts.get(r.question_id, "")),
                    "status": r.status,
                    "attempts": r.attempts,
                    "due_at": r.due_at,
                    "sent_at": r.sent_at,
                    "error": r.error,
                    "created_at": r.created_at,
                }
                for r in rows
            ],
        }
