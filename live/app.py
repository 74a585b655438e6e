"""The ASGI application: every route, and the lifespan that opens each layer.

Read this file first. Pages and the JSON API are in :mod:`live.routes`, the
live stream in :mod:`live.websocket`; both call :mod:`live.sessions`, which
decides with :mod:`live.state` and writes through :mod:`live.rooms` to the
store (:mod:`live.store`) and the bus (:mod:`live.bus`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from . import archive_http, gcpolicy, metrics, qr, routes, websocket
from .exceptions import LiveError
from .middleware import Middleware as LiveMiddleware
from .middleware import configure_logging
from .services import Services
from .settings import Settings


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.live = await Services.start(settings)
        gcpolicy.apply()
        try:
            yield
        finally:
            await app.state.live.stop()

    return Starlette(
        routes=[
            Route("/", routes.page("index.html")),
            Route("/s/{session_id:int}", routes.page("viewer.html")),
            Route("/s/{session_id:int}/presenter", routes.page("presenter.html")),
            Route("/s/{session_id:int}/moderator", routes.page("moderator.html")),
            Route("/s/{session_id:int}/screen", routes.page("screen.html")),
            Route("/s/{session_id:int}/qr.svg", qr.session_qr),
            Route("/s/{session_id:int}/replay", routes.page("replay.html")),
            Route("/s/{session_id:int}/transcript", routes.page("transcript.html")),
            Route("/search", routes.page("search.html")),
            Route("/admin", routes.page("admin.html")),
            Route("/healthz", routes.healthz),
            Route("/readyz", routes.readyz),
            Route("/metrics", metrics.endpoint),
            Route("/api/programmes", routes.programmes, methods=["GET", "POST"]),
            Route("/api/programmes/{programme_id:int}", routes.programme, methods=["PATCH"]),
            Route("/api/sessions", routes.sessions, methods=["GET", "POST"]),
            Route("/api/sessions/{session_id:int}", routes.session, methods=["GET", "PATCH"]),
            Route("/api/sessions/{session_id:int}/events", routes.events),
            Route("/api/sessions/{session_id:int}/transcript", archive_http.transcript),
            Route("/api/sessions/{session_id:int}/stats", archive_http.stats),
            Route("/api/archive", archive_http.archive_list),
            Route("/api/search", archive_http.search_answers),
            Route("/api/suggest", archive_http.suggest),
            Route("/api/sessions/{session_id:int}/links", routes.links, methods=["POST"]),
            Route("/api/sessions/{session_id:int}/commands", routes.command, methods=["POST"]),
            Route("/api/sessions/{session_id:int}/audit", routes.audit_trail),
            Route("/api/filter/words", routes.words, methods=["GET", "PUT"]),
            Route("/api/receipts/{receipt}", routes.receipt),
            WebSocketRoute("/ws/{session_id:int}", websocket.endpoint),
            Mount("/static", StaticFiles(directory=routes.STATIC), name="static"),
        ],
        exception_handlers={LiveError: _refused, 404: routes.not_found},
        middleware=[Middleware(LiveMiddleware, settings=settings),
                    Middleware(GZipMiddleware, minimum_size=1024)],
        lifespan=lifespan,
    )


async def _refused(request: Request, exc: Exception) -> Response:
    """Count every HTTP refusal by its code, then answer it as JSON."""
    assert isinstance(exc, LiveError)
    metrics.refused(exc.code, "http")
    return await routes.live_error(request, exc)


def app_from_env() -> Starlette:
    """The factory uvicorn imports in each worker process (``live serve --workers N``)."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(settings)
