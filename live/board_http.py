"""HTTP endpoints of the commitment board: its JSON and its Atom feed (the page is static).

Both only read, through :class:`live.board.Board`; a commitment changes only by a request
(``commitment``, ``progress``) through :meth:`live.sessions.Sessions.handle`, like every other
change. ``overdue`` is computed here and now, by the server's clock.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .board_feed import atom
from .events import now_ms
from .exceptions import BadRequest
from .routes import services

ATOM = "application/atom+xml; charset=utf-8"


def base_url(request: Request) -> str:
    return (services(request).settings.public_url or str(request.base_url)).rstrip("/")


async def board(request: Request) -> Response:
    """``GET /api/commitments?programme=<slug>``: the programme's board."""
    slug = request.query_params.get("programme", "")
    if not slug:
        raise BadRequest(
            "missing_field", "缺少 programme", "programme (its slug) is required", field="programme"
        )
    return JSONResponse(await services(request).board.board(slug, now_ms()))


async def feed(request: Request) -> Response:
    """``GET /p/{slug}/commitments.atom?lang=``: the board as an Atom feed."""
    data = await services(request).board.board(request.path_params["slug"], now_ms())
    lang = "en" if request.query_params.get("lang") == "en" else "zh"
    return Response(
        atom(data, base_url(request), lang), media_type=ATOM, headers={"cache-control": "no-cache"}
    )
