"""Typed event records and their JSON form.

An event is the unit of the session log. It has two audiences: staff see
``data``; viewers see ``public`` when it is set (a redacted copy, for example
a question still waiting for review) and ``data`` otherwise. Of either, only
the :data:`RESULTS` travel. Both forms keep
the same ``seq``, so a viewer's stream has no gaps either. ``private`` never
leaves the server: who acted, the client's idempotency key, a private contact.

Frames are serialised once per audience per event (:meth:`Event.frame`), not
once per viewer: fan-out then only copies a reference to the same string.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

RESULTS = ("session", "question", "answering", "votes", "post")
"""What of an event's data travels on the wire: its results (:func:`live.state.with_results`),
never the instructions beside them, which only :func:`live.state.apply` reads."""


_clock: Callable[[], float] = time.time


def now_ms() -> int:
    """The time every event, question and answer is stamped with: the log's clock."""
    return int(_clock() * 1000)


@contextmanager
def staged_clock(clock: Callable[[], float]) -> Iterator[None]:
    """Stamp with ``clock`` instead of the wall clock, for a past that is staged.

    Why: ``live demo`` seeds an episode that took place last week, so that replay
    and the transcript show a two-hour evening, not a log written in one instant.
    Only for a process that serves nobody yet: the clock is the whole process's.
    """
    global _clock
    _clock = clock
    try:
        yield
    finally:
        _clock = time.time


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event decided but not yet stored: it has no sequence number yet."""

    type: str
    data: JSON
    public: JSON | None = None
    private: JSON = field(default_factory=dict)


Tally = Callable[[dict[int, int]], NewEvent | None]
"""Given the stored vote counts by question, the ``votes.tallied`` event to append, if any."""

PRIVATE_TO_HOST = frozenset({"device", "contact"})
"""Private keys that never leave the host that stored them, except through the database."""

OnCommit = Callable[[list["Event"]], object]
"""Told an append's stored events the moment they are committed (see ``Log.append``); what it
returns is ignored (a room hands its feed's ``offer``, which says whether a gap was found)."""


@dataclass(slots=True)
class Event:
    """A stored event: ``seq`` was assigned by the store inside the commit."""

    session_id: int
    seq: int
    type: str
    data: JSON
    at: int
    public: JSON | None = None
    private: JSON = field(default_factory=dict)
    _frames: dict[bool, str] = field(default_factory=dict, repr=False, compare=False)

    def to_wire(self, staff: bool) -> JSON:
        data = self.data if staff or self.public is None else self.public
        return {
            "seq": self.seq,
            "type": self.type,
            "at": self.at,
            "data": {key: data[key] for key in RESULTS if key in data},
        }

    def frame(self, staff: bool) -> str:
        """The serialised wire form for one audience, computed at most once."""
        text = self._frames.get(staff)
        if text is None:
            text = self._frames[staff] = dumps(self.to_wire(staff))
        return text

    def to_bus(self) -> str:
        """What crosses to other workers: the whole event, or only its number.

        An event whose private part names a device or a private contact (a question
        as asked) is sent as its number alone, and the workers that hear it read it
        from the log: neither must travel over Redis, where anyone who can subscribe
        reads them. The rest go whole (their private part is who acted), so a worker
        rebuilds them without a read.
        """
        if PRIVATE_TO_HOST.intersection(self.private):
            return dumps({"s": self.session_id, "q": self.seq})
        return dumps(
            {
                "s": self.session_id,
                "q": self.seq,
                "t": self.type,
                "d": self.data,
                "a": self.at,
                "p": self.public,
                "v": self.private,
            }
        )

    @classmethod
    def from_row(cls, session_id: int, row: Iterable[Any]) -> Event:
        """An event from its stored columns ``(seq, type, data, public, private, at)``, the JSON
        parts as text: the one reading of a log row, for both engines and their copies."""
        seq, type_, data, public, private, at = row
        return cls(
            session_id,
            seq,
            type_,
            json.loads(data),
            at,
            json.loads(public) if public is not None else None,
            json.loads(private),
        )

    @classmethod
    def from_bus(cls, text: str) -> Event | int:
        """The event :meth:`to_bus` wrote, or its number when it must be read from the log."""
        o = json.loads(text)
        if "t" not in o:
            return int(o["q"])
        return cls(o["s"], o["q"], o["t"], o["d"], o["a"], o["p"], o["v"])
