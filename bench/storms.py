"""Ingest, vote storm and reconnect storm.

* **ingest**: closed-loop clients ask (then vote and withdraw) as fast as the
  acknowledgements come back; only acknowledged requests count, and an ack
  means committed (SQLite ``synchronous=FULL``). Afterwards the stored log is
  checked: every acknowledged question must be in it.
* **vote storm**: every viewer votes on the same question at once. Each
  viewer counts the frames it receives per wall-clock second and notes when
  each event reaches it. A vote's lateness is the time from its
  acknowledgement to the first tally that counts it: when that tally went out
  (reached its first viewer), when it reached one observer (a presenter
  connection, wherever the server's fan-out order puts it), and when it had
  reached every viewer (which adds the whole fan-out, the fanout scenario's
  last-viewer latency).
* **reconnect storm**: every connection is cut at once (RST, as a network
  blip would), answers keep coming while the viewers are away and while they
  return, and every viewer resumes with ``since``/``epoch``. Caught up means
  having the last event; missed and duplicated events are counted per viewer
  from the sequence numbers.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from .driver import Swarms
from .fanout import answer_text, running
from .stats import pct
from .targets import ADMIN, Target, cpu_seconds

PUBLISH_EVERY = 0.5
"""Seconds between answers published while the viewers of the reconnect storm return: far
more often than an official answers, and within what a fan-out to 10,000 viewers (~0.1 s of
CPU) leaves room for while ten thousand handshakes are served."""


async def ingest(kind: str, clients: int, seconds: float, window: int, swarms: int) -> dict[str, Any]:
    async with running(kind, 20, raise_limits=True) as (target, qids), Swarms(swarms) as sw:
        await sw.connect(target, clients)
        out: dict[str, Any] = {"clients": clients, "window": window, "seconds": seconds}
        for load, args in (("ask", {}), ("vote", {"qids": qids})):
            cpu0 = cpu_seconds(target.pid)
            parts = await sw.all("load", kind=load, seconds=seconds, window=window, **args)
            cpu = cpu_seconds(target.pid) - cpu0
            acked = sum(p["acked"] for p in parts)
            name = "questions" if load == "ask" else "votes"
            errors: dict[str, int] = {}
            for p in parts:
                for code, n in p["errors"].items():
                    errors[code] = errors.get(code, 0) + n
            out.update(
                {
                    f"{name}_per_s": acked / seconds,
                    f"{name}_acked": acked,
                    f"{name}_refused": errors,
                    f"{name}_ack_median_ms": _ms(max(p["latency_median"] or 0 for p in parts)),
                    f"{name}_server_cpu_share": cpu / (seconds + 1.0),
                    # The server's CPU per acknowledged request: what a change to the code costs,
                    # readable even on a machine so loaded that the rate measures the neighbours.
                    f"{name}_server_cpu_us_each": cpu / acked * 1e6 if acked else None,
                }
            )
        if kind.startswith("live"):
            out["questions_stored"] = await _stored_questions(target)
            out["acked_but_missing"] = max(0, out["questions_acked"] + len(qids) - out["questions_stored"])
    return out


async def _stored_questions(target: Target) -> int:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{target.port}", timeout=60, headers={"Authorization": f"Bearer {ADMIN}"}
    ) as http:
        r = await http.get(f"/api/sessions/{target.session_id}")
        r.raise_for_status()
        return len(r.json()["questions"])


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


async def votestorm(kind: str, n: int, swarms: int, tally_interval: float, settle: float) -> dict[str, Any]:
    async with (
        running(kind, 1, tally_interval=tally_interval, raise_limits=True) as (target, qids),
        Swarms(swarms) as sw,
        target.presenter() as observer,
    ):
        await sw.connect(target, n)
        await asyncio.sleep(settle)
        qid = str(qids[0])
        tallies: list[tuple[int, int, float]] = []  # (seq, count, seen by the observer)

        async def watch() -> None:
            while True:
                event = await observer.next_event(timeout=3600)
                if event["type"] == "votes.tallied" and qid in event["data"]["votes"]:
                    tallies.append((event["seq"], event["data"]["votes"][qid], time.monotonic()))

        watcher = asyncio.create_task(watch())
        await sw.reset()
        await sw.all("buckets")
        sent = await sw.all("vote", question_id=qids[0])
        start = min(s["at"] for s in sent)
        deadline = time.monotonic() + max(30.0, n / 200)
        # Poll counts only: shipping every ack time to the driver five times a second
        # loaded the cores while the storm's last tallies went out.
        while time.monotonic() < deadline:
            acked = sum(part["n"] for part in await sw.all("acked"))
            if acked >= n and tallies and tallies[-1][1] >= n:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2 * tally_interval + 0.5)
        watcher.cancel()
        acks = sorted(t for part in await sw.all("acks") for t in part["times"])
        summary = await sw.summary()
        first: dict[int, float] = {}
        last: dict[int, float] = {}
        for part in await sw.all("arrivals"):
            for seq, (a, b) in part["seqs"].items():
                first[int(seq)] = min(a, first.get(int(seq), a))
                last[int(seq)] = max(b, last.get(int(seq), b))
    out: dict[str, Any] = {
        "viewers": n,
        "votes_acked": len(acks),
        "tally_interval_s": tally_interval,
        "votes_per_s": len(acks) / (acks[-1] - start) if len(acks) > 1 else None,
        "all_acked_s": round(acks[-1] - start, 3) if acks else None,
        "max_frames_per_viewer_second": summary["max_frames_per_viewer_second"],
        "tallies": len(tallies),
        "final_tally": tallies[-1][1] if tallies else None,
    }
    for name, when in (("out", first), ("presenter", None), ("everywhere", last)):
        lateness = _lateness(acks, tallies, when)
        known = [x for x in lateness if x is not None]
        out.update(
            {
                f"tally_{name}_late_median_ms": _ms(pct(known, 0.5)),
                f"tally_{name}_late_p99_ms": _ms(pct(known, 0.99)),
                f"tally_{name}_late_max_ms": _ms(max(known, default=None)),
                f"tally_{name}_never": len(lateness) - len(known),
            }
        )
    return out


def _lateness(
    acks: list[float], tallies: list[tuple[int, int, float]], when: dict[int, float] | None
) -> list[float | None]:
    """Per acknowledged vote (the k-th ack in time), ack -> the first tally counting k votes.

    ``when`` maps a tally's seq to when it reached the viewers (first or last of
    them); None means as the observer saw it.
    """
    seen = [(count, observed if when is None else when.get(seq)) for seq, count, observed in tallies]
    out: list[float | None] = []
    for k, acked_at in enumerate(acks, start=1):
        shown = next((t for count, t in seen if count >= k and t is not None), None)
        out.append(None if shown is None else max(0.0, shown - acked_at))
    return out


async def reconnect(kind: str, n: int, swarms: int, away: int = 10) -> dict[str, Any]:
    async with running(kind, 5) as (target, qids), Swarms(swarms) as sw, target.presenter() as presenter:
        await sw.connect(target, n)
        tag = 0

        async def publish() -> None:
            nonlocal tag
            tag += 1
            await presenter.request(
                "answer", question_id=qids[tag % len(qids)], text=answer_text(tag), timeout=60
            )

        for _ in range(3):
            await publish()
        await asyncio.sleep(0.5)
        await sw.all("drop")
        for _ in range(away):
            await publish()
        start = time.monotonic()
        back = asyncio.create_task(sw.all("reconnect", concurrency=400))
        # The same offered load for every server: an answer every PUBLISH_EVERY seconds on
        # the clock, not after the last one's ack (that would publish less to a server that
        # keeps its presenter waiting, and so give it less to fan out while viewers return).
        during: list[asyncio.Task[None]] = []
        while not back.done():
            during.append(asyncio.create_task(publish()))
            await asyncio.sleep(PUBLISH_EVERY)
        returned = await back
        await asyncio.gather(*during)
        await publish()
        final = presenter.seq
        caught = await sw.all("catchup", seq=final, timeout=60)
        summary = await sw.summary()
    lasts = [c["last"] for c in caught if c["last"] is not None]
    return {
        "viewers": n,
        "reconnected": sum(r["reconnected"] for r in returned),
        "reconnect_failures": sum(r["failures"] for r in returned),
        "published_while_away": away,
        "published_while_returning": len(during),
        "all_caught_up_s": round(max(lasts) - start, 3) if lasts else None,
        "caught_up": sum(c["caught_up"] for c in caught),
        "behind": sum(c["behind"] for c in caught),
        "missed": summary["missed"],
        "duplicates": summary["duplicates"],
        "snapshot_instead_of_resume": summary["resets"],
    }
