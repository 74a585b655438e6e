"""The hash chain over each session's log: what it covers, how a link is made, how it is checked.

Every stored event carries ``hash``, a SHA-256 that covers the event and the hash of the
event before it, so changing, removing or reordering any stored event breaks every link
from there on, and the last event's hash (the session's *head*, shown on its transcript)
stands for the whole log. The format is specified for other implementations in
``docs/protocol.md`` ("The hash chain"); this module is its one definition here: both
engines make their rows with :func:`stored` in the transaction that stores the events (as
they write the search index), their migrations and imports chain whole logs with
:func:`chained`, and every check (``live verify``, ``live import``) is :func:`check`.
A migration that rewrites stored event text must chain those logs again afterwards.

A *public chain* (:func:`public_chain`: ``/api/sessions/{id}/chain``, a bundle's
``chain.jsonl``) carries of each event what viewers were served and the digests of the
rest, so anyone can recompute the head without seeing anything private
(:func:`check_public`).

What a link covers, and why:

* the hash before it (:data:`GENESIS` for seq 1), the ``seq``, the ``at`` timestamp and the
  ``type``;
* a SHA-256 of each of the three stored parts, ``data``, ``public`` and ``private``, of
  the **text as stored** (``events.dumps``: compact, keys in their order, non-ASCII as
  is). Why the text and not a re-encoding of the value: the database holds text (the
  PostgreSQL columns are ``json``, kept as written), so a verifier hashes what it reads,
  in any language, with no canonical JSON to agree on; and a change that keeps the value
  but not the bytes is a change too. Why digests of the parts and not the parts: the
  private part holds contacts, and the staff part (``data``, when a ``public`` part is
  set) may hold hidden text, so a public copy of the chain (the static bundle,
  :mod:`live.bundle`) carries their digests in their place and can still be checked.
  (A digest can confirm a guess of the whole part; the private part of a question as
  asked always holds the device's random id, so its contact cannot be guessed that way.)

What it does not cover: the session's id (``live import`` gives a session a new id and
keeps its chain, so a head published before a move still holds after it), the session
row's listing (derived from the log), votes rows (their counts are in the log as
``votes.tallied`` events), staff secrets and settings.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from .events import JSON, NewEvent, dumps

SPEC = "live-chain/1"
"""The first line of every link's preimage: the version of this format."""
GENESIS = "0" * 64
"""The hash "before" a log's first event."""
Row = tuple[int, int, str, str, str | None, str, int, str]
"""An event as the events table stores it: ``session_id, seq, type, data, public, private, at, hash``."""
PUBLIC_KIND = "live-chain"
"""The first line's ``kind`` of a public chain (:func:`public_chain`)."""


class Link(NamedTuple):
    """One stored event as the chain sees it: its parts as the text stored, and its hash."""

    seq: int
    type: str
    data: str
    public: str | None
    private: str
    at: int
    hash: str | None
    """As stored (None: an event stored without one, which :func:`check` reports)."""


class Entry(NamedTuple):
    """One event reduced to what its hash covers: the parts as digests."""

    seq: int
    type: str
    at: int
    data: str
    public: str
    private: str
    hash: str | None


def digest(text: str | None) -> str:
    """Lower-case hex SHA-256 of a part's UTF-8 text; the empty string for an absent part."""
    return "" if text is None else hashlib.sha256(text.encode()).hexdigest()


def linked(prev: str, seq: int, at: int, data: str, public: str, private: str, type_: str) -> str:
    """The hash of an event given its parts' digests: SHA-256 of eight lines, the type last
    (the only field that is not a number or hex digits, so the lines cannot be misread)."""
    lines = (SPEC, prev, str(seq), str(at), data, public, private, type_)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def link(prev: str, seq: int, type_: str, data: str, public: str | None, private: str, at: int) -> str:
    """The hash of an event stored as these texts, after the event whose hash is ``prev``.

    Arguments in the order of the events table's columns, as the stores have them.
    """
    return linked(prev, seq, at, digest(data), digest(public), digest(private), type_)


def texts(data: JSON, public: JSON | None, private: JSON) -> tuple[str, str | None, str]:
    """An event's parts as the stores write them (and as a parsed export is hashed again)."""
    return dumps(data), None if public is None else dumps(public), dumps(private)


def parsed(x: JSON) -> Link:
    """An event read back from JSON (an export's line: ``seq``, ``type``, ``data``, ``public``,
    ``private``, ``at``, ``hash``), its parts written again as the stores write them, which
    gives back the stored text of any event a store wrote (``json.loads`` keeps key order)."""
    return Link(x["seq"], x["type"], *texts(x["data"], x["public"], x["private"]), x["at"], x.get("hash"))


def stored(session_id: int, prev: str, first: int, events: Iterable[NewEvent], at: int) -> list[Row]:
    """``events`` as rows of the events table from seq ``first``, chained after ``prev``: what
    both engines insert, in their columns' order (``session_id, seq, type, data, public,
    private, at, hash``)."""
    rows: list[Row] = []
    for seq, e in enumerate(events, start=first):
        data, public, private = texts(e.data, e.public, e.private)
        prev = link(prev, seq, e.type, data, public, private, at)
        rows.append((session_id, seq, e.type, data, public, private, at, prev))
    return rows


def chained(parts: Iterable[tuple[str, str, str | None, str, int]]) -> list[str]:
    """The hashes of a whole log from seq 1, each event given as its ``(type, data, public,
    private, at)`` texts: what a migration or an import writes beside a log it stores."""
    prev, out = GENESIS, []
    for seq, (type_, data, public, private, at) in enumerate(parts, start=1):
        prev = link(prev, seq, type_, data, public, private, at)
        out.append(prev)
    return out


def entry(x: Link) -> Entry:
    return Entry(x.seq, x.type, x.at, digest(x.data), digest(x.public), digest(x.private), x.hash)


@dataclass(frozen=True)
class Verdict:
    """What :func:`check` found: the head it reached and the first problem, if any."""

    events: int
    head: str
    """The hash of the last event checked (:data:`GENESIS` for an empty log)."""
    problem: str | None = None


def check(entries: Iterable[Entry], last_seq: int | None = None) -> Verdict:
    """Recompute a log's chain from seq 1; the first event that does not match, if any.

    Each event's hash is recomputed from its parts and the *recomputed* hash before it,
    and compared with the stored one: an event changed in place fails at its own seq, and
    one whose stored hash was rewritten to match fails at the next. ``last_seq``, when
    known, is where the log claims to end (the session row, an export's header).
    """
    prev, count = GENESIS, 0
    for e in entries:
        expected_seq = count + 1
        if e.seq != expected_seq:
            found = "starts" if count == 0 else f"goes from {count}"
            return Verdict(count, prev, f"seq {expected_seq} is missing: the log {found} to seq {e.seq}")
        if "\n" in e.type or "\r" in e.type:
            return Verdict(count, prev, f"seq {e.seq}: the type {e.type!r} holds a line break")
        expected = linked(prev, e.seq, e.at, e.data, e.public, e.private, e.type)
        if e.hash is None:
            return Verdict(count, prev, f"seq {e.seq} ({e.type}): no hash stored, expected {expected}")
        if not hmac.compare_digest(e.hash, expected):
            return Verdict(count, prev, f"seq {e.seq} ({e.type}): expected hash {expected}, found {e.hash}")
        prev, count = expected, expected_seq
    if last_seq is not None and count != last_seq:
        return Verdict(count, prev, f"the log ends at seq {count} but claims {last_seq} events")
    return Verdict(count, prev)


def public_line(x: Link) -> JSON:
    """One event of a public chain: what viewers were served of it (``public``, or ``data`` when
    it has no public part, as :meth:`live.events.Event.to_wire` chooses), digests for the rest."""
    return {
        "seq": x.seq,
        "type": x.type,
        "at": x.at,
        "public": x.public,
        "data": x.data if x.public is None else None,
        "data_sha256": digest(x.data),
        "private_sha256": digest(x.private),
        "hash": x.hash,
    }


def public_chain(session_id: int, links: list[Link]) -> str:
    """A public copy of a log's chain (a bundle's ``chain.jsonl``, ``/api/sessions/{id}/chain``):
    a header line (the session, the number of events, the head), then :func:`public_line` for
    each event, one JSON object a line."""
    head = {
        "kind": PUBLIC_KIND,
        "spec": SPEC,
        "session": session_id,
        "events": len(links),
        "head": links[-1].hash if links else GENESIS,
    }
    return "".join(dumps(line) + "\n" for line in [head, *map(public_line, links)])


def check_public(json_lines: str, name: str) -> tuple[JSON, list[str]]:
    """A public chain's header and its problems (one line each, naming ``name``)."""
    try:
        lines = [json.loads(line) for line in json_lines.splitlines() if line.strip()]
    except ValueError as exc:
        return {}, [f"{name}: not JSON lines ({exc})"]
    if not lines or not isinstance(lines[0], dict) or lines[0].get("kind") != PUBLIC_KIND:
        return {}, [f"{name}: not a {PUBLIC_KIND} file"]
    head, problems = lines[0], []
    try:
        entries = [public_entry(x) for x in lines[1:]]
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        return head, [f"{name}: an event line cannot be read: {exc}"]
    verdict = check(entries, head.get("events"))
    if verdict.problem:
        problems.append(f"{name}: {verdict.problem}")
    elif verdict.head != head.get("head"):
        problems.append(f"{name}: the header says head {head.get('head')}, the events end at {verdict.head}")
    return {**head, "checked_head": verdict.head}, problems


def public_entry(x: Any) -> Entry:
    """An event line of a public chain, reduced to its digests; the texts it carries are
    hashed here, and a ``data`` text must match the ``data_sha256`` beside it."""
    data = x["data_sha256"]
    if x["data"] is not None and digest(x["data"]) != data:
        raise ValueError(f"seq {x['seq']}: its data does not match its data_sha256")
    return Entry(x["seq"], x["type"], x["at"], data, digest(x["public"]), x["private_sha256"], x["hash"])
