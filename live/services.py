"""The running parts of one worker, wired together once at start-up.

Routes and the WebSocket endpoint reach everything through one
:class:`Services` object on ``app.state.live``; nothing is a module global, so
tests can run several servers in one process.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from .auth import Devices, hash_token, new_token
from .bus import Bus, open_bus
from .rooms import Rooms
from .sessions import Sessions
from .settings import Settings
from .store import Store, open_store

log = logging.getLogger("live")


async def ensure_secrets(store: Store, settings: Settings) -> tuple[str, str, str | None]:
    """The signing secret and admin token hash, created on first start.

    Returns ``(secret, admin_hash, new_admin_token)``; the plain token is
    returned only when it was generated just now, because only its hash is kept.
    """
    secret = await store.get_meta("secret")
    if secret is None:
        secret = secrets.token_urlsafe(32)
        await store.set_meta("secret", secret)
    if settings.admin_token:
        return secret, hash_token(settings.admin_token), None
    admin_hash = await store.get_meta("admin_token_hash")
    if admin_hash is not None:
        return secret, admin_hash, None
    token = new_token()
    await store.set_meta("admin_token_hash", hash_token(token))
    return secret, hash_token(token), token


@dataclass
class Services:
    settings: Settings
    store: Store
    bus: Bus
    rooms: Rooms
    sessions: Sessions
    devices: Devices
    admin_hash: str

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        store = open_store(settings.db)
        await store.open()
        secret, admin_hash, token = await ensure_secrets(store, settings)
        if token:
            log.warning("generated admin token (shown once): %s", token)
        bus = open_bus(settings.bus)
        await bus.connect()
        rooms = Rooms(store, bus, settings.tally_interval)
        await rooms.start()
        devices = Devices(secret)
        sessions = Sessions(store, rooms, devices, settings)
        return cls(settings, store, bus, rooms, sessions, devices, admin_hash)

    async def stop(self) -> None:
        await self.rooms.stop()
        await self.bus.disconnect()
        await self.store.close()
