"""Commitments (承诺事项): what was promised on air, and how the promise is being kept.

From an answer or a forward, staff record a commitment: the department responsible, what
was promised and by which day (``commitment.made``). Its progress is reported later, often
weeks later (``commitment.progress``): still being handled (办理中), done with its result
(已办结), or postponed with a reason and a new due day (延期). Both are events on the
session's log like every other change, so the replay, the audit trail, the receipt lookup
and the programme's board (:mod:`live.board`) all read them from the one fold,
:func:`live.state.apply`, which keeps a :class:`Commitment` on its question.

This module is pure: the record, the two commands that make its events (:func:`decide`,
called by :func:`live.commands.decide`) and :func:`overdue`, the one rule for when a
promise is late. A due day is a calendar day in the session's timezone, kept by the end
of that day; whether it has passed is asked of the server's clock at read time, never
stored, since it changes without any event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .events import JSON, NewEvent
from .exceptions import BadRequest, Conflict

if TYPE_CHECKING:
    from .state import Question, State

COMMANDS = ("commitment", "progress")
"""The requests this module decides: record a commitment, report its progress."""
STATUSES = ("in_progress", "done", "postponed")
"""办理中, 已办结 (with its result), 延期 (with a reason and a new due day)."""
FROM_STATUSES = ("answered", "forwarded")
"""A commitment is made in an answer or by a forward to a department."""
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


@dataclass(frozen=True, slots=True)
class Commitment:
    """One question's commitment as the log leaves it. Frozen, and replaced whole by each
    event: a :class:`live.state.Draft` keeps shallow before-images of the questions a round
    touches, which a record changed in place would share."""

    department: str
    promise: str
    due: str
    """ISO day (``2025-06-30``) in the session's timezone: kept if done by the end of it."""
    said_at: int
    """When it was said (ms): where the replay link lands."""
    made_at: int
    status: str = "in_progress"
    updated_at: int = 0
    result: str = ""
    history: tuple[JSON, ...] = ()
    """Each progress report, oldest first: ``{status, at, note, due?}``."""

    def to_wire(self) -> JSON:
        """The commitment as everyone sees it: a public promise, shown with any outcome."""
        out: JSON = {
            "department": self.department,
            "promise": self.promise,
            "due": self.due,
            "status": self.status,
            "said_at": self.said_at,
            "made_at": self.made_at,
            "updated_at": self.updated_at,
            "history": list(self.history),
        }
        if self.result:
            out["result"] = self.result
        return out


def made(d: JSON) -> Commitment:
    """The record a ``commitment.made`` event's data starts."""
    return Commitment(d["department"], d["promise"], d["due"], d["said_at"], d["at"], updated_at=d["at"])


def progressed(c: Commitment, d: JSON) -> Commitment:
    """The record after a ``commitment.progress`` event's data."""
    report: JSON = {"status": d["status"], "at": d["at"], "note": d["note"]}
    if d.get("due"):
        report["due"] = d["due"]
    return replace(
        c,
        status=d["status"],
        updated_at=d["at"],
        due=d.get("due") or c.due,
        result=d["note"] if d["status"] == "done" else c.result,
        history=(*c.history, report),
    )


def today(timezone: str, now: int) -> date:
    """The calendar day at ``now`` (ms) in ``timezone``."""
    return datetime.fromtimestamp(now / 1000, ZoneInfo(timezone)).date()


def overdue(commitment: JSON, timezone: str, now: int) -> bool:
    """Whether a commitment (as on the wire) is late at ``now`` by the server's clock: not
    done, and its due day is over in the session's timezone."""
    return commitment["status"] != "done" and today(timezone, now) > date.fromisoformat(commitment["due"])


def _day(value: str | None, field: str) -> str:
    """A due day as ``YYYY-MM-DD`` (any other spelling of a day is refused, not guessed)."""
    try:
        day = date.fromisoformat(value or "")
    except ValueError:
        day = None
    if day is None or len(value or "") != 10 or not EARLIEST <= day <= LATEST:
        raise BadRequest(
            "bad_due", "办结时限应为日期，如 2025-06-30", "due is a day, as 2025-06-30", field=field
        )
    return day.isoformat()


def _required(args: JSON, field: str, zh: str) -> str:
    value: str = args.get(field) or ""
    if not value:
        raise BadRequest("missing_field", f"请填写{zh}", f"{field} is required", field=field)
    return value


def _event(kind: str, q: Question, data: JSON, actor: str) -> NewEvent:
    before = {"status": q.status, "commitment": None if q.commitment is None else q.commitment.to_wire()}
    return NewEvent(kind, data, None, {"by": actor, "before": before})


def decide(state: State, command: str, args: JSON, actor: str, now: int) -> tuple[list[NewEvent], JSON]:
    """The events of a ``commitment`` or ``progress`` request, and its acknowledgement's result."""
    q = state.question(args["question_id"])
    result: JSON = {"question_id": q.id}
    if command == "commitment":
        if q.commitment is not None:
            raise Conflict(
                "commitment_exists",
                "该问题已记录承诺，请更新办理进展",
                "This question already has a commitment: report its progress instead",
                id=q.id,
            )
        if q.status not in FROM_STATUSES:
            raise Conflict(
                "not_committable",
                "只有已回答或已转办的问题可以记录承诺",
                "Only an answered or forwarded question can carry a commitment",
                id=q.id,
                status=q.status,
            )
        said_at = args.get("said_at") or (q.answer["at"] if q.answer else now)
        if said_at > now:
            raise BadRequest(
                "out_of_range", "said_at 不能晚于现在", "said_at is in the future", field="said_at"
            )
        data = {
            "id": q.id,
            "department": _required(args, "department", "责任部门"),
            "promise": _required(args, "promise", "承诺内容"),
            "due": _day(args.get("due"), "due"),
            "said_at": said_at,
            "at": now,
        }
        return [_event("commitment.made", q, data, actor)], {**result, "due": data["due"]}
    c = q.commitment
    if c is None:
        raise Conflict("no_commitment", "该问题没有记录承诺", "This question has no commitment", id=q.id)
    if c.status == "done":
        raise Conflict("commitment_done", "该承诺已办结", "This commitment is already done", id=q.id)
    status = args.get("status")
    if status not in STATUSES:
        raise BadRequest(
            "bad_status", "进展状态无效", "status is in_progress, done or postponed", field="status"
        )
    data = {"id": q.id, "status": status, "note": _required(args, "note", "进展说明"), "at": now}
    if status == "postponed":
        due = _day(args.get("due"), "due")
        if due <= c.due:
            raise BadRequest(
                "bad_due",
                "延期后的时限应晚于原时限",
                "A postponement's due day is after the old one",
                field="due",
            )
        data["due"] = due
    return [_event("commitment.progress", q, data, actor)], {**result, "status": status}
