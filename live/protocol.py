"""The wire format: parse client frames into commands, format server frames.

No I/O here. Every client frame is one JSON object with a ``type`` and an
optional request ``id`` (echoed back as ``re``). Each type has a schema of
field -> (python type, required, max length or max value); anything else is a
:class:`BadRequest` naming the field, never an exception that would close the
connection. See ``docs/protocol.md`` for the messages themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .events import JSON, dumps
from .exceptions import BadRequest, LiveError

MAX_INT = 2**53
PROTOCOL = 2
"""The protocol's version, said by the client in ``hello`` and by the server in ``welcome``.
2: every event carries its result (the session, the question as the audience may see it), so a
page of protocol 1, which re-derived them, would show wrong pages; it is refused instead."""

Field = tuple[type | tuple[type, ...], bool, int]
SCHEMAS: dict[str, dict[str, Field]] = {
    "hello": {
        "protocol": (int, False, MAX_INT),
        "since": (int, False, MAX_INT),
        "epoch": (str, False, 64),
        "token": (str, False, 200),
        "device": (str, False, 200),
        "name": (str, False, 40),
    },
    "ping": {},
    "mine": {},
    "ask": {
        "client_id": (str, True, 64),
        "text": (str, True, 100_000),
        "name": (str, False, 1000),
        "contact": (str, False, 200),
        "channel": (str, False, 20),
    },
    "vote": {"question_id": (int, True, MAX_INT)},
    "unvote": {"question_id": (int, True, MAX_INT)},
    "approve": {"question_id": (int, True, MAX_INT)},
    "reject": {"question_id": (int, True, MAX_INT), "reason": (str, False, 40), "note": (str, False, 1000)},
    "edit": {"question_id": (int, True, MAX_INT), "text": (str, True, 100_000)},
    "merge": {"question_id": (int, True, MAX_INT), "into": (int, True, MAX_INT)},
    "hide": {"question_id": (int, True, MAX_INT)},
    "forward": {
        "question_id": (int, True, MAX_INT),
        "department": (str, True, 100),
        "note": (str, False, 1000),
    },
    "answering": {"question_id": ((int, type(None)), True, MAX_INT)},
    "answer": {
        "question_id": (int, True, MAX_INT),
        "text": (str, False, 100_000),
        "mode": (str, False, 10),
        "append": (bool, False, 1),
    },
    "open": {},
    "close": {},
    "extend": {"ends_at": (int, True, MAX_INT)},
    "set_moderation": {"mode": (str, True, 10)},
    "commitment": {
        "question_id": (int, True, MAX_INT),
        "department": (str, True, 100),
        "promise": (str, True, 1000),
        "due": (str, True, 10),
        "said_at": (int, False, MAX_INT),
    },
    "progress": {
        "question_id": (int, True, MAX_INT),
        "status": (str, True, 20),
        "note": (str, False, 1000),
        "due": (str, False, 10),
    },
    "release": {"question_id": (int, True, MAX_INT), "hold": (int, False, MAX_INT)},
    "withdraw": {"question_id": (int, True, MAX_INT), "hold": (int, False, MAX_INT)},
    "rate": {
        "question_id": (int, False, MAX_INT),
        "receipt": (str, False, 40),
        "secret": (str, False, 40),
        "level": (str, True, 30),
        "comment": (str, False, 100_000),
    },
    "follow_up": {
        "question_id": (int, False, MAX_INT),
        "receipt": (str, False, 40),
        "secret": (str, False, 40),
        "text": (str, True, 100_000),
    },
    "settle": {
        "question_ids": (list, True, 1000),
        "outcome": (str, True, 20),
        "reason": (str, False, 40),
        "department": (str, False, 100),
        "note": (str, False, 1000),
        "into": (int, False, MAX_INT),
    },
    "carry_over": {"question_ids": (list, False, 1000)},
    "archive": {},
    "archive_override": {"note": (str, True, 1000)},
    "remark": {"text": (str, True, 100_000)},
    "announce": {"question_id": (int, True, MAX_INT)},
    "withdraw_post": {"post_id": (int, True, MAX_INT)},
}


EXPECT: Field = (str, False, 20)
"""``expect``: the question status the sender saw; refused if it changed meanwhile."""
for _kind in ("approve", "reject", "edit", "merge", "hide", "forward", "answer"):
    SCHEMAS[_kind]["expect"] = EXPECT


@dataclass(frozen=True)
class Command:
    type: str
    args: JSON
    id: str | int | None = None


def _request_id(obj: JSON) -> str | int | None:
    rid = obj.get("id")
    if isinstance(rid, bool) or not isinstance(rid, str | int):
        return None
    if isinstance(rid, str) and (len(rid) > 64 or not _encodable(rid)):
        return None
    if isinstance(rid, int) and abs(rid) > MAX_INT:
        return None
    return rid


def _encodable(text: str) -> bool:
    """Whether both engines can store ``text``: UTF-8 has it, and PostgreSQL takes no NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def check_text(obj: Any, **details: Any) -> None:
    """Refuse a parsed JSON value holding a lone surrogate (``"\\ud800"``) or a NUL as
    ``invalid_text``.

    JSON may spell half of a UTF-16 pair on its own; Python then holds a string
    no UTF-8 encoder accepts. Stored, it failed inside SQLite's group commit and
    took every honest question of the same round down with it. Only a ``\\u``
    escape can make one (the frame itself was valid UTF-8), so callers look for
    that in the raw text first and walk the value only then.
    """
    if isinstance(obj, str):
        if not _encodable(obj):
            raise BadRequest(
                "invalid_text",
                "内容包含无法保存的字符",
                "Text contains characters that cannot be stored",
                **details,
            )
    elif isinstance(obj, dict):
        for key, value in obj.items():
            check_text(key, **details)
            check_text(value, **details)
    elif isinstance(obj, list):
        for value in obj:
            check_text(value, **details)


def parse(text: str) -> Command:
    """Parse one client frame or raise :class:`BadRequest` (with ``re`` when known)."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest("invalid_json", "消息不是有效的 JSON", "Frame is not valid JSON") from None
    if not isinstance(obj, dict):
        raise BadRequest("not_an_object", "消息必须是 JSON 对象", "Frame must be a JSON object")
    rid = _request_id(obj)
    if rid is None and obj.get("id") is not None:  # refused, never run with its reply unmatched
        raise BadRequest(
            "bad_id", "请求编号无效", "id is a string of at most 64 characters or an integer", field="id"
        )
    if "\\u" in text:
        check_text(obj, re=rid)
    return command(obj, rid)


def command(obj: JSON, rid: str | int | None = None) -> Command:
    """The command an object asks for, each field checked against its type's schema.

    A frame (:func:`parse`) and a plain HTML form (the viewer page's ask form without
    script, :mod:`live.pages`) both come through here, so both meet the same checks."""
    kind = obj.get("type")
    if not isinstance(kind, str) or (schema := SCHEMAS.get(kind)) is None:
        raise BadRequest(
            "unknown_type", "未知的消息类型", "Unknown message type", re=rid, type=str(kind)[:40]
        )
    args: JSON = {}
    for name, (types, required, limit) in schema.items():
        value = obj.get(name)
        if value is None:
            if required and not (isinstance(types, tuple) and type(None) in types and name in obj):
                raise BadRequest(
                    "missing_field", f"缺少字段 {name}", f"Missing field {name}", re=rid, field=name
                )
            continue
        if isinstance(value, bool) is not (types is bool) or not isinstance(value, types):
            raise BadRequest(
                "wrong_type", f"字段 {name} 类型错误", f"Field {name} has the wrong type", re=rid, field=name
            )
        if isinstance(value, int) and not 0 <= value <= limit:
            raise BadRequest(
                "out_of_range", f"字段 {name} 超出范围", f"Field {name} is out of range", re=rid, field=name
            )
        if isinstance(value, str) and len(value) > limit:
            raise BadRequest("too_long", f"字段 {name} 过长", f"Field {name} is too long", re=rid, field=name)
        args[name] = value
    return Command(kind, args, rid)


def ack(rid: str | int | None, result: JSON) -> str:
    return dumps({"type": "ack", "re": rid, "result": result})


def error(err: LiveError, rid: str | int | None = None) -> str:
    body = err.to_dict()
    details = body.get("details", {})
    re = details.pop("re", rid) if isinstance(details, dict) else rid
    if not details:
        body.pop("details", None)
    return dumps({"type": "error", "re": re, **body})


def control(kind: str, **fields: Any) -> str:
    return dumps({"type": kind, **fields})
