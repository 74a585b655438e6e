"""Starting a worker's services, and waiting, not-ready, while a dependency is away.

Why a worker does not simply fail its start: with ``live serve --workers N``
uvicorn's supervisor restarts a worker that dies, and a restart during a
database or Redis outage failed its start, upon which the supervisor stopped
every healthy worker too and the host went down for the length of the outage.
So a worker that cannot open its services serves anyway, not ready:
``/readyz`` answers 503, the API refuses with ``unavailable`` and WebSockets
are closed with 1013 (try again later); it keeps trying with back-off and
becomes ready on its own when the dependency returns.

A host's first start still fails fast (exit status 3, one line): ``live serve``
opens every service once before it starts any worker (:mod:`live.cli`), so a
wrong URL or password is never mistaken for an outage.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from .exceptions import Unavailable
from .services import Services
from .settings import Settings

log = logging.getLogger("live.startup")

BACKOFF = (0.5, 5.0)
"""Seconds between attempts to open the services: the first, and the most."""


async def open_services(settings: Settings, started: Callable[[Services], None]) -> asyncio.Task[None] | None:
    """Open the services and hand them to ``started``; if that fails, keep trying in a task.

    Returns the task that is still trying (cancel it at shutdown), or ``None`` if the
    services opened at the first attempt.
    """
    try:
        started(await Services.start(settings))
        return None
    except (Exception, SystemExit) as exc:
        log.warning("not ready: %s; retrying in the background", _reason(exc))
    return asyncio.get_running_loop().create_task(_keep_trying(settings, started))


async def _keep_trying(settings: Settings, started: Callable[[Services], None]) -> None:
    delay = BACKOFF[0]
    while True:
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        try:
            live = await Services.start(settings)
        except (Exception, SystemExit) as exc:
            delay = min(delay * 2, BACKOFF[1])
            log.warning("still not ready: %s; retrying in %.1fs", _reason(exc), delay)
            continue
        log.warning("ready: every service is open")
        started(live)
        return


def not_ready() -> Unavailable:
    """The refusal of anything that needs the services while they are not open."""
    return Unavailable(
        "unavailable",
        "服务正在连接数据库，暂时不可用，请稍后重试",
        "The server is not ready yet (waiting for its database or bus); try again shortly",
    )


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
