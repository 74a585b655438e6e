"""Around every request: a request id, security headers, a cross-site guard, one log line.

A plain ASGI middleware, not Starlette's ``BaseHTTPMiddleware``, so nothing is
buffered. WebSockets never pass through it: :class:`live.app.App` routes them
straight to their endpoint and gives them the same request id and log line with
:func:`request_id` and :func:`log_websocket` (an idle viewer would otherwise wait
inside every middleware layer, see :mod:`live.app`).

- **Request id.** ``X-Request-Id`` from the client (or the proxy) if it looks
  like one, else a fresh one; echoed in the response and attached to every log
  record made while the request runs, so one line of a support ticket finds
  everything the server did for it.
- **Security headers.** A CSP with no inline script or style, no framing
  (except the big-screen page, for the origins in ``LIVE_SCREEN_FRAME_ANCESTORS``), media
  only from the site itself (a session's viewer and replay pages add its stream's origin,
  set by :mod:`live.stream_http`, which this keeps),
  ``nosniff``, and ``Referrer-Policy: no-referrer``.
- **Body limits.** A request body is read here, before any route sees it:
  at most ``LIVE_MAX_BODY_BYTES`` (``413`` past it, before reading a byte when
  ``Content-Length`` already says so) within ``LIVE_BODY_TIMEOUT`` seconds
  (``408``). Starlette reads a whole body into memory on demand, so without
  this one 256 MiB POST grew the server by 730 MB before any route refused it.
  One route takes more: a studio photo's upload, up to ``LIVE_MAX_PHOTO_BYTES`` and its
  form (``photo_too_large`` past it; :mod:`live.photos`).
- **Cross-site guard.** A state-changing request whose ``Origin`` is another
  site is refused before it reaches a route. Staff act with Bearer tokens, never
  cookies, so a forged cross-site form could not act as staff anyway; the guard
  also keeps a foreign page from voting or asking with a viewer's cookie.
- **Logs.** One JSON object per line. Only ``live``'s own loggers may log below
  INFO: third-party debug output (aiosqlite's SQL parameters, websockets' frame
  dumps) would carry contacts and staff keys, so it is dropped. Paths are logged
  without query strings, and no header is ever logged.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import re
import secrets
import time
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics, photos
from .exceptions import Forbidden, LiveError, TimedOut, TooLarge
from .settings import Settings
from .websocket import origin_allowed

log = logging.getLogger("live.access")

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SCREEN = re.compile(r"^/s/\d+/screen$")
_PHOTOS = re.compile(r"^/api/sessions/\d+/photos$")
"""The one route that takes a larger body than ``LIVE_MAX_BODY_BYTES``: a studio photo."""
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_METHODS = _UNSAFE | {"GET", "HEAD", "OPTIONS"}
"""Methods counted by name; anything else is ``other`` (no label per attacker's whim)."""
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; "
)


def content_security_policy(frame_ancestors: str = "'none'", media: list[str] | None = None) -> str:
    """The one policy every page has, but for who may frame it and, on a session's viewer and
    replay pages, the origins of its stream and recording (:func:`live.stream.origins`): only
    those may serve media (and ``blob:``, the Media Source hls.js plays through) and answer
    the playlist and segment requests hls.js makes."""
    policy = CSP
    if media:
        hosts = " ".join(media)
        policy = policy.replace(
            "connect-src 'self'; ", f"connect-src 'self' {hosts}; media-src 'self' blob: {hosts}; "
        )
    return policy + "frame-ancestors " + frame_ancestors


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, extra fields."""

    converter = staticmethod(time.gmtime)  # UTC, as the Z in ``ts`` says

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            out["request_id"] = request_id
        out.update(getattr(record, "fields", {}))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def _own_or_info(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.INFO or record.name.startswith("live")


def configure_logging(level: str) -> None:
    """JSON lines on stderr; idempotent, so every worker process can call it."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_own_or_info)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def security_headers(path: str, settings: Settings) -> dict[str, str]:
    ancestors = settings.screen_frame_ancestors.split()
    headers = {
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cross-origin-opener-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
    }
    if _SCREEN.match(path) and ancestors:
        headers["content-security-policy"] = content_security_policy("'self' " + " ".join(ancestors))
    else:
        headers["content-security-policy"] = content_security_policy()
        headers["x-frame-options"] = "DENY"
    if settings.public_url.startswith("https://"):
        headers["strict-transport-security"] = "max-age=31536000"
    return headers


class Middleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        token = REQUEST_ID.set(rid)
        try:
            await self._http(scope, receive, send, rid)
        finally:
            REQUEST_ID.reset(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        started = time.perf_counter()
        status = 0
        extra = security_headers(scope["path"], self.settings)

        async def send_wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.setdefault(name, value)
                headers["x-request-id"] = rid
            await send(message)

        try:
            if scope["method"] in _UNSAFE and not origin_allowed(
                HTTPConnection(scope), self.settings.public_url
            ):
                await _refuse(
                    Forbidden("cross_site", "不接受来自其他网站的请求", "Cross-site request refused"),
                    scope,
                    receive,
                    send_wrapped,
                )
                return
            limit, too_large = self.settings.max_body_bytes, _too_large(self.settings.max_body_bytes)
            if _PHOTOS.match(scope["path"]):
                limit = self.settings.max_photo_bytes + photos.FORM_SLACK
                too_large = photos.too_large(self.settings.max_photo_bytes)
            try:
                body = await read_body(scope, receive, limit, self.settings.body_timeout, too_large)
            except LiveError as err:
                await _refuse(err, scope, receive, send_wrapped, close=True)
                return
            await self.app(scope, body, send_wrapped)
        except Exception:
            if status:  # the response has begun: only closing the connection can end it
                raise
            # A bug of ours, answered like any refusal; not re-raised, so uvicorn keeps the
            # connection open for the client's next request instead of resetting it.
            log.exception("unexpected error")
            await _refuse(LiveError(), scope, receive, send_wrapped)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            metrics.HTTP.labels(method, str(status)).inc()
            log.info(
                "http",
                extra={
                    "fields": {
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                    }
                },
            )


async def _refuse(err: LiveError, scope: Scope, receive: Receive, send: Send, close: bool = False) -> None:
    """Answer ``err`` before any route runs; ``close`` when the body was left unread."""
    metrics.refused(err.code, "http")
    headers = {"connection": "close"} if close else None
    await JSONResponse(err.to_dict(), status_code=err.status, headers=headers)(scope, receive, send)


async def read_body(
    scope: Scope, receive: Receive, limit: int, timeout: float, too_large: TooLarge | None = None
) -> Receive:
    """Read the request's body (at most ``limit`` bytes, within ``timeout`` seconds); return a
    ``receive`` that hands it to the app as one message.

    A request without a body (no ``Content-Length``, not chunked) is passed through
    untouched: that is every GET. Raises ``too_large`` (``body_too_large`` by default) or
    :class:`TimedOut`.
    """
    too_large = too_large or _too_large(limit)
    headers = Headers(scope=scope)
    length = headers.get("content-length")
    if length is None and "chunked" not in headers.get("transfer-encoding", "").lower():
        return receive
    if length is not None and int(length) > limit:  # h11 has refused a non-numeric length
        raise too_large
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return _replay(message, receive)  # the client went away
                body += message.get("body", b"")
                if len(body) > limit:
                    raise too_large
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise TimedOut(
            "body_timeout",
            f"请求内容未在 {timeout:g} 秒内送达",
            f"The request body did not arrive within {timeout:g} s",
        ) from None
    return _replay({"type": "http.request", "body": bytes(body), "more_body": False}, receive)


def _too_large(limit: int) -> TooLarge:
    return TooLarge(
        "body_too_large",
        f"请求内容过大（最多 {limit} 字节）",
        f"Request body too large (at most {limit} bytes)",
        limit=limit,
    )


def _replay(first: Message, receive: Receive) -> Receive:
    """A ``receive`` whose first message is ``first``, then the connection's own."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def request_id(scope: Scope) -> str:
    """``X-Request-Id`` from the client (or the proxy) if it looks like one, else a fresh one."""
    incoming = Headers(scope=scope).get("x-request-id", "")
    return incoming if _ID.match(incoming) else secrets.token_hex(8)


def log_websocket(path: str, close_code: int | None, started: float) -> None:
    """A WebSocket's one log line: its path, the first close code either side sent, its length."""
    if log.isEnabledFor(logging.INFO):  # ten thousand of these end at once in a reconnect storm
        log.info(
            "websocket",
            extra={
                "fields": {
                    "path": path,
                    "close_code": close_code,
                    "s": round(time.perf_counter() - started, 1),
                }
            },
        )
