"""Upgrading a log written before events carried their results (protocol 2).

Since protocol 2 every stored event carries what it left behind, as each
audience may see it (:func:`live.state.with_results`). A log written by an
older version is given those results once, by replaying it through
:func:`live.state.apply`, the same fold that makes them for new events; each
engine runs this from its migrations, inside the migration's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..events import JSON, Event, NewEvent
from ..state import State, apply, with_results

Row = tuple[int, JSON, JSON | None]
"""(seq, data, public) of one event to rewrite."""


def upgraded(session_id: int, events: Iterable[Event]) -> list[Row]:
    """The events of one session's log, in order, with their results."""
    state = State(session_id)
    rows: list[Row] = []
    for event in events:
        apply(state, event)
        done = with_results(state, NewEvent(event.type, event.data, event.public, event.private))
        if done.data != event.data or done.public != event.public:
            rows.append((event.seq, done.data, done.public))
    return rows
