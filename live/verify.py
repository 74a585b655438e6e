"""``live verify [TARGET]`` and ``live bundle SESSION_ID DIR``: the record, checked and published.

``live verify`` recomputes hash chains (:mod:`live.chain`) and says, one line per
problem, the first event of each log that does not match: its session, its seq, the
hash expected and the hash found. Then it exits 1; with nothing wrong it prints what it
checked and exits 0. What it checks depends on TARGET:

* a database (a SQLite file, a ``postgresql://`` URL, or ``--db``/``LIVE_DB`` when there is
  no TARGET): every session's log against its stored hashes and its last seq. It opens
  the database as the server does, so an older one is migrated first, and its logs are
  chained from the text they have then;
* an export file (``live export``): its events, their texts re-made as the store writes
  them, against the hashes it carries;
* a public chain (``chain.jsonl``, or ``/api/sessions/{id}/chain`` saved to a file);
* a bundle folder (``live bundle``): see :func:`live.bundle.check`.

``live bundle`` writes a finished session's static bundle (:mod:`live.bundle`), signed
with the installation's key (made on first need, :mod:`live.signing`).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import bundle, chain, signing
from .backup import FORMAT as EXPORT_KIND
from .store import Catalog, Chain, open_store, sqlite_file

SQLITE_MAGIC = b"SQLite format 3\x00"
PAGE = 10_000
"""Events read from a database at a time."""


class ChainStore(Catalog, Chain, Protocol):
    """What checking a database reads: its sessions and their hashed logs."""


def add_commands(sub: Any) -> None:
    """The ``verify`` and ``bundle`` sub-commands of ``live``."""
    p = sub.add_parser(
        "verify",
        help="check the hash chain of a database, an export, a public chain or a bundle folder",
        description="Recompute the hash chains and name the first event of each log that does "
        "not match (session, seq, expected and found hash); exit 1 if any does.",
    )
    p.add_argument(
        "target",
        nargs="?",
        help="a SQLite file, postgresql:// URL, export file, chain.jsonl or bundle folder",
    )
    p.add_argument(
        "--db", help="the database to check when no TARGET is given (default: LIVE_DB, else live.db)"
    )
    p.add_argument(
        "--key", help="a bundle's expected public key: PEM file, or base64 as /api/signing-key gives"
    )
    p = sub.add_parser(
        "bundle",
        help="write a finished session as a signed static folder (HTML, JSON, hash chain)",
        description="Write a self-contained folder a web team can publish as plain files: the "
        "transcript as HTML (zh-CN and English) and JSON, the public hash chain, and a manifest "
        "of the files' SHA-256 with a detached Ed25519 signature by the installation's key.",
    )
    p.add_argument("session_id", type=int)
    p.add_argument("dir", help="a new or empty folder")
    p.add_argument("--db", help="SQLite file or postgresql:// URL (default: LIVE_DB, else live.db)")


def run(args: Any, db: str, public_url: str) -> None:
    """One of the commands, for :func:`live.cli.main`; a refusal is a one-line exit."""
    if args.command == "bundle":
        manifest = asyncio.run(_bundle(db, args.session_id, Path(args.dir), public_url.rstrip("/")))
        print(
            f"bundle written: {args.dir} (session {args.session_id}, {manifest['chain']['events']} events, "
            f"head {manifest['chain']['head']}, signed by key {manifest['key']['key_id']})"
        )
        return
    target = args.target or db
    lines, problems = check(target, _key(args.key) if args.key else None)
    for line in problems or lines:
        print(line)
    if problems:
        raise SystemExit(f"{target}: {len(problems)} problem(s): this record does not match its hashes")


async def _bundle(db: str, session_id: int, folder: Path, base: str) -> dict[str, Any]:
    store = open_store(db)
    await store.open()
    try:
        return await bundle.write(store, session_id, folder, base)
    finally:
        await store.close()


def _key(text: str) -> Ed25519PublicKey:
    path = Path(text)
    try:
        return signing.load_public(path.read_text() if path.is_file() else text)
    except ValueError as exc:
        raise SystemExit(f"--key: {exc}") from None


def check(target: str, key: Ed25519PublicKey | None = None) -> tuple[list[str], list[str]]:
    """What ``target`` is checked as; (lines saying what was checked, problems)."""
    path = Path(target)
    if sqlite_file(target) is None:
        return asyncio.run(_database(target))
    if path.is_dir():
        manifest, problems = bundle.check(path, key)
        c = manifest.get("chain", {})
        pinned = (
            "the key given"
            if key
            else f"the key in the bundle ({bundle.KEY}): compare it with /api/signing-key"
        )
        return [
            f"ok: bundle {target}: session {manifest.get('session', {}).get('id')}, {c.get('events')} "
            f"events, head {c.get('head')}, signed by key {manifest.get('key_id')} ({pinned})"
        ], problems
    if not path.is_file():
        raise SystemExit(f"{target}: no such file or folder")
    with path.open("rb") as f:
        start = f.read(len(SQLITE_MAGIC))
    if start == SQLITE_MAGIC:
        return asyncio.run(_database(target))
    try:
        text = path.read_text(encoding="utf-8")
        kind = json.loads(text.split("\n", 1)[0]).get("kind")
    except (UnicodeDecodeError, ValueError, AttributeError):
        raise SystemExit(f"{target}: not a database, an export, a chain or a bundle folder") from None
    if kind == chain.PUBLIC_KIND:
        head, problems = chain.check_public(text, target)
        return [
            f"ok: chain {target}: session {head.get('session')}, {head.get('events')} events, "
            f"head {head.get('head')}"
        ], problems
    if kind == EXPORT_KIND:
        return _export(target, text)
    raise SystemExit(f"{target}: not a database, an export, a chain or a bundle folder")


def _export(name: str, text: str) -> tuple[list[str], list[str]]:
    try:
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        header, events = lines[0], [x for x in lines[1:] if x.get("kind") == "event"]
        entries = [chain.entry(chain.parsed(x)) for x in events]
        last_seq = header["session"]["last_seq"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return [], [f"{name}: a line cannot be read ({exc!r})"]
    verdict = chain.check(entries, last_seq)
    problems = [f"{name}: {verdict.problem}"] if verdict.problem else []
    if not problems and header.get("head") not in (None, verdict.head):
        problems.append(f"{name}: the header says head {header['head']}, the events end at {verdict.head}")
    sid = header["session"].get("id")
    return [f"ok: export {name}: session {sid}, {verdict.events} events, head {verdict.head}"], problems


async def _database(url: str) -> tuple[list[str], list[str]]:
    store = open_store(url)
    await store.open()
    try:
        return await verify_database(store)
    finally:
        await store.close()


async def verify_database(store: ChainStore) -> tuple[list[str], list[str]]:
    """Every session's log against its hashes: a line per session, and the problems."""
    lines, problems = [], []
    for row in await store.list_sessions():
        entries: list[chain.Entry] = []
        while page := await store.read_links(row.id, after=len(entries), limit=PAGE):
            entries += map(chain.entry, page)
            if page[-1].seq != len(entries):  # a gap: let check() name it
                break
        verdict = chain.check(entries, row.last_seq)
        if verdict.problem:
            problems.append(f"session {row.id}: {verdict.problem}")
        lines.append(f"ok: session {row.id}: {verdict.events} events, head {verdict.head}")
    lines.append(f"sessions checked: {len(lines)}")
    return lines, problems
