"""Satisfaction rates (满意度), published per session, per programme and per department.

Counted from the askers' ratings (:mod:`live.ratings`) as each session's log folds them
(:mod:`live.archive`), so they can never disagree with the log. Only aggregates leave here:
which question got which rating, and every comment, stay with staff and the asker.

A tally is ``{"rated", "counts": {level: n}, "percent": {level: %}, "satisfied": %}``, where
``satisfied`` is the share rated 满意 or 基本满意 (the usual 满意率), percentages to one
decimal, and None while nothing is rated.

**Department.** A forwarded question counts under the department it was forwarded to; an
answered one (live or in writing) under the session's guest: their post (``guest_post``,
e.g. 区住建局局长), or their name if the session gives no post. Declined and merged
questions have no department: they count in their session's and programme's rates only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from .events import JSON
from .ratings import LEVELS
from .state import Question, State
from .store import Catalog


def tally(levels: Iterable[str]) -> JSON:
    counts = dict.fromkeys(LEVELS, 0)
    for level in levels:
        counts[level] += 1
    n = sum(counts.values())

    def pct(k: int) -> float | None:
        return round(100 * k / n, 1) if n else None

    return {
        "rated": n,
        "counts": counts,
        "percent": {level: pct(k) for level, k in counts.items()},
        "satisfied": pct(counts["satisfied"] + counts["basically_satisfied"]),
    }


def department(q: Question, info: JSON) -> str:
    """Whose work the asker rated (see above); "" for none."""
    if q.status == "forwarded":
        return q.department
    if q.status == "answered":
        return str(info.get("guest_post") or info.get("guest_name") or "")
    return ""


def rated(state: State) -> list[tuple[Question, str]]:
    """Each rated question of a session, with its level."""
    return [(q, q.rating["level"]) for q in state.questions.values() if q.rating is not None]


def of_session(state: State) -> JSON:
    """One session's tally, for its transcript and its statistics."""
    return tally(level for _, level in rated(state))


async def published(
    store: Catalog, load: Callable[[int], Awaitable[State]], programme_id: int | None
) -> JSON:
    """Every programme's (or one's) tally, each of its sessions', and each department's.

    ``load`` folds a session's log (the archive's, which keeps it while it does not grow).
    """
    programmes, everyone = [], []
    by_department: dict[str, list[str]] = {}
    for p in await store.list_programmes():
        if programme_id is not None and p["id"] != programme_id:
            continue
        sessions, levels = [], []
        for row in await store.list_sessions(p["id"]):
            state = await load(row.id)
            own = rated(state)
            info = {"id": row.id, "episode": state.info.get("episode"), "title": state.info.get("title", "")}
            sessions.append(info | tally(level for _, level in own))
            levels += [level for _, level in own]
            for q, level in own:
                if name := department(q, state.info):
                    by_department.setdefault(name, []).append(level)
        everyone += levels
        programmes.append(
            {"id": p["id"], "slug": p["slug"], "title": p["title"]} | tally(levels) | {"sessions": sessions}
        )
    return {
        "levels": list(LEVELS),
        "overall": tally(everyone),
        "programmes": programmes,
        "departments": [{"department": name} | tally(v) for name, v in sorted(by_department.items())],
    }
