"""The store interface: the event log, plus the few things that are not events.

Votes live in their own table because one vote is not something a viewer
sees: the coalesced tally is, and that is an event. Secrets and programmes
are staff-only configuration. Everything else a viewer can see is in the log.

Sequence numbers are assigned here, inside the transaction that stores the
events, and :meth:`Log.append` refuses a write made against a stale view of
the log (:class:`SeqConflict`), so several workers can never store two events
under one number or in two orders.

The interface is split by job into narrow protocols (:class:`Log`,
:class:`Catalog`, :class:`Votes`, :class:`Search`, :class:`Presence`,
:class:`Meta`, :class:`Chain`); :class:`Store` is all of them, for the wiring that opens it.
Why: a module that is handed only the log cannot reach the staff secrets, and
what each layer touches reads from its signature rather than from its body.

Two implementations keep this contract, and ``tests/test_store.py`` runs
the same tests on both: :mod:`.sqlite` (one file; several processes on one
host) and :mod:`.postgres` (many workers on many hosts). When the database
cannot be reached or cannot commit, every method raises
:class:`live.exceptions.Unavailable` and nothing is acknowledged; the store
recovers by itself when the database returns. (If a commit succeeded but its
reply was lost, the event is in the log, and a client's resend with the same
``client_id`` finds it rather than storing it twice.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..chain import Link
from ..events import JSON, Event, NewEvent, OnCommit, Tally
from .outbox import Outbox

Moves = Sequence[tuple[int, int]]
"""Votes to carry over with an append: ``(from_question, into_question)`` pairs."""


class SeqConflict(Exception):
    """Another writer appended first; catch up from the log and decide again."""


@dataclass(frozen=True)
class SessionRow:
    id: int
    programme_id: int
    epoch: str
    last_seq: int
    info: JSON
    presenter_hash: str
    moderator_hash: str
    host_hash: str = ""
    """The host's (主持人) key, hashed; empty for a session made before the role, until its links
    are rotated."""


class Log(Protocol):
    """A session's events, in order: the truth everything a viewer sees derives from."""

    async def append(
        self,
        session_id: int,
        expected_seq: int,
        events: list[NewEvent],
        info: JSON | None = None,
        tally: Tally | None = None,
        on_commit: OnCommit | None = None,
        moves: Moves = (),
    ) -> list[Event]:
        """Store ``events`` as ``expected_seq + 1 ...`` in one commit, or raise SeqConflict.

        ``info``, when given, replaces the session's listing projection in the same commit.
        ``moves``, ``(from_question, into_question)`` pairs, carry a merged question's
        votes over in the same commit, before ``tally`` counts (a device that voted for
        both counts once): the merge and its votes are stored together or not at all.
        ``tally``, when given, is called in the same transaction with the session's vote
        counts (as :meth:`Votes.vote_counts` reads them), and the event it returns is stored
        after ``events``. Why in the transaction: a read of the counts first would be
        one more trip through the event loop, and in a vote storm each trip waits behind
        thousands of votes. ``tally`` may run on another thread: it must only read its
        argument and what it closed over. With no events at all, nothing is stored.

        ``on_commit``, when given, is called on the event loop with the stored events
        (never with none) as soon as they are committed, before this coroutine resumes:
        on SQLite, ahead of the other writes committed with them, whose callers queue
        behind each other (in a vote storm, hundreds of acknowledgements) before this
        one's would run.
        """

    async def read(self, session_id: int, after: int = 0, limit: int | None = None) -> list[Event]:
        """Committed events with ``seq > after``, in order."""


class Catalog(Protocol):
    """Programmes and their sessions: the rows that name a log and hold its staff secrets."""

    async def create_programme(self, slug: str, title: str, description: str) -> int: ...

    async def update_programme(self, programme_id: int, fields: JSON) -> None: ...

    async def list_programmes(self) -> list[JSON]: ...

    async def create_session(
        self,
        programme_id: int,
        presenter_hash: str,
        moderator_hash: str,
        first: NewEvent,
        host_hash: str = "",
    ) -> Event:
        """Create a session whose log starts with ``first`` (seq 1)."""

    async def get_session(self, session_id: int) -> SessionRow | None: ...

    async def list_sessions(self, programme_id: int | None = None) -> list[SessionRow]: ...

    async def set_secrets(
        self, session_id: int, presenter_hash: str, moderator_hash: str, host_hash: str = ""
    ) -> None: ...


class Votes(Protocol):
    """One row per device and question: the truth the tallies in the log are counted from."""

    async def set_vote(self, session_id: int, question_id: int, device: str, on: bool) -> bool:
        """Add or withdraw one device's vote; True if that changed anything."""

    async def vote_counts(self, session_id: int) -> dict[int, int]: ...

    async def device_votes(self, session_id: int, device: str) -> list[int]: ...


class Search(Protocol):
    """The archive's search index (see live/store/sqlite_search.py): a projection of the log
    that the store keeps in the append transaction."""

    async def search_answered(
        self, phrases: list[str], substrings: list[str], programme_id: int | None, limit: int
    ) -> list[JSON]:
        """Answered, published questions containing every phrase (>= 3 chars) and substring."""

    async def similar_answered(
        self, features: list[str], programme_id: int, until: int, limit: int
    ) -> list[JSON]:
        """Candidates for "already answered?": answered questions sharing the most features."""

    async def answered_counts(self) -> dict[int, int]: ...


class Presence(Protocol):
    """Viewer counts over time: samples, not events (see :mod:`live.stats`)."""

    async def record_presence(self, session_id: int, at: int, viewers: int) -> None:
        """Keep the peak connection count of one time bucket (the larger write wins)."""

    async def presence(self, session_id: int) -> list[tuple[int, int]]:
        """(bucket start ms, peak connections), oldest first."""


class Meta(Protocol):
    """Installation-wide values kept in the database: the secrets, the blocked-word list."""

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str, replace: bool = True) -> None:
        """Store a value; with ``replace=False`` an existing one wins (first writer wins)."""


class Commitments(Protocol):
    """The programme boards' rows (see live/store/commitments.py): a projection of the logs that
    the store keeps in the append transaction, as it keeps the search index."""

    async def programme_commitments(self, programme_id: int) -> list[JSON]:
        """Each commitment of the programme's sessions, by due day: ``session_id``, ``question``
        (as everyone may see it, its ``commitment`` included) and the session's ``info``."""


class Photos(Protocol):
    """The studio's photos (图文直播, :mod:`live.photos`): the re-encoded JPEG of each, kept with its
    session. Not events: an image is too large for the log, which holds its ``photo.posted``
    (with the image's SHA-256, so the chain covers it) while its bytes live here."""

    async def put_photo(self, session_id: int, photo_id: str, at: int, image: bytes) -> None:
        """Keep one photo's JPEG under its (random, unique) id."""

    async def get_photo(self, session_id: int, photo_id: str) -> bytes | None: ...

    async def drop_photo(self, session_id: int, photo_id: str) -> None:
        """Forget a photo's bytes (withdrawn, or never posted): nothing serves or exports it again."""


class Chain(Protocol):
    """Each event's hash, chained to the one before (:mod:`live.chain`), which the store
    computes in the transaction that stores the event (:meth:`Log.append`)."""

    async def read_links(self, session_id: int, after: int = 0, limit: int | None = None) -> list[Link]:
        """Committed events with ``seq > after``, in order, as their stored text and hash."""


class Store(Log, Catalog, Votes, Search, Presence, Meta, Outbox, Commitments, Chain, Photos, Protocol):
    """Every job at once, plus the connection: what the wiring opens and hands out.

    Only the wiring names it (:mod:`live.services`, :mod:`live.cli`): every other
    consumer names the narrow protocols it uses, so what each layer may touch is
    in its signature and checked by mypy.
    """

    async def open(self) -> None:
        """Connect and apply migrations."""

    async def close(self) -> None: ...


ROW_TABLES: dict[str, dict[str, type]] = {
    "votes": {"question_id": int, "device": str, "at": int},
    "presence": {"at": int, "viewers": int},
    "photos": {"id": str, "at": int, "image": bytes},
}
"""Tables keyed by ``session_id`` whose rows are data, not derived from the log: what a
session's copy carries beside its events. Their other columns, as both engines have them
(a ``bytes`` column is base64 text in an export file: :mod:`live.backup`)."""


@dataclass
class SessionCopy:
    """One session as ``live export`` writes it and ``live import`` reads it back."""

    programme: JSON
    """``slug``, ``title`` and ``description``: an import finds the programme by slug, or makes it."""
    session: JSON
    """``id``, ``epoch`` and ``last_seq`` where it was exported from, and its ``info``."""
    events: list[Event]
    rows: dict[str, list[JSON]]
    """Rows of :data:`ROW_TABLES`, without their ``session_id``: exactly the columns it names."""
    hashes: list[str | None] = field(default_factory=list)
    """Each event's stored hash (:mod:`live.chain`), in order; empty when not read."""


class Imports(Protocol):
    """Where ``live import`` adds an exported session: either engine
    (:mod:`.sqlite_copies`, :mod:`.postgres_copies`).

    Not part of :class:`Store`: a copy works on the database beside a running server,
    without opening it as a store (no pool, no writer, no migration of its own: the
    command migrates first), and runs synchronously in a command that then exits.
    """

    def import_session(
        self, copy: SessionCopy, presenter_hash: str, moderator_hash: str, host_hash: str = ""
    ) -> int:
        """Add ``copy`` as a new session with a new id and epoch, with its search rows, in one
        transaction; its id. The caller has checked ``copy`` (:func:`live.backup.import_session`):
        its log replays and its rows hold exactly :data:`ROW_TABLES`' columns."""


class Copies(Imports, Protocol):
    """Backup and export besides import, for ``live backup`` and ``live export``: SQLite only
    (:mod:`.sqlite_copies`). :func:`live.store.open_copies` refuses PostgreSQL, whose own
    tools (``pg_dump``) already take consistent copies while it serves."""

    def backup(self, dest: str) -> dict[str, int]:
        """One consistent copy of the whole database at ``dest``, every session given a new
        epoch; returns how many ``sessions`` and ``events`` it holds."""

    def export_session(self, session_id: int) -> SessionCopy | None:
        """One session from one read snapshot, or None if there is none."""
