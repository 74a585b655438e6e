"""The WebSocket endpoint: ``/ws/{session_id}``.

The order of the opening steps is the protocol's central promise. The
connection joins the room (and so starts collecting live events in its
outbox) *before* it reads the log; it then sends either a snapshot at the
room's sequence number or exactly the events after the client's ``since``;
only then does the outbox start sending, skipping anything at or below what
was already sent. So the switch from catch-up to live has no gap and no
duplicate.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import ipaddress
import logging
import time
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected

from . import metrics, startup
from .auth import DEVICE_COOKIE, Actor, Role, role_for
from .connection import Outbox, prebuilt_writer
from .events import JSON, dumps, now_ms
from .exceptions import BadRequest, LiveError, NotFound, RateLimited, Unauthorized
from .protocol import PROTOCOL, ack, control, error, parse
from .rooms import Room
from .services import Services
from .wsconn import WsConnection

log = logging.getLogger("live.websocket")

HELLO_TIMEOUT = 10.0
REFUSALS_PER_SECOND = 100
"""Frames refused for the client's own doing (a 4xx refusal: malformed, forbidden, over a rate
limit) in one second after which a connection is cut with 1008. Each limit already refuses with
a clear error, and a client well within them never comes near this; one that keeps going is
flooding, and replying to each of its frames would tax every other viewer. The server's own
refusals (5xx: ``unavailable`` on a full disk, ``limits_unavailable``, ``internal``) never count:
an honest client must not be cut off for the server's trouble."""


def origin_allowed(conn: HTTPConnection, public_url: str) -> bool:
    """Refuse cross-site WebSocket hijacking (and cross-site HTTP writes, in :mod:`live.middleware`).

    Clients that send no Origin are not browsers, so no page can be riding on them. The
    request's own ``Host`` is the sender's to choose (``Host: evil.example`` with ``Origin:
    http://evil.example`` passed when it was trusted): with ``LIVE_PUBLIC_URL`` set, a page
    must come from that site (scheme and host), or from the very loopback address the request
    was sent to (an operator on the server itself). Without it (a server tried out locally),
    the page must come from the host the request was sent to.
    """
    origin = conn.headers.get("origin")
    if not origin:
        return True
    seen, host = urlsplit(origin), conn.headers.get("host", "")
    if not public_url:
        return seen.netloc == host
    site = urlsplit(public_url)
    if (seen.scheme, seen.netloc) == (site.scheme, site.netloc):
        return True
    return seen.netloc == host and _loopback(seen.hostname)


def _loopback(name: str | None) -> bool:
    try:
        return name == "localhost" or ipaddress.ip_address(name or "").is_loopback
    except ValueError:
        return False


async def not_ready(ws: WsConnection) -> None:
    """A worker whose services are not open yet: after the hello, say so and close with 1013.

    The hello is awaited as on the normal path, so a client reads the refusal as the
    answer to it rather than losing its hello to a closed socket.
    """
    metrics.refused("unavailable", "ws")
    await ws.accept()
    with contextlib.suppress(RuntimeError, OSError, TimeoutError, WebSocketDisconnect):
        await _hello_text(ws)
        await ws.send_text(error(startup.not_ready()))
    await _close(ws, 1013, "unavailable")


async def endpoint(ws: WsConnection, live: Services, session_id: int) -> None:
    """One connection, routed here by :class:`live.app.App`.

    What a connection costs counts twice: after a network blip ten thousand
    viewers reconnect at once, and ten thousand idle ones keep what this frame
    holds. So a viewer's handshake does not read the session row (the room,
    loaded once per worker, knows the session exists) and reads only its
    device's votes; only a staff token reads the row, every time, so a rotated
    link stops working at once on every worker. The request's headers are read
    before the handshake and dropped from the scope, which uvicorn keeps for the
    connection's life.
    """
    request = HTTPConnection(ws.scope)
    if not origin_allowed(request, live.settings.public_url):
        metrics.refused("origin_not_allowed", "ws")
        await ws.close(4403, "origin not allowed")
        return
    cookie = request.cookies.get(DEVICE_COOKIE)
    ip = request.client.host if request.client else ""
    del request
    ws.scope["headers"] = []
    await ws.accept()
    try:
        hello = parse(await _hello_text(ws))
        if hello.type != "hello":
            raise BadRequest("hello_expected", "第一条消息必须是 hello", "The first frame must be hello")
        if hello.args.get("protocol") != PROTOCOL:
            raise BadRequest(
                "protocol_version",
                "页面版本已过期，请刷新页面",
                "This page is out of date: reload it",
                expected=PROTOCOL,
            )
        token = hello.args.get("token")
        role = await _staff_role(live, session_id, token) if token else Role.VIEWER
        room = await live.rooms.get(session_id)
    except (TimeoutError, WebSocketDisconnect, KeyError, RuntimeError):
        await _close(ws, 4400, "hello expected")
        return
    except LiveError as exc:
        metrics.refused(exc.code, "ws")
        await ws.send_text(error(exc))
        await _close(ws, {404: 4404, 401: 4401, 503: 1013}.get(exc.status, 4400), exc.code)
        return

    device = live.devices.verify(hello.args.get("device")) or live.devices.verify(cookie)
    signed = None
    if device is None:
        device, signed = live.devices.mint()
    actor = Actor(role, device, ip, hello.args.get("name", "") if role.staff else "")
    outbox = Outbox(
        ws.send_text,
        functools.partial(_close, ws),
        live.settings.send_queue,
        staff=role.staff,
        write=prebuilt_writer(ws.scope),
    )
    room.feed.outboxes.add(outbox)
    metrics.CONNECTIONS.labels(role.value).inc()
    try:
        await _catch_up(ws, live, room, actor, outbox, hello.args, signed)
        outbox.start()
        await _serve(ws, live, session_id, actor, outbox, token)
    except (WebSocketDisconnect, WebSocketDisconnected):
        pass  # the client left, or the server closed it (an overflowing outbox, a shutdown)
    except LiveError as exc:
        # The store failed while catching up: say so, and ask the client to retry later.
        metrics.refused(exc.code, "ws")
        with contextlib.suppress(RuntimeError, OSError):
            await ws.send_text(error(exc))
        await _close(ws, 1013 if exc.status == 503 else 4400, exc.code)
    finally:
        metrics.CONNECTIONS.labels(role.value).dec()
        room.feed.outboxes.discard(outbox)
        await outbox.stop()


async def _catch_up(
    ws: WsConnection,
    live: Services,
    room: Room,
    actor: Actor,
    outbox: Outbox,
    hello: JSON,
    signed: str | None,
) -> None:
    since: int | None = hello.get("since")
    if since is not None and since > room.state.seq:
        await room.refresh()  # another worker is ahead of this one
    votes = await live.sessions.device_votes(room.session_id, actor.device)
    state = await room.settled()  # from here to the snapshot, nothing may await
    resume = since is not None and hello.get("epoch") == room.epoch and since <= state.seq
    mine = live.sessions.mine(state, actor.device)
    welcome = control(
        "welcome",
        protocol=PROTOCOL,
        session_id=room.session_id,
        epoch=room.epoch,
        role=actor.role.value,
        device=signed,
        seq=state.seq,
        mode="resume" if resume else "snapshot",
        reset=since is not None and not resume,
        server_time=now_ms(),
        mine=mine,
        votes=votes,
    )
    if since is None or not resume:
        snapshot = state.snapshot(actor.role.staff)
        outbox.last_seq = snapshot["seq"]
        await ws.send_text(welcome)
        await ws.send_text(dumps({"type": "snapshot", **snapshot}))
        return
    await ws.send_text(welcome)
    outbox.last_seq = since  # this worker may deliver up to ``since`` later: not again
    async for frames in room.feed.backlog(since, actor.role.staff):
        await ws.send_text("[" + ",".join(frames) + "]")
        outbox.last_seq += len(frames)


async def _revoked(live: Services, session_id: int, actor: Actor, token: str | None) -> bool:
    """A presenter, moderator or host whose link was rotated loses its role at its next frame."""
    if actor.role not in (Role.PRESENTER, Role.MODERATOR, Role.HOST):
        return False
    try:
        row = await live.sessions.row(session_id)
    except LiveError:
        return False  # the store is down: the command itself will get ``unavailable``
    return role_for(token, row, live.admin_hash) is not actor.role


async def _serve(
    ws: WsConnection, live: Services, session_id: int, actor: Actor, outbox: Outbox, token: str | None
) -> None:
    budget = live.settings.frames_per_second
    # Not Counter[str](): the alias gives every connection a 460 B instance __dict__ (a bare
    # annotation costs nothing at run time).
    counts: collections.Counter[str]
    window, counts, refused = 0, collections.Counter(), 0
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        if await _revoked(live, session_id, actor, token):
            await _close(ws, 4401, "bad_token")
            return
        second = int(time.monotonic())
        if second != window:
            window, counts, refused = second, collections.Counter(), 0
        text = message.get("text")
        command = None
        try:
            if text is None:
                raise BadRequest("binary_frame", "只接受文本消息", "Text frames only")
            command = parse(text)
            counts[command.type] += 1
            if counts[command.type] > budget:
                raise RateLimited(
                    "rate_limited",
                    "消息过于频繁，请稍后再试",
                    "Too many messages of this type; slow down",
                    retry_after=1,
                )
            if command.type == "ping":
                outbox.push(0, control("pong", re=command.id, server_time=now_ms()))
                continue
            if command.type == "hello":
                raise BadRequest("already_hello", "已完成握手", "hello was already received")
            with metrics.in_flight():
                result = await live.sessions.handle(session_id, actor, command)
            outbox.push(0, ack(command.id, result))
        except LiveError as exc:
            metrics.refused(exc.code, "ws")
            outbox.push(0, error(exc, command.id if command else None))
            refused += exc.status < 500
            if refused > REFUSALS_PER_SECOND:
                metrics.refused("flooding", "ws")
                outbox.push(
                    0,
                    error(
                        RateLimited(
                            "flooding",
                            "消息过多，连接已断开，请稍后重新连接",
                            "Too many refused messages; reconnect later",
                            retry_after=1,
                        )
                    ),
                )
                await asyncio.sleep(0)  # let the sender flush the last error before the close
                await _close(ws, 1008, "flooding")
                return
        except Exception:
            log.exception("unexpected error handling a frame")
            outbox.push(0, error(LiveError(), command.id if command else None))


async def _close(ws: WsConnection, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError, OSError):
        await ws.close(code, reason)


async def _hello_text(ws: WsConnection) -> str:
    async with asyncio.timeout(HELLO_TIMEOUT):
        return await ws.receive_text()


async def _staff_role(live: Services, session_id: int, token: str) -> Role:
    """The role a staff token grants, checked against the session row as stored right now."""
    row = await live.sessions.row(session_id)
    if row is None:
        raise NotFound("session_not_found", "访谈不存在", "No such session", id=session_id)
    role = role_for(token, row, live.admin_hash)
    if role is Role.VIEWER:
        raise Unauthorized("bad_token", "链接无效或已更换", "Invalid or rotated staff link")
    return role
