"""Carry-over: approved questions not reached move into the programme's next episode.

A question carried over keeps its receipt number (回执编号) and is marked on both sessions:
``question.carried_in`` appends it to the next episode's log, published, with
``carried_from`` naming where it came from; then ``question.carried_over`` on this session's
log gives it that outcome, with ``carried_to`` naming its copy. The next episode is the one
:func:`live.episodes.next_episode` names, and none is a refusal (``no_next_episode``).

Why in that order: two sessions are two logs, and no transaction spans both. Appended first,
a copy can be found again: a carry-over cut off between the two appends (a crash, a lost
connection) is simply sent again, finds its copies already there (:func:`live.closing.carry_in`
looks them up by ``carried_from``), and marks the originals. The other order could leave a
question marked carried over to a copy that was never stored.

The receipt lookup follows ``carried_to`` to every later copy (:meth:`CarryOver.follow`), so a
number given on the first evening tells its holder where the question is now.
"""

from __future__ import annotations

from copy import copy
from functools import partial
from typing import Protocol

from . import closing
from .auth import Actor, Devices
from .commands import Decision
from .episodes import next_episode
from .events import JSON, now_ms
from .exceptions import Conflict
from .ratings import say_until
from .rooms import Room, Rooms
from .state import Question, State
from .store import Catalog
from .store.outbox import Outbox

MAX_HOPS = 50
"""Later episodes a receipt lookup follows a question through (one per carry-over)."""


class CarryOverStore(Catalog, Outbox, Protocol):
    """What carrying over reads: the programme's sessions, and the log's private contacts."""


class CarryOver:
    def __init__(self, store: CarryOverStore, rooms: Rooms, devices: Devices) -> None:
        self.store = store
        self.rooms = rooms
        self.devices = devices

    async def __call__(self, room: Room, actor: Actor, args: JSON) -> JSON:
        """Carry the questions ``args`` names (every approved one by default) over; the result
        names the next episode and pairs each question's id here with its id there."""
        state = await room.settled()
        now = now_ms()
        chosen = [copy(q) for q in closing.carriable(state, closing.question_ids(args, False), now)]
        programme = state.info.get("programme_id")
        rows = await self.store.list_sessions(programme)
        target = next_episode(rows, programme, now, after=room.session_id) if programme else None
        if target is None:
            raise Conflict(
                "no_next_episode",
                "本栏目还没有安排下一期访谈，请先新建下一期",
                "The programme has no next episode scheduled: create it first",
                programme_id=programme,
            )
        if not chosen:
            return {"session_id": target.id, "carried": [], "skipped": []}
        contacts = await self.store.contacts(room.session_id, sorted(q.id for q in chosen))
        receipts = {q.id: q.receipt or self.devices.receipt(room.session_id, q.id) for q in chosen}
        there = await self.rooms.get(target.id)

        def arrive(next_state: State) -> Decision:
            return closing.carry_in(
                next_state, room.session_id, chosen, receipts, contacts, actor.label, now_ms()
            )

        pairs = (await there.run(arrive)).result["carried"]
        done = await room.run(partial(closing.carry_out, pairs=pairs, to=target.id, actor=actor.label))
        return {"session_id": target.id, **done.result}

    async def follow(self, first: JSON, days: int) -> list[JSON]:
        """The question in each later episode it was carried to, as everyone may see it, with
        what the asker's say needs there (the receipt number and the secret work in each:
        the copy keeps both, so the outcome is rated where it was given)."""
        out: list[JSON] = []
        to: JSON | None = first
        while to is not None and len(out) < MAX_HOPS:
            state = await (await self.rooms.get(to["session_id"])).settled()
            q: Question | None = state.questions.get(to["question_id"])
            if q is None:
                break
            title = state.info.get("title", "")
            out.append(
                {
                    **q.to_wire(),
                    "session_id": state.session_id,
                    "session_title": title,
                    "rated": q.rating is not None,
                    "rating_until": say_until(state.info, q, days),
                }
            )
            to = q.carried_to
        return out
