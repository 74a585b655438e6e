"""The archive service: what :mod:`live.archive_http` reads once a session is over.

A finished session is only ever read: its record (the log folded by
:mod:`live.archive`), its statistics (:mod:`live.stats`), the list of finished
episodes, and the search over every answer (:mod:`live.search`). Each of those
functions names the narrow store protocols it reads; this class binds them to
the worker's store so that the HTTP layer never holds it.
"""

from __future__ import annotations

from typing import Protocol

from . import archive, chain, satisfaction, search, signing
from . import stats as statistics
from .archive import Record
from .events import JSON
from .exceptions import NotFound
from .state import ENDED, State, phase
from .store import Catalog, Chain, Log, Meta, Presence, Search, Votes

LISTED = ("episode", "title", "guest_name", "guest_post", "starts_at", "ends_at", "timezone", "description")
"""The session fields the archive listing shows for each finished episode."""


class ArchiveStore(Catalog, Log, Search, Votes, Presence, Chain, Meta, Protocol):
    """What the archive reads: the catalogue, logs, the search index, votes and presence;
    the logs' hashes and the key that signs their bundles (:mod:`live.signing`)."""


class Archives:
    def __init__(self, store: ArchiveStore) -> None:
        self.store = store

    async def record(self, session_id: int) -> Record:
        """The session's log, folded (``session_not_found`` if there is none)."""
        return await archive.load(self.store, session_id)

    async def stats(self, record: Record, current: tuple[int, int] | None) -> JSON:
        """Staff statistics; ``current`` is the presence bucket this worker is still sampling."""
        return await statistics.stats(self.store, record, current)

    async def finished(self, programme_id: int | None, now: int) -> list[JSON]:
        """Every programme (or the one asked for) with its finished episodes, newest first."""
        answered = await self.store.answered_counts()
        out = []
        for p in await self.store.list_programmes():
            if programme_id is not None and p["id"] != programme_id:
                continue
            rows = [r for r in await self.store.list_sessions(p["id"]) if phase(r.info, now) in ENDED]
            rows.sort(key=lambda r: (r.info.get("starts_at") or 0, r.id), reverse=True)
            sessions = [
                {
                    "id": r.id,
                    **{k: r.info.get(k) for k in LISTED},
                    "answered": answered.get(r.id, 0),
                    "links": {"replay": f"/s/{r.id}/replay", "transcript": f"/s/{r.id}/transcript"},
                }
                for r in rows
            ]
            out.append({**p, "sessions": sessions})
        return out

    async def search(self, query: str | None, programme_id: int | None, limit: str | None) -> list[JSON]:
        """Answered questions matching what a person typed (see :func:`live.search.search`)."""
        return await search.search(self.store, query, programme_id, limit)

    async def suggest(self, session_id: int, query: str | None) -> list[JSON]:
        """ "Already answered?" candidates for a question being typed in ``session_id``."""
        return await search.suggest(self.store, session_id, query)

    async def public_chain(self, session_id: int) -> str:
        """The session's hash chain with the public part of each event (:func:`live.chain.public_chain`)."""
        if await self.store.get_session(session_id) is None:
            raise NotFound("session_not_found", "访谈不存在", "No such session", id=session_id)
        return chain.public_chain(session_id, await self.store.read_links(session_id))

    async def signing_key(self) -> JSON:
        """The public half of the key that signs bundles, made on first need (:mod:`live.signing`)."""
        return signing.describe((await signing.private_key(self.store)).public_key())

    async def satisfaction(self, programme_id: int | None) -> JSON:
        """Satisfaction rates per programme, session and department (:mod:`live.satisfaction`)."""

        async def load(session_id: int) -> State:
            return (await self.record(session_id)).state

        return await satisfaction.published(self.store, load, programme_id)
