"""HTTP endpoints for what outlives the live window: transcript, archive, search, statistics.

Each handler only reads, through :class:`live.archives.Archives`: the log
(folded by :mod:`live.archive`), the search index the store keeps beside it,
and presence samples. Nothing here changes a session, so there is no second
path for data. Staff-only views (unanswered
questions in a transcript, statistics) are checked on the server with the same
roles as everything else: the admin token or this session's staff keys, sent
as ``Authorization: Bearer``.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from . import archive
from . import stats as statistics
from .events import now_ms
from .exceptions import BadRequest, Forbidden
from .routes import request_role, services

FORMATS = {"md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8", "json": "application/json"}


def flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "") in ("1", "true", "yes")


def int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not re.fullmatch(r"[0-9]{1,15}", raw):
        raise BadRequest("bad_query", f"{name} 必须是整数", f"{name} must be an integer", field=name)
    return int(raw)


async def require_staff(request: Request, session_id: int) -> None:
    if not (await request_role(request, session_id)).staff:
        raise Forbidden("staff_only", "需要工作人员权限", "Staff only: send a staff key")


def _base(request: Request) -> str:
    return (services(request).settings.public_url or str(request.base_url)).rstrip("/")


async def transcript(request: Request) -> Response:
    """``?format=md|csv|json`` downloads; ``?unanswered=1`` (staff) adds approved, unanswered."""
    sid = request.path_params["session_id"]
    fmt = request.query_params.get("format", "")
    if fmt and fmt not in FORMATS:
        raise BadRequest(
            "bad_format", "格式只能是 md、csv 或 json", "format is md, csv or json", field="format"
        )
    lang = "en" if request.query_params.get("lang") == "en" else "zh"
    unanswered = flag(request, "unanswered")
    if unanswered:
        await require_staff(request, sid)
    record = await services(request).archives.record(sid)
    doc = archive.transcript(record, include_unanswered=unanswered)
    if not fmt:
        return JSONResponse(doc)
    headers = {"content-disposition": archive.disposition(doc, fmt, lang)}
    if fmt == "json":
        return JSONResponse(doc, headers=headers)
    render = archive.to_markdown if fmt == "md" else archive.to_csv
    return PlainTextResponse(render(doc, _base(request), lang), media_type=FORMATS[fmt], headers=headers)


async def stats(request: Request) -> Response:
    sid = request.path_params["session_id"]
    await require_staff(request, sid)
    live = services(request)
    record = await live.archives.record(sid)
    room = await live.rooms.get(sid)
    data = await live.archives.stats(record, room.presence.current())
    if request.query_params.get("format") == "csv":
        name = f"session-{sid}-stats.csv"
        return PlainTextResponse(
            statistics.to_csv(data, record),
            media_type=FORMATS["csv"],
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )
    return JSONResponse(data)


async def archive_list(request: Request) -> Response:
    """Every programme with its finished episodes, newest first."""
    finished = await services(request).archives.finished(int_param(request, "programme_id"), now_ms())
    return JSONResponse({"programmes": finished})


async def search_answers(request: Request) -> Response:
    results = await services(request).archives.search(
        request.query_params.get("q"),
        int_param(request, "programme_id"),
        request.query_params.get("limit"),
    )
    return JSONResponse({"results": results})


async def suggest(request: Request) -> Response:
    sid = int_param(request, "session_id")
    if sid is None:
        raise BadRequest("missing_field", "缺少 session_id", "session_id is required", field="session_id")
    results = await services(request).archives.suggest(sid, request.query_params.get("q"))
    return JSONResponse({"results": results})


async def satisfaction(request: Request) -> Response:
    """Published satisfaction rates (满意度): every programme's, or ``?programme_id=``'s."""
    return JSONResponse(await services(request).archives.satisfaction(int_param(request, "programme_id")))
