"""The JSON API, and the health probes (the pages are :mod:`live.pages`).

Reads come from the services (:mod:`live.sessions`, :mod:`live.programmes`) or
the worker's room, never from the store itself; every change goes through
:meth:`live.sessions.Sessions.handle` (or the admin-only calls beside it), the
same path the WebSocket uses. Errors are JSON: ``{"code", "message": {zh, en}}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import audit
from .auth import DEVICE_COOKIE, Actor, Role, role_for
from .events import JSON, now_ms
from .exceptions import BadRequest, Forbidden, LiveError, NotFound
from .protocol import SCHEMAS, check_text, parse
from .services import Services
from .startup import not_ready
from .state import phase

_HERE = Path(__file__).resolve().parent
STATIC = next((d for d in (_HERE / "static", _HERE.parent / "static") if d.is_dir()), _HERE / "static")
"""The web front end: inside the package once installed from a wheel, beside it in a checkout."""


def services(request: Request) -> Services:
    """The worker's services, or ``unavailable`` while they are not open (see :mod:`live.startup`)."""
    live: Services | None = request.app.state.live
    if live is None:
        raise not_ready()
    return live


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


async def request_role(request: Request, session_id: int | None = None) -> Role:
    """Who sent ``request``: its bearer token checked against the session row as stored now."""
    live = services(request)
    row = await live.sessions.row(session_id) if session_id is not None else None
    return role_for(_token(request), row, live.admin_hash)


async def _require_admin(request: Request) -> None:
    if await request_role(request) is not Role.ADMIN:
        raise Forbidden("admin_only", "需要管理员权限", "Admin token required")


async def _body(request: Request) -> JSON:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("invalid_json", "请求体不是有效的 JSON", "Body is not valid JSON") from None
    if b"\\u" in raw:
        check_text(body)
    if not isinstance(body, dict):
        raise BadRequest("not_an_object", "请求体必须是 JSON 对象", "Body must be a JSON object")
    return body


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def readyz(request: Request) -> Response:
    """Ready when the store commits a write as large as a question's, like any other.

    Why a write: a full disk, a read-only file or a database that refuses writes
    still answers a read, and then every question and answer would be refused
    while the probe said all was well. Why that large: a one-row probe (one WAL
    page) still fit on a nearly full disk where a question (two to eight pages)
    did not, and ``/readyz`` said ready while every question was refused. Random
    text, so that a compressing file system cannot shrink it.
    """
    live: Services | None = request.app.state.live
    if live is None:
        return JSONResponse({"ok": False, "error": "starting"}, status_code=503)
    if not live.bus.ready:
        return JSONResponse({"ok": False, "error": "bus"}, status_code=503)
    try:
        await live.probe()
    except Exception as exc:
        reason = exc.details.get("reason") if isinstance(exc, LiveError) else str(exc)
        return JSONResponse({"ok": False, "error": type(exc).__name__, "reason": reason}, status_code=503)
    return JSONResponse({"ok": True})


def _session_summary(row: Any, now: int) -> JSON:
    return {
        "id": row.id,
        "programme_id": row.programme_id,
        **row.info,
        "phase": phase(row.info, now),
        "seq": row.last_seq,
    }


async def programmes(request: Request) -> Response:
    live = services(request)
    if request.method == "POST":
        await _require_admin(request)
        body = await _body(request)
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            raise BadRequest(
                "missing_field", "请填写栏目名称", "The programme's name is required", field="title"
            )
        slug = body.get("slug")
        desc = body.get("description") or ""
        pid = await live.programmes.create(slug, title, str(desc))
        return JSONResponse({"id": pid, "slug": slug, "title": title, "description": desc}, status_code=201)
    return JSONResponse({"programmes": await live.programmes.all()})


async def programme(request: Request) -> Response:
    await _require_admin(request)
    body = await _body(request)
    fields = {k: v for k, v in body.items() if k in ("title", "description") and isinstance(v, str)}
    if not fields:
        raise BadRequest("missing_field", "没有可修改的字段", "Nothing to change")
    await services(request).programmes.update(request.path_params["programme_id"], fields)
    return JSONResponse({"ok": True})


async def sessions(request: Request) -> Response:
    live = services(request)
    if request.method == "POST":
        await _require_admin(request)
        body = await _body(request)
        programme_id = body.pop("programme_id", None)
        if not isinstance(programme_id, int):
            raise BadRequest("missing_field", "缺少字段 programme_id", "Missing field programme_id")
        row, tokens = await live.sessions.create(programme_id, body)
        return JSONResponse(
            {**_session_summary(row, now_ms()), "links": _links(row.id, tokens)}, status_code=201
        )
    pid = request.query_params.get("programme_id")
    rows = await live.programmes.sessions(int(pid) if pid and pid.isdigit() else None)
    now = now_ms()
    return JSONResponse({"sessions": [_session_summary(r, now) for r in rows], "now": now})


def _links(session_id: int, tokens: dict[str, str]) -> dict[str, str]:
    return {
        "viewer": f"/s/{session_id}",
        "presenter": f"/s/{session_id}/presenter#key={tokens['presenter']}",
        "moderator": f"/s/{session_id}/moderator#key={tokens['moderator']}",
        "host": f"/s/{session_id}/host#key={tokens['host']}",
    }


async def session(request: Request) -> Response:
    live = services(request)
    sid = request.path_params["session_id"]
    if request.method == "PATCH":
        await _require_admin(request)
        return JSONResponse(await live.sessions.update(sid, await _body(request)))
    room = await live.rooms.get(sid)
    staff = (await request_role(request, sid)).staff
    state = await room.settled()
    return JSONResponse(
        {"id": sid, "epoch": room.epoch, "phase": state.phase(now_ms()), **state.snapshot(staff)}
    )


async def events(request: Request) -> Response:
    live = services(request)
    sid = request.path_params["session_id"]
    room = await live.rooms.get(sid)
    try:
        after = max(0, int(request.query_params.get("after", "0")))
        limit = min(1000, max(1, int(request.query_params.get("limit", "500"))))
    except ValueError:
        raise BadRequest("bad_query", "after 和 limit 必须是整数", "after and limit are integers") from None
    staff = (await request_role(request, sid)).staff
    page_ = await live.sessions.events(sid, after=after, limit=limit)
    last = page_[-1].seq if page_ else after
    return JSONResponse(
        {
            "epoch": room.epoch,
            "events": [e.to_wire(staff) for e in page_],
            "next": last,
            "more": len(page_) == limit,
        }
    )


async def links(request: Request) -> Response:
    await _require_admin(request)
    sid = request.path_params["session_id"]
    return JSONResponse({"links": _links(sid, await services(request).sessions.rotate(sid))})


async def command(request: Request) -> Response:
    """The HTTP transport for commands: the same messages and checks as the WebSocket."""
    live = services(request)
    sid = request.path_params["session_id"]
    raw = await request.body()
    cmd = parse(raw.decode("utf-8", errors="replace"))
    if cmd.type not in SCHEMAS or cmd.type in ("hello", "ping"):
        raise BadRequest("unknown_type", "未知的消息类型", "Unknown message type")
    device = live.devices.verify(request.cookies.get(DEVICE_COOKIE))
    role = await request_role(request, sid)
    if device is None:
        if not role.staff:
            raise Forbidden("no_device", "请先打开访谈页面", "Open the session page first")
        device = "staff"
    ip = request.client.host if request.client else ""  # the same per-IP limits as a WebSocket
    result = await live.sessions.handle(sid, Actor(role, device, ip), cmd)
    return JSONResponse({"type": "ack", "re": cmd.id, "result": result})


async def words(request: Request) -> Response:
    """The blocked-word list: admins read it and replace it whole."""
    await _require_admin(request)
    live = services(request)
    if request.method == "PUT":
        body = await _body(request)
        items = body.get("words")
        if not isinstance(items, list) or not all(isinstance(w, str) for w in items):
            raise BadRequest("wrong_type", "words 必须是字符串列表", "words must be a list of strings")
        return JSONResponse({"count": await live.set_words(items)})
    return JSONResponse({"words": live.words.words})


async def audit_trail(request: Request) -> Response:
    await _require_admin(request)
    sid = request.path_params["session_id"]
    live = services(request)
    await live.rooms.get(sid)
    rows = audit.trail(await live.sessions.events(sid))
    if request.query_params.get("format") == "csv":
        return Response(
            audit.to_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="session-{sid}-audit.csv"'},
        )
    return JSONResponse({"audit": rows})


async def receipt(request: Request) -> Response:
    return JSONResponse(await services(request).sessions.receipt(request.path_params["receipt"]))


async def live_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LiveError)
    return JSONResponse(exc.to_dict(), status_code=exc.status)


async def not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    err = NotFound()
    return JSONResponse(err.to_dict(), status_code=status)
