"""Cleaning what people type before the state machine sees it.

Lengths are counted after trimming, in characters (a Chinese character is
one), and a blank display name becomes 网友 ("netizen"), as on the column's
original page. Text is stored as typed and only ever rendered as text, with
one rule for characters nobody sees (docs/protocol.md, "Text"): control
characters other than newline and tab, the bidirectional controls that can
make text read differently from how it is stored (U+202A-U+202E, U+2066-U+2069,
U+200E, U+200F, U+061C), and invisible characters that can hide a blocked
word or make two questions look the same while differing (U+200B, U+2060-U+2064,
U+FEFF, U+00AD, U+180E) are removed. The joiners U+200C and U+200D stay: emoji
sequences and some scripts need them.
"""

from __future__ import annotations

import re

from . import channels, studio
from .events import JSON
from .exceptions import BadRequest, TooLarge
from .settings import Settings

DEFAULT_NAME = "网友"


_UNSEEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
    "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
    "\u200b\u2060-\u2064\ufeff\u00ad\u180e]"
)
"""The Cc category but newline, tab and carriage return, the bidirectional controls and the
invisible characters (see above); one regex pass, not a Python loop."""


def _clean(text: str) -> str:
    """Normalise line endings, drop the characters nobody sees (see above), trim."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSEEN.sub("", text).strip()


def _limit(field: str, text: str, limit: int) -> str:
    if len(text) > limit:
        raise TooLarge(
            "text_too_long",
            f"内容过长（最多 {limit} 字）",
            f"Too long (at most {limit} characters)",
            field=field,
            limit=limit,
        )
    return text


def clean(command: str, args: JSON, settings: Settings) -> JSON:
    """Validate and normalise user-entered fields of one command."""
    out = dict(args)
    if command in ("ask", "edit") or (command == "answer" and "text" in args):
        text = _clean(args["text"])
        if not text and command != "answer":
            raise BadRequest("empty_text", "内容不能为空", "Text must not be empty", field="text")
        limit = settings.max_answer_chars if command == "answer" else settings.max_question_chars
        out["text"] = _limit("text", text, limit)
    if command == "remark":  # the host's words (live/studio.py)
        out["text"] = _limit("text", _clean(args["text"]), settings.max_remark_chars)
        if not out["text"]:
            raise BadRequest("empty_text", "内容不能为空", "Text must not be empty", field="text")
    if command == "photo":
        out["caption"] = _limit("caption", _clean(args.get("caption") or ""), studio.MAX_CAPTION)
    if command == "ask":
        name = " ".join(_clean(args.get("name") or "").split())
        out["name"] = _limit("name", name, settings.max_name_chars) or DEFAULT_NAME
        out["contact"] = _limit("contact", _clean(args.get("contact") or ""), 100)
        out["channel"] = channels.check(args.get("channel"))  # who may give which: live/sessions.py
    for field in ("note", "department", "promise"):
        if field in args:
            out[field] = _limit(field, _clean(args[field]), 1000)
    if command == "forward" and not out["department"]:
        raise BadRequest("missing_field", "请填写转交部门", "department is required", field="department")
    for field in ("text", "comment") if command in ("follow_up", "rate") else ():  # live/ratings.py
        if field in args:
            out[field] = _limit(field, _clean(args[field]), settings.max_question_chars)
    if command == "follow_up" and not out["text"]:
        raise BadRequest("empty_text", "内容不能为空", "Text must not be empty", field="text")
    return out
