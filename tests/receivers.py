"""Real receivers for the messages a server sends askers, started by the tests.

* :class:`MailSink`: an SMTP server (``aiosmtpd``) that keeps every message it accepts.
* :class:`Gateway`: an HTTP server (uvicorn, a tiny Starlette app) standing in for a
  government SMS gateway: it checks each request's signature, answers as the test
  scripts it (a status, or no answer at all), and deduplicates by delivery id, as the
  documented contract asks a receiver to.
* :class:`SilentSmtp`: a TCP port that accepts connections and never says a word, as an
  SMTP server that hangs does.

Each runs on a thread of its own, so a test that blocks its own event loop (the sync
helpers of ``conftest``) never holds up what the server under test is sending.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .conftest import free_port


@dataclass
class Mail:
    rcpt: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return str(body.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


class MailSink:
    """An SMTP server on ``port`` (a free one by default) that accepts everything."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.mails: list[Mail] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append(Mail(list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def start(self) -> MailSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@dataclass
class Call:
    """One request the gateway got: its delivery id, attempt, body, and whether it was signed right."""

    id: str
    attempt: int
    body: dict[str, Any]
    raw: bytes
    signed: bool
    answered: int | None = None


@dataclass
class Gateway:
    """The SMS gateway: ``script`` is what to answer, request after request (an HTTP status,
    or ``"hang"``: hold the request until the gateway stops); past it, 200."""

    secret: str
    script: list[int | str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    calls: list[Call] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What a receiver acts on: the first body taken under each delivery id, once."""
    duplicates: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms"

    async def _receive(self, request: Request) -> Response:
        raw = await request.body()
        expected = "sha256=" + hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(expected, request.headers.get("x-live-signature", ""))
        body = json.loads(raw)
        call = Call(
            request.headers["x-live-delivery"], int(request.headers["x-live-attempt"]), body, raw, signed
        )
        with self._lock:
            self.calls.append(call)
            what = self.script.pop(0) if self.script else 200
        if what == "hang":
            await asyncio.Event().wait()  # until the gateway stops
        assert isinstance(what, int)
        call.answered = what
        if what == 200 and signed:
            with self._lock:
                if call.id in self.accepted:
                    self.duplicates += 1
                else:
                    self.accepted[call.id] = body
        return JSONResponse({"ok": what == 200}, status_code=what if signed else 401)

    def start(self) -> Gateway:
        app = Starlette(routes=[Route("/sms", self._receive, methods=["POST"])])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="error",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        while not self._server.started:
            threading.Event().wait(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = None


class SilentSmtp:
    """Accepts SMTP connections and never answers: ``held`` are those it holds open now."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def still_open(self) -> int:
        """How many held connections the other side has not closed."""
        open_ = 0
        for conn in self.held:
            conn.setblocking(False)
            try:
                open_ += conn.recv(1, socket.MSG_PEEK) != b""
            except BlockingIOError:
                open_ += 1
            except OSError:
                pass
        return open_

    def stop(self) -> None:
        self._sock.close()
        for conn in self.held:
            conn.close()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"
