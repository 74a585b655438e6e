"""Closing (有问必答): after the window every question gets an outcome, then the record is archived.

What an outcome *is* lives with the question (:attr:`live.state.Question.settled_as`, sent on
every view of it), and so do the counts and the reply rate (:meth:`live.state.State.outcomes`).
This module decides the commands of the closing stage, the phase ``closed`` between the end of
the window and ``archived``:

- ``settle`` gives outcomes in bulk: declined with a reason, forwarded to a department, or
  merged into one question. Each question is decided by :func:`live.commands.decide` as its own
  ``reject``, ``forward`` or ``merge``, so an outcome given in bulk is exactly the one given one
  by one; all of them go in one append (every one or none).
- A written reply (书面答复) is ``answer`` with mode ``written``. After the window a question
  not answered yet takes no other mode (``written_only``), so that "answered live" means it.
- ``archive`` is refused (``outcomes_missing``) while any question has none;
  ``archive_override`` (admins) archives anyway, the reason kept in the event's private part,
  which the audit trail shows and no viewer ever gets.
- Carry-over: :func:`carry_in` appends the questions to the next episode's log, then
  :func:`carry_out` marks them on this one; :mod:`live.carryover` runs the two in that order.

Once archived, the record is final: the commands that would change a question or the window
are refused (``session_archived``). These are pure, like :func:`live.commands.decide`, and
:meth:`live.sessions.Sessions.handle` calls them beside it.
"""

from __future__ import annotations

from .commands import Decision, decide
from .events import JSON, NewEvent
from .exceptions import BadRequest, Conflict
from .state import Question, State

COMMANDS = ("settle", "archive", "archive_override")
"""Decided here (``carry_over`` too, through :mod:`live.carryover`)."""
SETTLE = {"declined": "reject", "forwarded": "forward", "merged": "merge"}
"""The outcome ``settle`` gives, and the command that gives it to one question."""
FINAL = frozenset(
    {
        "approve",
        "reject",
        "edit",
        "merge",
        "hide",
        "forward",
        "answering",
        "answer",
        "open",
        "close",
        "extend",
        "set_moderation",
        "settle",
        "carry_over",
        "archive",
        "archive_override",
        "vote",
        "unvote",
        "remark",
        "announce",
        "photo",
    }
)
"""The commands an archived session refuses: whatever would change a question, its votes or
the window, and a new post of the studio's (one may still be withdrawn: :mod:`live.studio`)."""
MAX_IDS = 1000
"""Questions one ``settle`` or ``carry_over`` may name."""


def check(state: State, command: str, args: JSON, now: int) -> None:
    """Refuse what the closing stage forbids, before the command is decided."""
    current = state.phase(now)
    if current == "archived" and command in FINAL:
        raise Conflict(
            "session_archived",
            "本期访谈已归档，记录不再更改",
            "This session is archived: its record no longer changes",
        )
    if command == "answer" and current == "closed" and (args.get("mode") or "text") != "written":
        q = state.questions.get(args["question_id"])
        if q is not None and q.answer is None:
            raise Conflict(
                "written_only",
                "访谈已结束，请以书面答复的方式回答",
                "The window is over: answer in writing (mode written)",
                id=q.id,
            )


def question_ids(args: JSON, required: bool = True) -> list[int] | None:
    """``question_ids`` as given, each once, in order; None if absent and not required."""
    raw = args.get("question_ids")
    if raw is None and not required:
        return None
    if not isinstance(raw, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in raw):
        raise BadRequest(
            "wrong_type",
            "question_ids 必须是问题编号的列表",
            "question_ids is a list of question ids",
            field="question_ids",
        )
    if not raw:
        raise BadRequest(
            "missing_field", "请至少选择一个问题", "Choose at least one question", field="question_ids"
        )
    if len(raw) > MAX_IDS:
        raise BadRequest(
            "too_long",
            f"一次最多 {MAX_IDS} 个问题",
            f"At most {MAX_IDS} questions at once",
            field="question_ids",
        )
    return list(dict.fromkeys(raw))


def decide_closing(state: State, command: str, args: JSON, actor: str, now: int) -> Decision:
    """``settle``, ``archive`` or ``archive_override``, decided against ``state``."""
    if command == "settle":
        return _settle(state, args, actor, now)
    return _archive(state, args, actor, now, override=command == "archive_override")


def _settle(state: State, args: JSON, actor: str, now: int) -> Decision:
    kind = SETTLE.get(args["outcome"])
    if kind is None:
        raise BadRequest(
            "bad_outcome",
            "办理结果只能是 declined、forwarded 或 merged",
            "outcome is declined, forwarded or merged",
            field="outcome",
        )
    ids = question_ids(args)
    assert ids is not None
    one: JSON = {k: args[k] for k in ("reason", "note", "department", "into") if k in args}
    if kind == "forward" and not one.get("department"):
        raise BadRequest("missing_field", "请填写转交部门", "department is required", field="department")
    if kind == "merge" and "into" not in one:
        raise BadRequest("missing_field", "请选择合并到哪个问题", "into is required", field="into")
    if kind == "merge" and one["into"] in ids:
        raise Conflict(
            "bad_merge_target", "不能合并到该问题", "Cannot merge into that question", into=one["into"]
        )
    events: list[NewEvent] = []
    moves: list[tuple[int, int]] = []
    for qid in ids:
        decision = decide(state, kind, {**one, "question_id": qid}, "", actor, now)
        events += decision.events
        moves += decision.moves
    return Decision(
        events,
        {"question_ids": ids, "outcome": args["outcome"]},
        tally=kind == "merge",
        moves=tuple(moves),
    )


def _not_closed(current: str) -> Conflict:
    return Conflict(
        "session_not_closed",
        "访谈尚未结束，还不能办结",
        "The session has not ended yet",
        phase=current,
    )


def _archive(state: State, args: JSON, actor: str, now: int, override: bool) -> Decision:
    current = state.phase(now)
    if current != "closed":
        raise _not_closed(current)
    missing = [q.id for q in state.questions.values() if q.settled_as == "none"]
    private: JSON = {"by": actor, "before": {"phase": current, "without_outcome": missing}}
    if override:
        reason = args.get("note", "")
        if not reason:
            raise BadRequest(
                "missing_field", "强制归档须写明理由", "An override needs its reason (note)", field="note"
            )
        private["reason"] = reason
    elif missing:
        raise Conflict(
            "outcomes_missing",
            f"还有 {len(missing)} 个问题没有办理结果",
            f"{len(missing)} questions have no outcome yet",
            count=len(missing),
            question_ids=missing[:100],
        )
    return Decision(
        [NewEvent("session.archived", {"at": now}, private=private)],
        {"phase": "archived", "without_outcome": len(missing)},
    )


def carriable(state: State, ids: list[int] | None, now: int) -> list[Question]:
    """The questions ``carry_over`` moves: those named, else every approved one not answered."""
    check(state, "carry_over", {}, now)
    current = state.phase(now)
    if current != "closed":
        raise _not_closed(current)
    if ids is None:
        return [q for q in state.questions.values() if q.status == "approved"]
    chosen = [state.question(qid) for qid in ids]
    for q in chosen:
        if q.status != "approved":
            raise Conflict(
                "not_carriable",
                "只有已公开、尚未答复的问题可以结转到下一期",
                "Only published questions not answered yet are carried over",
                id=q.id,
                status=q.status,
            )
    return chosen


def carry_in(
    state: State,
    origin: int,
    questions: list[Question],
    receipts: dict[int, str],
    contacts: dict[int, str],
    actor: str,
    now: int,
) -> Decision:
    """The next episode's side: each question of session ``origin`` appended, published, with
    the receipt number its asker holds; one already carried in is found, not added twice.

    The result's ``carried`` pairs each question's id in ``origin`` with its id here.
    """
    if state.phase(now) in ("closed", "archived"):
        raise Conflict(
            "no_next_episode",
            "下一期访谈已经结束，请重新选择",
            "The next episode has ended meanwhile",
            session_id=state.session_id,
        )
    here = {
        (q.carried_from["session_id"], q.carried_from["question_id"]): q.id
        for q in state.questions.values()
        if q.carried_from
    }
    next_id = next(reversed(state.questions), 0) + 1
    events: list[NewEvent] = []
    pairs: list[list[int]] = []
    for old in questions:
        found = here.get((origin, old.id))
        if found is not None:
            pairs.append([old.id, found])
            continue
        new = Question(
            next_id,
            old.text,
            old.name,
            "approved",
            old.asked_at,
            carried_from={"session_id": origin, "question_id": old.id},
            channel=old.channel,
        )
        private: JSON = {"by": actor, "device": old.device, "receipt": receipts[old.id]}
        if old.seal:  # the asker's secret goes with the question, so the receipt works there too
            private["seal"] = old.seal
        if contacts.get(old.id):
            private["contact"] = contacts[old.id]
        events.append(NewEvent("question.carried_in", {"question": new.to_wire(staff=True)}, None, private))
        pairs.append([old.id, next_id])
        next_id += 1
    return Decision(events, {"carried": pairs})


def carry_out(state: State, pairs: list[list[int]], to: int, actor: str) -> Decision:
    """This session's side: each question marked carried over, linked to its copy in ``to``.

    A question answered or given another outcome between the two appends keeps it, and is
    reported in ``skipped``: its copy in the next episode stays, for staff to settle there.
    """
    events: list[NewEvent] = []
    carried: list[list[int]] = []
    skipped: list[int] = []
    for old, new in pairs:
        q = state.questions.get(old)
        if q is None or q.status != "approved" or state.info.get("archived_at") is not None:
            skipped.append(old)
            continue
        before = {"status": q.status, "text": q.text, "answer": q.answer}
        data = {"id": q.id, "to": {"session_id": to, "question_id": new}}
        events.append(NewEvent("question.carried_over", data, private={"by": actor, "before": before}))
        carried.append([old, new])
    return Decision(events, {"carried": carried, "skipped": skipped})
