"""The door: how many connections the server takes, from whom, and how long a request may dawdle.

uvicorn times out nothing but idle keep-alive connections and counts no
connections per address: 1,100 sockets sending one header line every ten
seconds, or one address opening 10,000 WebSockets, held the server's sockets
until ``/healthz`` stopped answering. So every connection, HTTP or WebSocket
(a WebSocket is a connection that began as HTTP), passes this guard first:

- **A cap per address**, ``LIVE_MAX_CONNECTIONS_PER_IP``: past it a new
  connection gets ``429`` at once and is closed. Peers that uvicorn trusts to
  forward the client's address (``FORWARDED_ALLOW_IPS``, loopback by default)
  are exempt: behind a reverse proxy every client arrives from the proxy, which
  must cap per client itself (``deploy/nginx.conf`` does).
- **A cap in all**, ``LIVE_MAX_CONNECTIONS``: past it ``503``. It is kept
  below the process's open-file limit, which :func:`raise_file_limit` lifts to
  its hard maximum, so the server refuses politely instead of failing to accept.
- **A header deadline**, ``LIVE_HEADER_TIMEOUT``: a new connection must
  deliver a request's headers within it, and so must a kept-alive one after
  each response; a connection that has not is closed. The request body has a
  deadline of its own, ``LIVE_BODY_TIMEOUT``, enforced where the body is read
  (:mod:`live.middleware`).

It is uvicorn's own h11 protocol with those checks added: ``live serve``
passes :class:`GuardedH11Protocol` as ``http=`` (uvicorn's documented way to
choose the protocol class), and the WebSocket protocol (:mod:`live.fastws`)
gives a connection's place back when it ends.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from . import metrics
from .events import dumps
from .exceptions import LiveError, RateLimited, Unavailable
from .settings import Settings

log = logging.getLogger("live.guard")

RESERVED_FILES = 64
"""Descriptors kept free of client connections: the database, the bus, logs, a backup."""


def raise_file_limit() -> int:
    """Lift the soft open-file limit to the hard one; return what is now allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def _refusal(err: LiveError) -> bytes:
    """A whole HTTP response refusing a connection before uvicorn has parsed anything of it."""
    body = dumps(err.to_dict()).encode()
    reason = HTTPStatus(err.status).phrase.encode()
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nretry-after: 10\r\n"
        b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (err.status, reason, len(body), body)
    )


TOO_MANY_HERE = _refusal(
    RateLimited(
        "too_many_connections",
        "来自您的网络的连接过多，请稍后再试",
        "Too many connections from your address; try again later",
    )
)
TOO_MANY = _refusal(
    Unavailable(
        "server_full", "服务器连接已满，请稍后再试", "The server is at its connection limit; try again later"
    )
)


class Guard:
    """Open connections counted in all and per peer address, for one worker process."""

    def __init__(self, total: int, per_ip: int, header_timeout: float, trusted: str) -> None:
        self.total = total
        self.per_ip = per_ip
        self.header_timeout = header_timeout
        self.open: dict[Any, str] = {}
        """Each admitted transport and the address it is counted under ("" if exempt)."""
        self.by_ip: dict[str, int] = {}
        self._trusted = _networks(trusted)

    def admit(self, transport: Any) -> bytes | None:
        """Count ``transport`` in, or return the response that refuses it."""
        if transport in self.open:  # a WebSocket taking over its HTTP connection's place
            return None
        if len(self.open) >= self.total:
            metrics.refused("server_full", "connect")
            return TOO_MANY
        peer = transport.get_extra_info("peername")
        ip = peer[0] if isinstance(peer, tuple) else ""
        if ip and not self._exempt(ip):
            if self.by_ip.get(ip, 0) >= self.per_ip:
                metrics.refused("too_many_connections", "connect")
                return TOO_MANY_HERE
            self.by_ip[ip] = self.by_ip.get(ip, 0) + 1
        else:
            ip = ""
        self.open[transport] = ip
        return None

    def release(self, transport: Any) -> None:
        ip = self.open.pop(transport, None)
        if ip:
            left = self.by_ip[ip] - 1
            if left:
                self.by_ip[ip] = left
            else:
                del self.by_ip[ip]

    def _exempt(self, ip: str) -> bool:
        if self._trusted is None:
            return True
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in net for net in self._trusted)


def _networks(trusted: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """uvicorn's ``forwarded_allow_ips`` as networks; None for ``*`` (every peer trusted)."""
    items = [t.strip() for t in trusted.split(",") if t.strip()]
    if "*" in items:
        return None
    out = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            continue  # a Unix socket path or a name: no TCP peer has it
    return out


_guard: Guard | None = None


def guard(trusted: str = "127.0.0.1,::1") -> Guard:
    """This process's guard, made from the settings when the first connection arrives."""
    global _guard
    if _guard is None:
        settings = Settings.from_env()
        total = min(settings.max_connections, raise_file_limit() - RESERVED_FILES)
        if total < settings.max_connections:
            log.warning(
                "LIVE_MAX_CONNECTIONS lowered to %d, the open-file limit less %d", total, RESERVED_FILES
            )
        _guard = Guard(total, settings.max_connections_per_ip, settings.header_timeout, trusted)
    return _guard


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol behind :class:`Guard`, with a deadline for each request's headers."""

    deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        refusal = guard(_trusted(self.config)).admit(transport)
        if refusal is not None:  # uvicorn never sees it: no state, no task, no log line
            self.transport = transport
            transport.write(refusal)
            transport.close()
            return
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        guard().release(self.transport)
        self._disarm()
        if self.flow is not None:  # None: refused in connection_made
            super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's headers are due in their turn

    def handle_websocket_upgrade(self, event: Any) -> None:
        self._disarm()  # the WebSocket protocol takes the connection (and its place) over
        super().handle_websocket_upgrade(event)

    def _arm(self) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(guard().header_timeout, self._overdue)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _overdue(self) -> None:
        """Close the connection unless the app is working on one of its requests right now."""
        self.deadline = None
        busy = self.cycle is not None and not self.cycle.response_complete
        if not busy and not self.transport.is_closing():
            metrics.refused("header_timeout", "connect")
            self.transport.close()


def _trusted(config: Any) -> str:
    value = config.forwarded_allow_ips
    return value if isinstance(value, str) else ",".join(value)
