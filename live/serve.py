"""Running uvicorn: the one place that chooses its protocols, limits and worker processes.

Why not just ``uvicorn.run``: with ``--workers N`` its supervisor stops every
worker when one fails to start (the store or the bus unreachable) and then
exits 0, so systemd, a Procfile platform or a shell script took a host that
could not serve for one that stopped on purpose. :func:`serve` exits with
uvicorn's own start-up failure status (3) instead, with one worker or many.

It opens every service once itself before any worker starts: a host that cannot
reach its store or bus fails here, in one line. A worker that starts later, while
a dependency is away (restarted by the supervisor during an outage), waits
not-ready instead of failing (:mod:`live.startup`).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

from .services import Services
from .settings import Settings

log = logging.getLogger("live")

STARTUP_FAILURE = 3
"""uvicorn's exit status for a server that never started serving."""
PR_SET_PDEATHSIG = 1
"""prctl(2): the signal a process gets when its parent dies."""


def config(settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        "live.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,  # never None: uvicorn would then obey WEB_CONCURRENCY unchecked
        loop="auto",  # uvloop, a dependency except on Windows; asyncio's own loop without it
        http="live.guard:GuardedH11Protocol",
        ws="live.fastws:FanoutWebSocketProtocol",
        ws_per_message_deflate=False,
        ws_max_size=settings.max_message_bytes,
        ws_ping_interval=settings.ping_interval,
        ws_ping_timeout=settings.ping_timeout,
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,
        proxy_headers=True,
        log_config=None,
        access_log=False,
    )


def serve(settings: Settings) -> None:
    """Serve until stopped; exit with :data:`STARTUP_FAILURE` if a worker could not start."""
    check(settings)
    cfg = config(settings)
    if cfg.workers == 1:
        server = uvicorn.Server(cfg)
        server.run()
        if not server.started:
            raise SystemExit(STARTUP_FAILURE)
        return
    supervisor = Multiprocess(cfg, sockets=[cfg.bind_socket()])
    supervisor.run()
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        raise SystemExit(STARTUP_FAILURE)


def check(settings: Settings) -> None:
    """Open and close every service, or exit with :data:`STARTUP_FAILURE` and one line why."""

    async def open_and_close() -> None:
        live = await Services.start(settings)
        await live.stop()

    try:
        asyncio.run(open_and_close())
    except (Exception, SystemExit) as exc:
        log.error("cannot start: %s", str(exc) or repr(exc))
        raise SystemExit(STARTUP_FAILURE) from None


def die_with_supervisor() -> None:
    """In a worker process, be sent SIGTERM when the supervisor dies, even by ``kill -9``.

    Why: uvicorn's workers are separate processes sharing the listening socket; a
    supervisor killed outright left them serving, holding the port, so the restarted
    host could not bind and the old code kept answering. Linux only (prctl); a no-op
    in a process that no supervisor started.
    """
    parent = multiprocessing.parent_process()
    if parent is None or not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent.pid:  # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)
