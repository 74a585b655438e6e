"""A real server for every test that needs one.

``LiveServer`` runs ``python -m live serve`` as a child process on a free
port against a temporary database, so tests exercise exactly what users run,
and can stop, kill -9 and restart it on the same file.

The ``server`` fixture runs each test twice, through the ``backend`` fixture:
on SQLite with the memory bus, and on a fresh PostgreSQL database with Redis
(the real servers on 127.0.0.1; if they are down the test fails, it never
skips). A module that has nothing backend-specific to show (browser tests)
may pin one: ``pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from live.client import Client

ADMIN = "test-admin-token"
TZ = ZoneInfo("Asia/Shanghai")
TIMEOUT = float(os.environ.get("LIVE_TEST_TIMEOUT", "15"))
"""Seconds any wait may take; raise it on a slow machine rather than editing tests."""
PG = os.environ.get("LIVE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
"""A database the tests may connect to in order to create and drop their own."""
REDIS = os.environ.get("LIVE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Poll ``predicate`` (every 20 ms) until it is truthy; fail naming ``what``."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = predicate()
                if value:
                    return value
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


class LiveServer:
    def __init__(
        self,
        db: str,
        bus: str = "memory",
        port: int | None = None,
        env: dict[str, str] | None = None,
        command: str = "serve",
    ) -> None:
        self.command = command
        self.db = db
        self.bus = bus
        self.port = port or free_port()
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(f"{db}.{self.port}.log") if "://" not in db else Path(f"/tmp/live-{self.port}.log")

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        env = {
            **os.environ,
            "LIVE_ADMIN_TOKEN": ADMIN,
            "LIVE_TALLY_INTERVAL": "0.1",
            "LIVE_LOG_LEVEL": "warning",
            "LIVE_QUESTIONS_PER_MINUTE": "100",
            **self.env,
        }
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "live",
                    self.command,
                    "--db",
                    self.db,
                    "--bus",
                    self.bus,
                    "--port",
                    str(self.port),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 2 * TIMEOUT  # a process to start, on a machine under test load
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.http}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.http, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=TIMEOUT)

    def client(self, session_id: int, **kwargs: Any) -> Client:
        return Client(self.ws, session_id, **kwargs)

    def create_session(
        self, start: timedelta = timedelta(minutes=-10), length: timedelta = timedelta(hours=2), **fields: Any
    ) -> dict[str, Any]:
        """A programme (if needed) and a session whose window starts ``start`` from now."""
        with self.admin() as http:
            programmes = http.get("/api/programmes").json()["programmes"]
            if programmes:
                pid = programmes[0]["id"]
            else:
                pid = http.post("/api/programmes", json={"slug": "qzzx", "title": "区长在线"}).json()["id"]
            begin = datetime.now(TZ) + start
            body = {
                "programme_id": pid,
                "episode": 32,
                "title": "区长在线 第32期",
                "guest_name": "李明",
                "guest_post": "副区长",
                "starts_at": begin.isoformat(),
                "ends_at": (begin + length).isoformat(),
                **fields,
            }
            r = http.post("/api/sessions", json=body)
            assert r.status_code == 201, r.text
            data = r.json()
        data["presenter_token"] = data["links"]["presenter"].split("#key=")[1]
        data["moderator_token"] = data["links"]["moderator"].split("#key=")[1]
        data["host_token"] = data["links"]["host"].split("#key=")[1]
        return data


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "live.db")


@dataclass(frozen=True)
class Backend:
    name: str
    db: str
    bus: str
    env: dict[str, str] = field(default_factory=dict)


SHARED_REDIS_ENV = {"LIVE_QUESTIONS_PER_MINUTE_IP": "100000"}
"""Rate-limit counters in Redis are shared by every server using it, and every test client
is 127.0.0.1: without this, one test's questions would count against the next test's."""


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped (connections and all) afterwards."""
    name = f"live_t_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(PG)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{PG.rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await asyncpg.connect(PG)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, db_path: str) -> AsyncIterator[Backend]:
    """sqlite: a temp file and the memory bus; postgres: a fresh database and Redis."""
    if request.param == "sqlite":
        yield Backend("sqlite", db_path, "memory")
        return
    async with fresh_pg_database() as url:
        yield Backend("postgres", url, REDIS, SHARED_REDIS_ENV)


@pytest.fixture
async def server(backend: Backend) -> AsyncIterator[LiveServer]:
    srv = await asyncio.to_thread(LiveServer(backend.db, backend.bus, env=backend.env).start)
    try:
        yield srv
    finally:
        if srv.proc is not None:
            srv.kill()
