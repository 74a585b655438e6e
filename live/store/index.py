"""The search index's rows, made in Python from what each event left behind.

One row per question: its text, display name, status, latest answer, when it
was asked and first answered, and the *keys* that searches match: the text
folded to Simplified Chinese (OpenCC ``t2s``) and case-folded, so 停車 finds
停车 and Parking finds parking. Both engines write a round's rows in the
transaction that stores its events (``Store.append``), from the events'
results (:func:`live.state.with_results`): so what an event does to the index
is what it does to the question, defined once in :func:`live.state.apply`,
and a search can never see an answer the log does not hold, nor miss one it
does. No trigger or database function re-implements the events any more.

**Only answered questions have a row.** Every search reads answered questions
alone (``status = 'answered'``), and an answer, once given, stays on the
question (a later hide or decline changes its status, which the row follows).
A row for every question asked cost each question its own commit's pages in
the row's table, its two indexes and the full-text index's segment, docsize
and idx tables: 7.5 of the 10.2 WAL pages a lone question wrote, where its
event needs one or two (``docs/benchmarks.md``, "Bytes written per question"). Rows an older version
wrote for unanswered questions are left as they are: no search returns them,
and the question's first answer rewrites its row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, NamedTuple

import opencc

from ..events import JSON, Event, NewEvent

_T2S = opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """What searches compare: Simplified characters, case-folded."""
    simplified: str = _T2S.convert(text)  # OpenCC's binding is untyped
    return simplified.casefold()


class Row(NamedTuple):
    question_id: int
    name: str
    question: str
    answer: str
    status: str
    asked_at: int
    answered_at: int | None
    """When the first answer came (an upsert keeps the first one it saw)."""
    question_key: str
    answer_key: str


def row(q: JSON) -> Row:
    """A question as staff see it (so with its text, whatever its status) as an index row."""
    text, answer = q.get("text", ""), (q.get("answer") or {})
    return Row(
        q["id"],
        q.get("name", ""),
        text,
        answer.get("text", ""),
        q["status"],
        q.get("asked_at", 0),
        answer.get("at"),
        fold(text),
        fold(answer.get("text", "")),
    )


def rows(events: Iterable[Event | NewEvent]) -> list[Row]:
    """The rows ``events`` change, each as the last of them leaves it: answered questions only."""
    out: dict[int, Row] = {}
    for e in events:
        q = e.data.get("question")
        if isinstance(q, dict) and "id" in q and q.get("answer"):
            out[q["id"]] = row(q)
    return list(out.values())


def item(row: Any) -> JSON:
    """One search result from its first eight columns, as both engines select them:
    session, question, name, question text, answer text, answered at, programme, session info."""
    sid, qid, name, question, answer, at, pid, info = row[:8]
    return {
        "session_id": sid,
        "question_id": qid,
        "name": name,
        "question": question,
        "answer": answer,
        "at": at,
        "programme_id": pid,
        "info": json.loads(info),
    }
