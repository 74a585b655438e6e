"""What an asker is told, and when: the events that notify, and the message each one makes.

Pure: no I/O. :mod:`live.notifier` reads the log and calls these; :mod:`live.delivery`
sends what they return.

**When.** :data:`NOTIFYING` is the one table of the event types that tell an asker
something: those that give their question an outcome or change it. An event type that
changes a question's status or outcome and does not notify is in :data:`QUIET`, with the
reason. ``tests/test_views.py`` plays random commands and fails on any event whose
question, as everyone sees it, changed status or outcome while its type is in neither
table: a new outcome (a written reply, a carry-over, a commitment) cannot be added
without deciding whether the asker hears of it.

**What.** Only what everyone may know of the question once the event is stored: the
event's public result (the outcome the receipt lookup shows, with the staff's note on a
decline or a forward, and the answer once published), the session's title, the time in the
session's timezone and a link to the receipt lookup. Never the private contact (beyond the
address the message goes to), a staff note that is not written for the asker, an
unpublished text or a pre-edit text: the message is built from the public view alone.
Chinese first, then English, in one message: the asker chose no language when asking.

**Whom.** The contact the asker left: an e-mail address gets an e-mail, a phone number goes
to the webhook (a government SMS gateway). Anything else is not written to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .events import JSON, Event

NOTIFYING: dict[str, str] = {
    "question.answered": "answered",
    "question.rejected": "declined",
    "question.forwarded": "forwarded",
    "question.merged": "merged",
    "question.carried_over": "carried_over",
    "commitment.made": "commitment",
    "commitment.progress": "commitment_progress",
}
"""Event type -> the message it makes (a key of :data:`OUTCOMES`; any other key makes the
generic "there is news" message). The event names its question by its ``question`` result."""

QUIET: dict[str, str] = {
    "question.approved": "published: it still waits for its outcome, which will be told",
    "question.hidden": "taken off the public screen: the answer it had is not withdrawn",
    "question.rated": "the asker's own act: they know",
    "question.carried_in": "its asker is told by the question.carried_over of the earlier episode",
    "question.followed_up": "the asker's own act; the follow-up is a question of its own, told of in turn",
}
"""Event types that change a question's status or outcome without telling the asker, and why."""

EMAIL = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\".]+")
PHONE = re.compile(r"\+?[0-9]{7,15}")
PHONE_SEPARATORS = re.compile(r"[\s().-]")

OUTCOMES: dict[str, dict[str, str]] = {
    "answered": {"zh": "已得到答复", "en": "has been answered"},
    "answered_video": {"zh": "已在直播视频中得到答复", "en": "was answered in the live video"},
    "answered_written": {"zh": "已得到书面答复", "en": "has been answered in writing"},
    "declined": {"zh": "未被采用", "en": "was not taken up"},
    "forwarded": {"zh": "已转交{department}办理", "en": "has been forwarded to {department}"},
    "merged": {
        "zh": "已与同类问题（第{into}号）合并，办理结果以该问题为准",
        "en": "was merged with a similar question (no. {into}) and shares its outcome",
    },
    "carried_over": {
        "zh": "将在下一期节目中继续办理，查询编号不变",
        "en": "was carried over to the next episode, under the same receipt number",
    },
    "commitment": {
        "zh": "已列为承诺事项，由{department}办理",
        "en": "is now a commitment, to be carried out by {department}",
    },
    "commitment_progress": {"zh": "对应的承诺事项有了新进展", "en": "has news on its commitment"},
    "update": {"zh": "有了新的进展", "en": "has news"},
}
"""How each outcome is said, after "your question ..." (the status words of ``static/js/lang``,
as a sentence; ``tests/test_notify.py`` checks the reasons and statuses they share)."""

REASONS: dict[str, dict[str, str]] = {
    "off_topic": {"zh": "与本期主题无关", "en": "Not on this episode’s topic"},
    "duplicate": {"zh": "与已有问题重复", "en": "Already asked"},
    "personal_case": {
        "zh": "涉及个人具体事项，请通过 12345 热线反映",
        "en": "A personal case: please use the 12345 hotline",
    },
    "abusive": {"zh": "内容不文明", "en": "Not civil"},
    "other": {"zh": "其他原因", "en": "Other reason"},
}
"""The decline reasons as the pages say them (``reason.*`` in ``static/js/lang``)."""

TZ_NAMES = {"Asia/Shanghai": {"zh": "北京时间", "en": "Beijing time"}}


def channel(contact: str) -> str | None:
    """``email`` for an e-mail address, ``sms`` for a phone number, None for anything else."""
    contact = contact.strip()
    if EMAIL.fullmatch(contact):
        return "email"
    if PHONE.fullmatch(PHONE_SEPARATORS.sub("", contact)):
        return "sms"
    return None


def question_id(event: Event) -> int | None:
    """The question an event of :data:`NOTIFYING` is about: its ``question`` result's id."""
    q = event.data.get("question")
    if isinstance(q, dict) and isinstance(q.get("id"), int):
        return int(q["id"])
    qid = event.data.get("question_id", event.data.get("id"))
    return qid if isinstance(qid, int) else None


def public_question(event: Event) -> JSON:
    """The question as everyone may see it once ``event`` is stored: the only source of a message."""
    q = event.to_wire(staff=False)["data"].get("question")
    return q if isinstance(q, dict) else {}


def mask(contact: str) -> str:
    """A contact as a staff list shows it: enough to tell two apart, not enough to use."""
    contact = contact.strip()
    if "@" in contact:
        name, _, domain = contact.partition("@")
        return f"{name[:1]}***@{domain}"
    digits = PHONE_SEPARATORS.sub("", contact)
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 8 else "****"


@dataclass(frozen=True)
class Message:
    """One message in both languages: a subject, a full text (e-mail), a short one (SMS)."""

    subject: str
    text: str
    short: dict[str, str]


def _when(at: int, timezone: str, lang: str) -> str:
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        tz, timezone = ZoneInfo("Asia/Shanghai"), "Asia/Shanghai"
    local = datetime.fromtimestamp(at / 1000, tz)
    name = TZ_NAMES.get(timezone, {}).get(lang, timezone)
    if lang == "zh":
        return f"{local:%Y年%m月%d日 %H:%M}（{name}）"
    return f"{local:%Y-%m-%d %H:%M} ({name})"


def _outcome(kind: str, q: JSON) -> str:
    """The key of :data:`OUTCOMES` for a message of ``kind`` about ``q``."""
    if kind == "answered":
        mode = (q.get("answer") or {}).get("mode", "text")
        return "answered" if mode == "text" else f"answered_{mode}"
    return kind if kind in OUTCOMES else "update"


def _details(q: JSON, lang: str, whose: str) -> list[str]:
    """What the public view says beyond the outcome: the text (``whose`` it is), the reason,
    the note, the answer."""
    lines = []
    if "text" in q:
        lines.append(whose + ("：" if lang == "zh" else ": ") + str(q["text"]))
    reason = REASONS.get(str(q.get("reason", "")))
    if reason:
        lines.append(("原因：" if lang == "zh" else "Reason: ") + reason[lang])
    if q.get("note"):
        lines.append(("说明：" if lang == "zh" else "Note: ") + str(q["note"]))
    answer = q.get("answer")
    if isinstance(answer, dict) and answer.get("text"):
        by = f"（{answer['by']}）" if lang == "zh" and answer.get("by") else ""
        by = f" ({answer['by']})" if lang == "en" and answer.get("by") else by
        lines.append(("答复" if lang == "zh" else "Answer") + by + ("：" if lang == "zh" else ": "))
        lines.append(str(answer["text"]))
    return lines


def receipt_link(base: str, receipt: str) -> str:
    """The receipt lookup on the programme's home page, opened at this receipt number."""
    return f"{base.rstrip('/')}/?receipt={quote(receipt)}"


def message(kind: str, event: Event, info: JSON, receipt: str, link: str, into: int | None = None) -> Message:
    """The message ``event`` (of :data:`NOTIFYING` kind ``kind``) makes for its asker; with
    ``into``, for the asker of a question merged into that one (``receipt`` is theirs): the
    outcome is the target's, said as such."""
    q = public_question(event)
    said = OUTCOMES[_outcome(kind, q)]
    promised = q.get("commitment") or {}
    fill = {
        "department": q.get("department") or promised.get("department", ""),
        "into": q.get("merged_into", ""),
    }
    title = str(info.get("title", ""))
    timezone = str(info.get("timezone") or "Asia/Shanghai")
    zh, en = said["zh"].format(**fill), said["en"].format(**fill)
    whose = {"zh": "您的问题", "en": "Your question"}
    merged = ("（已合并）", " (merged)") if into is not None else ("", "")
    subject = (
        f"【{title}】您的问题{merged[0]}{zh.split('，')[0]} / Your question{merged[1]} {en.split(',')[0]}"
    )
    if into is not None:  # the asker's question shares this one's outcome
        zh = f"已与第{into}号问题合并，该问题{zh}"
        en = f"was merged into no. {into}, which {en}"
        whose = {"zh": "合并后的问题", "en": "The question it was merged into"}
    text_zh = [
        "您好：",
        "",
        f"您在“{title}”中提出的问题（回执编号 {receipt}）{zh}。",
        f"时间：{_when(event.at, timezone, 'zh')}",
        *_details(q, "zh", whose["zh"]),
        "",
        f"查看处理结果：{link}",
        "",
        "此邮件由系统自动发送，请勿直接回复。",
    ]
    text_en = [
        "Hello,",
        "",
        f"Your question in “{title}” (receipt no. {receipt}) {en}.",
        f"Time: {_when(event.at, timezone, 'en')}",
        *_details(q, "en", whose["en"]),
        "",
        f"See the outcome: {link}",
        "",
        "This message was sent automatically; please do not reply to it.",
    ]
    return Message(
        subject=subject,
        text="\n".join([*text_zh, "", "——", "", *text_en]) + "\n",
        short={
            "zh": f"【{title}】您的问题（回执编号 {receipt}）{zh}。查看：{link}",
            "en": f"[{title}] Your question (receipt {receipt}) {en}. See {link}",
        },
    )
