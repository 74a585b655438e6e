"""The archive's tables in SQLite: a search index of answered questions, and presence samples.

**The index is a projection of the log, kept in the same transaction.** One
row per answered question (its text, display name, status, latest answer, and
the folded keys searches match), written by ``Store.append`` from the events'
results with :mod:`live.store.index`, in the transaction that stores them: a
search can never see an answer the log does not hold, nor miss one it does.
(It used to be kept by triggers that re-implemented each event in SQL, a copy
of :func:`live.state.apply` that could drift; :data:`INDEX_MIGRATION` drops
them.) ``search_fts`` is an external-content FTS5 table over the keys with the
``trigram`` tokenizer (SQLite >= 3.34): Chinese has no spaces, and trigrams
find any substring of three characters or more. Shorter terms are matched with
``instr`` over the answered rows instead (FTS5's own ``LIKE`` fallback for
short multibyte patterns is unreliable in SQLite 3.40).

Each row carries the status :func:`live.state.apply` gives the question, so
only what is public *and* answered is ever returned. The private contact is
never in any event's ``data``, hence never here.

**Presence** is not an event (it has no ``seq``): the peak number of
connections to a session (over every worker) per time bucket. Each worker may
write the same bucket; the larger count wins.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiosqlite

from ..events import JSON
from . import index

if sqlite3.sqlite_version_info < (3, 34, 0):
    raise ImportError(
        f"live needs SQLite 3.34 or newer (FTS5 trigram tokenizer); this Python "
        f"links SQLite {sqlite3.sqlite_version}: use a newer Python build"
    )

SEARCH_MIGRATION = """
    CREATE TABLE search_items (
        id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, question_id INTEGER NOT NULL,
        name TEXT NOT NULL DEFAULT '', question TEXT NOT NULL DEFAULT '',
        answer TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'pending',
        asked_at INTEGER NOT NULL DEFAULT 0, answered_at INTEGER,
        UNIQUE (session_id, question_id));
    CREATE INDEX search_items_answered ON search_items (status, answered_at);
    CREATE VIRTUAL TABLE search_fts USING fts5(
        question, answer, content='search_items', content_rowid='id', tokenize='trigram');
    CREATE TRIGGER search_items_ai AFTER INSERT ON search_items BEGIN
        INSERT INTO search_fts(rowid, question, answer) VALUES (new.id, new.question, new.answer);
    END;
    CREATE TRIGGER search_items_au AFTER UPDATE OF question, answer ON search_items BEGIN
        INSERT INTO search_fts(search_fts, rowid, question, answer)
            VALUES ('delete', old.id, old.question, old.answer);
        INSERT INTO search_fts(rowid, question, answer) VALUES (new.id, new.question, new.answer);
    END;

    CREATE VIEW search_feed AS SELECT session_id, seq, type, data FROM events WHERE 0;
    CREATE TRIGGER search_feed_asked INSTEAD OF INSERT ON search_feed
    WHEN new.type IN ('question.asked', 'question.approved') BEGIN
        INSERT INTO search_items (session_id, question_id, name, question, status, asked_at)
        VALUES (new.session_id, json_extract(new.data, '$.question.id'),
                coalesce(json_extract(new.data, '$.question.name'), ''),
                coalesce(json_extract(new.data, '$.question.text'), ''),
                CASE new.type WHEN 'question.approved' THEN 'approved'
                     ELSE json_extract(new.data, '$.question.status') END,
                coalesce(json_extract(new.data, '$.question.asked_at'), 0))
        ON CONFLICT (session_id, question_id) DO UPDATE SET
            status = excluded.status,
            name = CASE WHEN json_extract(new.data, '$.question.name') IS NULL
                        THEN name ELSE excluded.name END,
            question = CASE WHEN json_extract(new.data, '$.question.text') IS NULL
                            THEN question ELSE excluded.question END;
    END;
    CREATE TRIGGER search_feed_edited INSTEAD OF INSERT ON search_feed
    WHEN new.type = 'question.edited' BEGIN
        UPDATE search_items SET question = json_extract(new.data, '$.text')
        WHERE session_id = new.session_id AND question_id = json_extract(new.data, '$.id');
    END;
    CREATE TRIGGER search_feed_answered INSTEAD OF INSERT ON search_feed
    WHEN new.type = 'question.answered' BEGIN
        UPDATE search_items SET status = 'answered',
            answer = coalesce(json_extract(new.data, '$.answer.text'), ''),
            answered_at = coalesce(answered_at, json_extract(new.data, '$.answer.at'))
        WHERE session_id = new.session_id AND question_id = json_extract(new.data, '$.id');
    END;
    CREATE TRIGGER search_feed_status INSTEAD OF INSERT ON search_feed
    WHEN new.type IN ('question.rejected', 'question.merged', 'question.hidden',
                      'question.forwarded') BEGIN
        UPDATE search_items SET status = substr(new.type, 10)
        WHERE session_id = new.session_id AND question_id = json_extract(new.data, '$.id');
    END;
    CREATE TRIGGER events_search AFTER INSERT ON events
    WHEN new.type IN ('question.asked', 'question.approved', 'question.edited',
                      'question.answered', 'question.rejected', 'question.merged',
                      'question.hidden', 'question.forwarded') BEGIN
        INSERT INTO search_feed VALUES (new.session_id, new.seq, new.type, new.data);
    END;
    INSERT INTO search_feed SELECT session_id, seq, type, data FROM events
        WHERE type IN ('question.asked', 'question.approved', 'question.edited',
                       'question.answered', 'question.rejected', 'question.merged',
                       'question.hidden', 'question.forwarded') ORDER BY session_id, seq;

    CREATE TABLE presence (
        session_id INTEGER NOT NULL, at INTEGER NOT NULL, viewers INTEGER NOT NULL,
        PRIMARY KEY (session_id, at)) WITHOUT ROWID;
"""
"""The migration that adds the archive's tables; appended to the store's MIGRATIONS."""

INDEX_MIGRATION = """
    DROP TRIGGER IF EXISTS events_search;
    DROP VIEW IF EXISTS search_feed;
    DROP TABLE IF EXISTS search_fts;
    DROP TABLE search_items;
    CREATE TABLE search_items (
        id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, question_id INTEGER NOT NULL,
        name TEXT NOT NULL DEFAULT '', question TEXT NOT NULL DEFAULT '',
        answer TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'pending',
        asked_at INTEGER NOT NULL DEFAULT 0, answered_at INTEGER,
        question_key TEXT NOT NULL DEFAULT '', answer_key TEXT NOT NULL DEFAULT '',
        UNIQUE (session_id, question_id));
    CREATE INDEX search_items_answered ON search_items (status, answered_at);
    CREATE VIRTUAL TABLE search_fts USING fts5(
        question_key, answer_key, content='search_items', content_rowid='id', tokenize='trigram');
    CREATE TRIGGER search_items_ai AFTER INSERT ON search_items BEGIN
        INSERT INTO search_fts(rowid, question_key, answer_key)
            VALUES (new.id, new.question_key, new.answer_key);
    END;
    CREATE TRIGGER search_items_au AFTER UPDATE OF question_key, answer_key ON search_items BEGIN
        INSERT INTO search_fts(search_fts, rowid, question_key, answer_key)
            VALUES ('delete', old.id, old.question_key, old.answer_key);
        INSERT INTO search_fts(rowid, question_key, answer_key)
            VALUES (new.id, new.question_key, new.answer_key);
    END
"""
"""The index written from Python (:mod:`live.store.index`): the triggers that re-implemented
each event's meaning in SQL are dropped, the rows get their folded keys, and the full-text
index covers the keys. The rows are then rebuilt from the log (``sqlite._reindex``)."""

INDEX_UPSERT = (
    "INSERT INTO search_items (session_id, question_id, name, question, answer, status, asked_at, "
    "answered_at, question_key, answer_key) VALUES {rows} "
    "ON CONFLICT (session_id, question_id) DO UPDATE SET name = excluded.name, "
    "question = excluded.question, answer = excluded.answer, status = excluded.status, "
    "asked_at = excluded.asked_at, "
    "answered_at = coalesce(search_items.answered_at, excluded.answered_at), "
    "question_key = excluded.question_key, answer_key = excluded.answer_key"
)
"""Rows as :func:`live.store.index.row` makes them (``{rows}``: their placeholders); the first
answer's time stays."""

_ITEM = "i.session_id, i.question_id, i.name, i.question, i.answer, i.answered_at, s.programme_id, s.info"
_FROM = "FROM search_items i JOIN sessions s ON s.id = i.session_id"


Params = tuple[object, ...]
"""A statement's parameters."""


class SQLiteArchive:
    """Archive queries for :class:`live.store.sqlite.SQLiteStore` (mixed in; reads use ``r``)."""

    if TYPE_CHECKING:  # SQLiteStore.r: the reading connection, read-only

        @property
        def r(self) -> aiosqlite.Connection: ...

    _write: Callable[[str, Params], Awaitable[int]]

    async def search_answered(
        self, phrases: list[str], substrings: list[str], programme_id: int | None, limit: int
    ) -> list[JSON]:
        """Answered questions holding every phrase (FTS5, >= 3 chars) and every substring.

        Terms come folded (:func:`live.store.index.fold`) and match the folded keys.
        With phrases, results are ranked by bm25; otherwise newest answer first.
        """
        where: list[str] = ["i.status = 'answered'"]
        params: list[object] = []
        for s in substrings:
            where.append("(instr(i.question_key, ?) > 0 OR instr(i.answer_key, ?) > 0)")
            params += [s, s]
        if programme_id is not None:
            where.append("s.programme_id = ?")
            params.append(programme_id)
        if phrases:
            match = " AND ".join('"' + p.replace('"', '""') + '"' for p in phrases)
            sql = (
                f"SELECT {_ITEM} FROM search_fts f JOIN search_items i ON i.id = f.rowid "
                f"JOIN sessions s ON s.id = i.session_id WHERE search_fts MATCH ? AND "
                f"{' AND '.join(where)} ORDER BY f.rank LIMIT ?"
            )
            params = [match, *params]
        else:
            sql = f"SELECT {_ITEM} {_FROM} WHERE {' AND '.join(where)} ORDER BY i.answered_at DESC LIMIT ?"
        rows = await self.r.execute_fetchall(sql, (*params, limit))
        return [index.item(r) for r in rows]

    async def similar_answered(
        self, features: list[str], programme_id: int, until: int, limit: int
    ) -> list[JSON]:
        """Answered questions of a programme's sessions starting by ``until`` sharing most features.

        A coarse pre-filter in SQL (how many of the features occur in the question,
        counted twice, or the answer); :mod:`live.search` scores the few it returns.
        """
        if not features:
            return []
        q_hits = " + ".join(["(instr(i.question_key, ?) > 0)"] * len(features))
        a_hits = " + ".join(["(instr(i.answer_key, ?) > 0)"] * len(features))
        sql = (
            f"SELECT {_ITEM}, 2 * ({q_hits}) + ({a_hits}) AS hits {_FROM} "
            "WHERE i.status = 'answered' AND s.programme_id = ? "
            "AND coalesce(json_extract(s.info, '$.starts_at'), 0) <= ? "
            "AND hits > 0 ORDER BY hits DESC, i.answered_at DESC LIMIT ?"
        )
        rows = await self.r.execute_fetchall(sql, (*features, *features, programme_id, until, limit))
        return [index.item(r) for r in rows]

    async def answered_counts(self) -> dict[int, int]:
        """How many questions each session answered (for the archive listing)."""
        rows = await self.r.execute_fetchall(
            "SELECT session_id, count(*) FROM search_items WHERE status = 'answered' GROUP BY session_id"
        )
        return {sid: n for sid, n in rows}

    async def record_presence(self, session_id: int, at: int, viewers: int) -> None:
        await self._write(
            "INSERT INTO presence VALUES (?, ?, ?) ON CONFLICT (session_id, at) "
            "DO UPDATE SET viewers = max(viewers, excluded.viewers)",
            (session_id, at, viewers),
        )

    async def presence(self, session_id: int) -> list[tuple[int, int]]:
        """(bucket start ms, peak connections), oldest first."""
        rows = await self.r.execute_fetchall(
            "SELECT at, viewers FROM presence WHERE session_id = ? ORDER BY at", (session_id,)
        )
        return [(at, n) for at, n in rows]
