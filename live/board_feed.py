"""The commitment board as an Atom feed, so the press and residents can follow it in a reader.

Made with ``feedgen`` (a well-kept library; hand-written XML would have to get escaping, dates
and the required elements right by itself). One entry per commitment, newest change first: its
``id`` stays the same for the commitment's life and its ``updated`` is the time of the last
progress report, so a reader shows a progress report as that entry changing. Each links to
the replay at the moment the promise was said, and only there: feedgen 1.0 writes an entry's
links without their ``rel``, which Atom then reads as ``alternate``, and an entry may have
only one of those (its ``id`` names the board's anchor instead). Labels in Chinese, or English
with ``lang=en``; times in the session's timezone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator

from .events import JSON

LABELS = {
    "zh": {
        "title": "{programme} · 承诺事项",
        "subtitle": "在线访谈中作出的承诺及其办理情况",
        "in_progress": "办理中",
        "done": "已办结",
        "postponed": "延期",
        "overdue": "已逾期",
        "promise": "承诺内容",
        "department": "责任部门",
        "due": "办结时限",
        "status": "办理状态",
        "result": "办理结果",
        "question": "网友提问",
        "episode": "期次",
        "progress": "办理进展",
        "said": "作出承诺",
    },
    "en": {
        "title": "{programme} · Commitments",
        "subtitle": "What was promised on air, and how each promise is being kept",
        "in_progress": "In progress",
        "done": "Done",
        "postponed": "Postponed",
        "overdue": "Overdue",
        "promise": "Promise",
        "department": "Department",
        "due": "Due",
        "status": "Status",
        "result": "Result",
        "question": "Question",
        "episode": "Episode",
        "progress": "Progress",
        "said": "Promised",
    },
}


def _when(ms: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz)


def _content(e: JSON, words: dict[str, str], tz: ZoneInfo) -> str:
    q, c = e["question"], e["question"]["commitment"]
    status = words[c["status"]] + (f"（{words['overdue']}）" if e["overdue"] else "")
    lines = [
        f"{words['promise']}：{c['promise']}",
        f"{words['department']}：{c['department']}",
        f"{words['due']}：{c['due']}",
        f"{words['status']}：{status}",
    ]
    if c.get("result"):
        lines.append(f"{words['result']}：{c['result']}")
    if q.get("text"):
        lines.append(f"{words['question']}：{q['text']}")
    session = e["session"]
    lines.append(f"{words['episode']}：{session.get('title') or ''}")
    lines.append(f"{words['said']}：{_when(c['said_at'], tz):%Y-%m-%d %H:%M}")
    if c["history"]:
        lines.append(f"{words['progress']}：")
        for h in c["history"]:
            due = f"（{words['due']} {h['due']}）" if h.get("due") else ""
            lines.append(f"  {_when(h['at'], tz):%Y-%m-%d} {words[h['status']]}{due}：{h['note']}")
    return "\n".join(lines)


def atom(board: JSON, base: str, lang: str = "zh") -> bytes:
    """The board (as :meth:`live.board.Board.board` makes it) as an Atom document; ``base`` is
    the site's public URL, which every link and id starts with."""
    words = LABELS.get(lang, LABELS["zh"])
    p = board["programme"]
    page = f"{base}/p/{p['slug']}/commitments"
    fg = FeedGenerator()
    fg.id(page)
    fg.title(words["title"].format(programme=p["title"]))
    fg.subtitle(words["subtitle"])
    fg.author({"name": p["title"]})
    fg.link(href=f"{page}.atom" + ("?lang=en" if lang == "en" else ""), rel="self")
    fg.link(href=page, rel="alternate")
    fg.language("en" if lang == "en" else "zh-CN")
    entries = sorted(
        board["commitments"], key=lambda e: e["question"]["commitment"]["updated_at"], reverse=True
    )
    newest = entries[0]["question"]["commitment"]["updated_at"] if entries else board["now"]
    fg.updated(_when(newest, ZoneInfo("UTC")))
    for e in entries:
        q, c = e["question"], e["question"]["commitment"]
        tz = ZoneInfo(e["session"].get("timezone") or "Asia/Shanghai")
        status = words[c["status"]] + (f" · {words['overdue']}" if e["overdue"] else "")
        fe = fg.add_entry(order="append")
        fe.id(f"{page}#s{e['session_id']}-q{q['id']}")
        fe.title(f"[{status}] {c['department']}：{c['promise'][:80]}")
        fe.published(_when(c["made_at"], tz))
        fe.updated(_when(c["updated_at"], tz))
        fe.link(href=base + e["links"]["replay"], rel="alternate")  # the one link: see the docstring
        fe.category(term=c["status"], label=words[c["status"]])
        fe.content(_content(e, words, tz), type="text")
    data: bytes = fg.atom_str(pretty=True)
    return data
