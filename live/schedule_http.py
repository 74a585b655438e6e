"""HTTP endpoints of 预约: an episode's calendar file and a programme's feed of episodes.

Both only read, through the programme and session services; what they say is made in
:mod:`live.schedule`. Labels in Chinese, or English with ``lang=en``.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from .board_http import ATOM, base_url
from .exceptions import NotFound
from .routes import services
from .schedule import calendar, feed

ICS = "text/calendar; charset=utf-8"


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "zh"


async def ics(request: Request) -> Response:
    """``GET /s/{id}/calendar.ics?lang=``: the episode as an iCalendar file (加入日历)."""
    live = services(request)
    sid = request.path_params["session_id"]
    row = await live.sessions.row(sid)
    if row is None:
        raise NotFound("session_not_found", "访谈不存在", "No such session", id=sid)
    programme = next((p for p in await live.programmes.all() if p["id"] == row.programme_id), {})
    body = calendar(sid, row.info, str(programme.get("title") or ""), base_url(request), _lang(request))
    slug = re.sub(r"[^a-z0-9-]+", "-", str(programme.get("slug") or "").lower()).strip("-") or "live"
    name = f"{slug}-{row.info.get('episode') or sid}.ics"
    return Response(
        body,
        media_type=ICS,
        headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-cache"},
    )


async def episodes(request: Request) -> Response:
    """``GET /p/{slug}/episodes.atom?lang=``: the programme's episodes as an Atom feed."""
    live = services(request)
    slug = request.path_params["slug"]
    programme = next((p for p in await live.programmes.all() if p["slug"] == slug), None)
    if programme is None:
        raise NotFound("programme_not_found", "栏目不存在", "No such programme", slug=slug)
    rows = await live.programmes.sessions(programme["id"])
    body = feed(programme, [(r.id, r.info) for r in rows], base_url(request), _lang(request))
    return Response(body, media_type=ATOM, headers={"cache-control": "no-cache"})
