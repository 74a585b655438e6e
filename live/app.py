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
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from . import routes, websocket
from .exceptions import LiveError
from .services import Services
from .settings import Settings


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.live = await Services.start(settings)
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
            Route("/s/{session_id:int}/replay", routes.page("replay.html")),
            Route("/admin", routes.page("admin.html")),
            Route("/healthz", routes.healthz),
            Route("/readyz", routes.readyz),
            Route("/api/programmes", routes.programmes, methods=["GET", "POST"]),
            Route("/api/programmes/{programme_id:int}", routes.programme, methods=["PATCH"]),
            Route("/api/sessions", routes.sessions, methods=["GET", "POST"]),
            Route("/api/sessions/{session_id:int}", routes.session, methods=["GET", "PATCH"]),
            Route("/api/sessions/{session_id:int}/events", routes.events),
            Route("/api/sessions/{session_id:int}/transcript", routes.transcript),
            Route("/api/sessions/{session_id:int}/links", routes.links, methods=["POST"]),
            Route("/api/sessions/{session_id:int}/commands", routes.command, methods=["POST"]),
            Route("/api/sessions/{session_id:int}/audit", routes.audit_trail),
            Route("/api/filter/words", routes.words, methods=["GET", "PUT"]),
            Route("/api/receipts/{receipt}", routes.receipt),
            WebSocketRoute("/ws/{session_id:int}", websocket.endpoint),
            Mount("/static", StaticFiles(directory=routes.STATIC), name="static"),
        ],
        exception_handlers={LiveError: routes.live_error, 404: routes.not_found},
        lifespan=lifespan,
    )


def app_from_env() -> Starlette:
    """The factory uvicorn imports in each worker process (``live serve --workers N``)."""
    return create_app(Settings.from_env())
