"""The pages' words and times on the server, from the one definition the scripts use.

Every user-facing string lives in ``static/js/lang/zh.js`` and ``en.js`` (the scripts import
them as modules); the server reads the same files, so a page rendered on the server
(:mod:`live.pages`) and the script that takes it over say the same thing, and no string has a
second copy. A file is read as data, never run: :func:`parse` accepts exactly the shape those
files have (``export default {`` then ``'key': 'value',`` pairs, comments, ``};``) and refuses
anything else, so a file the scripts could read and this could misread fails loudly
(``tests/test_pages_http.py`` also compares both readings with Node's).

Times: the scripts format with the browser's ``Intl.DateTimeFormat`` in the session's
timezone (``static/js/i18n.js``: ``time``, ``date``, ``day``, ``dateTime``, ``windowText``);
Python has no ``Intl``, so the same four formats for zh-CN and English are written here once
more, and a browser test compares the two on random moments.

The reader's language: ``?lang=`` on the request (the language switch, which also works with
scripts off), then the cookie :data:`COOKIE` that the switch sets (and ``i18n.js`` too), then
``Accept-Language``; Chinese unless English is preferred.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LANGS = ("zh", "en")
COOKIE = "live_lang"
"""The language cookie: set by the switch (``?lang=``) and by ``static/js/i18n.js``."""
COOKIE_AGE = 400 * 24 * 3600

_TOKEN = re.compile(
    r"""(?P<space>\s+)|(?P<comment>//[^\n]*|/\*.*?\*/)
    |(?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
    |(?P<punct>[{}:,;])|(?P<word>export|default)""",
    re.X | re.S,
)
_ESCAPE = re.compile(r"\\(u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)", re.S)
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0", "\n": ""}


def _unquote(literal: str, where: str) -> str:
    def one(m: re.Match[str]) -> str:
        e = m[1]
        if e[0] in "ux" and len(e) > 1:
            return chr(int(e[1:].strip("{}"), 16))
        if e in _SIMPLE:
            return _SIMPLE[e]
        raise ValueError(f"{where}: escape \\{e} is not read here")

    return _ESCAPE.sub(one, literal[1:-1])


def parse(source: str, where: str = "<lang>") -> dict[str, str]:
    """The strings of a language module (``export default { 'key': 'value', ... };``)."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            line = source.count("\n", 0, pos) + 1
            raise ValueError(f"{where}:{line}: not a string table: {source[pos : pos + 30]!r}")
        pos = m.end()
        if m.lastgroup not in ("space", "comment"):
            tokens.append((str(m.lastgroup), m[0]))
    head, tail = tokens[:3], tokens[3:]
    if [v for _, v in head] != ["export", "default", "{"]:
        raise ValueError(f"{where}: does not start with export default {{")
    out: dict[str, str] = {}
    i = 0
    while i < len(tail) and tail[i] != ("punct", "}"):
        pair = tail[i : i + 3]
        if len(pair) < 3 or pair[0][0] != "string" or pair[1] != ("punct", ":") or pair[2][0] != "string":
            raise ValueError(f"{where}: expected 'key': 'value' after {len(out)} strings")
        key = _unquote(pair[0][1], where)
        if key in out:
            raise ValueError(f"{where}: {key} is defined twice")
        out[key] = _unquote(pair[2][1], where)
        i += 3
        if i < len(tail) and tail[i] == ("punct", ","):
            i += 1
        elif i < len(tail) and tail[i] != ("punct", "}"):
            raise ValueError(f"{where}: expected , or }} after {key}")
    if [v for _, v in tail[i:]] not in (["}"], ["}", ";"]):
        raise ValueError(f"{where}: unexpected text after the table")
    return out


_HERE = Path(__file__).resolve().parent
LANG_DIR = next(
    (d for d in (_HERE / "static" / "js" / "lang", _HERE.parent / "static" / "js" / "lang") if d.is_dir()),
    _HERE / "static" / "js" / "lang",
)
"""The scripts' language files: inside the package once installed from a wheel, beside it in a
checkout (as ``live.routes.STATIC``; this module imports nothing of the server's)."""


@cache
def strings(lang: str) -> dict[str, str]:
    """Every public string of ``lang`` (``zh`` or ``en``), read once per process."""
    path = LANG_DIR / f"{lang if lang in LANGS else 'zh'}.js"
    return parse(path.read_text(encoding="utf-8"), str(path))


_VAR = re.compile(r"\{(\w+)\}")


def t(lang: str, key: str, **values: Any) -> str:
    """The string ``key`` in ``lang`` with ``{name}`` filled in, as ``t()`` in ``i18n.js`` does.

    A key that is missing is a bug: it raises (the script would show the key itself)."""
    text = strings(lang)[key]
    if not values:
        return text
    return _VAR.sub(lambda m: js_string(values[m[1]]) if m[1] in values else m[0], text)


def js_string(value: Any) -> str:
    """``value`` as JavaScript's ``String()`` writes it: ``50`` for 50.0, ``true``, ``null``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return "null" if value is None else str(value)


def has(lang: str, key: str) -> bool:
    return key in strings(lang)


def choose(query: str | None, cookie: str | None, accept: str | None) -> str:
    """The reader's language: ``?lang=``, then the cookie, then ``Accept-Language``; else zh."""
    for chosen in (query, cookie):
        if chosen in LANGS:
            return str(chosen)
    best, best_q = "zh", 0.0
    for part in (accept or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        m = re.search(r"q=([0-9.]+)", params)
        if m:
            try:
                q = float(m[1])
            except ValueError:
                q = 0.0
        if primary in LANGS and q > best_q:
            best, best_q = primary, q
    return best


# Times, as static/js/i18n.js formats them with Intl (in each file's lang.locale: zh-CN and
# en-GB; 24-hour clock).

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_WEEKDAYS = {
    "zh": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
}


def zone(name: str | None) -> ZoneInfo:
    """A timezone by name; Asia/Shanghai when it names none (as ``live.archive.zone``)."""
    try:
        return ZoneInfo(name or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def _at(ms: int, tz: str | None) -> datetime:
    return datetime.fromtimestamp(ms / 1000, zone(tz))


def time(lang: str, ms: int, tz: str | None) -> str:
    """``19:30``"""
    return _at(ms, tz).strftime("%H:%M")


def day(lang: str, ms: int, tz: str | None) -> str:
    """``6月12日周四`` / ``Thu 12 June``"""
    d = _at(ms, tz)
    wd = _WEEKDAYS["en" if lang == "en" else "zh"][d.weekday()]
    return f"{wd} {d.day} {_MONTHS[d.month - 1]}" if lang == "en" else f"{d.month}月{d.day}日{wd}"


def date(lang: str, ms: int, tz: str | None) -> str:
    """``2025年6月12日周四`` / ``Thu, 12 June 2025``"""
    d = _at(ms, tz)
    if lang == "en":
        return f"{_WEEKDAYS['en'][d.weekday()]}, {d.day} {_MONTHS[d.month - 1]} {d.year}"
    return f"{d.year}年{day(lang, ms, tz)}"


def date_time(lang: str, ms: int, tz: str | None) -> str:
    """``6月12日周四 19:30`` / ``Thu 12 June at 19:30``"""
    joint = " at " if lang == "en" else " "
    return f"{day(lang, ms, tz)}{joint}{time(lang, ms, tz)}"


def tz_label(lang: str, tz: str | None) -> str:
    """``北京时间`` for Asia/Shanghai, else the IANA name (``tzLabel`` in ``i18n.js``)."""
    name = tz or "Asia/Shanghai"
    return t(lang, f"tz.{name}") if has(lang, f"tz.{name}") else name


def window(lang: str, start: int, end: int, tz: str | None) -> str:
    """A session's window in its own timezone (``windowText`` in ``i18n.js``)."""
    if date(lang, start, tz) == date(lang, end, tz):
        span = f"{date(lang, start, tz)} {time(lang, start, tz)}–{time(lang, end, tz)}"
    else:
        span = f"{date_time(lang, start, tz)} – {date_time(lang, end, tz)}"
    return t(lang, "time.window", range=span, tz=tz_label(lang, tz))


def due(lang: str, day_text: str) -> str:
    """A due day (``YYYY-MM-DD``) as a date (``dueText`` in ``commitment.js``): a day, not a moment."""
    y, m, d = (int(x) for x in day_text.split("-"))
    noon = int(datetime(y, m, d, 12, tzinfo=ZoneInfo("UTC")).timestamp() * 1000)
    return date(lang, noon, "UTC")


def episode_label(lang: str, info: dict[str, Any]) -> str:
    """``第31期`` / ``No. 31``, unless the title already says it in either language
    (``episodeLabel`` in ``ui.js``)."""
    if not info.get("episode"):
        return ""
    n = int(info["episode"])
    said = re.compile(rf"第\s*{n}\s*期|(?:No\.|Episode|#)\s*{n}(?!\d)", re.I)
    return "" if said.search(str(info.get("title") or "")) else t(lang, "common.episode", n=n)


def episode_title(lang: str, info: dict[str, Any]) -> str:
    """A session's title with its episode number in front, unless it says it (``episodeTitle``)."""
    ep = episode_label(lang, info)
    return f"{ep} {info.get('title') or ''}" if ep else str(info.get("title") or "")


def countdown(lang: str, ms: int) -> str:
    """``2天 03:04:05`` / ``03:04:05`` (``countdown`` in ``i18n.js``)."""
    s = max(0, ms // 1000)
    days, hms = s // 86400, f"{s % 86400 // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{t(lang, 'time.days', n=days)} {hms}" if days else hms
