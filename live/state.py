"""The session's state as a pure fold over its event log.

``apply(state, event)`` is the only way state changes, and ``decide(state,
command, actor, now)`` the only way new events are made; neither does I/O.
Live view, reconnect and replay all rebuild state with the same ``apply``,
which is why they cannot disagree. Tests can drive both without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .events import JSON, Event, NewEvent
from .exceptions import BadRequest, Conflict, Forbidden, NotFound

PHASES = ("upcoming", "collecting", "open", "closed")
PUBLIC_STATUSES = frozenset({"approved", "answered"})


def phase(info: JSON, now: int) -> str:
    """Where a session's window stands at ``now`` (ms): staff overrides, then the schedule."""
    if info.get("closed_at") is not None or now >= info.get("ends_at", 0):
        return "closed"
    if info.get("opened_at") is not None or now >= info.get("starts_at", 0):
        return "open"
    collect = info.get("collect_from")
    if collect is not None and now >= collect:
        return "collecting"
    return "upcoming"


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

    def to_wire(self) -> JSON:
        out: JSON = {"id": self.id, "text": self.text, "name": self.name,
                     "status": self.status, "asked_at": self.asked_at, "votes": self.votes}
        if self.answer is not None:
            out["answer"] = self.answer
        if self.reason:
            out["reason"] = self.reason
        return out

    def redacted(self) -> JSON:
        """What a viewer may know of a question nobody approved: that it exists."""
        return {"id": self.id, "status": self.status, "asked_at": self.asked_at}


@dataclass
class State:
    session_id: int
    seq: int = 0
    info: JSON = field(default_factory=dict)
    questions: dict[int, Question] = field(default_factory=dict)
    by_client: dict[tuple[str, str], int] = field(default_factory=dict)
    answering: int | None = None

    def phase(self, now: int) -> str:
        return phase(self.info, now)

    def accepts_questions(self, now: int) -> bool:
        return self.phase(now) in ("open", "collecting")

    def counts(self) -> JSON:
        c = {"received": len(self.questions), "published": 0, "answered": 0, "rejected": 0}
        for q in self.questions.values():
            if q.status in PUBLIC_STATUSES:
                c["published"] += 1
            if q.status == "answered":
                c["answered"] += 1
            elif q.status == "rejected":
                c["rejected"] += 1
        return c

    def snapshot(self, staff: bool) -> JSON:
        qs = [q.to_wire() if staff or q.status in PUBLIC_STATUSES else q.redacted()
              for q in self.questions.values()]
        return {"seq": self.seq, "session": self.info, "answering": self.answering,
                "questions": qs, "counts": self.counts()}

    def question(self, qid: Any) -> Question:
        if not isinstance(qid, int) or qid not in self.questions:
            raise NotFound("question_not_found", "问题不存在", "No such question", id=qid)
        return self.questions[qid]


def apply(state: State, event: Event) -> State:
    """Fold one stored event into ``state`` (in place, for speed) and return it."""
    if event.seq != state.seq + 1:
        raise ValueError(f"event {event.seq} applied to state at {state.seq}")
    d, t = event.data, event.type
    if t in ("session.created", "session.updated"):
        state.info = {**state.info, **d["session"]}
    elif t == "session.opened":
        state.info = {**state.info, "opened_at": d["at"], "closed_at": None}
    elif t == "session.closed":
        state.info = {**state.info, "closed_at": d["at"]}
    elif t == "session.extended":
        state.info = {**state.info, "ends_at": d["ends_at"], "closed_at": None}
    elif t == "question.asked":
        q = d["question"]
        p = event.private
        state.questions[q["id"]] = Question(
            q["id"], q["text"], q["name"], q["status"], q["asked_at"],
            device=p.get("device", ""), client_id=p.get("client_id", ""))
        if p.get("client_id"):
            state.by_client[(p.get("device", ""), p["client_id"])] = q["id"]
    elif t == "question.approved":
        state.questions[d["question"]["id"]].status = "approved"
    elif t == "question.rejected":
        q = state.questions[d["id"]]
        q.status, q.reason = "rejected", d.get("reason", "")
        if state.answering == q.id:
            state.answering = None
    elif t == "question.answering":
        state.answering = d["id"]
    elif t == "question.answered":
        q = state.questions[d["id"]]
        q.status, q.answer = "answered", d["answer"]
        if state.answering == q.id:
            state.answering = None
    elif t == "votes.tallied":
        for qid, n in d["votes"].items():
            state.questions[int(qid)].votes = n
    else:
        raise ValueError(f"unknown event type {t!r}")
    state.seq = event.seq
    return state


def replay(session_id: int, events: list[Event]) -> State:
    state = State(session_id)
    for e in events:
        apply(state, e)
    return state


@dataclass(frozen=True)
class Decision:
    """The events to append and the result the acknowledgement carries."""

    events: list[NewEvent]
    result: JSON


def decide(state: State, command: str, args: JSON, device: str, actor: str, now: int) -> Decision:
    """Turn a validated, authorised command into events, or raise a :class:`LiveError`."""
    if command == "ask":
        key = (device, args["client_id"])
        if key in state.by_client:
            q = state.questions[state.by_client[key]]
            return Decision([], {"question_id": q.id, "status": q.status, "duplicate": True})
        if not state.accepts_questions(now):
            raise Conflict("session_not_open", "本期访谈当前不接受提问",
                           "This session is not taking questions now",
                           phase=state.phase(now))
        qid = max(state.questions, default=0) + 1
        status = "approved" if state.info.get("moderation") == "post" else "pending"
        q = Question(qid, args["text"], args["name"], status, now)
        private = {"device": device, "client_id": args["client_id"]}
        if args.get("contact"):
            private["contact"] = args["contact"]
        public = None if status in PUBLIC_STATUSES else {"question": q.redacted()}
        ev = NewEvent("question.asked", {"question": q.to_wire()}, public, private)
        return Decision([ev], {"question_id": qid, "status": status})
    if command == "approve":
        q = state.question(args["question_id"])
        _require_status(q, "pending")
        return Decision([NewEvent("question.approved", {"question": {**q.to_wire(),
                                                                      "status": "approved"}},
                                  private={"by": actor})], {"question_id": q.id})
    if command == "reject":
        q = state.question(args["question_id"])
        _require_status(q, "pending", "approved")
        ev = NewEvent("question.rejected", {"id": q.id, "reason": args.get("reason", "")},
                      private={"by": actor})
        return Decision([ev], {"question_id": q.id})
    if command == "answering":
        qid = args.get("question_id")
        if qid is not None:
            _require_status(state.question(qid), "approved")
        return Decision([NewEvent("question.answering", {"id": qid}, private={"by": actor})],
                        {"question_id": qid})
    if command == "answer":
        q = state.question(args["question_id"])
        _require_status(q, "approved")
        answer = {"text": args["text"], "at": now, "by": state.info.get("guest_name", "")}
        ev = NewEvent("question.answered", {"id": q.id, "answer": answer}, private={"by": actor})
        return Decision([ev], {"question_id": q.id})
    if command == "open":
        if state.phase(now) == "open":
            raise Conflict("already_open", "访谈已在进行中", "The session is already open")
        return Decision([NewEvent("session.opened", {"at": now}, private={"by": actor})], {})
    if command == "close":
        if state.phase(now) == "closed":
            raise Conflict("already_closed", "访谈已结束", "The session is already closed")
        return Decision([NewEvent("session.closed", {"at": now}, private={"by": actor})], {})
    if command == "extend":
        ends = args["ends_at"]
        if ends <= now:
            raise BadRequest("bad_ends_at", "结束时间必须晚于现在", "ends_at must be in the future")
        return Decision([NewEvent("session.extended", {"ends_at": ends}, private={"by": actor})],
                        {})
    raise Forbidden("unknown_command", "未知操作", "Unknown command", command=command)


def _require_status(q: Question, *allowed: str) -> None:
    if q.status not in allowed:
        raise Conflict("question_already_handled", f"该问题已处理（当前状态：{q.status}）",
                       f"This question was already handled (status: {q.status})",
                       id=q.id, status=q.status)
