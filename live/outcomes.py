"""The outcomes section of the published record: every question, what became of it, the counts.

有问必答: the transcript (:mod:`live.archive`, every format) lists every question a session
received, grouped by outcome in the order of :data:`live.state.OUTCOMES`, each as the public may
see it (:meth:`live.state.Question.to_wire`: a question never published shows its outcome, not
its text; nobody's contact is in the state at all), with the counts and the reply rate of
:meth:`live.state.State.outcomes`. The pages draw the same section from the same fields
(``live/templates/parts.html`` on the server, ``static/js/outcomes.js`` from the live stream),
in the words of the pages' own string files. This module holds the section's data, and the words
of the Markdown and CSV formats in both languages; the formats lay it out.
"""

from __future__ import annotations

from .events import JSON
from .state import OUTCOMES, State

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "办理结果",
        "answered": "现场回答",
        "written": "书面答复",
        "forwarded": "转交办理",
        "carried_over": "结转下一期",
        "merged": "合并",
        "declined": "未采用",
        "none": "尚无结果",
        "summary": "本期共收到 {total} 个问题：{parts}。",
        "rate": "回复率 {rate}（已答复 {replied} / 应答复 {due}）。",
        "rate_none": "回复率：无应答复的问题。",
        "sep": "，",
        "part": "{label} {n}",
        "private": "（未公开的问题）",
        "see": "见第 {n} 条",
        "to": "转交：{department}",
        "reason": "原因：{reason}",
        "into": "已合并到 #{id}",
        "carried_to": "已结转到下一期：{link}",
        "carried_from": "由上一期结转：{link}",
        "off_topic": "与本期主题无关",
        "duplicate": "与已有问题重复",
        "personal_case": "涉及个人具体事项，请通过 12345 热线反映",
        "abusive": "内容不文明",
        "other": "其他原因",
        "outcome": "办理结果",
        "id": "编号",
        "detail": "说明",
    },
    "en": {
        "title": "Outcomes",
        "answered": "Answered live",
        "written": "Written reply",
        "forwarded": "Forwarded",
        "carried_over": "Carried over",
        "merged": "Merged",
        "declined": "Declined",
        "none": "No outcome yet",
        "summary": "{total} questions received: {parts}.",
        "rate": "Reply rate {rate} ({replied} replied of {due} due).",
        "rate_none": "Reply rate: no question was due a reply.",
        "sep": ", ",
        "part": "{label} {n}",
        "private": "(not published)",
        "see": "see No. {n}",
        "to": "Forwarded to {department}",
        "reason": "Reason: {reason}",
        "into": "Merged into #{id}",
        "carried_to": "Carried over to the next episode: {link}",
        "carried_from": "Carried over from an earlier episode: {link}",
        "off_topic": "off the session's topic",
        "duplicate": "a duplicate of another question",
        "personal_case": "a personal case: please call the 12345 hotline",
        "abusive": "abusive",
        "other": "other",
        "outcome": "Outcome",
        "id": "ID",
        "detail": "Detail",
    },
}


def section(state: State) -> JSON:
    """Every question as the public may see it, grouped by outcome (then as asked), and counts."""
    order = {name: n for n, name in enumerate(OUTCOMES)}
    questions = sorted(state.questions.values(), key=lambda q: (order[q.settled_as], q.asked_at, q.id))
    return {"counts": state.outcomes(), "questions": [q.to_wire() for q in questions]}


def labels(lang: str) -> dict[str, str]:
    return LABELS.get(lang, LABELS["zh"])


def summary(counts: JSON, lang: str) -> list[str]:
    """The counts in words, then the reply rate."""
    lab = labels(lang)
    parts = lab["sep"].join(
        lab["part"].format(label=lab[name], n=counts[name]) for name in OUTCOMES if counts[name]
    )
    total = sum(counts[name] for name in OUTCOMES)
    rate = counts["reply_rate"]
    return [
        lab["summary"].format(total=total, parts=parts or "0"),
        lab["rate_none"]
        if rate is None
        else lab["rate"].format(rate=f"{rate * 100:.1f}%", replied=counts["replied"], due=counts["due"]),
    ]


def describe(q: JSON, lang: str, base: str, numbers: dict[int, int]) -> str:
    """What became of one question, in words (plain text: each format escapes it)."""
    lab = labels(lang)
    out: list[str] = []
    if q["id"] in numbers:
        out.append(lab["see"].format(n=numbers[q["id"]]))
    if q.get("department"):
        out.append(lab["to"].format(department=q["department"]))
    if q.get("reason"):
        out.append(lab["reason"].format(reason=lab.get(q["reason"], q["reason"])))
    if q.get("note"):
        out.append(q["note"])
    if q.get("merged_into") is not None:
        out.append(lab["into"].format(id=q["merged_into"]))
    for key in ("carried_to", "carried_from"):
        if q.get(key):
            link = f"{base}/s/{q[key]['session_id']}#q-{q[key]['question_id']}"
            out.append(lab[key].format(link=link))
    return lab["sep"].join(out)
