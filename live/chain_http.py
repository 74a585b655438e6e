"""HTTP endpoints for checking the record: a session's public hash chain and the signing key.

``GET /api/sessions/{id}/chain`` serves the chain as a bundle carries it
(:func:`live.chain.public_chain`: JSON lines, nothing private), so anyone can
recompute a session's head from what the server publishes, while it runs too;
``GET /api/signing-key`` serves the public key that signs bundles
(:mod:`live.signing`), to compare with the ``signing-key.pem`` inside one. Both only
read, through :class:`live.archives.Archives`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from .routes import services

JSON_LINES = "application/jsonl; charset=utf-8"


async def public_chain(request: Request) -> Response:
    sid = request.path_params["session_id"]
    text = await services(request).archives.public_chain(sid)
    headers = {"content-disposition": f'inline; filename="session-{sid}-chain.jsonl"'}
    return PlainTextResponse(text, media_type=JSON_LINES, headers=headers)


async def signing_key(request: Request) -> Response:
    return JSONResponse(await services(request).archives.signing_key())
