"""Per-session statistics for staff, and the presence samples behind "viewers over time".

The question counts come from the log (folded by :mod:`live.archive`), the
votes from the votes table (the truth the tallies are made from). Viewer counts
are not events: on every presence tick a room hands its count (over all
workers) to :meth:`PresenceSampler.observe`, which keeps the peak of each
:data:`BUCKET_MS` bucket and writes it once when the bucket ends, so the series
and the peak are exact to the tick and cost one small write per bucket per
active room (an empty room is written once, then not again). A bucket still open
when the process stops is lost: at most :data:`BUCKET_MS` of the series.
"""

from __future__ import annotations

import csv
import io
import logging
from typing import Protocol

from . import channels
from .archive import Record, local
from .events import JSON, now_ms
from .satisfaction import of_session
from .store import Presence, Votes

log = logging.getLogger("live.stats")

BUCKET_MS = 30_000


class PresenceSampler:
    """One session's connection count over time, as seen by this worker's room."""

    def __init__(self, store: Presence, session_id: int) -> None:
        self.store = store
        self.session_id = session_id
        self.bucket = 0
        self.peak = 0
        self.written = 0

    async def observe(self, count: int, now: int | None = None) -> None:
        """Called on every presence tick; writes the previous bucket once it is over."""
        bucket = (now_ms() if now is None else now) // BUCKET_MS * BUCKET_MS
        if bucket != self.bucket:
            if self.bucket and (self.peak or self.written):
                try:
                    await self.store.record_presence(self.session_id, self.bucket, self.peak)
                    self.written = self.peak
                except Exception:
                    log.exception("presence sample for session %s lost", self.session_id)
            self.bucket, self.peak = bucket, 0
        self.peak = max(self.peak, count)

    def current(self) -> tuple[int, int] | None:
        """The bucket still being sampled (not yet written), if any."""
        return (self.bucket, self.peak) if self.bucket and (self.peak or self.written) else None


def question_counts(record: Record) -> JSON:
    """How many were asked, ever published, and how each one ended."""
    qs = record.state.questions.values()
    out = {"asked": len(qs), "approved": len(record.published)}
    for status, key in (
        ("answered", "answered"),
        ("rejected", "rejected"),
        ("merged", "merged"),
        ("hidden", "hidden"),
        ("forwarded", "forwarded"),
        ("pending", "pending"),
        ("approved", "unanswered"),
    ):
        out[key] = sum(1 for q in qs if q.status == status)
    return out


def channel_counts(record: Record) -> JSON:
    """How many questions came by each channel (live/channels.py), every channel named."""
    out = dict.fromkeys(channels.channels(), 0)
    for q in record.state.questions.values():
        out[q.channel] = out.get(q.channel, 0) + 1
    return out


class StatsStore(Votes, Presence, Protocol):
    """What statistics read besides the log: the votes table and the presence samples."""


async def stats(store: StatsStore, record: Record, current: tuple[int, int] | None = None) -> JSON:
    """Everything staff see after the session; ``current`` is the bucket this worker is sampling."""
    sid = record.state.session_id
    votes = await store.vote_counts(sid)
    samples = dict(await store.presence(sid))
    if current is not None:
        samples[current[0]] = max(samples.get(current[0], 0), current[1])
    series = sorted(samples.items())
    peak_at, peak = max(series, key=lambda s: (s[1], -s[0]), default=(None, 0))
    info = record.state.info
    questions = [
        {
            "id": q.id,
            "status": q.status,
            "votes": votes.get(q.id, 0),
            "asked_at": q.asked_at,
            "answered_at": record.first_answered.get(q.id),
        }
        for q in record.state.questions.values()
    ]
    return {
        "session_id": sid,
        "title": info.get("title", ""),
        "episode": info.get("episode"),
        "timezone": info.get("timezone", ""),
        "questions": question_counts(record),
        "channels": channel_counts(record),
        "votes": sum(votes.values()),
        "peak_viewers": peak,
        "peak_at": peak_at,
        "bucket_ms": BUCKET_MS,
        "viewers": [{"at": at, "viewers": n} for at, n in series],
        "per_question": questions,
        "satisfaction": of_session(record.state),
    }


def to_csv(data: JSON, record: Record) -> str:
    """Three blocks a spreadsheet opens as-is: totals, viewers over time, per question."""
    tz = record.tz
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["metric", "value"])
    for key, n in data["questions"].items():
        w.writerow([f"questions_{key}", n])
    for key, n in data["channels"].items():
        w.writerow([f"channel_{key}", n])
    w.writerows(
        [
            ["votes", data["votes"]],
            ["peak_viewers", data["peak_viewers"]],
            ["peak_at", local(data["peak_at"], tz, seconds=True)],
            [],
        ]
    )
    w.writerow(["time", "viewers"])
    w.writerows([local(s["at"], tz, seconds=True), s["viewers"]] for s in data["viewers"])
    w.writerows([[], ["question_id", "status", "votes", "asked_at", "answered_at"]])
    w.writerows(
        [
            q["id"],
            q["status"],
            q["votes"],
            local(q["asked_at"], tz, seconds=True),
            local(q["answered_at"], tz, seconds=True),
        ]
        for q in data["per_question"]
    )
    return "\ufeff" + buf.getvalue()
