"""Shared by the tests that attack a running server (reliability, security, operations, fuzz).

These tests run their own :class:`~tests.conftest.LiveServer` on SQLite: what
they break (kill -9, SIGTERM, a locked or full database file, the backup API)
is the SQLite deployment, and the attacks above the store do not depend on it.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from .conftest import ADMIN, TIMEOUT, LiveServer

UNLIMITED = {
    "LIVE_QUESTIONS_PER_MINUTE": "1000000",
    "LIVE_QUESTIONS_PER_MINUTE_IP": "1000000",
    "LIVE_VOTES_PER_MINUTE": "1000000",
    "LIVE_VOTES_PER_MINUTE_IP": "1000000",
    "LIVE_FRAMES_PER_SECOND": "1000000",
}
"""Rate limits out of the way, for tests that need one machine to act as many citizens."""


def start(tmp_path: Path, name: str = "live.db", **env: str) -> LiveServer:
    return LiveServer(str(tmp_path / name), env={**UNLIMITED, **env}).start()


@contextmanager
def running(tmp_path: Path, name: str = "live.db", **env: str) -> Iterator[LiveServer]:
    srv = start(tmp_path, name, **env)
    try:
        yield srv
    finally:
        if srv.proc is not None:
            srv.kill()


@functools.cache
def _client(base: str, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base, headers=headers, timeout=TIMEOUT, verify=False)


def api(srv: LiveServer, token: str | None = None) -> httpx.Client:
    """A kept-alive HTTP client (making one loads a TLS context: ~0.1 s each under load)."""
    return _client(srv.http, token)


def fetch(
    srv: LiveServer,
    method: str,
    path: str,
    token: str | None = None,
    cookie: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request as a given actor: Bearer ``token``, device ``cookie``, or neither."""
    client = api(srv, token)
    headers = {**kwargs.pop("headers", {}), **({"Cookie": f"live_device={cookie}"} if cookie else {})}
    try:
        return client.request(method, path, headers=headers, **kwargs)
    finally:
        client.cookies.clear()  # the next caller is someone else


def full_log(srv: LiveServer, session_id: int, staff: bool = True) -> list[dict[str, Any]]:
    """Every event of a session, paging through ``/events``."""
    http = api(srv, ADMIN if staff else None)
    events: list[dict[str, Any]] = []
    for _ in range(10_000):
        page = http.get(
            f"/api/sessions/{session_id}/events",
            params={"after": events[-1]["seq"] if events else 0, "limit": 1000},
        )
        page.raise_for_status()
        events += page.json()["events"]
        if not page.json()["more"]:
            return events
    raise AssertionError("the log never ended")


def state(srv: LiveServer, session_id: int) -> dict[str, Any]:
    r = api(srv, ADMIN).get(f"/api/sessions/{session_id}")
    r.raise_for_status()
    return r.json()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def metric(srv: LiveServer, name: str, **labels: str) -> float:
    """One sample from ``/metrics`` (0 if that label set was never touched)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = api(srv).get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@contextmanager
def write_locked(db: str) -> Iterator[sqlite3.Connection]:
    """Hold SQLite's write lock from another connection, as a stuck backup job would."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()
