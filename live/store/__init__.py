"""Stores: where the event log and the little that is not an event live.

:func:`open_store` picks the implementation from the URL, importing it lazily
so the embedded default never needs a PostgreSQL driver at run time.
"""

from __future__ import annotations

from .base import SeqConflict, SessionRow, Store


def open_store(url: str) -> Store:
    """The store ``url`` names, or a one-line exit naming what is wrong with it."""
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(url)
    if "://" in url and not url.startswith("sqlite:"):
        raise SystemExit(
            f"--db {url.split('://')[0]}://…: not a store live knows; give a SQLite "
            "file path, sqlite:///path or postgresql://user@host/db"
        )
    from .sqlite import SQLiteStore

    return SQLiteStore(url.removeprefix("sqlite:///").removeprefix("sqlite://"))


__all__ = ["SeqConflict", "SessionRow", "Store", "open_store"]
