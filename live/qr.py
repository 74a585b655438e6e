"""The QR code on the big screen: the session's viewer link, drawn by ``segno``.

A QR code is drawn by a QR library rather than by hand, so it scans on every phone.
It always encodes the session's own viewer page (``LIVE_PUBLIC_URL`` as the base when
set, else the address the screen was opened at), never a URL taken from the query
string, so the endpoint cannot be used to make codes that point elsewhere.
"""

from __future__ import annotations

import io

import segno
from starlette.requests import Request
from starlette.responses import Response

from .exceptions import NotFound
from .routes import services


def viewer_url(base: str, session_id: int) -> str:
    return f"{base.rstrip('/')}/s/{session_id}"


def svg(url: str) -> bytes:
    """An SVG QR code for url, medium error correction (survives a glare on a screen)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(
        out, kind="svg", scale=8, border=2, xmldecl=False, dark="#111111", light="#ffffff"
    )
    return out.getvalue()


async def session_qr(request: Request) -> Response:
    live = services(request)
    session_id = request.path_params["session_id"]
    if await live.sessions.row(session_id) is None:
        raise NotFound("session_not_found", "访谈不存在", "No such session", id=session_id)
    base = live.settings.public_url or str(request.base_url)
    return Response(
        svg(viewer_url(base, session_id)),
        media_type="image/svg+xml",
        headers={"cache-control": "public, max-age=300"},
    )
