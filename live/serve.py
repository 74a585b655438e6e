"""Running uvicorn: the one place that chooses its protocols, limits and worker processes.

Why not just ``uvicorn.run``: with ``--workers N`` its supervisor stops every
worker when one fails to start (the store or the bus unreachable) and then
exits 0, so systemd, a Procfile platform or a shell script took a host that
could not serve for one that stopped on purpose. :func:`serve` exits with
uvicorn's own start-up failure status (3) instead, with one worker or many.
"""

from __future__ import annotations

import uvicorn
from uvicorn.supervisors import Multiprocess

from .settings import Settings

STARTUP_FAILURE = 3
"""uvicorn's exit status for a server that never started serving."""


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
