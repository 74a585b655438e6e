"""What the public pages list, as their scripts list them: the one place on the server.

The viewer page (static/js/viewer.js) and the replay (static/js/replay.js) draw their lists
from the model (static/js/model.js ``list``) and the studio's timeline (static/js/studio.js
``timeline``); the server renders the same lists in the page's first response, so a link
preview, a reader with scripts off and a slow phone see them too. The order here is theirs,
and the browser tests compare the items both sides render for the same state
(tests/browser/test_viewer_items.py, test_replay_items.py).

Each question is as everyone may see it (:meth:`~live.state.Question.to_wire`: never a
pending or hidden text, never a contact); each post as :meth:`~live.state.Post.to_wire`.
"""

from __future__ import annotations

from .events import JSON
from .state import PUBLIC_STATUSES, State


def _answered(wires: list[JSON]) -> list[JSON]:
    """The answered questions, newest answer first."""
    return sorted(
        (w for w in wires if w["status"] == "answered"),
        key=lambda w: -((w.get("answer") or {}).get("at") or 0),
    )


def _open(wires: list[JSON], answering: int | None = None) -> list[JSON]:
    """The published questions open to 同问, most votes first, then the oldest; but ``answering``."""
    return sorted(
        (w for w in wires if w["status"] == "approved" and w["id"] != answering),
        key=lambda w: (-(w.get("votes") or 0), w["asked_at"]),
    )


def record(state: State, wires: list[JSON]) -> JSON:
    """The answers and the studio's standing posts, newest first (studio.js ``timeline``): each
    ``{"q": question}`` or ``{"post": post, "q": the question it reads out}``. A post reading
    out a question that is no longer published is left out, as the transcript leaves it. With
    how many answers and posts there are, for the list's heading (the ``record_head`` macro)."""
    by_id = {w["id"]: w for w in wires}
    answered = _answered(wires)
    items: list[tuple[int, JSON]] = [((w.get("answer") or {}).get("at") or 0, {"q": w}) for w in answered]
    posts = [post for post in state.posts.values() if not post.withdrawn]
    for post in posts:
        asked = by_id.get(post.question_id) if post.question_id is not None else None
        if post.kind == "announce" and not (asked or {}).get("text"):
            continue
        items.append((post.at, {"post": post.to_wire(), "q": asked}))
    return {
        "record": [item for _, item in sorted(items, key=lambda x: -x[0])],
        "answered_n": len(answered),
        "posts_n": len(posts),
    }


def _on_air(state: State) -> JSON | None:
    """The question being answered now, as everyone may see it; None when there is none, or
    when everyone may not read it."""
    q = state.questions.get(state.answering) if state.answering is not None else None
    wire = q.to_wire() if q is not None else None
    return wire if wire and wire.get("text") else None


def live_lists(state: State, device: str | None, votes: list[int]) -> JSON:
    """The viewer page's lists while a session runs: the record (answers and posts); the
    published questions open to 同问 but the one being answered now, each with whether it is
    this device's own (no 同问 on it) and whether it voted; and the one being answered."""
    wires = [q.to_wire() for q in state.questions.values()]
    mine, voted = set(state.by_device.get(device or "", ())), set(votes)
    return {
        **record(state, wires),
        "open": [(w, w["id"] in mine, w["id"] in voted) for w in _open(wires, state.answering)],
        "now_q": _on_air(state),
    }


NO_LISTS: JSON = {"record": [], "answered_n": 0, "posts_n": 0, "open": [], "now_q": None}


def replay_lists(state: State) -> JSON:
    """The replay at its end (the session's final state), as replay.js shows it there: the
    question being answered, the counts, the record, every published question still open (the
    one on air too), and the chapters: each published question at the moment its story is
    told, its answer (else when it was asked), in order. The script, once it has read the log,
    puts each chapter at its place on the timeline instead."""
    wires = [q.to_wire() for q in state.questions.values()]
    public = [w for w in wires if w["status"] in PUBLIC_STATUSES]
    moments = sorted(
        (((w.get("answer") or {}).get("at") or w["asked_at"], w["id"]), w) for w in public if w.get("text")
    )
    return {
        **record(state, wires),
        "now_q": _on_air(state),
        "counts": state.counts(),
        "open": _open(wires),
        "chapters": [(w, at) for (at, _), w in moments],
    }
