"""The next episode of a programme: the earliest not-closed session that starts after now."""

from __future__ import annotations

from live.episodes import next_episode
from live.store import SessionRow

NOW = 1_000_000


def row(sid: int, programme: int, starts: int, **info: int) -> SessionRow:
    return SessionRow(sid, programme, "e", 0, {"starts_at": starts, "ends_at": starts + 7200, **info}, "", "")


def test_the_earliest_later_session_of_the_same_programme_not_closed() -> None:
    rows = [
        row(1, 1, NOW - 3600),  # this evening's, running
        row(2, 1, NOW + 7 * 86400),
        row(3, 1, NOW + 3 * 86400, closed_at=NOW),  # cancelled early: closed
        row(4, 2, NOW + 86400),  # another programme
        row(5, 1, NOW + 14 * 86400),
    ]
    assert next_episode(rows, 1, NOW, after=1) == rows[1]
    assert next_episode(rows, 2, NOW) == rows[3]
    assert next_episode(rows, 1, NOW + 8 * 86400) == rows[4]
    assert next_episode(rows, 1, NOW + 15 * 86400) is None
    assert next_episode([row(6, 1, NOW + 5), row(7, 1, NOW + 5)], 1, NOW).id == 6, "ties: the older"
