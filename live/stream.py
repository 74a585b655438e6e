"""The broadcast beside the Q&A: a session's live stream and, afterwards, its recording.

Both are session configuration, set by an admin like the title or the window (``PATCH
/api/sessions/{id}``, which appends ``session.updated``), so a viewer's page learns of them
through the one feed like any other change of the session:

- ``stream``: ``{"url", "kind"}``, the live broadcast as HLS (an ``.m3u8`` playlist from the
  district's streaming service), ``kind`` ``video`` (the default) or ``audio`` (radio);
- ``recording``: ``{"url", "starts_at"}``, the broadcast as recorded (HLS, or an MP4 file)
  and the wall-clock moment (ms since the epoch) its first frame was taken, so an event at
  ``at`` plays at ``(at - starts_at) / 1000`` seconds into it. An ISO 8601 time is accepted
  too and read in the session's timezone, as the window's times are.

Either may be ``null`` (none, or cleared). URLs are ``http`` or ``https`` only, with a host,
without credentials, at most :data:`URL_MAX` characters: anything else is ``bad_stream`` with
``details.field`` naming the part that is wrong.

**The pages' CSP.** Media from the streaming service's host is let in only on the pages of
the session that names it, and only from that origin: the viewer and replay pages of that
session get ``media-src`` and ``connect-src`` (hls.js fetches playlists and segments with
XHR) for the origins of its ``stream`` and ``recording`` (:func:`origins`), with ``blob:`` in
``media-src`` for the Media Source hls.js plays through; every other page keeps the strict
policy (:func:`live.middleware.content_security_policy`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from .events import JSON
from .exceptions import BadRequest

KINDS = ("video", "audio")
"""What a live stream carries: pictures and sound, or sound alone (a radio programme)."""
URL_MAX = 2000
"""The most characters a stream's or a recording's URL may have."""
STARTS_RANGE = (946_684_800_000, 4_102_444_800_000)
"""A recording's ``starts_at``: from 2000 to 2100, in ms (a time in seconds is refused)."""
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$"
)
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+$")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\"'<>\\^`{|}]")
"""Characters a URL we hand to a media element and a CSP never has unescaped."""


def _bad(field: str, zh: str, en: str, **details: Any) -> BadRequest:
    return BadRequest("bad_stream", zh, en, field=field, **details)


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL :func:`check_url` accepted: what a CSP names."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port is not None else "")


def check_url(value: Any, field: str) -> str:
    """An absolute ``http``/``https`` URL with a host and no credentials, or ``bad_stream``."""
    if not isinstance(value, str) or not value:
        raise _bad(field, f"{field} 须为网址", f"{field} must be a URL")
    if len(value) > URL_MAX:
        raise _bad(
            field,
            f"{field} 过长（最多 {URL_MAX} 个字符）",
            f"{field} is too long (at most {URL_MAX})",
            limit=URL_MAX,
        )
    if _UNSAFE.search(value):
        raise _bad(field, f"{field} 含有网址中不允许的字符", f"{field} has characters a URL may not have")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError on a port that is not one
    except ValueError:
        raise _bad(field, f"{field} 不是有效的网址", f"{field} is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise _bad(field, f"{field} 只能是 http 或 https 网址", f"{field} must be an http or https URL")
    host = parts.hostname or ""
    if not (_HOST.match(host) or (":" in host and _IPV6.match(host))):
        raise _bad(field, f"{field} 缺少有效的主机名", f"{field} has no valid host")
    if parts.username is not None or parts.password is not None:
        raise _bad(field, f"{field} 不能包含用户名或密码", f"{field} may not carry a user name or password")
    return value


def _object(value: Any, field: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(field, f"{field} 须为对象", f"{field} must be an object")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise _bad(field, f"{field} 含有未知字段", f"{field} has unknown fields", fields=unknown)
    return value


def check_info(info: JSON, tz: ZoneInfo, parse_time: Callable[[str, ZoneInfo, str], int]) -> None:
    """Check and normalise ``stream`` and ``recording`` in a session's info, in place
    (``parse_time`` reads an ISO 8601 time as :func:`live.sessions.parse_time` does)."""
    stream = info.get("stream")
    if stream is not None:
        stream = _object(stream, "stream", ("url", "kind"))
        kind = stream.get("kind", "video")
        if kind not in KINDS:
            raise _bad("stream.kind", "直播类型只能是 video 或 audio", "stream.kind is video or audio")
        info["stream"] = {"url": check_url(stream.get("url"), "stream.url"), "kind": kind}
    recording = info.get("recording")
    if recording is not None:
        recording = _object(recording, "recording", ("url", "starts_at"))
        url = check_url(recording.get("url"), "recording.url")
        starts = recording.get("starts_at")
        if isinstance(starts, str):
            try:
                starts = parse_time(starts, tz, "recording.starts_at")
            except BadRequest:
                starts = None  # refused below, as bad_stream like every other part
        low, high = STARTS_RANGE
        if type(starts) is not int or not low <= starts <= high:
            raise _bad(
                "recording.starts_at",
                "录像开始时间须为毫秒时间戳或 ISO 8601 时间",
                "recording.starts_at is a time in ms since the epoch, or ISO 8601",
            )
        info["recording"] = {"url": url, "starts_at": starts}


def origins(info: JSON) -> list[str]:
    """The origins a session's pages may take media from: its stream's and its recording's."""
    out: list[str] = []
    for name in ("stream", "recording"):
        item = info.get(name)
        if isinstance(item, dict) and isinstance(item.get("url"), str):
            try:
                o = origin(check_url(item["url"], name))
            except BadRequest:  # stored before these checks existed: never named in a policy
                continue
            if o not in out:
                out.append(o)
    return out
