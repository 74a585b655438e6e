"""预约: an episode as a calendar event (.ics), and a programme's episodes as an Atom feed.

Both are made with well-kept libraries rather than text assembled by hand: ``icalendar``
(RFC 5545: line folding, escaping, the VTIMEZONE of the session's timezone) and ``feedgen``
(RFC 4287, as for the commitment board, :mod:`live.board_feed`). Times are the session's own,
in its timezone (``Asia/Shanghai`` by default): the event's DTSTART and DTEND carry that TZID
with its VTIMEZONE, so a phone set to another zone still shows 19:30 北京时间 as it is there.

An event's UID is the session's and the site's (``session-{id}@{host}``), the same on every
download, so importing it again after a change of time updates the entry rather than adding
a second one. A feed entry's ``id`` is the session page's address, and its ``updated`` is the
episode's start, which is what changes when an episode is rescheduled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator
from icalendar import Alarm, Calendar, Event

from .archive import zone
from .events import JSON

LABELS = {
    "zh": {
        "episode": "第{n}期",
        "guest": "嘉宾：{guest}",
        "page": "访谈页面：{url}",
        "calendar": "加入日历：{url}",
        "when": "时间：{start}–{end}（{tz}）",
        "feed": "{programme} · 节目单",
        "feed_sub": "{programme}各期访谈：时间、主题和嘉宾",
        "reminder": "{summary} 即将开始",
    },
    "en": {
        "episode": "Episode {n}",
        "guest": "Guest: {guest}",
        "page": "Session page: {url}",
        "calendar": "Add to calendar: {url}",
        "when": "Time: {start}–{end} ({tz})",
        "feed": "{programme} · Episodes",
        "feed_sub": "Every episode of {programme}: time, topic and guest",
        "reminder": "{summary} starts soon",
    },
}
REMIND_BEFORE = timedelta(minutes=30)
"""When a calendar reminds of an episode (a VALARM): 预约 is being reminded."""


def words(lang: str) -> dict[str, str]:
    return LABELS.get(lang, LABELS["zh"])


def summary(programme: str, info: JSON, lang: str = "zh") -> str:
    """Programme, episode and title (``区长在线 · 第33期 · 交通出行专场``), each once: a title
    that already names the programme or the episode is not given them twice."""
    title = str(info.get("title") or "")
    episode = info.get("episode")
    parts = [programme if programme and programme not in title else ""]
    label = words(lang)["episode"].format(n=episode) if episode else ""
    parts.append(label if label and label not in title and f"第{episode}期" not in title else "")
    parts.append(title)
    return " · ".join(p for p in parts if p)


def guest(info: JSON) -> str:
    return " ".join(str(x) for x in (info.get("guest_name"), info.get("guest_post")) if x)


def _at(ms: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz)


def calendar(session_id: int, info: JSON, programme: str, base: str, lang: str = "zh") -> bytes:
    """One episode as an iCalendar file: a VEVENT in the session's timezone, with a reminder."""
    w, tz = words(lang), zone(info.get("timezone"))
    page = f"{base}/s/{session_id}"
    title = summary(programme, info, lang)
    cal = Calendar()
    cal.add("prodid", "-//live//区长在线//ZH")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"session-{session_id}@{urlsplit(base).hostname or 'live'}")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", _at(info["starts_at"], tz))
    event.add("dtend", _at(info["ends_at"], tz))
    event.add("summary", title)
    lines = [w["guest"].format(guest=guest(info))] if guest(info) else []
    if info.get("description"):
        lines.append(str(info["description"]))
    lines.append(w["page"].format(url=page))
    event.add("description", "\n".join(lines))
    event.add("url", page)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", w["reminder"].format(summary=title))
    alarm.add("trigger", -REMIND_BEFORE)
    event.add_component(alarm)
    cal.add_component(event)
    cal.add_missing_timezones()
    data: bytes = cal.to_ical()
    return data


def feed(programme: JSON, sessions: list[tuple[int, JSON]], base: str, lang: str = "zh") -> bytes:
    """A programme's episodes (``(session id, info)``) as an Atom feed, one entry each, latest
    start first; each links to its session page and names its calendar file."""
    w = words(lang)
    slug, name = programme["slug"], programme["title"]
    home = f"{base}/p/{slug}/episodes"
    fg = FeedGenerator()
    fg.id(home)
    fg.title(w["feed"].format(programme=name))
    fg.subtitle(programme.get("description") or w["feed_sub"].format(programme=name))
    fg.author({"name": name})
    fg.link(href=f"{home}.atom" + ("?lang=en" if lang == "en" else ""), rel="self")
    fg.link(href=f"{base}/", rel="alternate")
    fg.language("en" if lang == "en" else "zh-CN")
    ordered = sorted(sessions, key=lambda s: (s[1].get("starts_at", 0), s[0]), reverse=True)
    fg.updated(
        _at(ordered[0][1]["starts_at"], ZoneInfo("UTC")) if ordered else datetime(2000, 1, 1, tzinfo=UTC)
    )
    for sid, info in ordered:
        tz = zone(info.get("timezone"))
        page = f"{base}/s/{sid}"
        start, end = _at(info["starts_at"], tz), _at(info["ends_at"], tz)
        when = w["when"].format(start=f"{start:%Y-%m-%d %H:%M}", end=f"{end:%H:%M}", tz=tz.key)
        lines = [when] + ([w["guest"].format(guest=guest(info))] if guest(info) else [])
        if info.get("description"):
            lines.append(str(info["description"]))
        lines.append(w["calendar"].format(url=f"{page}/calendar.ics"))
        fe = fg.add_entry(order="append")
        fe.id(page)
        fe.title(summary(name, info, lang))
        fe.updated(start)
        fe.published(start)
        fe.link(href=page, rel="alternate")  # the one link (feedgen writes no rel: live/board_feed.py)
        fe.content("\n".join(lines), type="text")
    data: bytes = fg.atom_str(pretty=True)
    return data
