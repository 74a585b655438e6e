"""Which episode of a programme comes next: where carried-over questions and follow-ups go.

One rule, used by everything that moves a question forward (carry-over at closing, an
asker's follow-up): the programme's session with the earliest start after ``now`` that
is not closed. A programme with none scheduled has no next episode, and the caller
says so (staff schedule one first).
"""

from __future__ import annotations

from collections.abc import Iterable

from .state import ENDED, phase
from .store import SessionRow


def next_episode(
    sessions: Iterable[SessionRow], programme_id: int, now: int, after: int | None = None
) -> SessionRow | None:
    """The next scheduled session of ``programme_id`` at ``now`` (ms), other than ``after``."""
    upcoming = [
        row
        for row in sessions
        if row.programme_id == programme_id
        and row.id != after
        and row.info.get("starts_at", 0) > now
        and phase(row.info, now) not in ENDED
    ]
    return min(upcoming, key=lambda row: (row.info.get("starts_at", 0), row.id), default=None)
