"""HTTP endpoints for what outlives the live window: transcript, archive, search, statistics.

Each handler only reads: the log (folded by :mod:`live.archive`), the search
index the store keeps beside it, and presence samples. Nothing here changes a
session, so there is no second path for data. Staff-only views (unanswered
questions in a transcript, statistics) are checked on the server with the same
roles as everything else: the admin token or this session's staff keys, sent
as ``Authorization: Bearer``.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from . import archive, search
from . import stats as statistics
from .events import now_ms
from .exceptions import BadRequest, Forbidden
from .routes import _live, _role
from .state import phase

FORMATS = {"md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8", "json": "application/json"}


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "") in ("1", "true", "yes")


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not re.fullmatch(r"[0-9]{1,15}", raw):
        raise BadRequest("bad_query", f"{name} 必须是整数", f"{name} must be an integer", field=name)
    return int(raw)


async def _require_staff(request: Request, session_id: int) -> None:
    if not (await _role(request, session_id)).staff:
        raise Forbidden("staff_only", "需要工作人员权限", "Staff only: send a staff key")


def _base(request: Request) -> str:
    return (_live(request).settings.public_url or str(request.base_url)).rstrip("/")


async def transcript(request: Request) -> Response:
    """``?format=md|csv|json`` downloads; ``?unanswered=1`` (staff) adds approved, unanswered."""
    sid = request.path_params["session_id"]
    fmt = request.query_params.get("format", "")
    if fmt and fmt not in FORMATS:
        raise BadRequest(
            "bad_format", "格式只能是 md、csv 或 json", "format is md, csv or json", field="format"
        )
    lang = "en" if request.query_params.get("lang") == "en" else "zh"
    unanswered = _flag(request, "unanswered")
    if unanswered:
        await _require_staff(request, sid)
    record = await archive.load(_live(request).store, sid)
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
    await _require_staff(request, sid)
    live = _live(request)
    record = await archive.load(live.store, sid)
    room = await live.rooms.get(sid)
    data = await statistics.stats(live.store, record, room.presence.current())
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
    store = _live(request).store
    wanted = _int_param(request, "programme_id")
    answered = await store.answered_counts()
    now = now_ms()
    out = []
    for p in await store.list_programmes():
        if wanted is not None and p["id"] != wanted:
            continue
        rows = [r for r in await store.list_sessions(p["id"]) if phase(r.info, now) == "closed"]
        rows.sort(key=lambda r: (r.info.get("starts_at") or 0, r.id), reverse=True)
        sessions = [
            {
                "id": r.id,
                **{
                    k: r.info.get(k)
                    for k in (
                        "episode",
                        "title",
                        "guest_name",
                        "guest_post",
                        "starts_at",
                        "ends_at",
                        "timezone",
                        "description",
                    )
                },
                "answered": answered.get(r.id, 0),
                "links": {"replay": f"/s/{r.id}/replay", "transcript": f"/s/{r.id}/transcript"},
            }
            for r in rows
        ]
        out.append({**p, "sessions": sessions})
    return JSONResponse({"programmes": out})


async def search_answers(request: Request) -> Response:
    results = await search.search(
        _live(request).store,
        request.query_params.get("q"),
        _int_param(request, "programme_id"),
        request.query_params.get("limit"),
    )
    return JSONResponse({"results": results})


async def suggest(request: Request) -> Response:
    sid = _int_param(request, "session_id")
    if sid is None:
        raise BadRequest("missing_field", "缺少 session_id", "session_id is required", field="session_id")
    results = await search.suggest(_live(request).store, sid, request.query_params.get("q"))
    return JSONResponse({"results": results})
