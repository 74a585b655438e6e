"""The session's state as a pure fold over its event log.

``apply(state, event)`` is the only way state changes (and
:func:`live.commands.decide` the only way new events are made); it does no
I/O. Live view, reconnect and replay all rebuild state with the same
``apply``, which is why they cannot disagree. A :class:`Draft` applies
events ahead of their commit and can take them back (see :mod:`live.rooms`).

The window is computed, not stored: :func:`phase` reads the schedule and the
staff overrides (opened early, extended, closed early). Clients compute the
scheduled transitions from the same times and the server's clock offset
(``welcome.server_time``); overrides are events, so every screen sees them at
once. The server refuses a question by the same :func:`phase`. After the window
a session is ``closed``: its closing stage (办结), in which staff give every
question an outcome (:mod:`live.closing`), until it is ``archived``.
"""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass, field
from typing import Any

from . import commitments
from .commitments import Commitment
from .events import JSON, Event, NewEvent
from .exceptions import NotFound

PUBLIC_STATUSES = frozenset({"approved", "answered", "carried_over"})
COUNTED = {
    "pending": "pending",
    "answered": "answered",
    "merged": "merged",
    "rejected": "declined",
    "forwarded": "forwarded",
    "hidden": "hidden",
    "carried_over": "carried_over",
}
"""Which public count (``counts`` in snapshots) each question status adds to."""
OUTCOMES = ("answered", "written", "forwarded", "carried_over", "merged", "declined", "none")
"""What became of a question (``outcome`` on every view of it), in the order pages list them:
answered live, a written reply (书面答复), forwarded, carried over to the next episode, merged,
declined; ``none`` while it has none (pending, approved, hidden)."""
OUTCOME_OF = {
    "forwarded": "forwarded",
    "carried_over": "carried_over",
    "merged": "merged",
    "rejected": "declined",
}
"""The outcome each status is, but ``answered`` (answered live, or a written reply)."""
ENDED = frozenset({"closed", "archived"})
"""The phases after the window: the closing stage, then the archived record."""
PHOTO_FIELDS = ("photo", "caption", "width", "height", "sha256", "bytes")
"""What a photo's post carries besides its ``url``: the photo's own id (in that address), its
caption, size in pixels, and the SHA-256 and length of its JPEG (so the hash chain covers the
image too)."""
POST_EVENTS = frozenset({"host.remarked", "host.announced", "photo.posted", "post.withdrawn"})
"""The studio's events (live/studio.py): each carries ``post``, the post as it now stands."""


def phase(info: JSON, now: int) -> str:
    """Where a session's window stands at ``now`` (ms): archived, staff overrides, the schedule."""
    if info.get("archived_at") is not None:
        return "archived"
    if info.get("closed_at") is not None or now >= info.get("ends_at", 0):
        return "closed"
    if info.get("opened_at") is not None or now >= info.get("starts_at", 0):
        return "open"
    collect = info.get("collect_from")
    if collect is not None and now >= collect:
        return "collecting"
    return "upcoming"


def text_key(text: str) -> str:
    """Two questions with the same key say the same thing but for case and spacing."""
    return "".join(text.casefold().split())


@dataclass
class Question:
    id: int
    text: str
    name: str
    status: str
    asked_at: int
    device: str = ""
    client_id: str = ""
    votes: int = 0
    answer: JSON | None = None
    reason: str = ""
    note: str = ""
    department: str = ""
    merged_into: int | None = None
    original_text: str | None = None
    flags: JSON | None = None
    handled_by: str = ""
    commitment: Commitment | None = None
    held: JSON | None = None
    """An answer typed and held for review (:mod:`live.review`): staff alone see it."""
    held_device: str = ""
    """Who typed the held answer, as the device that sent it: never shown, only compared."""
    follows: JSON | None = None
    """The question this one follows up (追问): ``{"session_id", "question_id"}``."""
    follow_up: JSON | None = None
    """The follow-up its asker made of it, in the next episode: ``{"session_id", "question_id"}``."""
    rating: JSON | None = None
    """Its asker's rating of the outcome: ``{"level", "comment", "at"}`` (live/ratings.py)."""
    seal: str = ""
    """The asker's secret, keyed and hashed (``Devices.seal``); never on the wire."""
    carried_to: JSON | None = None
    """``{"session_id", "question_id"}``: where it was carried over to (status ``carried_over``)."""
    carried_from: JSON | None = None
    """``{"session_id", "question_id"}``: the question of an earlier episode this one continues."""
    receipt: str = ""
    """A carried-in question's receipt number, the one its asker was given (never on the wire but
    to its asker); empty for a question asked here, whose number is computed."""
    shown: bool = False
    """Published (approved) and not hidden since: forwarded after that, its text stays public."""
    channel: str = "web"
    """Where it came from (live/channels.py): ``web``, or the call or message staff entered it from."""

    @property
    def public(self) -> bool:
        return self.status in PUBLIC_STATUSES or (self.status == "forwarded" and self.shown)

    @property
    def settled_as(self) -> str:
        """Its outcome (one of :data:`OUTCOMES`): a written answer is a written reply."""
        if self.status == "answered":
            return "written" if self.answer and self.answer.get("mode") == "written" else "answered"
        return OUTCOME_OF.get(self.status, "none")

    def outcome(self) -> JSON:
        """What anyone may know of how a question ended, without its text.

        The note is the staff's word to the asker on a decline or a forward: it is
        written to be read, by the asker and by anyone the outcome is shown to.
        """
        out: JSON = {"id": self.id, "status": self.status, "asked_at": self.asked_at}
        out["outcome"] = self.settled_as
        if self.channel != "web":  # absent: asked on the page
            out["channel"] = self.channel
        if self.carried_to is not None:
            out["carried_to"] = self.carried_to
        if self.carried_from is not None:
            out["carried_from"] = self.carried_from
        if self.reason:
            out["reason"] = self.reason
        if self.department:
            out["department"] = self.department
        if self.merged_into is not None:
            out["merged_into"] = self.merged_into
        if self.note and self.status in ("rejected", "forwarded"):
            out["note"] = self.note
        if self.status == "forwarded" and self.shown:  # counted among the published, in every view
            out["published"] = True
        if self.commitment is not None:
            out["commitment"] = self.commitment.to_wire()
        if self.follows is not None:
            out["follows"] = self.follows
        if self.follow_up is not None:
            out["follow_up"] = self.follow_up
        return out

    def to_wire(self, staff: bool = False, own: bool = False) -> JSON:
        """The question as one audience may see it: the one definition of each view.

        Everyone sees a published question whole and the outcome of any other;
        its asker (``own``: their device, or their receipt number) also sees what
        they wrote, as it now reads; staff see everything but private contacts.
        """
        if not (staff or own or self.public):
            return self.outcome()
        out = {**self.outcome(), "text": self.text, "name": self.name, "votes": self.votes}
        if self.answer is not None:
            out["answer"] = self.answer
        if self.rating is not None and (staff or own):  # everyone else sees only aggregates
            out["rating"] = self.rating
        if staff:
            if self.original_text is not None:
                out["original_text"] = self.original_text
            if self.flags:
                out["flags"] = self.flags
            if self.note:
                out["note"] = self.note
            if self.handled_by:
                out["handled_by"] = self.handled_by
            if self.held is not None:
                out["held"] = self.held
        return out


@dataclass
class Post:
    """A line of the studio's own (图文直播, live/studio.py), not tied to a question's fate: the host's
    remark (``remark``), the host reading out the next question (``announce``), or a studio photo
    with its caption (``photo``). Everyone sees the same post; a withdrawn one, nothing of it."""

    id: int
    kind: str
    at: int
    text: str = ""
    question_id: int | None = None
    photo: JSON | None = None
    """A photo's :data:`PHOTO_FIELDS` (live/photos.py)."""
    withdrawn: bool = False

    def to_wire(self) -> JSON:
        """The post as every audience sees it: the one definition, for every page and format."""
        out: JSON = {"id": self.id, "kind": self.kind, "at": self.at}
        if self.withdrawn:
            return {**out, "withdrawn": True}
        if self.kind == "remark":
            out["text"] = self.text
        elif self.kind == "announce":
            out["question_id"] = self.question_id
        elif self.photo is not None:
            out.update(self.photo, url=f"photos/{self.photo['photo']}.jpg")
        return out


@dataclass
class State:
    session_id: int
    seq: int = 0
    info: JSON = field(default_factory=dict)
    questions: dict[int, Question] = field(default_factory=dict)
    by_client: dict[tuple[str, str], int] = field(default_factory=dict)
    by_text: dict[tuple[str, str], int] = field(default_factory=dict)
    """(device, :func:`text_key`) of each question as asked: a device asks a question once."""
    by_device: dict[str, list[int]] = field(default_factory=dict)
    """Each device's questions, for its welcome (``mine``) on every (re)connect."""
    by_receipt: dict[str, int] = field(default_factory=dict)
    """The question each kept receipt number names (``question.carried_in``): a receipt of an
    earlier episode is found here by a lookup, not by parsing every question's."""
    answering: int | None = None
    posts: dict[int, Post] = field(default_factory=dict)
    """The studio's posts by id, in the order posted (withdrawn ones kept, marked)."""

    def phase(self, now: int) -> str:
        return phase(self.info, now)

    def counts(self) -> JSON:
        c = dict.fromkeys(
            (
                "received",
                "pending",
                "published",
                "answered",
                "merged",
                "declined",
                "forwarded",
                "hidden",
                "carried_over",
            ),
            0,
        )
        c["received"] = len(self.questions)
        for q in self.questions.values():
            if q.public:
                c["published"] += 1
            key = COUNTED.get(q.status)
            if key:
                c[key] += 1
        return c

    def outcomes(self) -> JSON:
        """How many questions have each outcome, and the reply rate (docs/protocol.md, "Closing").

        ``replied`` (answered live, written reply, forwarded) over ``due``: every question but
        the merged (answered through the one they joined) and the carried over (due in the
        next episode). A decline is not a reply, so declining never raises the rate.
        """
        c: JSON = dict.fromkeys(OUTCOMES, 0)
        for q in self.questions.values():
            c[q.settled_as] += 1
        replied = c["answered"] + c["written"] + c["forwarded"]
        due = len(self.questions) - c["merged"] - c["carried_over"]
        return {**c, "replied": replied, "due": due, "reply_rate": replied / due if due else None}

    def snapshot(self, staff: bool) -> JSON:
        return {
            "seq": self.seq,
            "session": self.info,
            "answering": self.answering,
            "questions": [q.to_wire(staff) for q in self.questions.values()],
            "counts": self.counts(),
            "outcomes": self.outcomes(),
            "posts": [p.to_wire() for p in self.posts.values() if not p.withdrawn],
        }

    def add(self, q: Question) -> None:
        """A newly asked question, in ``questions`` and in every index."""
        self.questions[q.id] = q
        if q.client_id:
            self.by_client[(q.device, q.client_id)] = q.id
        self.by_text.setdefault((q.device, text_key(q.text)), q.id)
        if q.device:
            self.by_device.setdefault(q.device, []).append(q.id)
        if q.receipt:
            self.by_receipt.setdefault(q.receipt, q.id)

    def remove(self, qid: int) -> None:
        """Undo :meth:`add` (a draft taking back a question that was never stored)."""
        q = self.questions.pop(qid, None)
        if q is None:
            return
        if self.by_client.get((q.device, q.client_id)) == qid:
            del self.by_client[(q.device, q.client_id)]
        key = (q.device, text_key(q.original_text if q.original_text is not None else q.text))
        if self.by_text.get(key) == qid:
            del self.by_text[key]
        mine = self.by_device.get(q.device, [])
        if qid in mine:
            mine.remove(qid)
            if not mine:
                del self.by_device[q.device]
        if self.by_receipt.get(q.receipt) == qid:
            del self.by_receipt[q.receipt]

    def question(self, qid: Any) -> Question:
        if not isinstance(qid, int) or qid not in self.questions:
            raise NotFound("question_not_found", "问题不存在", "No such question", id=qid)
        return self.questions[qid]


def apply(state: State, event: Event) -> State:
    """Fold one stored event into ``state`` (in place, for speed) and return it."""
    if event.seq != state.seq + 1:
        raise ValueError(f"event {event.seq} applied to state at {state.seq}")
    d, t = event.data, event.type
    q = state.questions.get(d["id"]) if "id" in d and isinstance(d["id"], int) else None
    if t in ("session.created", "session.updated"):
        state.info = {**state.info, **d["session"]}
    elif t == "session.opened":
        state.info = {**state.info, "opened_at": d["at"], "closed_at": None}
    elif t == "session.closed":
        state.info = {**state.info, "closed_at": d["at"]}
    elif t == "session.extended":
        state.info = {**state.info, "ends_at": d["ends_at"], "closed_at": None}
    elif t == "session.moderation":
        state.info = {**state.info, "moderation": d["mode"]}
    elif t == "question.asked":
        w, p = d["question"], event.private
        state.add(
            Question(
                w["id"],
                w["text"],
                w["name"],
                w["status"],
                w["asked_at"],
                device=p.get("device", ""),
                client_id=p.get("client_id", ""),
                flags=w.get("flags"),
                follows=w.get("follows"),
                seal=p.get("seal", ""),
                shown=w["status"] == "approved",
                channel=w.get("channel", "web"),
            )
        )
    elif t == "question.approved":
        q = state.questions[d["question"]["id"]]
        q.status, q.shown = "approved", True
    elif t == "question.rejected" and q:
        q.status, q.reason, q.note = "rejected", d.get("reason", ""), d.get("note", "")
    elif t == "question.edited" and q:
        if q.original_text is None:
            q.original_text = q.text
        q.text = d["text"]
    elif t == "question.merged" and q:
        q.status, q.merged_into = "merged", d["into"]
    elif t == "question.hidden" and q:
        q.status, q.shown = "hidden", False
    elif t == "question.forwarded" and q:
        q.status, q.department, q.note = "forwarded", d["department"], d.get("note", "")
    elif t == "question.answering":
        state.answering = d["id"]
    elif t == "question.answered" and q:
        q.status, q.answer = "answered", d["answer"]
        if state.answering == q.id:
            state.answering = None
        if "released" in d:
            q.held, q.held_device = None, ""
    elif t == "votes.tallied":
        for qid, n in d["votes"].items():
            state.questions[int(qid)].votes = n
    elif t == "commitment.made" and q:
        q.commitment = commitments.made(d)
    elif t == "commitment.progress" and q and q.commitment:
        q.commitment = commitments.progressed(q.commitment, d)
    elif t == "question.answer_held" and q:
        q.held, q.held_device = {**d["held"], "seq": event.seq}, event.private.get("device", "")
    elif t == "question.answer_approved" and q:
        if q.held is not None and q.held["seq"] == d["hold"]:
            q.held = {**q.held, "release_at": d["release_at"], "approved_by": d["approved_by"]}
    elif t == "question.answer_withdrawn" and q:
        q.held, q.held_device = None, ""
    elif t == "question.rated" and q:
        q.rating = {"level": d["level"], "comment": d.get("comment", ""), "at": d["at"]}
    elif t == "question.followed_up" and q:
        q.follow_up = d["follow_up"]
    elif t == "session.archived":
        state.info = {**state.info, "archived_at": d["at"]}
    elif t in ("host.remarked", "host.announced", "photo.posted"):
        w = d["post"]
        photo = {k: w[k] for k in PHOTO_FIELDS} if w["kind"] == "photo" else None
        state.posts[w["id"]] = Post(
            w["id"], w["kind"], w["at"], w.get("text", ""), w.get("question_id"), photo
        )
    elif t == "post.withdrawn":
        post = state.posts[d["post_id"]]
        post.withdrawn, post.text, post.photo = True, "", None
    elif t == "question.carried_over" and q:
        q.status, q.carried_to = "carried_over", d["to"]
    elif t == "question.carried_in":
        w, p = d["question"], event.private
        state.add(
            Question(
                w["id"],
                w["text"],
                w["name"],
                w["status"],
                w["asked_at"],
                device=p.get("device", ""),
                carried_from=w["carried_from"],
                receipt=p.get("receipt", ""),
                seal=p.get("seal", ""),
                shown=True,
                channel=w.get("channel", "web"),
            )
        )
    else:
        raise ValueError(f"cannot apply {t!r} at seq {event.seq}")
    if q is not None and "by" in event.private and t != "question.answering":
        q.handled_by = event.private["by"]
    if q is not None and state.answering == q.id and q.status != "approved":
        state.answering = None
    state.seq = event.seq
    return state


def with_results(state: State, event: NewEvent) -> NewEvent:
    """``event`` carrying what it leaves behind, read from ``state`` after it was applied.

    This is how the wire carries results, not instructions: every ``session.*``
    event carries the whole ``session`` as it now stands, and every ``question.*`` (or
    ``commitment.*``) event the ``question`` as each audience may now see it (:meth:`Question.to_wire`:
    staff in ``data``, everyone else in ``public``) and who is ``answering``. A
    page replaces what it shows by id; what an event *does* stays defined once,
    in :func:`apply`. Stored with the event, so the bus, a gap fill, a resume from
    the log and a replay all carry the same result.
    """
    data, public = dict(event.data), None
    if event.type.startswith("session."):
        data["session"] = state.info
    elif event.type in POST_EVENTS:
        data["post"] = state.posts[data["post"]["id"] if "post" in data else data["post_id"]].to_wire()
    elif event.type.startswith(("question.", "commitment.")):
        qid = data["question"]["id"] if isinstance(data.get("question"), dict) else data.get("id")
        q = state.questions.get(qid) if isinstance(qid, int) else None
        data["answering"] = state.answering
        if q is not None:
            data["question"] = q.to_wire(staff=True)
            seen = q.to_wire()
            if event.public is not None or seen != data["question"]:
                public = {"question": seen, "answering": state.answering}  # results only
    return NewEvent(event.type, data, public, event.private)


def replay(session_id: int, events: list[Event]) -> State:
    state = State(session_id)
    for e in events:
        apply(state, e)
    return state


def touched(event: Event) -> list[int]:
    """The questions ``apply`` may change for ``event``."""
    d = event.data
    ids = [int(k) for k in d["votes"]] if event.type == "votes.tallied" else []
    if isinstance(d.get("id"), int):
        ids.append(d["id"])
    if isinstance(d.get("question"), dict):
        ids.append(d["question"]["id"])
    return ids


class Draft:
    """Events applied to a state before they are committed, and the way back.

    Why: a room decides a whole round of requests one after another, each
    against the state its predecessors in the round leave, and commits them
    together (one fsync for many questions). Copying a state with thousands
    of questions per round would cost more than the commit saves, so the
    round applies in place and keeps before-images of just what it touched.
    """

    def __init__(self, state: State) -> None:
        self.state = state
        self.seq, self.info, self.answering = state.seq, state.info, state.answering
        self.before: dict[int, Question | None] = {}
        self.posts: dict[int, Post | None] = {}
        """Before-images of the posts the draft touched (None: posted in it)."""

    def apply(self, event: Event) -> None:
        questions = self.state.questions
        for qid in touched(event):
            if qid not in self.before:
                q = questions.get(qid)
                self.before[qid] = None if q is None else copy(q)
        if event.type in POST_EVENTS:
            pid = event.data["post"]["id"] if "post" in event.data else event.data["post_id"]
            if pid not in self.posts:
                post = self.state.posts.get(pid)
                self.posts[pid] = None if post is None else copy(post)
        apply(self.state, event)

    def rollback(self) -> None:
        """Put the state back as it was when the draft began."""
        s = self.state
        for qid, old in self.before.items():
            if old is None:
                s.remove(qid)
            else:
                s.questions[qid] = old
        for pid, was in self.posts.items():
            if was is None:
                s.posts.pop(pid, None)
            else:
                s.posts[pid] = was
        s.seq, s.info, s.answering = self.seq, self.info, self.answering
        self.before.clear()
        self.posts.clear()
