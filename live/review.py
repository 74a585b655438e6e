"""Four eyes on typed answers: an answer held, then released or withdrawn (撤回).

Why: the official speaks on air, but what appears on every phone as the official's answer is
typed by staff. Per session an admin chooses (``answer_review`` in the session's info, with
``answer_delay_s``) whether a typed answer is held before anyone but staff sees it:

- ``none`` (the default): the official's seat (presenter) and admins publish at once;
- ``approve``: held until a second person releases it;
- ``delay``: held for ``answer_delay_s`` seconds, then released by the server
  (:mod:`live.releases`); a second person may release it sooner;
- ``both``: held until a second person approves it, then for the delay.

An answer a moderator types is typed on the official's behalf by definition, so it is held
for approval even under ``none``. An answer with no text (``video``: spoken on air) has
nothing to hold. Until it is released anyone on staff may withdraw it, the one who typed it
too, and then it never reached a viewer: the held text lives in the staff view of its
question (``held``, :meth:`live.state.Question.to_wire`) and nowhere else, not in the public
form of any event, snapshot, receipt, transcript or search row.

**One definition of an answer.** A release *is* the answer: :func:`decide` asks
:func:`live.commands.decide` for the ``answer`` the typist would have given, with the held
text, so a released answer is the same ``question.answered`` event a direct one is, checked
by the same code, marked ``released`` (the hold's ``seq``) and naming who typed it. So this
module wraps the command layer: the service layer calls :func:`decide`, which leaves every
other command to :func:`live.commands.decide` unchanged.

**A second person** is another device than the typist's (the signed device id: one browser),
kept beside the hold in the state (``Question.held_device``) and never shown. Staff commands
sent over HTTP without the page's cookie share one placeholder device, so two of them are
never taken for two people.

**Exactly once.** A release or withdrawal names the hold (``hold``: its ``seq``) and is
decided against the state its append is made on; the store refuses an append made against a
stale log, and the round re-reads and decides again. So whichever comes first of a person's
release, another's withdrawal and any worker's clock, one of them commits and the others
find nothing held (``answer_not_held``, or nothing at all for the clock).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from . import commands
from .commands import Decision
from .events import JSON, NewEvent
from .exceptions import BadRequest, Conflict, Forbidden
from .state import Question, State

MODES = ("none", "approve", "delay", "both")
DELAY_DEFAULT = 30
"""Seconds a delayed answer is held when the session names no ``answer_delay_s``."""
DELAY_RANGE = (1, 600)
"""The least and most ``answer_delay_s``: a broadcast delay, not a second queue."""
ANSWERABLE = ("approved", "answered")
"""Where a held answer can go out: the statuses an ``answer`` is accepted in."""
CLOCK = "server:delay"
"""Who the audit trail says released an answer whose delay ran out."""


def check_info(info: JSON) -> None:
    """Refuse a session's ``answer_review`` or ``answer_delay_s`` that is not one of ours."""
    mode = info.get("answer_review")
    if mode is not None and mode not in MODES:
        raise BadRequest(
            "bad_review",
            "回答审核方式只能是 none、approve、delay 或 both",
            "answer_review is none, approve, delay or both",
            field="answer_review",
        )
    delay = info.get("answer_delay_s")
    low, high = DELAY_RANGE
    if delay is not None and (type(delay) is not int or not low <= delay <= high):
        raise BadRequest(
            "bad_review",
            f"播出延时须为 {low} 到 {high} 秒",
            f"answer_delay_s is {low} to {high} seconds",
            field="answer_delay_s",
        )


def mode_for(info: JSON, actor: str, text: str) -> str:
    """How an answer with ``text`` typed by ``actor`` (a role label, ``moderator:小王``) is held."""
    if not text:
        return "none"
    mode = str(info.get("answer_review") or "none")
    if mode == "none" and actor.partition(":")[0] == "moderator":
        return "approve"
    return mode


def delay_ms(info: JSON) -> int:
    return int(info.get("answer_delay_s") or DELAY_DEFAULT) * 1000


def decide(state: State, command: str, args: JSON, device: str, actor: str, now: int) -> Decision:
    """:func:`live.commands.decide`, with typed answers held and ``release``/``withdraw`` added."""
    if command == "release":
        return _release(state, args, device, actor, now)
    if command == "withdraw":
        return _withdraw(state, args, device, actor)
    decision = commands.decide(state, command, args, device, actor, now)
    if command != "answer":
        return decision
    return _hold(state, decision, device, actor, now)


def _hold(state: State, decision: Decision, device: str, actor: str, now: int) -> Decision:
    """The answer ``decision`` would publish, held instead if the session says so."""
    [answered] = decision.events
    answer = answered.data["answer"]
    mode = mode_for(state.info, actor, answer["text"])
    if mode == "none":
        return decision
    q = state.question(answered.data["id"])
    held = {
        "text": answer["text"],
        "mode": answer["mode"],
        "typed_by": actor,
        "at": now,
        "review": mode,
        "release_at": now + delay_ms(state.info) if mode == "delay" else None,
    }
    private = {"by": actor, "device": device, "before": {"held": q.held}}
    event = NewEvent("question.answer_held", {"id": q.id, "held": held}, None, private)
    return Decision([event], {"question_id": q.id, "held": mode, "release_at": held["release_at"]})


def _held(state: State, args: JSON) -> tuple[Question, JSON]:
    """The question and the answer held on it, the one the sender saw if it names one."""
    q = state.question(args["question_id"])
    held = q.held
    if held is None or args.get("hold", held["seq"]) != held["seq"]:
        raise Conflict(
            "answer_not_held",
            "该回答已放行、撤回或被替换",
            "That answer is no longer held (released, withdrawn or replaced)",
            id=q.id,
            hold=None if held is None else held["seq"],
            status=q.status,
        )
    return q, held


def _release(state: State, args: JSON, device: str, actor: str, now: int) -> Decision:
    q, held = _held(state, args)
    if device == q.held_device:
        raise Forbidden(
            "second_person_required",
            "需要另一位工作人员放行（输入回答的人不能自己放行）",
            "Someone else must release it: the person who typed an answer cannot",
            id=q.id,
            typed_by=held["typed_by"],
        )
    if held["review"] == "both" and held["release_at"] is None:
        release_at = now + delay_ms(state.info)
        data = {"id": q.id, "hold": held["seq"], "release_at": release_at, "approved_by": actor}
        event = NewEvent("question.answer_approved", data, None, {"by": actor})
        return Decision([event], {"question_id": q.id, "release_at": release_at})
    return _publish(state, q, held, actor, now)


def _publish(state: State, q: Question, held: JSON, actor: str, now: int) -> Decision:
    """The held answer as the answer itself, decided by the command layer's ``answer``."""
    args = {"question_id": q.id, "text": held["text"], "mode": held["mode"]}
    decision = commands.decide(state, "answer", args, "", actor, now)
    [event] = decision.events
    private: dict[str, Any] = {
        **event.private,
        "typed_by": held["typed_by"],
        "before": {**event.private["before"], "held": held},
    }
    released = replace(event, data={**event.data, "released": held["seq"]}, private=private)
    return replace(decision, events=[released], result={**decision.result, "released": held["seq"]})


def _withdraw(state: State, args: JSON, device: str, actor: str) -> Decision:
    """Its before-image keeps what was withdrawn, for the audit; with the device beside it, the
    event crosses the bus as its number alone (``live.events.PRIVATE_TO_HOST``), like the hold, so
    a withdrawn answer never leaves the database but for staff."""
    q, held = _held(state, args)
    data = {"id": q.id, "hold": held["seq"]}
    private = {"by": actor, "device": device, "before": {"held": held}}
    event = NewEvent("question.answer_withdrawn", data, None, private)
    return Decision([event], {"question_id": q.id, "withdrawn": held["seq"]})


def _due(q: Question, now: int) -> bool:
    """Whether ``q`` holds an answer whose delay has run out at ``now``, and can take it."""
    return (
        q.held is not None
        and q.held["release_at"] is not None
        and q.held["release_at"] <= now
        and q.status in ANSWERABLE
    )


def due(state: State, now: int) -> list[tuple[int, int]]:
    """``(question id, hold)`` of every held answer the clock releases at ``now``.

    A question hidden, merged or declined since its answer was held keeps the hold (staff
    still see it, and may withdraw it) but takes no answer: it falls due again if restored.
    """
    return [(q.id, q.held["seq"]) for q in state.questions.values() if q.held is not None and _due(q, now)]


def release_due(state: State, question_id: int, hold: int, now: int) -> Decision:
    """The clock's release of one hold, or nothing if it is no longer held or not yet due."""
    q = state.questions.get(question_id)
    if q is None or q.held is None or q.held["seq"] != hold or not _due(q, now):
        return Decision([], {})
    return _publish(state, q, q.held, CLOCK, now)
