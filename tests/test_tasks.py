"""Stopping background tasks: the task stops, and the one stopping it can still be stopped."""

from __future__ import annotations

import asyncio

from live.tasks import cancel_and_wait


async def _cleans_up_slowly(log: list[str]) -> None:
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        log.append("cleaning up")
        await asyncio.sleep(0.2)
        log.append("cleaned up")
        raise


async def test_the_task_has_finished_when_it_returns() -> None:
    log: list[str] = []
    task = asyncio.ensure_future(_cleans_up_slowly(log))
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled() and log == ["cleaning up", "cleaned up"]
    await cancel_and_wait(None)


async def test_a_cancelled_caller_stays_cancelled() -> None:
    """A shutdown that cancels whoever is stopping a task must not be swallowed."""
    log: list[str] = []
    task = asyncio.ensure_future(_cleans_up_slowly(log))
    await asyncio.sleep(0)
    stopping = asyncio.ensure_future(cancel_and_wait(task))
    await asyncio.sleep(0.05)  # the task is cleaning up, the caller waits for it
    stopping.cancel()
    await asyncio.gather(stopping, return_exceptions=True)
    assert stopping.cancelled() and task.cancelled()
