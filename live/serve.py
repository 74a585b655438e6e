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

It also sets up the workers' metrics (:mod:`live.metrics`): each worker counts
in files of its own, in prometheus-client's multiprocess mode, and ``/metrics``
sums them. Left to the operator, ``/metrics`` showed whichever worker answered,
and with a directory, a killed worker's gauges (its viewers) were summed forever.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import uvicorn
from prometheus_client.multiprocess import mark_process_dead
from uvicorn.supervisors import Multiprocess

from .services import Services
from .settings import Settings

log = logging.getLogger("live")

STARTUP_FAILURE = 3
"""uvicorn's exit status for a server that never started serving."""
PR_SET_PDEATHSIG = 1
"""prctl(2): the signal a process gets when its parent dies."""
MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
"""Where prometheus-client keeps every process's metrics, one file per kind and process id."""
LIVE_GAUGE = re.compile(r"gauge_live[a-z]+_([0-9]+)\.db")
"""A file of gauges that count only while their process lives (``multiprocess_mode="live..."``)."""


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


def metrics_dir(workers: int) -> str | None:
    """Set up prometheus-client's multiprocess mode before any worker starts.

    The operator's :data:`MULTIPROC` (a systemd unit's runtime directory, say) is
    used, cleared of every earlier process's files; this process keeps its own,
    opened when it imported prometheus-client (:mod:`live.metrics` checked then
    that the directory exists). Without one, several workers get a private
    directory made here, which is returned so that :func:`serve` removes it on
    the way out. One worker without one: nothing changes.
    """
    given = os.environ.get(MULTIPROC)
    if given:
        mine = f"_{os.getpid()}.db"
        try:
            for stale in Path(given).glob("*.db"):
                if not stale.name.endswith(mine):
                    stale.unlink()
        except OSError as exc:
            raise SystemExit(f"{MULTIPROC}={given}: {exc.strerror}") from None
        return None
    if workers == 1:
        return None
    os.environ[MULTIPROC] = made = tempfile.mkdtemp(prefix="live-metrics-")
    return made


class Supervisor(Multiprocess):
    """uvicorn's supervisor, which also forgets the gauges of every worker that died.

    uvicorn replaces a dead worker in :meth:`keep_subprocess_alive`, which its loop
    calls every half second on this thread, right after the signal handlers that
    restart (SIGHUP) or retire (SIGTTOU) workers. After it, a file of live gauges
    whose process is none of the workers belongs to one that is gone.
    """

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        folder = os.environ[MULTIPROC]
        workers = {p.pid for p in self.processes}
        for name in os.listdir(folder):
            match = LIVE_GAUGE.fullmatch(name)
            if match and int(match[1]) not in workers:
                mark_process_dead(int(match[1]), folder)  # type: ignore[no-untyped-call]  # prometheus-client: unannotated


def serve(settings: Settings) -> None:
    """Serve until stopped; exit with :data:`STARTUP_FAILURE` if a worker could not start."""
    check(settings)
    cfg = config(settings)
    made = metrics_dir(cfg.workers)
    try:
        if cfg.workers == 1:
            server = uvicorn.Server(cfg)
            server.run()
            if not server.started:
                raise SystemExit(STARTUP_FAILURE)
            return
        supervisor = Supervisor(cfg, sockets=[cfg.bind_socket()])
        supervisor.run()
        if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
            raise SystemExit(STARTUP_FAILURE)
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


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
