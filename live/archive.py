"""The published record of a session (访谈实录), built from its log, in its formats.

A record is the session's log folded with :func:`live.state.apply`, the same
fold live viewers and replay use, so the transcript cannot disagree with what
was shown. One pass also notes when each question was *first* answered: the
order of the conversation, which a later revision of an answer must not change.

What is published is chosen here, once, for every format: the answered
questions, in the order they were answered, with the citizen's display name and
the official's latest answer; on a staff request, also the approved questions
left unanswered. Then every question the session received, grouped by outcome,
with the counts and reply rate (:mod:`live.outcomes`, 有问必答). Only public
fields are copied (never the private contact, device, staff notes, the pre-edit
text or filter flags).

Markdown escapes what a citizen typed so it cannot become markup or a link;
CSV starts with a BOM (Excel reads UTF-8 Chinese only with one) and defuses
cells that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import chain, channels, outcomes
from .events import JSON, now_ms
from .exceptions import NotFound
from .satisfaction import of_session
from .state import Question, State, apply
from .store import Catalog, Chain, Log

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "programme": "栏目",
        "episode": "期数",
        "episode_n": "第{n}期",
        "guest": "嘉宾",
        "time": "时间",
        "answered": "本期共解答 {n} 个问题。",
        "unanswered": "未答复的问题",
        "video": "（已在直播视频中解答）",
        "written": "（书面答复）",
        "file": "{p}第{n}期访谈实录",
        "no": "序号",
        "name": "提问人",
        "asked_at": "提问时间",
        "question": "问题",
        "answered_at": "答复时间",
        "answer": "答复",
        "by": "答复人",
        "mode": "答复方式",
        "status": "状态",
        "link": "链接",
        "channel": "来源渠道",
        "approved": "已公开，未答复",
        "mode_text": "文字",
        "mode_video": "口头（直播中）",
        "mode_written": "书面",
        "colon": "：",
        "chain": "记录校验值（SHA-256 哈希链头，截至第 {n} 条记录）",
        "record": "访谈实录",
        "role_host": "[主持人]",
        "role_guest": "[嘉宾]",
        "role_citizen": "[网友 {name}]",
        "role_photo": "[图片]",
        "announce": "下面请看网友“{name}”的提问：",
        "asked_when": "{time} 提问",
        "item_n": "第 {n} 条",
        "role": "角色",
        "content": "内容",
    },
    "en": {
        "programme": "Programme",
        "episode": "Episode",
        "episode_n": "No. {n}",
        "guest": "Guest",
        "time": "Time",
        "answered": "{n} questions answered.",
        "unanswered": "Not answered",
        "video": "(answered in the live video)",
        "written": "(answered in writing)",
        "file": "{p} episode {n} transcript",
        "no": "No.",
        "name": "Name",
        "asked_at": "Asked at",
        "question": "Question",
        "answered_at": "Answered at",
        "answer": "Answer",
        "by": "Answered by",
        "mode": "Mode",
        "status": "Status",
        "link": "Link",
        "channel": "Channel",
        "approved": "published, not answered",
        "mode_text": "Text",
        "mode_video": "Spoken on air",
        "mode_written": "Written",
        "colon": ": ",
        "chain": "Record check value (SHA-256 hash chain head, as of event {n})",
        "record": "Transcript",
        "role_host": "[Host]",
        "role_guest": "[Guest]",
        "role_citizen": "[Citizen {name}]",
        "role_photo": "[Photo]",
        "announce": "Next, a question from {name}:",
        "asked_when": "asked {time}",
        "item_n": "No. {n}",
        "role": "Speaker",
        "content": "Content",
    },
}
ANSWER_FIELDS = ("text", "at", "by", "mode", "revision")
LINE_ORDER = {"remark": 0, "photo": 0, "announce": 0, "question": 1, "answer": 2}
"""Lines of one moment in the run: the host's first, then a question and its answer."""


@dataclass
class Record:
    """A session's log, folded; plus the first-answer times and who was ever published.

    ``programme`` is looked up on every load (a programme can be renamed without an event).
    """

    state: State
    programme: JSON
    first_answered: dict[int, int] = field(default_factory=dict)
    published: set[int] = field(default_factory=set)
    head: str | None = None
    """The hash of the log's last event folded (:mod:`live.chain`): the transcript shows it."""

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.state.info.get("timezone"))


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def local(ms: int | None, tz: ZoneInfo, seconds: bool = False) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz).strftime(
        "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    )


_RECENT: OrderedDict[tuple[int, int, str, int], Record] = OrderedDict()
RECENT_MAX = 16
"""Folded logs kept per process: a finished session's log never changes, and a published
transcript is read by many people, so each (store, session, epoch, last seq) is folded once."""


class RecordStore(Catalog, Log, Chain, Protocol):
    """What a record is read from: the session's row and programme, its log and its hashes."""


async def load(store: RecordStore, session_id: int) -> Record:
    """The session's log, folded (read and folded again only when the log has grown)."""
    row = await store.get_session(session_id)
    if row is None:
        raise NotFound("session_not_found", "访谈不存在", "No such session", id=session_id)
    key = (id(store), session_id, row.epoch, row.last_seq)
    record = _RECENT.get(key)
    if record is None:
        record = await _fold(store, session_id)
        if record.state.seq == row.last_seq:
            _RECENT[key] = record
            while len(_RECENT) > RECENT_MAX:
                _RECENT.popitem(last=False)
    else:
        _RECENT.move_to_end(key)
    record.programme = next(
        (p for p in await store.list_programmes() if p["id"] == row.programme_id),
        {"id": row.programme_id, "slug": "", "title": ""},
    )
    return record


async def _fold(store: RecordStore, session_id: int) -> Record:
    record = Record(State(session_id), {})
    for event in await store.read(session_id):
        apply(record.state, event)
        d = event.data
        if event.type == "question.answered":
            record.first_answered.setdefault(d["id"], event.at)
        elif event.type == "question.approved" or (
            event.type == "question.asked" and d["question"]["status"] == "approved"
        ):
            record.published.add(d["question"]["id"])
    last = await store.read_links(session_id, after=record.state.seq - 1, limit=1)
    record.head = last[0].hash if last else None
    return record


def _item(n: int, q: Question, record: Record) -> JSON:
    tz = record.tz
    answer = {k: q.answer[k] for k in ANSWER_FIELDS if k in q.answer} if q.answer else None
    answered_at = record.first_answered.get(q.id) if answer else None
    item = {
        "n": n,
        "id": q.id,
        "status": q.status,
        "name": q.name,
        "question": q.text,
        "asked_at": q.asked_at,
        "asked_at_local": local(q.asked_at, tz),
        "answer": answer,
        "answered_at": answered_at,
        "answered_at_local": local(answered_at, tz),
        "link": f"/s/{record.state.session_id}/replay#q{q.id}",
    }
    if q.channel != channels.WEB:  # as on the wire: absent for a question asked on the page
        item["channel"] = q.channel
    return item


def asker(q: JSON, lang: str) -> str:
    """Who asked, as the record names them: the display name, and the channel (热线, 短信...)
    of a question staff entered from a call or a message. Plain text: each format escapes it."""
    parts = [q.get("name") or "", channels.label(q["channel"], lang) if q.get("channel") else ""]
    return " · ".join(p for p in parts if p)


def lines(record: Record, items: list[JSON]) -> list[JSON]:
    """The 访谈实录 as it was said: the host's remarks and the questions read out (``role``
    ``host``), each answer at its first answering (``guest``), the studio's photos, in time order.

    An answered question that no announcement read out before its answer is a ``question`` line
    of its asker's (``citizen``) just before the answer. An announcement of a question no longer
    published is left out, as the question is (its post carries no text). Each line has ``at``
    (its place in the run) and ``at_local``; a line naming a question has its ``id`` and, if it
    was answered, its ``n`` in ``items``.
    """
    state, tz = record.state, record.tz
    answered = {item["id"]: item for item in items if item["answer"]}
    out: list[JSON] = []
    read_out: dict[int, int] = {}
    for post in state.posts.values():
        if post.withdrawn:
            continue
        line: JSON = {"kind": post.kind, "role": "host", "at": post.at}
        if post.kind == "remark":
            line["text"] = post.text
        elif post.kind == "announce":
            q = state.questions.get(post.question_id or 0)
            if q is None or not q.public:
                continue
            line.update(id=q.id, name=q.name, question=q.text)
            if q.channel != channels.WEB:
                line["channel"] = q.channel
            if q.id in answered:
                line["n"] = answered[q.id]["n"]
            read_out.setdefault(q.id, post.at)
        else:
            assert post.photo is not None
            line = {
                "kind": "photo",
                "role": "photo",
                "at": post.at,
                "caption": post.photo["caption"],
                "width": post.photo["width"],
                "height": post.photo["height"],
                "sha256": post.photo["sha256"],
                "photo": post.photo["photo"],
                "file": f"photos/{post.photo['photo']}.jpg",
                "url": f"/s/{state.session_id}/photos/{post.photo['photo']}.jpg",
            }
        out.append(line)
    for item in answered.values():
        at = item["answered_at"] or item["answer"]["at"]
        who: JSON = {k: item[k] for k in ("id", "n", "name") if k in item}
        if item.get("channel"):
            who["channel"] = item["channel"]
        if read_out.get(item["id"], at + 1) > at:  # nobody read it out first: the asker's own line
            out.append(
                {
                    "kind": "question",
                    "role": "citizen",
                    "at": at,
                    **who,
                    "question": item["question"],
                    "asked_at": item["asked_at"],
                    "asked_at_local": item["asked_at_local"],
                }
            )
        out.append({"kind": "answer", "role": "guest", "at": at, **who, "answer": item["answer"]})
    out.sort(key=lambda line: (line["at"], LINE_ORDER[line["kind"]]))
    for line in out:
        line["at_local"] = local(line["at"], tz)
    return out


def studio(doc: JSON) -> bool:
    """Whether the record has the studio's lines (the host's, photos): then every format gives the
    run of lines (:func:`lines`), as a published 访谈实录 reads; else the answers one by one."""
    return any(line["role"] in ("host", "photo") for line in doc.get("lines", ()))


def transcript(record: Record, include_unanswered: bool = False) -> JSON:
    """The published record as data; every other format is rendered from this."""
    info, tz = record.state.info, record.tz
    questions = record.state.questions.values()
    answered = sorted(
        (q for q in questions if q.status == "answered"),
        key=lambda q: (record.first_answered.get(q.id, 0), q.id),
    )
    items = [_item(n, q, record) for n, q in enumerate(answered, start=1)]
    if include_unanswered:
        waiting = sorted((q for q in questions if q.status == "approved"), key=lambda q: q.asked_at)
        items += [_item(n, q, record) for n, q in enumerate(waiting, start=len(items) + 1)]
    session = {
        "id": record.state.session_id,
        "programme": {k: record.programme.get(k, "") for k in ("id", "slug", "title")},
        **{
            k: info.get(k)
            for k in (
                "episode",
                "title",
                "guest_name",
                "guest_post",
                "description",
                "starts_at",
                "ends_at",
                "timezone",
            )
        },
        "starts_at_local": local(info.get("starts_at"), tz),
        "ends_at_local": local(info.get("ends_at"), tz),
        "link": f"/s/{record.state.session_id}/replay",
    }
    section = outcomes.section(record.state)
    for q in section["questions"]:
        q["asked_at_local"] = local(q["asked_at"], tz)
        if "text" in q:
            q["link"] = f"/s/{record.state.session_id}/replay#q{q['id']}"
    return {
        "session": session,
        "include_unanswered": include_unanswered,
        "answered": len(answered),
        "generated_at": now_ms(),
        "items": items,
        "lines": lines(record, items),
        "chain": {"spec": chain.SPEC, "seq": record.state.seq, "head": record.head},
        "satisfaction": of_session(record.state),
        "outcomes": section,
    }


_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~])")
_MD_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+\.)", re.MULTILINE)


def md_escape(text: str) -> str:
    """Text that Markdown shows as itself: no emphasis, link, HTML, heading or list."""
    text = _MD_INLINE.sub(r"\\\1", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def _answer_text(item: JSON, lab: dict[str, str]) -> str:
    a = item["answer"] or {}
    text: str = a.get("text", "")
    if a.get("mode") == "video":
        text = f"{text}\n\n{lab['video']}".strip()
    elif a.get("mode") == "written":
        text = f"{text}\n\n{lab['written']}".strip()
    return text


def to_markdown(doc: JSON, base: str, lang: str = "zh") -> str:
    lab = LABELS.get(lang, LABELS["zh"])
    s = doc["session"]
    guest = s["guest_name"] + (f"（{s['guest_post']}）" if s.get("guest_post") else "")
    end = (s["ends_at_local"] or "")[-5:]
    out = [
        f"# {md_escape(s['title'] or '')}",
        "",
        f"- {lab['programme']}{lab['colon']}{md_escape(s['programme']['title'])}",
        f"- {lab['episode']}{lab['colon']}{lab['episode_n'].format(n=s['episode'])}",
        f"- {lab['guest']}{lab['colon']}{md_escape(guest)}",
        f"- {lab['time']}{lab['colon']}{s['starts_at_local']}–{end}（{s['timezone']}）",
        "",
    ]
    if s.get("description"):
        out += [md_escape(s["description"]), ""]
    out += [lab["answered"].format(n=doc["answered"]), ""]
    items = doc["items"]
    if studio(doc):  # the run of [主持人] and [嘉宾] lines, then only the unanswered items
        out += [f"## {lab['record']}", ""]
        for line in doc["lines"]:
            out += _markdown_line(line, s, base, lang)
        items = [item for item in items if not item["answer"]]
    for item in items:
        if item["n"] == doc["answered"] + 1:
            out += ["---", "", f"## {lab['unanswered']}", ""]
        when = item["asked_at_local"][-5:]
        out += [f"### {item['n']}. {md_escape(asker(item, lang))}（{when}）", ""]
        out += ["> " + line for line in md_escape(item["question"]).split("\n")] + [""]
        if item["answer"]:
            by = md_escape(item["answer"].get("by") or s["guest_name"] or "")
            out += [f"**{by}**（{item['answered_at_local'][-5:]}）{lab['colon']}", ""]
            out += [md_escape(_answer_text(item, lab)).replace("\n", "  \n"), ""]
        out += [f"<{base}{item['link']}>", ""]
    out += _outcomes_markdown(doc, base, lang)
    if doc["chain"]["head"]:
        out += [
            "---",
            "",
            f"{lab['chain'].format(n=doc['chain']['seq'])}{lab['colon']}`{doc['chain']['head']}`",
            "",
        ]
    return "\n".join(out)


def speaker(line: JSON, lang: str) -> str:
    """Who says a line of the run, as a published 访谈实录 marks it: [主持人], [嘉宾], [网友 …], [图片]."""
    lab = LABELS.get(lang, LABELS["zh"])
    return lab[f"role_{line['role']}"].format(name=asker(line, lang) if line["role"] == "citizen" else "")


def said(line: JSON, lang: str) -> str:
    """What a line of the run says, as plain text (each format escapes it): a remark, a question
    read out or asked, an answer (with how it was given), a photo's caption."""
    lab = LABELS.get(lang, LABELS["zh"])
    if line["kind"] == "remark":
        return str(line["text"])
    if line["kind"] == "announce":
        return f"{lab['announce'].format(name=asker(line, lang))}{line['question']}"
    if line["kind"] == "question":
        return str(line["question"])
    if line["kind"] == "answer":
        return _answer_text(line, lab)
    return str(line["caption"])


def when(line: JSON, lang: str) -> str:
    """When a line of the run was said (a question not read out: when it was asked), and the
    number of the question it names among the answered (which the outcomes refer to)."""
    lab = LABELS.get(lang, LABELS["zh"])
    at: str = line["at_local"][-5:]
    if line["kind"] == "question":
        at = lab["asked_when"].format(time=line["asked_at_local"][-5:])
    if "n" in line and line["kind"] != "answer":
        at = f"{at} · {lab['item_n'].format(n=line['n'])}"
    return at


def _markdown_line(line: JSON, session: JSON, base: str, lang: str) -> list[str]:
    lab = LABELS.get(lang, LABELS["zh"])
    head = f"**{md_escape(speaker(line, lang))}**（{when(line, lang)}）{lab['colon']}"
    text = md_escape(said(line, lang)).replace("\n", "  \n")
    if line["kind"] == "photo":
        return [f"{head}{text}", "", f"![{md_escape(line['caption'])}]({base}{line['url']})", ""]
    out = [f"{head}{text}", ""]
    if line["kind"] == "answer":
        out += [f"<{base}/s/{session['id']}/replay#q{line['id']}>", ""]
    return out


def _outcomes_markdown(doc: JSON, base: str, lang: str) -> list[str]:
    """Every question under its outcome (:mod:`live.outcomes`), after the conversation."""
    lab = outcomes.labels(lang)
    section = doc["outcomes"]
    numbers = {item["id"]: item["n"] for item in doc["items"]}
    out = ["---", "", f"## {lab['title']}", "", *outcomes.summary(section["counts"], lang), ""]
    group = None
    for q in section["questions"]:
        if q["outcome"] != group:
            group = q["outcome"]
            out += [f"### {lab[group]}（{section['counts'][group]}）", ""]
        text = md_escape(q["text"]) if "text" in q else lab["private"]
        who = (
            f"{md_escape(asker(q, lang))}（{q['asked_at_local'][-5:]}）"
            if asker(q, lang)
            else q["asked_at_local"][-5:]
        )
        out.append(f"- #{q['id']} {who}{LABELS.get(lang, LABELS['zh'])['colon']}{text}".replace("\n", " "))
        detail = outcomes.describe(q, lang, base, numbers)
        if detail:
            out.append(f"  {md_escape(detail)}".replace("\n", " "))
    return [*out, ""]


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(doc: JSON, base: str, lang: str = "zh") -> str:
    lab = LABELS.get(lang, LABELS["zh"])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(
        [
            lab[k]
            for k in (
                "no",
                "name",
                "asked_at",
                "question",
                "answered_at",
                "answer",
                "by",
                "mode",
                "status",
                "link",
                "channel",
            )
        ]
    )
    olab = outcomes.labels(lang)
    for item in doc["items"]:
        a = item["answer"] or {}
        mode = a.get("mode", "text") if a else ""
        # an answered item's status is its outcome, in the words of the outcomes section
        status = olab["written" if mode == "written" else "answered"] if a else lab["approved"]
        w.writerow(
            [
                _cell(v)
                for v in (
                    item["n"],
                    item["name"],
                    item["asked_at_local"],
                    item["question"],
                    item["answered_at_local"],
                    a.get("text", ""),
                    a.get("by", ""),
                    lab.get(f"mode_{mode}", mode),
                    status,
                    base + item["link"],
                    channels.label(item.get("channel", channels.WEB), lang),
                )
            ]
        )
    numbers = {item["id"]: item["n"] for item in doc["items"]}
    w.writerow([])
    w.writerow(
        [
            olab["outcome"],
            olab["id"],
            lab["name"],
            lab["asked_at"],
            lab["question"],
            olab["detail"],
            lab["link"],
            lab["channel"],
        ]
    )
    for q in doc["outcomes"]["questions"]:
        w.writerow(
            [
                _cell(v)
                for v in (
                    olab[q["outcome"]],
                    q["id"],
                    q.get("name", ""),
                    q["asked_at_local"],
                    q.get("text", ""),
                    outcomes.describe(q, lang, base, numbers),
                    base + q["link"] if "link" in q else "",
                    channels.label(q.get("channel", channels.WEB), lang),
                )
            ]
        )
    if studio(doc):  # the run as said: time, who, what (a third block)
        w.writerow([])
        w.writerow([lab["time"], lab["role"], lab["content"], lab["link"]])
        for line in doc["lines"]:
            link = base + line["url"] if line["kind"] == "photo" else ""
            if line["kind"] == "answer":
                link = f"{base}/s/{doc['session']['id']}/replay#q{line['id']}"
            w.writerow([_cell(v) for v in (line["at_local"], speaker(line, lang), said(line, lang), link)])
    return "\ufeff" + buf.getvalue()


def disposition(doc: JSON, ext: str, lang: str = "zh") -> str:
    """``attachment`` with an ASCII name and the full (Chinese) name per RFC 6266."""
    s = doc["session"]
    slug = re.sub(r"[^a-z0-9-]+", "-", str(s["programme"]["slug"]).lower()).strip("-") or "session"
    plain = f"{slug}-{s['episode'] or s['id']}-transcript.{ext}"
    lab = LABELS.get(lang, LABELS["zh"])
    full = lab["file"].format(p=s["programme"]["title"], n=s["episode"] or s["id"]) + "." + ext
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(full, safe='')}"
