"""The servers under test, each a child process the bench starts fresh and measures.

* ``live``: ours, exactly as users run it (``python -m live serve``, one process,
  SQLite with ``synchronous=FULL``, everything on). Only for ingest and the
  vote storm are the per-device, per-IP and per-connection rate limits raised,
  because there a load generator on one IP address stands in for thousands of
  phones; fan-out, reconnect and isolation run with the defaults.
* ``websockets``: :mod:`bench.baseline_ws`, the bare ``websockets`` library.
* ``node``: ``bench/node/server.js`` on node's ``ws`` (run ``npm install`` in
  ``bench/node`` first; the bench says so if it is missing).

CPU time and resident memory are read from ``/proc/<pid>`` of the server
process itself, so the load generator's own cost never counts.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from live.client import Client

ADMIN = "bench-admin-token"
ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "bench" / "node"
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
LIMITS_RAISED = {
    "LIVE_QUESTIONS_PER_MINUTE": "100000000",
    "LIVE_QUESTIONS_PER_MINUTE_IP": "100000000",
    "LIVE_VOTES_PER_MINUTE": "100000000",
    "LIVE_VOTES_PER_MINUTE_IP": "100000000",
    "LIVE_FRAMES_PER_SECOND": "100000",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raise_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


class Target:
    """One server process; subclasses say how to start it and how to publish to it."""

    name = ""

    def __init__(
        self, tally_interval: float = 0.15, env: dict[str, str] | None = None, raise_limits: bool = False
    ) -> None:
        self.port = free_port()
        self.tally_interval = tally_interval
        self.raise_limits = raise_limits
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))
        self.session_id = 1
        self.token: str | None = None

    @property
    def path(self) -> str:
        return f"/ws/{self.session_id}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def cwd(self) -> Path:
        """Where the server process starts (``python -m`` imports from there first)."""
        return ROOT

    async def start(self) -> Target:
        log = (self.tmp / "server.log").open("ab")
        command = self.command()
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_raise_nofile, cwd=self.cwd
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await self.ready()
                return self
            except OSError:
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start: {self.log_tail()}")

    async def ready(self) -> None:
        """Wait until the server answers; ours also waits for its readiness check."""

    def log_tail(self) -> str:
        path = self.tmp / "server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    async def prepare(self, questions: int) -> list[int]:
        """A session with ``questions`` published questions to answer or vote on."""
        return list(range(1, questions + 1))

    def presenter(self) -> Client:
        return Client(f"ws://127.0.0.1:{self.port}", self.session_id, token=self.token)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    @classmethod
    def version(cls) -> str:
        return ""


class LiveTarget(Target):
    name = "live"
    bus = "memory"
    """``--bus`` for our server (``python -m bench --bus``): Redis, to measure the scale-out path."""

    def command(self) -> list[str]:
        self.env.update(
            {
                "LIVE_ADMIN_TOKEN": ADMIN,
                "LIVE_LOG_LEVEL": "warning",
                "LIVE_TALLY_INTERVAL": str(self.tally_interval),
                **(LIMITS_RAISED if self.raise_limits else {}),
                **self.env,
            }
        )
        wrap = os.environ.get("BENCH_LIVE_WRAP")
        head = [sys.executable, wrap] if wrap else [sys.executable, "-m", "live"]
        return [
            *head,
            "serve",
            "--db",
            str(self.tmp / "live.db"),
            "--port",
            str(self.port),
            "--bus",
            self.bus,
        ]

    async def ready(self) -> None:
        async with httpx.AsyncClient() as http:
            r = await http.get(f"http://127.0.0.1:{self.port}/readyz")
            if r.status_code != 200:
                raise OSError("not ready")

    async def prepare(self, questions: int) -> list[int]:
        tz = ZoneInfo("Asia/Shanghai")
        begin = datetime.now(tz) - timedelta(minutes=10)
        headers = {"Authorization": f"Bearer {ADMIN}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}", headers=headers, timeout=30
        ) as http:
            r = await http.post("/api/programmes", json={"slug": "bench", "title": "区长在线"})
            r.raise_for_status()
            r = await http.post(
                "/api/sessions",
                json={
                    "programme_id": r.json()["id"],
                    "episode": 32,
                    "title": "区长在线 第32期 压力测试",
                    "guest_name": "李明",
                    "guest_post": "副区长",
                    "moderation": "post",
                    "starts_at": begin.isoformat(),
                    "ends_at": (begin + timedelta(hours=3)).isoformat(),
                },
            )
            r.raise_for_status()
            self.session_id = r.json()["id"]
        self.token = ADMIN
        ids = []
        async with self.presenter() as admin:
            for i in range(questions):
                ack = await admin.request(
                    "ask",
                    client_id=f"bench-{i}",
                    name="网友",
                    text=f"第{i}个问题：小区门口的路什么时候修好？",
                )
                ids.append(ack["question_id"])
        return ids

    @classmethod
    def version(cls) -> str:
        import starlette
        import uvicorn
        import websockets

        return (
            f"uvicorn {uvicorn.__version__} (ws=websockets-sansio, no deflate), "
            f"starlette {starlette.__version__}, websockets {websockets.__version__}, {_loop()}"
        )


class BeforeTarget(LiveTarget):
    """Ours as another checkout has it (``python -m bench --before DIR``), so that a change is
    measured against the code before it in the same run, the two interleaved run by run, on a
    machine whose load changes from minute to minute. Make the checkout with ``git archive``::

        mkdir /tmp/before && git archive <commit> | tar -x -C /tmp/before
    """

    name = "live-before"
    source: Path | None = None

    @property
    def cwd(self) -> Path:
        assert self.source is not None, "live-before needs --before DIR"
        return self.source

    def command(self) -> list[str]:
        self.env["PYTHONPATH"] = str(self.cwd)
        return super().command()


class WebsocketsTarget(Target):
    name = "websockets"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "bench.baseline_ws",
            "--port",
            str(self.port),
            "--tally-interval",
            str(self.tally_interval),
        ]

    @classmethod
    def version(cls) -> str:
        import websockets

        return f"websockets {websockets.__version__}, {_loop()}"


class NodeTarget(Target):
    name = "node"

    def command(self) -> list[str]:
        if not (NODE_DIR / "node_modules" / "ws").is_dir():
            raise RuntimeError(f"node baseline needs `npm install` in {NODE_DIR}")
        return [
            "node",
            str(NODE_DIR / "server.js"),
            "--port",
            str(self.port),
            "--tally-interval",
            str(self.tally_interval),
        ]

    @classmethod
    def version(cls) -> str:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        pkg = NODE_DIR / "node_modules" / "ws" / "package.json"
        ws = pkg.read_text().split('"version": "')[1].split('"')[0] if pkg.exists() else "?"
        return f"node {node}, ws {ws}"


TARGETS: dict[str, type[Target]] = {
    "live": LiveTarget,
    "websockets": WebsocketsTarget,
    "node": NodeTarget,
    "live-before": BeforeTarget,
}


def _loop() -> str:
    """The event loop both Python servers run on."""
    try:
        import uvloop
    except ImportError:
        return "asyncio's own loop"
    return f"uvloop {uvloop.__version__}"


def node_available() -> bool:
    return shutil.which("node") is not None and (NODE_DIR / "node_modules" / "ws").is_dir()


def describe(names: list[str]) -> dict[str, Any]:
    return {name: TARGETS[name].version() for name in names}
