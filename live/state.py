"""The session's state as a pure fold over its event log.

``apply(state, event)`` is the only way state changes, and ``decide(state,
command, args, actor, now)`` the only way new events are made; neither does
I/O. Live view, reconnect and replay all rebuild state with the same
``apply``, which is why they cannot disagree.

The window is computed, not stored: :func:`phase` reads the schedule and the
staff overrides (opened early, extended, closed early). Clients compute the
scheduled transitions from the same times and the server's clock offset
(``welcome.server_time``); overrides are events, so every screen sees them at
once. The server refuses a question by the same :func:`phase`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .events import JSON, Event, NewEvent
from .exceptions import BadRequest, Conflict, NotFound

PUBLIC_STATUSES = frozenset({"approved", "answered"})
REJECT_REASONS = ("off_topic", "duplicate", "personal_case", "abusive", "other")
ANSWER_MODES = ("text", "video", "written")
COUNTED = {"pending": "pending", "answered": "answered", "merged": "merged",
           "rejected": "declined", "forwarded": "forwarded"}
"""Which public count (``counts`` in snapshots) each question status adds to."""


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


def same_text(a: str, b: str) -> bool:
    """Whether two questions say the same thing but for case and spacing."""
    return "".join(a.casefold().split()) == "".join(b.casefold().split())


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

    @property
    def public(self) -> bool:
        return self.status in PUBLIC_STATUSES

    def outcome(self) -> JSON:
        """What anyone may know of how a question ended, without its text."""
        out: JSON = {"id": self.id, "status": self.status, "asked_at": self.asked_at}
        if self.reason:
            out["reason"] = self.reason
        if self.department:
            out["department"] = self.department
        if self.merged_into is not None:
            out["merged_into"] = self.merged_into
        return out

    def to_wire(self, staff: bool = False) -> JSON:
        if not staff and not self.public:
            return self.outcome()
        out = {**self.outcome(), "text": self.text, "name": self.name, "votes": self.votes}
        if self.answer is not None:
            out["answer"] = self.answer
        if staff:
            if self.original_text is not None:
                out["original_text"] = self.original_text
            if self.flags:
                out["flags"] = self.flags
            if self.note:
                out["note"] = self.note
            if self.handled_by:
                out["handled_by"] = self.handled_by
        return out


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

    def counts(self) -> JSON:
        c = dict.fromkeys(("received", "pending", "published", "answered", "merged",
                           "declined", "forwarded"), 0)
        c["received"] = len(self.questions)
        for q in self.questions.values():
            if q.public:
                c["published"] += 1
            key = COUNTED.get(q.status)
            if key:
                c[key] += 1
        return c

    def snapshot(self, staff: bool) -> JSON:
        return {"seq": self.seq, "session": self.info, "answering": self.answering,
                "questions": [q.to_wire(staff) for q in self.questions.values()],
                "counts": self.counts()}

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
        state.questions[w["id"]] = Question(
            w["id"], w["text"], w["name"], w["status"], w["asked_at"],
            device=p.get("device", ""), client_id=p.get("client_id", ""), flags=w.get("flags"))
        if p.get("client_id"):
            state.by_client[(p.get("device", ""), p["client_id"])] = w["id"]
    elif t == "question.approved":
        q = state.questions[d["question"]["id"]]
        q.status = "approved"
    elif t == "question.rejected" and q:
        q.status, q.reason, q.note = "rejected", d.get("reason", ""), d.get("note", "")
    elif t == "question.edited" and q:
        if q.original_text is None:
            q.original_text = q.text
        q.text = d["text"]
    elif t == "question.merged" and q:
        q.status, q.merged_into = "merged", d["into"]
    elif t == "question.hidden" and q:
        q.status = "hidden"
    elif t == "question.forwarded" and q:
        q.status, q.department, q.note = "forwarded", d["department"], d.get("note", "")
    elif t == "question.answering":
        state.answering = d["id"]
    elif t == "question.answered" and q:
        q.status, q.answer = "answered", d["answer"]
        if state.answering == q.id:
            state.answering = None
    elif t == "votes.tallied":
        for qid, n in d["votes"].items():
            state.questions[int(qid)].votes = n
    else:
        raise ValueError(f"cannot apply {t!r} at seq {event.seq}")
    if q is not None and "by" in event.private and t != "question.answering":
        q.handled_by = event.private["by"]
    if q is not None and state.answering == q.id and not q.public:
        state.answering = None
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


def _staff_event(kind: str, q: Question, data: JSON, actor: str,
                 public: JSON | None = None) -> NewEvent:
    """A staff action on a question; ``private`` keeps who did it and the before-image."""
    before = {"status": q.status, "text": q.text, "answer": q.answer}
    return NewEvent(kind, data, public, {"by": actor, "before": before})


def _require(q: Question, *allowed: str) -> None:
    if q.status not in allowed:
        who = f"（{q.handled_by}）" if q.handled_by else ""
        raise Conflict("question_already_handled",
                       f"该问题已被处理{who}，当前状态：{q.status}",
                       f"This question was already handled{' by ' + q.handled_by if q.handled_by else ''}"
                       f" (status: {q.status})", id=q.id, status=q.status, by=q.handled_by)


def _ask(state: State, args: JSON, device: str, now: int) -> Decision:
    key = (device, args["client_id"])
    if key in state.by_client:
        q = state.questions[state.by_client[key]]
        return Decision([], {"question_id": q.id, "status": q.status, "duplicate": True})
    if state.phase(now) not in ("open", "collecting"):
        raise Conflict("session_not_open", "本期访谈当前不接受提问",
                       "This session is not taking questions now", phase=state.phase(now))
    for earlier in state.questions.values():
        if earlier.device == device and same_text(earlier.text, args["text"]):
            raise Conflict("duplicate_text", "您已经提过相同的问题", "You already asked this question",
                           question_id=earlier.id)
    qid = max(state.questions, default=0) + 1
    flags = args.get("flags")
    post = state.info.get("moderation") == "post" and not flags
    q = Question(qid, args["text"], args["name"], "approved" if post else "pending", now,
                 flags=flags)
    private = {"device": device, "client_id": args["client_id"]}
    if args.get("contact"):
        private["contact"] = args["contact"]
    data = {"question": q.to_wire(staff=True)}
    public = None if q.public else {"question": q.outcome()}
    return Decision([NewEvent("question.asked", data, public, private)],
                    {"question_id": qid, "status": q.status})


def _answer(state: State, args: JSON, actor: str, now: int) -> Decision:
    q = state.question(args["question_id"])
    if args.get("expect"):
        _require(q, args["expect"])
    _require(q, "approved", "answered")
    mode = args.get("mode") or "text"
    if mode not in ANSWER_MODES:
        raise BadRequest("bad_mode", "回答方式无效", "mode is text, video or written", field="mode")
    text = args.get("text", "")
    if args.get("append") and q.answer:
        text = f"{q.answer['text']}\n\n{text}".strip()
    if mode != "video" and not text:
        raise BadRequest("empty_text", "回答内容不能为空", "Answer text must not be empty", field="text")
    revision = q.answer["revision"] + 1 if q.answer else 1
    answer = {"text": text, "at": now, "by": state.info.get("guest_name", ""), "mode": mode,
              "revision": revision}
    return Decision([_staff_event("question.answered", q, {"id": q.id, "answer": answer}, actor)],
                    {"question_id": q.id, "revision": revision})


def decide(state: State, command: str, args: JSON, device: str, actor: str, now: int) -> Decision:
    """Turn a validated, authorised command into events, or raise a :class:`LiveError`."""
    if command == "ask":
        return _ask(state, args, device, now)
    if command == "answer":
        return _answer(state, args, actor, now)
    if command in ("open", "close", "extend", "set_moderation"):
        return _window(state, command, args, actor, now)
    if command == "answering":
        qid = args.get("question_id")
        if qid is not None:
            _require(state.question(qid), "approved")
        return Decision([NewEvent("question.answering", {"id": qid}, private={"by": actor})],
                        {"question_id": qid})
    q = state.question(args["question_id"])
    if args.get("expect"):
        _require(q, args["expect"])
    result = {"question_id": q.id}
    if command == "approve":
        _require(q, "pending", "hidden")
        wire = replace(q, status="approved").to_wire()
        return Decision([_staff_event("question.approved", q, {"question": wire}, actor)], result)
    if command == "reject":
        _require(q, "pending")
        reason = args.get("reason") or "other"
        if reason not in REJECT_REASONS:
            raise BadRequest("bad_reason", "拒绝原因无效", "Unknown reason category", field="reason")
        data = {"id": q.id, "reason": reason, "note": args.get("note", "")}
        return Decision([_staff_event("question.rejected", q, data, actor,
                                      {"id": q.id, "reason": reason})], result)
    if command == "edit":
        _require(q, "pending", "approved", "hidden")
        data = {"id": q.id, "text": args["text"]}
        return Decision([_staff_event("question.edited", q, data, actor,
                                      None if q.public else {"id": q.id})], result)
    if command == "merge":
        target = state.question(args["into"])
        _require(q, "pending", "approved", "hidden")
        if target.id == q.id or target.status in ("merged", "rejected"):
            raise Conflict("bad_merge_target", "不能合并到该问题", "Cannot merge into that question",
                           into=target.id)
        return Decision([_staff_event("question.merged", q, {"id": q.id, "into": target.id},
                                      actor)], {**result, "into": target.id})
    if command == "hide":
        _require(q, "approved", "answered")
        return Decision([_staff_event("question.hidden", q, {"id": q.id}, actor)], result)
    if command == "forward":
        _require(q, "pending", "approved", "hidden")
        data = {"id": q.id, "department": args["department"], "note": args.get("note", "")}
        return Decision([_staff_event("question.forwarded", q, data, actor,
                                      {"id": q.id, "department": args["department"]})], result)
    raise BadRequest("unknown_type", "未知的消息类型", "Unknown message type", command=command)


def _window(state: State, command: str, args: JSON, actor: str, now: int) -> Decision:
    current = state.phase(now)
    before = {"before": {"phase": current, "ends_at": state.info.get("ends_at")}}
    if command == "open":
        if current == "open":
            raise Conflict("already_open", "访谈已在进行中", "The session is already open")
        if now >= state.info.get("ends_at", 0):
            raise Conflict("window_over", "时段已结束，请先延长", "The window is over; extend it first")
        return Decision([NewEvent("session.opened", {"at": now}, private={"by": actor, **before})],
                        {"phase": "open"})
    if command == "close":
        if current == "closed":
            raise Conflict("already_closed", "访谈已结束", "The session is already closed")
        return Decision([NewEvent("session.closed", {"at": now}, private={"by": actor, **before})],
                        {"phase": "closed"})
    if command == "extend":
        ends = args["ends_at"]
        if ends <= now or ends <= state.info.get("starts_at", 0):
            raise BadRequest("bad_ends_at", "结束时间必须晚于现在", "ends_at must be in the future")
        return Decision([NewEvent("session.extended", {"ends_at": ends},
                                  private={"by": actor, **before})], {"ends_at": ends})
    mode = args["mode"]
    if mode not in ("pre", "post"):
        raise BadRequest("bad_moderation", "审核模式只能是 pre 或 post", "mode is pre or post")
    return Decision([NewEvent("session.moderation", {"mode": mode},
                              private={"by": actor, "before": {"mode": state.info.get("moderation")}})],
                    {"mode": mode})
