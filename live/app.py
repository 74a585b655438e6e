"""The ASGI application: every route, and the lifespan that opens each layer.

Read this file first. The pages, public and staff, are rendered in :mod:`live.pages`;
the JSON API is in :mod:`live.routes`, the live stream in
:mod:`live.websocket`; both call :mod:`live.sessions`, which decides with
:mod:`live.commands` and writes through :mod:`live.rooms` (in rounds,
:mod:`live.rounds`) to the store (:mod:`live.store`) and the bus (:mod:`live.bus`).
WebSockets reach :mod:`live.websocket` through :class:`App`.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from . import (
    archive_http,
    board_http,
    chain_http,
    gcpolicy,
    metrics,
    notify_http,
    pages,
    photos_http,
    qr,
    routes,
    schedule_http,
    websocket,
)
from .exceptions import LiveError
from .middleware import REQUEST_ID, configure_logging, log_websocket, request_id
from .middleware import Middleware as LiveMiddleware
from .serve import die_with_supervisor
from .services import Services
from .settings import Settings
from .startup import open_services
from .tasks import cancel_and_wait
from .wsconn import WsConnection


class Id(IntegerConvertor):
    """An id in a path (``{session_id:id}``): up to 15 digits, below :data:`protocol.MAX_INT`
    (2**53) and both engines' 64-bit integers. A longer number names nothing: the router's
    structured 404, never an integer the store cannot take."""

    regex = "[0-9]{1,15}"


register_url_convertor("id", Id())

STREAM = re.compile(rf"/ws/({Id.regex})")
"""The live stream's path, ``/ws/{session_id}``: the one WebSocket route."""


class App:
    """The ASGI entry point: WebSockets go straight to :func:`websocket.endpoint`, the rest to Starlette.

    Why: an idle viewer's connection waits for its next frame inside every
    layer it came through, and ten thousand of them wait at once. Through
    Starlette that was thirteen coroutine frames between uvicorn and the
    endpoint (Starlette, its error and exception middlewares, ours, GZip, the
    router, the route and their exception wrappers) with their closures and
    Starlette's WebSocket object: measured with ``tracemalloc``, 7 of the 20 KiB
    an idle viewer cost. Every message in or out walked all of them too (a
    tenth of a handshake's Python calls). None of them does anything for a
    WebSocket except ours (a request id and one log line), which this does
    inline. A WebSocket on any other path is refused as Starlette's router
    refuses it (a close before the handshake: HTTP 403).
    """

    def __init__(self, http: Starlette) -> None:
        self.http = http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.http(scope, receive, send)
            return
        ws = WsConnection(scope, receive, send)
        started = time.perf_counter()
        token = REQUEST_ID.set(request_id(scope))
        try:
            session_id, live = _session_id(scope), self.http.state.live
            if session_id is None:
                await ws.close()
            elif live is None:
                await websocket.not_ready(ws)
            else:
                await websocket.endpoint(ws, live, session_id)
        finally:
            log_websocket(scope["path"], ws.close_code, started)
            REQUEST_ID.reset(token)


def _session_id(scope: Scope) -> int | None:
    """The session of a ``/ws/{session_id}`` path (below the mount point, as Starlette matches)."""
    path, root = scope["path"], scope.get("root_path", "")
    match = STREAM.fullmatch(path[len(root) :] if root and path.startswith(root + "/") else path)
    return int(match[1]) if match else None


def create_app(settings: Settings | None = None) -> App:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.live = None  # not ready until every service is open (see live.startup)

        def started(live: Services) -> None:
            app.state.live = live
            live.notifier.start()  # a serving worker's, not a start-up check's (live.serve.check)

        trying = await open_services(settings, started)
        gcpolicy.apply()
        try:
            yield
        finally:
            await cancel_and_wait(trying)
            if app.state.live is not None:
                await app.state.live.stop()

    return App(
        Starlette(
            routes=[
                Route("/", pages.index),
                Route("/s/{session_id:id}", pages.viewer),
                # the ask form with scripts off: a form post, CSRF-checked, to Sessions.handle
                Route("/s/{session_id:id}/ask", pages.ask, methods=["GET", "POST"]),
                Route("/s/{session_id:id}/presenter", pages.staff("presenter")),
                Route("/s/{session_id:id}/moderator", pages.staff("moderator")),
                Route("/s/{session_id:id}/host", pages.staff("host")),
                Route("/s/{session_id:id}/screen", pages.screen),
                Route("/s/{session_id:id}/qr.svg", qr.session_qr),
                Route("/s/{session_id:id}/replay", pages.replay),
                Route("/s/{session_id:id}/transcript", pages.transcript),
                Route("/search", pages.search),
                Route("/admin", pages.staff("admin")),
                Route("/healthz", routes.healthz),
                Route("/readyz", routes.readyz),
                Route("/metrics", metrics.endpoint),
                Route("/api/programmes", routes.programmes, methods=["GET", "POST"]),
                Route("/api/programmes/{programme_id:id}", routes.programme, methods=["PATCH"]),
                Route("/api/sessions", routes.sessions, methods=["GET", "POST"]),
                Route("/api/sessions/{session_id:id}", routes.session, methods=["GET", "PATCH"]),
                Route("/api/sessions/{session_id:id}/events", routes.events),
                Route("/api/sessions/{session_id:id}/transcript", archive_http.transcript),
                Route("/api/sessions/{session_id:id}/stats", archive_http.stats),
                Route("/api/archive", archive_http.archive_list),
                Route("/api/search", archive_http.search_answers),
                Route("/api/suggest", archive_http.suggest),
                Route("/api/sessions/{session_id:id}/links", routes.links, methods=["POST"]),
                Route("/api/sessions/{session_id:id}/commands", routes.command, methods=["POST"]),
                Route("/api/sessions/{session_id:id}/audit", routes.audit_trail),
                Route("/api/filter/words", routes.words, methods=["GET", "PUT"]),
                Route("/api/receipts/{receipt}", routes.receipt),
                Route("/p/{slug}/commitments", pages.board),
                Route("/p/{slug}/commitments.atom", board_http.feed),
                Route("/api/commitments", board_http.board),
                Route("/api/sessions/{session_id:id}/chain", chain_http.public_chain),
                Route("/api/signing-key", chain_http.signing_key),
                Route("/api/satisfaction", archive_http.satisfaction),
                Route("/s/{session_id:id}/closing", pages.staff("closing")),
                Mount("/static", StaticFiles(directory=routes.STATIC), name="static"),
                Route("/api/sessions/{session_id:id}/notifications", notify_http.notifications),
                Route("/s/{session_id:id}/notifications", pages.staff("notifications")),
                Route("/s/{session_id:id}/calendar.ics", schedule_http.ics),
                Route("/p/{slug}/episodes.atom", schedule_http.episodes),
                Route("/api/sessions/{session_id:id}/photos", photos_http.upload, methods=["POST"]),
                Route("/s/{session_id:id}/photos/{photo}.jpg", photos_http.image),
            ],
            exception_handlers={LiveError: _refused, 404: routes.not_found},
            middleware=[
                Middleware(LiveMiddleware, settings=settings),
                Middleware(GZipMiddleware, minimum_size=1024),
            ],
            lifespan=lifespan,
        )
    )


async def _refused(request: Request, exc: Exception) -> Response:
    """Count every HTTP refusal by its code, then answer it as JSON."""
    assert isinstance(exc, LiveError)
    metrics.refused(exc.code, "http")
    return await routes.live_error(request, exc)


def app_from_env() -> App:
    """The factory uvicorn imports in each worker process (``live serve --workers N``)."""
    die_with_supervisor()
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(settings)
