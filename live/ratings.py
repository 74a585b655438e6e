"""The asker's say (point 3 of issue 19): rate a question's outcome once, follow it up once.

Pure, like :mod:`live.commands`: these functions read a session's state and return the
events to append, or raise. The service that runs them (rate limits, the second session a
follow-up enters) is :mod:`live.asker`; what the events do is in :func:`live.state.apply`.

**Who may.** Only the question's asker: the device that asked it, or whoever holds its
receipt number (回执编号) *and* the secret (查询码) shown once, beside the receipt number, in
the acknowledgement of ``ask``. The secret is 8 characters from an alphabet of 30 that
cannot be misread (no 0/O, 1/I/L, U): 30^8, about 2^39.2. It is stored only sealed (keyed
with the installation's secret and hashed, :meth:`live.auth.Devices.seal`) in the private
part of ``question.asked``, and compared in constant time. Attempts with a receipt number
are limited per address and per receipt number (:mod:`live.asker`; with the defaults, 10 a
minute per address and 10 an hour per receipt number): guessing one secret takes on the
order of 2^38 / 10 hours, some three million years.

**What.** A question may be rated and followed up once its status is final
(:data:`FINAL`: answered, declined, forwarded, merged), until :func:`say_until`: the
session's end, or the question's latest answer if that came later (a written reply),
plus ``LIVE_RATING_DAYS``. A rating is one of :data:`LEVELS` with an optional comment; it
cannot be changed (a second is ``already_rated``), which is what makes one device one
rating. The comment is the asker's own text: staff and the asker see it, everyone else
only the aggregates (:mod:`live.satisfaction`).
"""

from __future__ import annotations

import hmac
import secrets

from .commands import Decision
from .events import JSON, NewEvent
from .exceptions import BadRequest, Conflict, Forbidden
from .state import Question, State

LEVELS = ("satisfied", "basically_satisfied", "dissatisfied")
"""满意, 基本满意, 不满意."""
FINAL = frozenset({"answered", "rejected", "forwarded", "merged"})
"""Statuses that are an outcome the asker can judge."""
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
SECRET_CHARS = 8
DAY_MS = 86_400_000


def new_secret() -> str:
    """A fresh secret as the asker sees it, ``K7Q2-MX4P``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(SECRET_CHARS))
    return f"{raw[:4]}-{raw[4:]}"


def normal(secret: str) -> str:
    """The secret as typed, in the one form that is sealed: no spaces or dashes, upper case."""
    return "".join(c for c in secret.upper() if c.isalnum())


def say_until(info: JSON, q: Question, days: int) -> int | None:
    """Until when (ms) the asker may rate ``q`` and follow it up; None while it has no outcome."""
    if q.status not in FINAL:
        return None
    end = info.get("closed_at")
    end = info.get("ends_at", 0) if end is None else end
    answered = q.answer["at"] if q.answer else 0
    return int(max(end, answered)) + days * DAY_MS


def asker(state: State, args: JSON, device: str, seal: str | None) -> Question:
    """The question ``args`` names, if this request comes from its asker; else refuse.

    ``seal`` is the sealed secret of a request by receipt number (whose question the
    service put in ``question_id``); None for a request by device.
    """
    q = state.question(args.get("question_id"))
    if seal is None:
        if not device or device != q.device:
            raise Forbidden(
                "not_asker",
                "只有提问人可以评价或追问",
                "Only the person who asked may rate or follow up this question",
            )
    elif not q.seal or not hmac.compare_digest(seal, q.seal):
        raise Forbidden(
            "wrong_secret",
            "回执编号与查询码不匹配",
            "The receipt number and secret do not match",
        )
    return q


def _may(state: State, q: Question, days: int, now: int) -> None:
    until = say_until(state.info, q, days)
    if until is None:
        raise Conflict(
            "no_outcome_yet",
            "该问题还没有办理结果，暂时不能评价或追问",
            "This question has no outcome yet",
            status=q.status,
        )
    if now > until:
        raise Conflict(
            "rating_closed",
            "评价和追问的期限已过",
            "The time to rate or follow up this question is over",
            until=until,
        )


def _private(device: str, seal: str | None) -> JSON:
    return {"device": device, "via": "device" if seal is None else "receipt"}


def rate(state: State, args: JSON, device: str, seal: str | None, days: int, now: int) -> Decision:
    """``question.rated``, once per question."""
    q = asker(state, args, device, seal)
    _may(state, q, days, now)
    if q.rating is not None:
        raise Conflict("already_rated", "您已经评价过这个问题", "This question was already rated", id=q.id)
    level = args["level"]
    if level not in LEVELS:
        raise BadRequest(
            "bad_level",
            "评价只能是满意、基本满意或不满意",
            "level is satisfied, basically_satisfied or dissatisfied",
            field="level",
        )
    data = {"id": q.id, "level": level, "comment": args.get("comment", ""), "at": now}
    event = NewEvent("question.rated", data, {"id": q.id}, _private(device, seal))
    return Decision([event], {"question_id": q.id, "level": level})


def may_follow_up(state: State, args: JSON, device: str, seal: str | None, days: int, now: int) -> Question:
    """The question to follow up, if its asker may (still) follow it up; else refuse."""
    q = asker(state, args, device, seal)
    _may(state, q, days, now)
    if q.follow_up is not None:
        raise Conflict(
            "already_followed_up",
            "您已经追问过这个问题",
            "This question was already followed up",
            id=q.id,
            follow_up=q.follow_up,
        )
    return q


def followed_up(
    state: State, args: JSON, device: str, seal: str | None, days: int, now: int, link: JSON
) -> Decision:
    """``question.followed_up``: the original points at its follow-up (``link``)."""
    q = may_follow_up(state, args, device, seal, days, now)
    event = NewEvent("question.followed_up", {"id": q.id, "follow_up": link}, None, _private(device, seal))
    return Decision([event], {"question_id": q.id, "follow_up": link})
