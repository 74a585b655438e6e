"""The notification outbox's interface: a cursor per session over its log, and a row per message.

The log is the outbox's source: :mod:`live.notifier` reads each session's committed events
past its cursor and, for those that tell an asker something (:data:`live.notify.NOTIFYING`),
adds a row here, moving the cursor in the same transaction (:meth:`Outbox.enqueue`). A row
is only a pointer (session, event, question, channel) with its delivery state: the message
is rendered from the log at each attempt, so no second copy of a contact or of any text is
kept beside the one in the event that carries it.

Why rows and not a cursor alone: each message is retried on its own schedule and must be
sent once per installation however many workers and hosts run. A worker *claims* a due row
(:meth:`Outbox.claim`) by moving its ``due_at`` past a lease and counting the attempt, in
one statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the single writer on SQLite), so
no two workers hold it at once; only the holder of that attempt may settle it
(:meth:`Outbox.settle`). A worker killed mid-send leaves its claim to expire, and the next
worker sends again: delivery is *at least once*, under one delivery id the receiver dedupes.

``live/store/sqlite_outbox.py`` and ``live/store/postgres_outbox.py`` keep this contract, and
``tests/test_notify.py`` runs the same tests on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

STATUSES = ("pending", "sent", "failed", "superseded")
"""A delivery is ``pending`` (waiting, or claimed by a worker now), ``sent`` (the receiver
took it), ``failed`` (refused for good, or out of attempts) or ``superseded`` (a later outcome
of the same question was queued before this one was first tried: only the latest is sent)."""


@dataclass(frozen=True)
class NewDelivery:
    """A message to queue: which event of which session tells which question's asker what."""

    id: str
    session_id: int
    seq: int
    question_id: int
    channel: str
    due_at: int


@dataclass(frozen=True)
class Delivery:
    """A queued message and where its delivery stands."""

    id: str
    session_id: int
    seq: int
    question_id: int
    channel: str
    status: str
    attempts: int
    due_at: int
    sent_at: int | None
    error: str
    created_at: int


COLUMNS = "id, session_id, seq, question_id, channel, status, attempts, due_at, sent_at, error, created_at"
"""The columns :class:`Delivery` is read from, in its order (both engines)."""


class Outbox(Protocol):
    """Where the notifier keeps its place in each log and the messages it owes."""

    async def notify_backlog(self) -> list[tuple[int, int]]:
        """``(session_id, cursor)`` of every session whose log has events past its cursor."""

    async def contacts(self, session_id: int, question_ids: list[int]) -> dict[int, str]:
        """The private contact each of these questions was asked with (those that left one)."""

    async def receipts(self, session_id: int, question_ids: list[int]) -> dict[int, str]:
        """The receipt number each of these questions kept when it was carried in from an
        earlier episode (``question.carried_in``); a question asked here is not listed."""

    async def merged_into(self, session_id: int, question_ids: list[int]) -> dict[int, list[int]]:
        """The questions merged (``question.merged``) into each of these, in the order they were
        merged; a question nothing was merged into is not listed."""

    async def enqueue(self, session_id: int, upto: int, deliveries: list[NewDelivery], now: int) -> int:
        """Queue ``deliveries`` (one already queued under its id is left alone) and move the
        session's cursor to at least ``upto``, in one transaction; how many were new.

        A new delivery supersedes the earlier ones of its question never yet tried."""

    async def claim(self, now: int, lease_ms: int, limit: int) -> list[Delivery]:
        """Take up to ``limit`` pending deliveries due by ``now``: each one's ``attempts`` goes
        up by one and its ``due_at`` to ``now + lease_ms``, so nobody else takes it meanwhile."""

    async def settle(self, delivery: Delivery, status: str, due_at: int, error: str, now: int) -> bool:
        """Record how the attempt ``delivery`` claimed ended: ``sent``, ``failed``, or ``pending``
        again from ``due_at``. False if that claim is no longer the latest (it expired)."""

    async def deliveries(self, session_id: int) -> list[Delivery]:
        """Every message queued for a session's askers, in log order (for staff)."""
