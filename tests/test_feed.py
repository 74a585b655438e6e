"""The feed: whatever order and however many times its sources bring events, each viewer gets
each event once, in order, and a reconnecting viewer gets the same frames as a live one.

The events come from a real SQLite log written by a room; a second feed on the same log then
hears them from every source at once (its own offers, the bus as objects, as text and as bare
numbers, reads of the log), shuffled.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest

from live.bus.memory import MemoryBus
from live.commands import Decision
from live.connection import Outbox
from live.events import Event, NewEvent
from live.feed import Feed
from live.rooms import Room
from live.store import Store, open_store

from .conftest import until
from .test_store import asked, new_session

QUESTIONS = 12


async def _nothing(*_: object) -> None:
    return None


def _outbox(staff: bool) -> Outbox:
    """An outbox that is never started: what fan-out queued stays in ``frames`` to be read."""
    return Outbox(_nothing, _nothing, limit=10_000, staff=staff)


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[tuple[Store, int, list[Event]]]:
    """A session whose log holds a creation and QUESTIONS questions, one approved with an edit."""
    store = open_store(f"sqlite:///{tmp_path / 'live.db'}")
    await store.open()
    try:
        sid = await new_session(store)
        row = await store.get_session(sid)
        assert row is not None
        room = Room(sid, row.epoch, store, MemoryBus(), tally_interval=60)
        await room.load()
        for qid in range(1, QUESTIONS + 1):
            await room.run(
                lambda state, qid=qid: Decision(
                    [NewEvent("question.asked", asked(qid, f"第{qid}个问题"))], {}
                )
            )
        await room.close()
        yield store, sid, await store.read(sid)
    finally:
        await store.close()


@pytest.mark.parametrize("seed", range(20))
async def test_every_source_at_once_delivers_each_event_once_in_order(
    log: tuple[Store, int, list[Event]], seed: int
) -> None:
    store, sid, events = log
    seen: list[int] = []
    feed = Feed(sid, partial(store.read, sid), lambda event: seen.append(event.seq))
    viewer, staff = _outbox(staff=False), _outbox(staff=True)
    feed.outboxes.update((viewer, staff))
    rng = random.Random(seed)
    deliveries: list[tuple[str, Event]] = [
        (rng.choice(["offer", "object", "text", "notice"]), event) for event in events * 3
    ]
    rng.shuffle(deliveries)
    for source, event in deliveries:
        if source == "offer":
            feed.offer([event])
        elif source == "object":
            feed.on_bus(event)
        elif source == "text":
            feed.on_bus(event.to_bus())
        else:  # what Redis carries for an event that names a device: its number alone
            feed.on_bus(json.dumps({"s": sid, "q": event.seq}))
        if rng.random() < 0.1:
            feed.on_bus(None)  # the bus may have lost messages: read the log
        if rng.random() < 0.2:
            await asyncio.sleep(0)  # let a read of the log land in between
    await until(lambda: feed.delivered == len(events), "the feed catching up with the log")
    assert seen == [event.seq for event in events], "each event observed once, in order"
    assert [seq for seq, _, _ in viewer.frames] == seen
    assert [frame for _, frame, _ in viewer.frames] == [event.frame(staff=False) for event in events]
    assert [frame for _, frame, _ in staff.frames] == [event.frame(staff=True) for event in events]


async def test_an_own_commit_after_a_gap_waits_for_the_earlier_events(
    log: tuple[Store, int, list[Event]],
) -> None:
    """The writer's ack follows the events it acknowledges: the missing ones are read first."""
    store, sid, events = log
    seen: list[int] = []
    feed = Feed(sid, partial(store.read, sid), lambda event: seen.append(event.seq))
    feed.offer(events[:2])
    await feed.offer_and_wait(events[-2:])
    assert seen == [event.seq for event in events], "the gap was read before offer_and_wait returned"


@pytest.mark.parametrize("staff", [False, True])
async def test_a_backlog_is_the_same_from_memory_and_from_the_log(
    log: tuple[Store, int, list[Event]], staff: bool
) -> None:
    store, sid, events = log
    remembering = Feed(sid, partial(store.read, sid), lambda event: None)
    remembering.offer(events)
    forgetful = Feed(sid, partial(store.read, sid), lambda event: None)
    forgetful.delivered = len(events)  # it delivered them, but has none in memory
    for since in (0, 1, 5, len(events)):
        from_memory = [frame async for page in remembering.backlog(since, staff) for frame in page]
        from_log = [frame async for page in forgetful.backlog(since, staff) for frame in page]
        assert from_memory == from_log == [event.frame(staff) for event in events[since:]]
