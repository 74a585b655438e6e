"""Stores: where the event log and the little that is not an event live.

:func:`open_store` picks the implementation from the URL, importing it lazily
so the embedded default never needs a PostgreSQL driver at run time.
"""

from __future__ import annotations

from .base import SeqConflict, SessionRow, Store


def open_store(url: str) -> Store:
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(url)
    from .sqlite import SQLiteStore

    return SQLiteStore(url.removeprefix("sqlite:///").removeprefix("sqlite://"))


__all__ = ["SeqConflict", "SessionRow", "Store", "open_store"]
