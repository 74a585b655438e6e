"""The running parts of one worker, wired together once at start-up.

Routes and the WebSocket endpoint reach everything through one
:class:`Services` object on ``app.state.live``; nothing is a module global, so
tests can run several servers in one process. This is the one place that opens
the whole :class:`~live.store.Store`: each service below is handed the narrow
protocols it uses, and the layers above reach storage only through the services
(``tests/test_layers.py``), never through :attr:`Services.store`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from .archives import Archives
from .auth import Devices, hash_token, new_token, token_matches
from .board import Board
from .bus import Bus, open_bus, open_redis
from .bus.base import Message
from .exceptions import TooLarge
from .limits import open_limiter
from .notifier import Notifier
from .photos import PhotoDesk
from .programmes import Programmes
from .releases import Releases
from .rooms import Rooms
from .sessions import Sessions
from .settings import Settings
from .store import Meta, Store, open_store
from .wordfilter import WordFilter

WORDS_KEY = "blocked_words"
MAX_WORD_CHARS = 100
"""Longest blocked word or phrase (see :meth:`Services.set_words`)."""
CONFIG_CHANNEL = "live:config"
PROBE_BYTES = 9 * 3072
"""Random bytes in the readiness probe: 9 pages of base64 text. On SQLite its commit writes 10
WAL pages (its row, replaced), more than the longest question's commit (at most 8: 500
characters, a b-tree split, the file grown; ``test_reliability.py`` compares them), with one to
spare for a split that reaches a deeper tree. That is ~41 KB per ``/readyz``: poll it every few
seconds, not many times a second."""

log = logging.getLogger("live")


async def ensure_secrets(store: Meta, settings: Settings) -> tuple[str, str, str | None]:
    """The signing secret and admin token hash, created on first start.

    Returns ``(secret, admin_hash, new_admin_token)``; the plain token is
    returned only when it was generated just now, because only its hash is kept.
    """
    secret = await store.get_meta("secret")
    if secret is None:
        # Several hosts may start at once on a new database: the first write wins, and
        # everyone re-reads it, so all sign cookies and receipts with the same secret.
        await store.set_meta("secret", secrets.token_urlsafe(32), replace=False)
        secret = await store.get_meta("secret")
        assert secret is not None
    if settings.admin_token:
        return secret, hash_token(settings.admin_token), None
    admin_hash = await store.get_meta("admin_token_hash")
    if admin_hash is not None:
        return secret, admin_hash, None
    token = new_token()
    await store.set_meta("admin_token_hash", hash_token(token), replace=False)
    stored = await store.get_meta("admin_token_hash")
    if stored is None or not token_matches(token, stored):
        return secret, str(stored), None  # another host generated it first and printed it
    return secret, stored, token


@dataclass
class Services:
    settings: Settings
    store: Store
    bus: Bus
    rooms: Rooms
    sessions: Sessions
    programmes: Programmes
    archives: Archives
    devices: Devices
    admin_hash: str
    words: WordFilter
    board: Board
    photos: PhotoDesk
    notifier: Notifier = field(init=False, repr=False)
    _opened: AsyncExitStack = field(init=False, repr=False)
    _reload: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        """Open every layer, or close again whatever opened before one failed.

        Why the stack: a start that failed half-way (Redis unreachable) used to leave
        the store's threads running, and the process never exited after uvicorn's
        "Application startup failed".
        """
        async with AsyncExitStack() as opened:
            store = open_store(settings.db)
            await store.open()
            opened.push_async_callback(store.close)
            secret, admin_hash, token = await ensure_secrets(store, settings)
            if token:
                log.warning("generated admin token (shown once): %s", token)
            # One set of Redis clients for the bus and the limiter alike; closed after
            # both, so neither closes what the other uses.
            redis = open_redis(settings.bus)
            if redis is not None:
                opened.push_async_callback(redis.aclose)
            bus = open_bus(settings.bus, redis)
            opened.push_async_callback(bus.disconnect)
            await bus.connect()
            limiter = open_limiter(redis.limiter if redis else None, namespace=hash_token(secret)[:12])
            opened.push_async_callback(limiter.close)
            rooms = Rooms(store, bus, settings.tally_interval)
            await rooms.start()
            opened.push_async_callback(rooms.stop)
            releases = Releases(rooms, store)
            await releases.start()
            opened.push_async_callback(releases.stop)
            devices = Devices(secret)
            words = WordFilter()
            sessions = Sessions(store, rooms, devices, settings, limiter, words)
            programmes, archives = Programmes(store), Archives(store)
            live = cls(
                settings,
                store,
                bus,
                rooms,
                sessions,
                programmes,
                archives,
                devices,
                admin_hash,
                words,
                Board(store),
                PhotoDesk(store, rooms, sessions, settings),
            )
            await live.reload_words()
            await opened.enter_async_context(bus.subscribe(CONFIG_CHANNEL, live._on_config))
            live.notifier = Notifier(store, devices, settings, namespace=hash_token(secret)[:8])
            opened.push_async_callback(live.notifier.stop)  # started by the app: live.app
            live._opened = opened.pop_all()
        return live

    async def probe(self) -> None:
        """A write as large as a question's, committed like any other, for ``/readyz``
        (:func:`live.routes.readyz` says why); raises if the store takes none."""
        await self.store.set_meta("ready_probe", secrets.token_urlsafe(PROBE_BYTES))

    async def reload_words(self) -> None:
        stored = await self.store.get_meta(WORDS_KEY)
        self.words.load(stored.splitlines() if stored else [])

    def _on_config(self, message: Message | None) -> None:
        """Another worker changed the word list (or the bus reconnected): reload it."""
        self._reload = asyncio.get_running_loop().create_task(self.reload_words())

    async def set_words(self, words: list[str]) -> int:
        """Store the blocked-word list and have every worker reload it.

        A word is at most :data:`MAX_WORD_CHARS` characters: pyahocorasick frees its trie
        recursively, and a single 350,000-character word crashed the server (a segfault)
        when the automaton it was in was replaced.
        """
        long = next((w for w in words if len(w.strip()) > MAX_WORD_CHARS), None)
        if long is not None:
            raise TooLarge(
                "text_too_long",
                f"屏蔽词过长（最多 {MAX_WORD_CHARS} 字）",
                f"A blocked word is too long (at most {MAX_WORD_CHARS} characters)",
                field="words",
                limit=MAX_WORD_CHARS,
                word=long[:20],
            )
        await self.store.set_meta(WORDS_KEY, "\n".join(w.strip() for w in words if w.strip()))
        await self.reload_words()
        await self.bus.publish(CONFIG_CHANNEL, "words")
        return len(self.words.words)

    async def stop(self) -> None:
        """Close every layer, the last opened first."""
        await self._opened.aclose()
