"""Stopping the background tasks a room, a connection or a bus owns."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and return once it has finished.

    Why wait: a task still running after its owner closed would write to a closed
    store, socket or Redis connection. Why not just suppress ``CancelledError``:
    that would also swallow a cancellation of the caller itself, arriving while it
    waits here, and a shutdown that cancels the caller must still stop it.
    """
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        caller = asyncio.current_task()
        if caller is not None and caller.cancelling():
            raise
