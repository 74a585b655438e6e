"""Stores: where the event log and the little that is not an event live.

:func:`open_store` picks the implementation from the URL, importing it lazily
so the embedded default never needs a PostgreSQL driver at run time. The
command line's copies (backup, export, import, copy-to) are reached the same
way, through :func:`open_copies`, :func:`open_imports` and :func:`copy_to`: their
SQL is here, beside the schemas it must match, and nowhere else.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .base import (
    ROW_TABLES,
    Catalog,
    Chain,
    Commitments,
    Copies,
    Imports,
    Log,
    Meta,
    Photos,
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


def where(url: str) -> str:
    """host:port/database of a PostgreSQL URL, without the password, for messages and logs."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


def open_copies(url: str) -> Copies:
    """Backup, export and import of the database ``url`` names (SQLite), or a one-line exit."""
    path = sqlite_file(url)
    if path is None:
        raise SystemExit("backup and export read SQLite; use pg_dump for PostgreSQL")
    from .sqlite_copies import SQLiteCopies

    return SQLiteCopies(path)


def open_imports(url: str) -> Imports:
    """Where ``live import`` adds a session: the database ``url`` names, either engine."""
    path = sqlite_file(url)
    if path is None:
        from .postgres_copies import PostgresImports

        return PostgresImports(url)
    from .sqlite_copies import SQLiteCopies

    return SQLiteCopies(path)


def copy_to(db: str, url: str) -> dict[str, int]:
    """Copy the stopped SQLite installation ``db`` into the empty PostgreSQL database ``url``;
    the rows each table now holds (see :mod:`.postgres_copies`). A refusal is a one-line exit.

    A function, not a protocol: it is one operation between two engines, neither of them
    open as a store, with one implementation."""
    from .postgres_copies import copy_to as copy

    return copy(db, url)


__all__ = [
    "ROW_TABLES",
    "Catalog",
    "Chain",
    "Commitments",
    "Copies",
    "Imports",
    "Log",
    "Meta",
    "Photos",
    "Presence",
    "Search",
    "SeqConflict",
    "SessionCopy",
    "SessionRow",
    "Store",
    "Votes",
    "copy_to",
    "open_copies",
    "open_imports",
    "open_store",
    "sqlite_file",
    "where",
]
