"""The service layer: every change goes through :meth:`Sessions.handle`.

WebSocket frames and HTTP calls both end here: authorise the actor's role,
clean the input, decide against the session's state, append, publish. There
is no second way for a visible change to happen.

The pages, the API and the WebSocket endpoint read a session through it too
(:meth:`Sessions.row`, :meth:`Sessions.events`, :meth:`Sessions.device_votes`):
nothing above this layer holds the store (``tests/test_layers.py``).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import channels, closing, commands, ratings, review, stream
from .asker import COMMANDS as ASKER_COMMANDS
from .asker import Askers
from .auth import PERMISSIONS, Actor, Devices, hash_token, new_token
from .carryover import CarryOver
from .commands import Decision
from .commitments import overdue
from .events import JSON, Event, NewEvent, now_ms
from .exceptions import BadRequest, Forbidden, NotFound, RateLimited
from .limits import Limiter
from .moderation import clean
from .protocol import Command
from .rooms import Room, Rooms
from .settings import Settings
from .state import State
from .store import Catalog, Log, Photos, SessionRow, Votes
from .store.outbox import Outbox
from .wordfilter import WordFilter

INFO_FIELDS: dict[str, type] = {
    "episode": int,
    "title": str,
    "guest_name": str,
    "guest_post": str,
    "starts_at": str,
    "ends_at": str,
    "timezone": str,
    "description": str,
    "moderation": str,
    "collect_from": str,
    "answer_review": str,
    "answer_delay_s": int,
    "stream": dict,
    "recording": dict,
}


def parse_time(value: str, tz: ZoneInfo, field: str) -> int:
    """An ISO 8601 time; without an offset it is read in the session's timezone."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            "bad_time", f"{field} 时间格式不正确", f"{field} is not an ISO 8601 time", field=field
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return int(dt.timestamp() * 1000)


def session_info(fields: JSON, current: JSON, default_tz: str) -> JSON:
    """Validate admin-supplied session fields into the stored info (times in ms)."""
    unknown = set(fields) - set(INFO_FIELDS)
    if unknown:
        raise BadRequest("unknown_field", "未知字段", "Unknown field", fields=sorted(unknown))
    for name, value in fields.items():
        if value is not None and not isinstance(value, INFO_FIELDS[name]):
            raise BadRequest(
                "wrong_type", f"字段 {name} 类型错误", f"Field {name} has the wrong type", field=name
            )
    info = dict(current)
    tz_name = fields.get("timezone") or current.get("timezone") or default_tz
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest("bad_timezone", "时区无效", "Unknown timezone", field="timezone") from None
    info["timezone"] = tz_name
    for name, value in fields.items():
        if name in ("starts_at", "ends_at", "collect_from"):
            info[name] = None if value is None else parse_time(value, tz, name)
        elif name != "timezone":
            info[name] = value
    info.setdefault("moderation", "pre")
    info.setdefault("description", "")
    info.setdefault("guest_post", "")
    if info["moderation"] not in ("pre", "post"):
        raise BadRequest("bad_moderation", "审核模式只能是 pre 或 post", "moderation is pre or post")
    for name in ("title", "starts_at", "ends_at", "guest_name"):
        if not info.get(name):
            raise BadRequest("missing_field", f"缺少字段 {name}", f"Missing field {name}", field=name)
    if info["ends_at"] <= info["starts_at"]:
        raise BadRequest("bad_window", "结束时间必须晚于开始时间", "ends_at must be after starts_at")
    review.check_info(info)
    stream.check_info(info, tz, parse_time)
    return info


class SessionStore(Catalog, Log, Votes, Outbox, Photos, Protocol):
    """What the session service reads and writes: the catalogue, the log, the votes, the
    contact an asker left (carried over and copied to a follow-up with its question), and a
    withdrawn photo's bytes, which it deletes."""


class Sessions:
    def __init__(
        self,
        store: SessionStore,
        rooms: Rooms,
        devices: Devices,
        settings: Settings,
        limiter: Limiter,
        words: WordFilter,
    ) -> None:
        self.store = store
        self.rooms = rooms
        self.devices = devices
        self.settings = settings
        self.limiter = limiter
        self.words = words
        self.askers = Askers(store, rooms, devices, settings, limiter, self._screen)
        self.carry_over = CarryOver(store, rooms, devices)

    async def _limit(self, actor: Actor, action: str, per_device: int, per_ip: int) -> None:
        """Per device and per IP address, so neither a new cookie nor a shared NAT escapes it."""
        keys = [(f"{action}:d:{actor.device}", per_device)]
        if actor.ip:
            keys.append((f"{action}:ip:{actor.ip}", per_ip))
        wait = await self.limiter.hit(keys, 60.0)
        if wait:
            seconds = math.ceil(wait)
            raise RateLimited(
                "rate_limited",
                f"操作过于频繁，请在 {seconds} 秒后再试",
                f"Too many requests; try again in {seconds} s",
                retry_after=seconds,
            )

    async def handle(self, session_id: int, actor: Actor, command: Command) -> JSON:
        """Authorise, clean, decide, append, publish; return the acknowledgement's result."""
        allowed = PERMISSIONS.get(command.type)
        if allowed is None:
            raise BadRequest("unknown_type", "未知的消息类型", "Unknown message type")
        if actor.role not in allowed:
            raise Forbidden(
                "forbidden",
                "您没有权限执行此操作",
                "Your role may not do this",
                command=command.type,
                role=actor.role.value,
            )
        room = await self.rooms.get(session_id)
        if command.type == "mine":
            return {"mine": self.mine(await room.settled(), actor.device)}
        args = clean(command.type, command.args, self.settings)
        if command.type in ASKER_COMMANDS:  # the asker's say: rating and follow-up (live/asker.py)
            return await self.askers.handle(room, actor, command.type, args)
        if command.type == "carry_over":
            return await self.carry_over(room, actor, args)
        if command.type in ("vote", "unvote"):
            await self._limit(
                actor, "vote", self.settings.votes_per_minute, self.settings.votes_per_minute_ip
            )
            return await self._vote(room, actor, args["question_id"], command.type == "vote")
        if command.type == "ask":
            entered = args["channel"] != channels.WEB  # a call or message staff type in
            if entered and not actor.role.staff:
                raise Forbidden(
                    "forbidden",
                    "只有工作人员可以录入热线、短信等渠道的问题",
                    "Only staff enter questions received by other channels",
                    field="channel",
                    role=actor.role.value,
                )
            if not entered and (actor.device, args["client_id"]) not in room.state.by_client:
                await self._limit(
                    actor, "ask", self.settings.questions_per_minute, self.settings.questions_per_minute_ip
                )
            args["flags"] = self._screen(args["text"], args["name"])
        secret = ratings.new_secret() if command.type == "ask" else ""  # shown once, in the ack
        if secret:
            args["seal"] = self.devices.seal(ratings.normal(secret))  # stored only sealed

        def decide_now(state: State) -> Decision:
            now = now_ms()
            closing.check(state, command.type, args, now)
            if command.type in closing.COMMANDS:
                return closing.decide_closing(state, command.type, args, actor.label, now)
            return review.decide(state, command.type, args, actor.device, actor.label, now)

        decision = await room.run(decide_now)
        result = dict(decision.result)
        if command.type == "withdraw_post" and result.get("photo"):  # stored: its bytes go (live/photos.py)
            await self.store.drop_photo(session_id, result["photo"])
        if command.type == "ask":
            result["receipt"] = self.devices.receipt(session_id, result["question_id"])
            if not result.get("duplicate"):  # a resend cannot show the first one's secret again
                result["secret"] = secret
        return result

    def _screen(self, text: str, name: str) -> JSON | None:
        """Blocked-word hits in a question or its display name; any hit holds it for review."""
        in_text, in_name = self.words.check(text), self.words.check(name)
        if not in_text and not in_name:
            return None
        words = (in_text.words if in_text else []) + (in_name.words if in_name else [])
        return {
            "words": list(dict.fromkeys(words)),
            "spans": [list(s) for s in in_text.spans] if in_text else [],
            "name_spans": [list(s) for s in in_name.spans] if in_name else [],
        }

    async def _vote(self, room: Room, actor: Actor, question_id: int, on: bool) -> JSON:
        session_id = room.session_id
        state = await room.settled()
        if question_id not in state.questions:
            # Another worker may have committed it a moment ago (its asker told the voter
            # before this worker heard): catch up once before refusing.
            await room.refresh()
            state = await room.settled()
        now = now_ms()
        closing.check(state, "vote", {}, now)
        commands.check_vote(state, question_id, actor.device, on, now)
        changed = await self.store.set_vote(session_id, question_id, actor.device, on)
        if changed:
            room.tallies.changed()
        return {"question_id": question_id, "voted": on, "changed": changed}

    async def create(self, programme_id: int, fields: JSON) -> tuple[SessionRow, dict[str, str]]:
        programmes = {p["id"] for p in await self.store.list_programmes()}
        if programme_id not in programmes:
            raise NotFound("programme_not_found", "栏目不存在", "No such programme")
        info = session_info(fields, {"programme_id": programme_id}, self.settings.timezone)
        tokens = {"presenter": new_token(), "moderator": new_token(), "host": new_token()}
        first = await self.store.create_session(
            programme_id,
            hash_token(tokens["presenter"]),
            hash_token(tokens["moderator"]),
            NewEvent("session.created", {"session": info}),
            host_hash=hash_token(tokens["host"]),
        )
        row = await self.store.get_session(first.session_id)
        assert row is not None
        return row, tokens

    async def update(self, session_id: int, fields: JSON) -> JSON:
        room = await self.rooms.get(session_id)

        def decide_update(state: State) -> Decision:
            info = session_info(fields, state.info, self.settings.timezone)
            return Decision([NewEvent("session.updated", {"session": info})], {"session": info})

        return (await room.run(decide_update)).result

    async def rotate(self, session_id: int) -> dict[str, str]:
        """New presenter, moderator and host links; the old ones stop working at once."""
        if await self.store.get_session(session_id) is None:
            raise NotFound("session_not_found", "访谈不存在", "No such session")
        tokens = {"presenter": new_token(), "moderator": new_token(), "host": new_token()}
        await self.store.set_secrets(
            session_id,
            hash_token(tokens["presenter"]),
            hash_token(tokens["moderator"]),
            hash_token(tokens["host"]),
        )
        return tokens

    async def row(self, session_id: int) -> SessionRow | None:
        """The session as stored right now (its staff secrets included), or None."""
        return await self.store.get_session(session_id)

    async def events(self, session_id: int, after: int = 0, limit: int | None = None) -> list[Event]:
        """The committed log after ``after``; every audience's view of it is the caller's."""
        return await self.store.read(session_id, after=after, limit=limit)

    async def device_votes(self, session_id: int, device: str) -> list[int]:
        """The questions ``device`` has voted for, for its ``welcome``."""
        return await self.store.device_votes(session_id, device)

    def mine(self, state: State, device: str) -> list[JSON]:
        """Each question ``device`` asked, as its asker sees it, with its receipt number.

        Sent in every ``welcome`` and on request (``mine``): the asker's own view of
        what they wrote (as it now reads, after an edit) that no public event carries; and,
        for a commitment made on it, whether it is overdue now, by the server's clock in the
        session's timezone, as the receipt lookup says it.
        """
        tz = state.info.get("timezone") or self.settings.timezone
        out = []
        for qid in state.by_device.get(device, ()):
            q = state.questions[qid]
            view = {
                **q.to_wire(own=True),
                "receipt": q.receipt or self.devices.receipt(state.session_id, qid),
                "rating_until": ratings.say_until(state.info, q, self.settings.rating_days),
            }
            if q.commitment is not None:
                view["overdue"] = overdue(view["commitment"], tz, now_ms())
            out.append(view)
        return out

    async def receipt(self, receipt: str) -> JSON:
        """What became of a question, for whoever holds its receipt number."""
        parsed = self.devices.parse_receipt(receipt)
        if parsed is None:
            raise NotFound("receipt_not_found", "回执编号无效", "Unknown receipt number")
        session_id, question_id = parsed
        state = await (await self.rooms.get(session_id)).settled()
        q = state.question(question_id)
        out = q.to_wire()  # a number can be read out over the phone: the outcome, not the text
        out.update(
            session_id=session_id, session_title=state.info.get("title", ""), receipt=receipt.strip().upper()
        )
        if q.commitment is not None:  # late or not, by the server's clock, now
            tz = state.info.get("timezone") or self.settings.timezone
            out["overdue"] = overdue(out["commitment"], tz, now_ms())
        out.update(  # what the asker's say (live/ratings.py) needs to offer a rating and a follow-up
            rated=q.rating is not None,
            rating_until=ratings.say_until(state.info, q, self.settings.rating_days),
            session_timezone=state.info.get("timezone", self.settings.timezone),
        )
        if q.carried_to is not None:
            out["carried"] = await self.carry_over.follow(q.carried_to, self.settings.rating_days)
        return out
