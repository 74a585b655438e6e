"""A session's viewer and replay pages, with a CSP that lets in its broadcast's media.

The pages are rendered by :mod:`live.pages`; only their policy differs from every other page's:
the origins of the session's ``stream`` and ``recording`` as stored now (:mod:`live.stream`)
may serve media and answer hls.js's requests, and no other. The policy is fixed when the page
loads, so a page open when a stream on a new host is set learns of it from the feed
(``session.updated``) and reloads itself before it plays (``static/js/stream.js``).
"""

from __future__ import annotations

from starlette.responses import Response

from . import stream
from .events import JSON
from .middleware import content_security_policy


def allow_media(response: Response, info: JSON) -> Response:
    """``response`` (a session's page), its policy letting in the media of ``info``'s broadcast."""
    media = stream.origins(info)
    if media:
        response.headers["content-security-policy"] = content_security_policy(media=media)
    return response
