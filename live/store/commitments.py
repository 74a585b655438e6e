"""The commitment board's rows, made in Python from what each event left behind.

One row per question that carries a commitment (:mod:`live.commitments`): the question as
everyone may see it (so with its commitment, and its text only if it was published), its
due day and when its commitment last changed. Both engines write a round's rows in the
transaction that stores its events, as they write the search index (:mod:`.index`), from the
events' results: a board can never show a promise or a progress report the log does not
hold, nor miss one it does, and what an event does to a commitment stays defined once, in
:func:`live.state.apply`.

Why a projection and not a fold of each session at read time: a programme's board spans
every episode it ever had; folding a hundred logs for each visit, or keeping a hundred
sessions in memory, would cost far more than one indexed read of a few rows per episode.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from ..events import JSON, Event, NewEvent, dumps


class Row(NamedTuple):
    question_id: int
    due: str
    updated_at: int
    question: str
    """The question as everyone may see it, as JSON text."""


def rows(events: Iterable[Event | NewEvent]) -> list[Row]:
    """The rows ``events`` change, each as the last of them leaves it."""
    out: dict[int, Row] = {}
    for e in events:
        seen = e.public if e.public is not None else e.data
        q = seen.get("question")
        if isinstance(q, dict) and isinstance(q.get("commitment"), dict):
            c: JSON = q["commitment"]
            out[q["id"]] = Row(q["id"], c["due"], c["updated_at"], dumps(q))
    return list(out.values())
