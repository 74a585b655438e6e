"""A room's safety net for a publish that never arrives.

Two rooms of one session on one store stand for two workers whose bus lost a message
for good (each has its own in-memory bus, so neither hears the other): the one that
did not commit finds the event in the log at its next check, in order, applied once.
"""

from __future__ import annotations

from pathlib import Path

from live.bus.memory import MemoryBus
from live.commands import Decision
from live.events import NewEvent
from live.rooms import Room
from live.store import open_store

from .conftest import until
from .test_store import asked, new_session


async def test_a_room_that_missed_a_publish_finds_the_event_in_the_log(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'live.db'}")
    await store.open()
    rooms: list[Room] = []
    try:
        sid = await new_session(store)
        row = await store.get_session(sid)
        assert row is not None
        rooms.extend(Room(sid, row.epoch, store, MemoryBus(), tally_interval=60) for _ in range(2))
        writer, other = rooms
        for room in rooms:
            await room.load()
        for qid in (1, 2):
            await writer.run(
                lambda state, qid=qid: Decision(
                    [NewEvent("question.asked", asked(qid, f"第{qid}个问题"))], {}
                )
            )
        assert (writer.feed.delivered, other.feed.delivered) == (3, 1), "the other room heard of it"
        other.feed.fill()
        await until(lambda: other.feed.delivered == 3, "the other room reading the log")
        assert other.state.seq == 3 and sorted(other.state.questions) == [1, 2]
        assert [seq for seq, _, _ in other.feed.recent] == [2, 3]
    finally:
        for room in rooms:
            await room.close()
        await store.close()
