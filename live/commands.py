"""Commands into events: ``decide`` is the only way new events are made.

``decide(state, command, args, device, actor, now)`` reads the session's
state and either raises a :class:`~live.exceptions.LiveError` or returns the
events to append and the result the acknowledgement carries. It does no I/O
and never changes ``state``: :func:`live.state.apply` does that, once the
events are stored (or, inside a round, ahead of the commit; see :mod:`live.rounds`).
The service layer calls it through :func:`live.review.decide`, which holds typed answers
for review and adds ``release`` and ``withdraw``.

A vote makes no event (votes live in their own table, tallied by :mod:`live.tallies`), but
whether one may be cast is decided here too, by :func:`check_vote`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from . import channels, commitments, studio
from .events import JSON, NewEvent
from .exceptions import BadRequest, Conflict, Forbidden, NotFound
from .state import ENDED, Question, State, text_key

REJECT_REASONS = ("off_topic", "duplicate", "personal_case", "abusive", "other")
ANSWER_MODES = ("text", "video", "written")


@dataclass(frozen=True)
class Decision:
    """The events to append and the result the acknowledgement carries.

    ``tally`` asks for one more event after the round's others: the vote counts
    that changed, which the store reads inside the append's own transaction
    (see :meth:`~live.store.base.Log.append` and :func:`tally_event`).
    ``moves`` carries votes from a merged question to its target in that same
    transaction, so a merge can never be stored without its votes.
    """

    events: list[NewEvent]
    result: JSON
    tally: bool = False
    moves: tuple[tuple[int, int], ...] = ()


def tally_event(
    shown: dict[int, int], counts: dict[int, int], public: frozenset[int] | None = None
) -> NewEvent | None:
    """Every count that differs from what the log ``shown``, as one event; None if none.

    Viewers are told only the counts of ``public`` questions (all, if None): a vote cast just before
    its question was hidden is tallied after, and a viewer's page gave the hidden
    question a count its snapshot never shows (``tests/test_views.py`` caught it).
    A :data:`~live.events.Tally` once ``shown`` and ``public`` are bound: it reads only
    its arguments, so the store may call it on another thread.
    """
    changed = {str(qid): counts.get(qid, 0) for qid, votes in shown.items() if counts.get(qid, 0) != votes}
    if not changed:
        return None
    seen = {qid: n for qid, n in changed.items() if public is None or int(qid) in public}
    return NewEvent("votes.tallied", {"votes": changed}, None if seen == changed else {"votes": seen})


def _staff_event(kind: str, q: Question, data: JSON, actor: str, public: JSON | None = None) -> NewEvent:
    """A staff action on a question; ``private`` keeps who did it and the before-image."""
    before = {"status": q.status, "text": q.text, "answer": q.answer}
    return NewEvent(kind, data, public, {"by": actor, "before": before})


def _require(q: Question, *allowed: str) -> None:
    if q.status not in allowed:
        who = f"（{q.handled_by}）" if q.handled_by else ""
        raise Conflict(
            "question_already_handled",
            f"该问题已被处理{who}，当前状态：{q.status}",
            f"This question was already handled{' by ' + q.handled_by if q.handled_by else ''}"
            f" (status: {q.status})",
            id=q.id,
            status=q.status,
            by=q.handled_by,
        )


def check_vote(state: State, question_id: int, device: str, on: bool, now: int) -> Question:
    """The question a ``vote`` (``on``) or ``unvote`` by ``device`` may count on, or raise.

    同问 says "I want this answered too", so it is for other people's questions while the
    session runs: refused once the window is over (the counts are then part of the record),
    on a question not published, and on the voter's own question. Taking back a vote on one's
    own question stays possible (one cast before this rule existed).
    """
    current = state.phase(now)
    if current in ENDED:
        raise Conflict(
            "voting_closed",
            "本期访谈已结束，不能再同问",
            "This session is over: votes are closed",
            phase=current,
        )
    question = state.questions.get(question_id)
    if question is None or not question.public:
        raise NotFound("question_not_found", "问题不存在", "No such question", id=question_id)
    if on and device and question.device == device:
        raise Forbidden(
            "own_question",
            "不能同问自己提的问题",
            "You cannot vote for your own question",
            id=question_id,
        )
    return question


def _ask(state: State, args: JSON, device: str, now: int) -> Decision:
    """A question asked on the page, or entered by staff from another channel (live/channels.py).

    One staff entered from a call or a message is not that staff's device's question: it is
    asked as a device of its own, ``<channel>:<client_id>``, so it is not in staff's own ``mine``,
    two callers may ask the same words, and its caller speaks for it by receipt and secret.
    """
    channel = args.get("channel") or channels.WEB
    if channel != channels.WEB:
        device = f"{channel}:{args['client_id']}"
    key = (device, args["client_id"])
    if key in state.by_client:
        q = state.questions[state.by_client[key]]
        return Decision([], {"question_id": q.id, "status": q.status, "duplicate": True})
    follows = args.get("follows")  # a follow-up (live/asker.py) may wait in an episode not yet open
    accepting = ("open", "collecting") if follows is None else ("upcoming", "collecting", "open")
    if state.phase(now) not in accepting:
        raise Conflict(
            "session_not_open",
            "本期访谈当前不接受提问",
            "This session is not taking questions now",
            phase=state.phase(now),
        )
    earlier = state.by_text.get((device, text_key(args["text"])))
    if earlier is not None:
        raise Conflict(
            "duplicate_text", "您已经提过相同的问题", "You already asked this question", question_id=earlier
        )
    qid = next(reversed(state.questions), 0) + 1
    flags = args.get("flags")
    post = state.info.get("moderation") == "post" and not flags
    status = "approved" if post else "pending"
    q = Question(qid, args["text"], args["name"], status, now, flags=flags, follows=follows, channel=channel)
    private = {"device": device, "client_id": args["client_id"]}
    if args.get("contact"):
        private["contact"] = args["contact"]
    if args.get("seal"):
        private["seal"] = args["seal"]  # the asker's secret, keyed and hashed (live/ratings.py)
    data = {"question": q.to_wire(staff=True)}
    public = None if q.public else {"question": q.outcome()}
    return Decision(
        [NewEvent("question.asked", data, public, private)], {"question_id": qid, "status": q.status}
    )


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
    answer = {
        "text": text,
        "at": now,
        "by": state.info.get("guest_name", ""),
        "mode": mode,
        "revision": revision,
    }
    return Decision(
        [_staff_event("question.answered", q, {"id": q.id, "answer": answer}, actor)],
        {"question_id": q.id, "revision": revision},
    )


def decide(state: State, command: str, args: JSON, device: str, actor: str, now: int) -> Decision:
    """Turn a validated, authorised command into events, or raise a :class:`LiveError`."""
    if command == "ask":
        return _ask(state, args, device, now)
    if command == "answer":
        return _answer(state, args, actor, now)
    if command in ("open", "close", "extend", "set_moderation"):
        return _window(state, command, args, actor, now)
    if command in studio.COMMANDS:  # the host's lines and the studio's photos
        return Decision(*studio.decide(state, command, args, actor, now))
    if command == "answering":
        qid = args.get("question_id")
        if qid is not None:
            _require(state.question(qid), "approved")
        return Decision(
            [NewEvent("question.answering", {"id": qid}, private={"by": actor})], {"question_id": qid}
        )
    q = state.question(args["question_id"])
    if args.get("expect"):
        _require(q, args["expect"])
    result = {"question_id": q.id}
    if command == "approve":
        _require(q, "pending", "hidden")
        wire = replace(q, status="approved").to_wire()
        return Decision([_staff_event("question.approved", q, {"question": wire}, actor)], result)
    if command == "reject":
        _require(q, "pending", *(("approved", "hidden") if state.phase(now) == "closed" else ()))  # 办结
        reason = args.get("reason") or "other"
        if reason not in REJECT_REASONS:
            raise BadRequest("bad_reason", "拒绝原因无效", "Unknown reason category", field="reason")
        data = {"id": q.id, "reason": reason, "note": args.get("note", "")}
        return Decision(
            [_staff_event("question.rejected", q, data, actor, {"id": q.id, "reason": reason})], result
        )
    if command == "edit":
        _require(q, "pending", "approved", "hidden")
        data = {"id": q.id, "text": args["text"]}
        return Decision(
            [_staff_event("question.edited", q, data, actor, None if q.public else {"id": q.id})], result
        )
    if command == "merge":
        target = state.question(args["into"])
        _require(q, "pending", "approved", "hidden")
        if target.id == q.id or target.status in ("merged", "rejected"):
            raise Conflict(
                "bad_merge_target", "不能合并到该问题", "Cannot merge into that question", into=target.id
            )
        return Decision(
            [_staff_event("question.merged", q, {"id": q.id, "into": target.id}, actor)],
            {**result, "into": target.id},
            tally=True,
            moves=((q.id, target.id),),
        )
    if command == "hide":
        _require(q, "approved", "answered")
        return Decision([_staff_event("question.hidden", q, {"id": q.id}, actor)], result)
    if command == "forward":
        _require(q, "pending", "approved", "hidden")
        data = {"id": q.id, "department": args["department"], "note": args.get("note", "")}
        return Decision(
            [
                _staff_event(
                    "question.forwarded", q, data, actor, {"id": q.id, "department": args["department"]}
                )
            ],
            result,
        )
    if command in commitments.COMMANDS:
        return Decision(*commitments.decide(state, command, args, actor, now))
    raise BadRequest("unknown_type", "未知的消息类型", "Unknown message type", command=command)


def _window(state: State, command: str, args: JSON, actor: str, now: int) -> Decision:
    current = state.phase(now)
    before = {"before": {"phase": current, "ends_at": state.info.get("ends_at")}}
    if command == "open":
        if current == "open":
            raise Conflict("already_open", "访谈已在进行中", "The session is already open")
        if now >= state.info.get("ends_at", 0):
            raise Conflict("window_over", "时段已结束，请先延长", "The window is over; extend it first")
        return Decision(
            [NewEvent("session.opened", {"at": now}, private={"by": actor, **before})], {"phase": "open"}
        )
    if command == "close":
        if current == "closed":
            raise Conflict("already_closed", "访谈已结束", "The session is already closed")
        return Decision(
            [NewEvent("session.closed", {"at": now}, private={"by": actor, **before})], {"phase": "closed"}
        )
    if command == "extend":
        ends = args["ends_at"]
        if ends <= now or ends <= state.info.get("starts_at", 0):
            raise BadRequest("bad_ends_at", "结束时间必须晚于现在", "ends_at must be in the future")
        return Decision(
            [NewEvent("session.extended", {"ends_at": ends}, private={"by": actor, **before})],
            {"ends_at": ends},
        )
    mode = args["mode"]
    if mode not in ("pre", "post"):
        raise BadRequest("bad_moderation", "审核模式只能是 pre 或 post", "mode is pre or post")
    return Decision(
        [
            NewEvent(
                "session.moderation",
                {"mode": mode},
                private={"by": actor, "before": {"mode": state.info.get("moderation")}},
            )
        ],
        {"mode": mode},
    )
