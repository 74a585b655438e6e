"""A session's replay page, with a CSP that lets in its broadcast's media (the viewer page,
rendered by :mod:`live.pages`, sets the same policy).

The page is the same static file :func:`live.routes.page` serves; only its policy differs:
the origins of the session's ``stream`` and ``recording`` as stored now (:mod:`live.stream`)
may serve media and answer hls.js's requests, and no other. The policy is fixed when the page
loads, so a page open when a stream on a new host is set learns of it from the feed
(``session.updated``) and reloads itself before it plays (``static/js/stream.js``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from . import routes, stream
from .exceptions import Unavailable
from .middleware import content_security_policy
from .services import Services


def page(name: str) -> Callable[[Request], Awaitable[Response]]:
    serve = routes.page(name)

    async def endpoint(request: Request) -> Response:
        response = await serve(request)
        live: Services | None = request.app.state.live
        if live is None:  # not ready: the strict policy; the page retries its connection
            return response
        try:
            row = await live.sessions.row(request.path_params["session_id"])
        except Unavailable:  # the database away: the page still loads, and waits for it
            return response
        media = stream.origins(row.info) if row is not None else []
        if media:
            response.headers["content-security-policy"] = content_security_policy(media=media)
        return response

    return endpoint
