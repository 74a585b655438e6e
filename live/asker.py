"""The service behind the asker's say: ``rate`` and ``follow_up`` (rules in :mod:`live.ratings`).

:meth:`live.sessions.Sessions.handle` hands these two commands here after authorising and
cleaning them, so they come by the same doors (WebSocket, HTTP) as every other command and
their events reach viewers the same way, through the room.

**By receipt number.** A request may name its question by ``receipt`` and ``secret``
instead of by the device that asked (another phone, days later, from the lookup on ``/``).
Each such attempt counts against the sender's address (``LIVE_SECRET_TRIES_PER_MINUTE_IP``
a minute) and against the receipt number (``LIVE_SECRET_TRIES_PER_HOUR`` an hour), before
the receipt number is even read, so neither many addresses against one receipt nor one
address against many can search the secrets. The count is of attempts, not failures: an
honest asker needs two (a rating, a follow-up). A question carried over into a later
episode keeps its receipt number and sealed secret there (``question.carried_in``), so the
number from the first evening names the copy in the episode where the outcome was given.

**A follow-up** becomes a question in the programme's next episode
(:func:`live.episodes.next_episode`; ``no_next_episode`` if none is scheduled), asked by
the same ``ask`` decision as any other, on behalf of the original's device, under its
display name and with the contact it left (so the asker is told of the follow-up's outcome
as of the original's), so the asker's device finds it in that episode's ``mine``. It has a receipt
number and a secret of its own. Two appends in two sessions cannot share a commit, so the
order makes a retry safe: first the new question, whose ``client_id`` is fixed by the
original (a second attempt finds it rather than asking twice), then ``question.followed_up``
on the original, which the state allows once. A crash between the two leaves a follow-up
that points at its original but not yet back; the asker's retry completes the link.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

from . import ratings
from .auth import Actor, Devices
from .commands import Decision, decide
from .episodes import next_episode
from .events import JSON, now_ms
from .exceptions import Conflict, NotFound, RateLimited
from .limits import Limiter
from .rooms import Room, Rooms
from .settings import Settings
from .state import State
from .store import Catalog
from .store.outbox import Outbox

COMMANDS = ("rate", "follow_up")
Screen = Callable[[str, str], JSON | None]
"""Blocked-word hits in a question's text and display name (``Sessions`` screens every ask)."""


class AskerStore(Catalog, Outbox, Protocol):
    """What the asker's say reads: the programme's episodes, and the contact a question left."""


class Askers:
    def __init__(
        self,
        store: AskerStore,
        rooms: Rooms,
        devices: Devices,
        settings: Settings,
        limiter: Limiter,
        screen: Screen,
    ) -> None:
        self.store = store
        self.rooms = rooms
        self.devices = devices
        self.settings = settings
        self.limiter = limiter
        self.screen = screen

    async def handle(self, room: Room, actor: Actor, command: str, args: JSON) -> JSON:
        """Run ``rate`` or ``follow_up`` in ``room``; the acknowledgement's result."""
        seal = await self._by_receipt(room, actor, args)
        days = self.settings.rating_days
        if command == "rate":

            def decide_rating(state: State) -> Decision:
                return ratings.rate(state, args, actor.device, seal, days, now_ms())

            return (await room.run(decide_rating)).result
        return await self._follow_up(room, actor, args, seal)

    async def _by_receipt(self, room: Room, actor: Actor, args: JSON) -> str | None:
        """For a request by receipt number: count the attempt, find its question, seal its secret.

        The number names a question of this session, or one of an earlier episode that was
        carried in here (which kept its number). None for a request by device, which must
        then name its ``question_id``.
        """
        receipt, secret = args.get("receipt"), args.get("secret")
        if receipt is None and secret is None:
            if "question_id" not in args:
                raise NotFound("question_not_found", "问题不存在", "No such question", id=None)
            return None
        if actor.ip:
            await self._limit(f"secret:ip:{actor.ip}", self.settings.secret_tries_per_minute_ip, 60.0)
        parsed = self.devices.parse_receipt(receipt or "")
        if parsed is None:
            raise NotFound("receipt_not_found", "回执编号无效", "Unknown receipt number")
        await self._limit(f"secret:r:{parsed[0]}-{parsed[1]}", self.settings.secret_tries_per_hour, 3600.0)
        if parsed[0] == room.session_id:
            args["question_id"] = parsed[1]
        else:
            here = (await room.settled()).by_receipt.get(self.devices.receipt(*parsed))
            if here is None:
                raise NotFound("receipt_not_found", "回执编号无效", "Unknown receipt number")
            args["question_id"] = here
        return self.devices.seal(ratings.normal(secret or ""))

    async def _limit(self, key: str, limit: int, window: float) -> None:
        wait = await self.limiter.hit([(key, limit)], window)
        if wait:
            seconds = math.ceil(wait)
            raise RateLimited(
                "rate_limited",
                f"尝试次数过多，请在 {seconds} 秒后再试",
                f"Too many attempts; try again in {seconds} s",
                retry_after=seconds,
            )

    async def _follow_up(self, room: Room, actor: Actor, args: JSON, seal: str | None) -> JSON:
        days, sid = self.settings.rating_days, room.session_id
        state = await room.settled()
        q = ratings.may_follow_up(state, args, actor.device, seal, days, now_ms())
        programme = state.info.get("programme_id")
        rows = await self.store.list_sessions(programme)
        target = next_episode(rows, programme, now_ms(), after=sid) if isinstance(programme, int) else None
        if target is None:
            raise Conflict(
                "no_next_episode",
                "本栏目还没有安排下一期访谈，暂时不能追问",
                "No next episode of this programme is scheduled yet",
            )
        secret = ratings.new_secret()
        contact = (await self.store.contacts(sid, [q.id])).get(q.id)
        ask = {
            "client_id": f"follow-up:{sid}:{q.id}",
            "text": args["text"],
            "name": q.name,
            "flags": self.screen(args["text"], ""),
            "follows": {"session_id": sid, "question_id": q.id},
            "seal": self.devices.seal(ratings.normal(secret)),
        }
        if contact:
            ask["contact"] = contact

        def decide_ask(next_state: State) -> Decision:
            return decide(next_state, "ask", ask, q.device, actor.label, now_ms())

        asked = (await (await self.rooms.get(target.id)).run(decide_ask)).result
        link = {"session_id": target.id, "question_id": asked["question_id"]}

        def decide_link(state: State) -> Decision:
            return ratings.followed_up(state, args, actor.device, seal, days, now_ms(), link)

        await room.run(decide_link)
        new = {
            **link,
            "status": asked["status"],
            "receipt": self.devices.receipt(target.id, asked["question_id"]),
            "session_title": target.info.get("title", ""),
        }
        if not asked.get("duplicate"):  # a retry cannot show the first attempt's secret again
            new["secret"] = secret
        return {"question_id": q.id, "follow_up": new}
