"""Stores: where the event log and the little that is not an event live.

:func:`open_store` picks the implementation from the URL, importing it lazily
so the embedded default never needs a PostgreSQL driver at run time.
"""

from __future__ import annotations

from .base import (
    ROW_TABLES,
    Catalog,
    Copies,
    Log,
    Meta,
    Presence,
    Search,
    SeqConflict,
    SessionCopy,
    SessionRow,
    Store,
    Votes,
)


def sqlite_file(url: str) -> str | None:
    """The SQLite file a ``--db`` names (``:memory:`` too), or None for PostgreSQL.

    A file path, ``sqlite:///path`` or ``sqlite://path``; any other scheme (``mysql://``)
    exits in one line instead of becoming a file named after it. The one reading of
    ``--db``: the store, the demo, backups and the worker check all use it.
    """
    if url.startswith(("postgresql://", "postgres://")):
        return None
    if "://" in url and not url.startswith("sqlite:"):
        raise SystemExit(
            f"--db {url.split('://')[0]}://…: not a store live knows; give a SQLite "
            "file path, sqlite:///path or postgresql://user@host/db"
        )
    return url.removeprefix("sqlite:///").removeprefix("sqlite://")


def open_store(url: str) -> Store:
    """The store ``url`` names, or a one-line exit naming what is wrong with it."""
    path = sqlite_file(url)
    if path is None:
        from .postgres import PostgresStore

        return PostgresStore(url)
    from .sqlite import SQLiteStore

    return SQLiteStore(path)


def open_copies(url: str) -> Copies:
    """The copies of the database ``url`` names (SQLite), or a one-line exit."""
    path = sqlite_file(url)
    if path is None:
        raise SystemExit("backup and export read SQLite; use pg_dump for PostgreSQL")
    from .sqlite_copies import SQLiteCopies

    return SQLiteCopies(path)


__all__ = [
    "ROW_TABLES",
    "Catalog",
    "Copies",
    "Log",
    "Meta",
    "Presence",
    "Search",
    "SeqConflict",
    "SessionCopy",
    "SessionRow",
    "Store",
    "Votes",
    "open_copies",
    "open_store",
    "sqlite_file",
]
