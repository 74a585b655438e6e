"""``live copy-to URL [--db FILE]``: move a whole SQLite installation into an empty PostgreSQL.

The command only: its arguments and what it prints. The copy itself (what is kept
exactly, what is rebuilt, why the server must be stopped, every refusal) is
:func:`live.store.copy_to`, whose SQL lives with both schemas in
:mod:`live.store.postgres_copies`; this module reaches the databases through that
function alone (``tests/test_layers.py``).
"""

from __future__ import annotations

from typing import Any

from .store import copy_to, where


def add_command(sub: Any) -> None:
    """The ``copy-to`` sub-command of ``live``."""
    p = sub.add_parser(
        "copy-to",
        help="copy the whole SQLite installation into an empty PostgreSQL database (server stopped)",
        description="Copy every programme, session, log, vote and setting of a stopped SQLite "
        "installation into an empty PostgreSQL database, in one transaction. The SQLite file "
        "is left as it was.",
    )
    p.add_argument("url", help="the empty PostgreSQL database: postgresql://user@host/db")
    p.add_argument("--db", help="the SQLite installation to copy (default: LIVE_DB, else live.db)")


def run(db: str, url: str) -> None:
    counts = copy_to(db, url)
    print(
        f"copied {db} into PostgreSQL at {where(url)}: {counts['programmes']} programmes, "
        f"{counts['sessions']} sessions, {counts['events']} events, {counts['votes']} votes, "
        f"{counts['presence']} presence samples, {counts['meta']} settings; "
        f"search index rebuilt ({counts['search_items']} questions).",
        f"Next: set LIVE_DB to that URL and start live serve. {db} is unchanged.",
        sep="\n",
    )
