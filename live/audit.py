"""The audit trail, read from the log rather than kept beside it.

Every staff or official action is already an event whose private part names
who acted and holds the before-image; the audit is that, filtered. So it
cannot miss an action or disagree with what viewers saw, and since private
parts are never sent to viewers, it is never broadcast.

``typed_by`` names who typed an answer that someone else released (:mod:`live.review`):
``who`` is the one who released it (or ``server:delay``, the broadcast delay's clock).
``reason`` is why an admin overrode a rule (archiving with questions left without an outcome).
"""

from __future__ import annotations

import csv
import io
import json

from .events import JSON, Event


def trail(events: list[Event]) -> list[JSON]:
    return [
        {
            "seq": e.seq,
            "at": e.at,
            "who": e.private["by"],
            "action": e.type,
            "before": e.private.get("before"),
            "after": e.data,
            "typed_by": e.private.get("typed_by"),
            "reason": e.private.get("reason"),
        }
        for e in events
        if "by" in e.private
    ]


def to_csv(rows: list[JSON]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["seq", "at", "who", "action", "before", "after", "typed_by", "reason"])
    for r in rows:
        writer.writerow(
            [
                r["seq"],
                r["at"],
                r["who"],
                r["action"],
                json.dumps(r["before"], ensure_ascii=False),
                json.dumps(r["after"], ensure_ascii=False),
                r["typed_by"] or "",
                r["reason"] or "",
            ]
        )
    return out.getvalue()
