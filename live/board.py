"""The commitment board (承诺事项公开): every promise a programme made, and how each is kept.

Public, per programme, across all its episodes: for each commitment, the episode it was made
in, the question as everyone may see it (its text only if it was published), the commitment
with every progress report, whether it is ``overdue`` by the server's clock (a day in the
session's timezone: :func:`live.commitments.overdue`), and a link to the replay at the moment
it was said. Read from the store's board rows (:mod:`live.store.commitments`), a projection
the store writes with each event, so a visit costs one indexed read however many episodes the
programme has had, and never a fold of their logs.
"""

from __future__ import annotations

from typing import Protocol

from .commitments import STATUSES, overdue
from .events import JSON
from .exceptions import NotFound
from .store import Catalog, Commitments

EPISODE = ("episode", "title", "timezone", "starts_at")
"""What the board shows of the session each commitment was made in."""


class BoardStore(Catalog, Commitments, Protocol):
    """What the board reads: the programmes, and the board rows."""


def replay_link(session_id: int, said_at: int) -> str:
    """The replay of ``session_id`` opened at the moment ``said_at`` (ms since the epoch).

    The page places that moment on its own timeline (``static/js/timeline.js``), the one
    definition of where an event plays, so the server never computes an offset of its own.
    """
    return f"/s/{session_id}/replay?at={said_at}"


def entry(row: JSON, now: int) -> JSON:
    """One board entry from one store row, ``overdue`` as of ``now`` (ms)."""
    info, q = row["info"], row["question"]
    c, tz = q["commitment"], row["info"].get("timezone") or "Asia/Shanghai"
    return {
        "session_id": row["session_id"],
        "session": {k: info.get(k) for k in EPISODE},
        "question": q,
        "overdue": overdue(c, tz, now),
        "links": {
            "replay": replay_link(row["session_id"], c["said_at"]),
            "session": f"/s/{row['session_id']}",
        },
    }


def counts(entries: list[JSON]) -> JSON:
    """How many commitments, by status, and how many of them are overdue."""
    out = {"total": len(entries), **dict.fromkeys(STATUSES, 0), "overdue": 0}
    for e in entries:
        out[e["question"]["commitment"]["status"]] += 1
        out["overdue"] += e["overdue"]
    return out


class Board:
    def __init__(self, store: BoardStore) -> None:
        self.store = store

    async def programme(self, slug: str) -> JSON:
        """The programme with this slug, or ``programme_not_found``."""
        found = next((p for p in await self.store.list_programmes() if p["slug"] == slug), None)
        if found is None:
            raise NotFound("programme_not_found", "栏目不存在", "No such programme", slug=slug[:100])
        return found

    async def board(self, slug: str, now: int) -> JSON:
        """The programme's board at ``now`` (ms): ``programme``, ``now``, ``counts``, ``commitments``
        (by due day, the earliest first)."""
        p = await self.programme(slug)
        entries = [entry(row, now) for row in await self.store.programme_commitments(p["id"])]
        return {
            "programme": {k: p[k] for k in ("id", "slug", "title", "description")},
            "now": now,
            "counts": counts(entries),
            "commitments": entries,
        }
