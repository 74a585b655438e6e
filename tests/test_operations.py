"""Operations: health, metrics, structured logs, backups, moving a session, and the docs that
promise all of it (every setting, every metric and every promised test must be written down)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from live import metrics
from live.client import ServerError
from live.settings import SETTINGS

from .attack import UNLIMITED, fetch, full_log, metric, running, state
from .conftest import ADMIN, REDIS, SHARED_REDIS_ENV, TIMEOUT, Backend, LiveServer, until

ROOT = Path(__file__).resolve().parent.parent


def live_cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "live", *args], capture_output=True, text=True, timeout=TIMEOUT * 4
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# 11. health, readiness, metrics, request ids and structured logs --------------------------------


async def test_health_metrics_and_request_ids(tmp_path: Path) -> None:
    with running(tmp_path, LIVE_LOG_LEVEL="info") as srv:
        assert fetch(srv, "GET", "/healthz").json() == {"ok": True}
        assert fetch(srv, "GET", "/readyz").json() == {"ok": True}
        s = srv.create_session(moderation="post")
        sid = s["id"]
        asked = metric(srv, "live_events_appended_total", type="question.asked")
        broadcast = metric(srv, "live_broadcast_latency_seconds_count")
        async with (
            srv.client(sid) as v1,
            srv.client(sid) as v2,
            srv.client(sid, token=s["moderator_token"]) as mod,
        ):
            assert metric(srv, "live_connections", role="viewer") == 2
            assert metric(srv, "live_connections", role="moderator") == 1
            for i in range(3):
                await v1.request("ask", client_id=f"m{i}", text=f"指标问题{i}")
            forbidden = metric(srv, "live_refused_requests_total", code="forbidden", transport="ws")
            with pytest.raises(ServerError):
                await v2.request("close")
            assert (
                metric(srv, "live_refused_requests_total", code="forbidden", transport="ws") == forbidden + 1
            )
            await mod.wait_seq(4)
        assert metric(srv, "live_connections", role="viewer") == 0
        assert metric(srv, "live_events_appended_total", type="question.asked") == asked + 3
        assert metric(srv, "live_broadcast_latency_seconds_count") >= broadcast + 3
        assert fetch(srv, "POST", "/api/programmes", json={"slug": "x", "title": "x"}).status_code == 403
        assert metric(srv, "live_refused_requests_total", code="admin_only", transport="http") == 1
        assert metric(srv, "live_http_requests_total", method="POST", status="403") == 1

        mine = fetch(srv, "GET", "/api/sessions", headers={"X-Request-Id": "ticket-4711"})
        assert mine.headers["x-request-id"] == "ticket-4711"
        odd = fetch(srv, "GET", "/api/sessions", headers={"X-Request-Id": "no spaces <allowed>"})
        assert re.fullmatch(r"[0-9a-f]{16}", odd.headers["x-request-id"])
        srv.stop()
    lines = srv.log.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("{"))
    assert all(line.startswith("{") for line in lines[first:]), "a log line that is not JSON"
    records = [json.loads(line) for line in lines[first:]]
    access = [r for r in records if r.get("request_id") == "ticket-4711"]
    assert access and access[-1]["path"] == "/api/sessions" and access[-1]["status"] == 200
    sockets = [r for r in records if r["msg"] == "websocket"]
    assert len(sockets) == 3 and all(r["request_id"] and r["close_code"] for r in sockets)


def workers(supervisor: int) -> set[int]:
    """The pids of uvicorn's worker processes under ``supervisor``."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return {int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()}


def connections(pid: int, port: int) -> set[int]:
    """The client ports of the established TCP connections ``pid`` holds on its ``port``."""
    sockets = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            sockets.add(os.readlink(fd).removeprefix("socket:[").removesuffix("]"))
        except OSError:  # closed since the listing
            continue
    held = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        _, local, remote, status, *_, inode = line.split()[:10]
        if status == "01" and int(local.split(":")[1], 16) == port and inode in sockets:
            held.add(int(remote.split(":")[1], 16))
    return held


def samples(srv: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """One scrape of ``/metrics`` on a new connection (so either worker may answer it)."""
    text = httpx.get(f"{srv.http}/metrics", timeout=TIMEOUT).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


VIEWERS = ("live_connections", (("role", "viewer"),))
ASKED = ("live_events_appended_total", (("type", "question.asked"),))


async def test_metrics_sum_every_worker_and_forget_a_dead_ones_gauges(tmp_path: Path) -> None:
    """``live serve --workers 2`` sets up prometheus-client's multiprocess mode itself: every
    scrape, whichever worker answers it, counts the viewers of both, and after a worker is
    killed (and replaced by the supervisor), its viewers are no longer counted; its counters
    are kept, so totals never go back."""
    srv = LiveServer(str(tmp_path / "live.db"), REDIS, env={**SHARED_REDIS_ENV, "LIVE_WORKERS": "2"})
    await asyncio.to_thread(srv.start)
    viewers: list[Any] = []
    try:
        assert srv.proc is not None
        first = workers(srv.proc.pid)
        assert len(first) == 2, first
        sid = srv.create_session(moderation="post")["id"]
        held: dict[int, set[int]] = {}
        while len(viewers) < 40 and not (held and all(len(v) >= 2 for v in held.values())):
            viewers.append(srv.client(sid))
            await viewers[-1].connect()
            held = {pid: connections(pid, srv.port) for pid in first}
        assert all(len(v) >= 2 for v in held.values()), f"the OS gave one worker every viewer: {held}"
        for n, v in enumerate(viewers):
            await v.request("ask", client_id=f"m{n}", text=f"两个进程的指标问题{n}")
        for _ in range(6):
            scrape = samples(srv)
            assert scrape[VIEWERS] == len(viewers) and scrape[ASKED] == len(viewers), scrape

        victim = min(first, key=lambda pid: len(held[pid]))
        os.kill(victim, signal.SIGKILL)
        await until(lambda: sum(v.close_code is not None for v in viewers) == len(held[victim]), "cut off")
        await until(lambda: len(workers(srv.proc.pid) - {victim}) == 2, "the supervisor's new worker")  # type: ignore[union-attr]
        still = len(viewers) - len(held[victim])
        await until(lambda: samples(srv)[VIEWERS] == still, "the dead worker's viewers to go uncounted")
        for _ in range(6):
            scrape = samples(srv)
            assert scrape[VIEWERS] == still and scrape[ASKED] == len(viewers), scrape
    finally:
        for v in viewers:
            await v.close()
        srv.stop(signal.SIGTERM)  # SIGKILL would orphan uvicorn's worker processes


async def test_an_operators_metrics_directory_is_cleared_at_start(tmp_path: Path) -> None:
    """``PROMETHEUS_MULTIPROC_DIR`` given (a systemd unit's runtime directory), one worker: a
    run killed with viewers connected leaves their gauge there; the next start clears it."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    with running(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(folder)) as srv:
        sid = srv.create_session()["id"]
        async with srv.client(sid), srv.client(sid):
            assert samples(srv)[VIEWERS] == 2
            srv.kill()
    assert any(folder.glob("gauge_livesum_*.db")), "the killed run left no gauges to clear"
    with running(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(folder)) as srv:
        async with srv.client(sid):
            assert samples(srv)[VIEWERS] == 1


# 12. backup while clients write; export and import one session ----------------------------------


async def test_backup_while_clients_write_is_a_consistent_prefix_with_new_epochs(tmp_path: Path) -> None:
    copy = tmp_path / "backup.db"
    with running(tmp_path) as srv:
        s = srv.create_session(moderation="post")
        sid = s["id"]
        acked_before: list[int] = []
        backing_up, done = asyncio.Event(), asyncio.Event()

        async def writer(n: int) -> None:
            """Ask and vote until a few writes after the backup finished (bounded either way)."""
            after = 0
            async with srv.client(sid) as c, srv.client(sid) as fan:  # 同问 is for others' questions
                for i in range(2000):
                    ack = await c.request("ask", client_id=f"{n}-{i}", text=f"备份时的问题{n}-{i}")
                    if not backing_up.is_set():
                        acked_before.append(ack["question_id"])
                    if i % 3 == 0:
                        await fan.request("vote", question_id=ack["question_id"])
                    after += done.is_set()
                    if after > 5:
                        return

        async def backup() -> str:
            await until(lambda: len(acked_before) >= 60, "writes before the backup")
            backing_up.set()
            try:
                return await asyncio.to_thread(live_cli, "backup", str(copy), "--db", srv.db)
            finally:
                done.set()

        *_, out = await asyncio.gather(writer(0), writer(1), backup())
        assert "backup written" in out
        live_log = full_log(srv, sid)
        live_epoch = state(srv, sid)["epoch"]

    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (epoch, last_seq) = db.execute("SELECT epoch, last_seq FROM sessions WHERE id=?", (sid,)).fetchone()
        rows = db.execute(
            "SELECT seq, type, data, at FROM events WHERE session_id=? ORDER BY seq", (sid,)
        ).fetchall()
    assert epoch != live_epoch, "a restored copy must make clients reset"
    assert [r[0] for r in rows] == list(range(1, last_seq + 1)), "the copy's log has a gap"
    assert [(e["seq"], e["type"], e["data"], e["at"]) for e in live_log[: len(rows)]] == [
        (seq, kind, json.loads(data), at) for seq, kind, data, at in rows
    ], "not a prefix"
    assert len(rows) < len(live_log), "the backup did not run while clients were writing"

    restored = LiveServer(str(copy)).start()
    try:
        questions = {q["id"] for q in state(restored, sid)["questions"]}
        assert set(acked_before) <= questions
        old = restored.client(sid)
        old.seq, old.epoch = 3, live_epoch
        welcome = await old.connect(resume=True)
        assert welcome["mode"] == "snapshot" and welcome["reset"] is True
        await old.close()
    finally:
        restored.kill()


async def test_export_and_import_move_a_session_with_a_new_id_epoch_and_links(
    tmp_path: Path, backend: Backend
) -> None:
    """From SQLite into either engine: a SQLite file, or PostgreSQL (issue 18, point 10)."""
    exported = tmp_path / "session.jsonl"
    with running(tmp_path, "a.db") as a:
        s = a.create_session(moderation="pre")
        sid = s["id"]
        async with (
            a.client(sid) as v,
            a.client(sid) as fan,  # 同问 is for others' questions
            a.client(sid, token=s["moderator_token"]) as mod,
            a.client(sid, token=s["presenter_token"]) as official,
        ):
            for i in range(4):
                q = (await v.request("ask", client_id=f"e{i}", text=f"迁移的问题{i}", contact="13800000000"))[
                    "question_id"
                ]
                if i < 3:
                    await mod.request("approve", question_id=q)
                    await fan.request("vote", question_id=q)
                if i == 0:
                    await official.request("answer", question_id=q, text="已经解决")
        await until(
            lambda: [q["votes"] for q in state(a, sid)["questions"]] == [1, 1, 1, 0], "the coalesced tally"
        )
        original = state(a, sid)
        original_log = full_log(a, sid)
        assert any(q["votes"] for q in original["questions"])
        out = live_cli("export", str(sid), str(exported), "--db", a.db)
        assert f"{len(original_log)} events" in out
        assert "13800000000" in exported.read_text(), "private contacts must move with the session"

    b = LiveServer(backend.db, backend.bus, env={**UNLIMITED, **backend.env}).start()
    try:
        b.create_session()
        b.create_session()
        printed = live_cli("import", str(exported), "--db", b.db)
        new_id = int(re.search(r"imported as session (\d+)", printed).group(1))  # type: ignore[union-attr]
        keys = dict(re.findall(r"/s/\d+/(presenter|moderator)#key=(\S+)", printed))
        assert new_id == 3
        moved = state(b, new_id)
        assert moved["epoch"] != original["epoch"]
        assert _same(moved) == _same(original)
        assert [(e["seq"], e["type"], e["at"], e["data"]) for e in full_log(b, new_id)] == [
            (e["seq"], e["type"], e["at"], e["data"]) for e in original_log
        ]
        async with b.client(new_id, token=keys["moderator"]) as new_mod:
            assert new_mod.welcome["role"] == "moderator"
            await new_mod.request("approve", question_id=4)
        stale = b.client(new_id, token=s["moderator_token"])
        with pytest.raises(ConnectionError):
            await stale.connect()
        assert stale.close_code == 4401
        assert "13800000000" not in fetch(b, "GET", f"/api/sessions/{new_id}", ADMIN).text
        stats = fetch(b, "GET", f"/api/sessions/{new_id}/stats", ADMIN).json()
        assert stats["votes"] == 3, "the votes came with the session"
        found = fetch(b, "GET", "/api/search", params={"q": "迁移的问题0"}).json()["results"]
        assert [(r["session_id"], r["answer"]) for r in found] == [(new_id, "已经解决")], (
            "an imported answer is in the search index, as if appended there"
        )
    finally:
        b.kill()


def _same(snapshot: dict[str, Any]) -> Any:
    return {k: v for k, v in snapshot.items() if k not in ("epoch", "id", "seq", "phase")}


def test_backup_and_import_refuse_what_they_cannot_do(tmp_path: Path) -> None:
    pg = subprocess.run(
        [
            sys.executable,
            "-m",
            "live",
            "backup",
            str(tmp_path / "x.db"),
            "--db",
            "postgresql://127.0.0.1/live",
        ],
        capture_output=True,
        text=True,
    )
    assert pg.returncode != 0 and "pg_dump" in pg.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"kind": "live-session", "version": 1, "programme": {}, '
        '"session": {"last_seq": 2, "info": {}}}\n'
        '{"kind": "event", "seq": 2, "type": "session.created", "at": 0, "data": {}, '
        '"public": null, "private": {}}\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "live", "import", str(bad), "--db", str(tmp_path / "y.db")],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "gap" in done.stderr


# 13. the docs promise what the code does ----------------------------------------------------------


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text()
    for s in SETTINGS:
        row = next((line for line in doc.splitlines() if f"`{s.env}`" in line), None)
        assert row is not None, f"{s.env} is not in docs/settings.md"
        assert f"`{s.default}`" in row or (s.default == "" and "(empty)" in row), (
            f"{s.env}: default {s.default!r} is not stated"
        )


def test_every_metric_and_promised_test_is_real() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text()
    for m in (
        metrics.CONNECTIONS,
        metrics.EVENTS,
        metrics.BROADCAST,
        metrics.OUTBOX_DROPS,
        metrics.REFUSED,
        metrics.IN_FLIGHT,
        metrics.HTTP,
    ):
        name = m._name + ("_total" if m._type == "counter" else "")
        assert f"`{name}" in doc, f"metric {name} is not explained in docs/operations.md"
    tests = {
        m
        for path in (ROOT / "tests").glob("test_*.py")
        for m in re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.M)
    }
    promised = set(re.findall(r"`(test_\w+)`", doc))
    assert promised, "docs/operations.md names no test"
    assert promised <= tests, f"promised but missing: {sorted(promised - tests)}"


def test_the_quick_start_demo_stages_last_weeks_episode_on_its_evening(tmp_path: Path) -> None:
    """``live demo`` (the README's first command): episode 32 live now, 33 announced, and 31
    recorded on last week's evening, so replay plays an evening, not one instant; then its
    aftermath (有问必答), done since: every question given an outcome, one made a
    commitment, one carried over into 33, one rated, and the episode archived."""
    srv = LiveServer(str(tmp_path / "demo.db"), command="demo").start()
    try:
        sessions = {s["episode"]: s for s in fetch(srv, "GET", "/api/sessions").json()["sessions"]}
        assert {e: s["phase"] for e, s in sessions.items()} == {31: "archived", 32: "open", 33: "upcoming"}
        past = sessions[31]
        log = fetch(srv, "GET", f"/api/sessions/{past['id']}/events").json()["events"]
        assert log[0]["type"] == "session.created" and log[0]["at"] < past["starts_at"]
        evening = [e for e in log if e["at"] < past["ends_at"]]
        qa = [e for e in evening if e["type"].startswith("question.")]
        assert all(past["starts_at"] < e["at"] < past["ends_at"] for e in qa)
        assert qa[-1]["at"] - qa[0]["at"] >= 30 * 60_000
        answers = [e["data"]["question"]["answer"]["at"] for e in qa if e["type"] == "question.answered"]
        assert answers == [e["at"] for e in qa if e["type"] == "question.answered"]
        transcript = fetch(srv, "GET", f"/api/sessions/{past['id']}/transcript").json()
        assert transcript["answered"] == len(answers) == 3
        outcomes = [
            q["outcome"] for q in fetch(srv, "GET", f"/api/sessions/{past['id']}").json()["questions"]
        ]
        assert outcomes == ["answered"] * 3 + ["declined", "forwarded", "carried_over"]
        assert transcript["satisfaction"]["rated"] == 1
        later = fetch(srv, "GET", f"/api/sessions/{sessions[33]['id']}").json()["questions"]
        assert [q["carried_from"]["session_id"] for q in later] == [past["id"]]
        board = fetch(srv, "GET", "/api/commitments", params={"programme": "qzzx"}).json()
        assert board["counts"]["in_progress"] == 1 and board["commitments"][0]["session_id"] == past["id"]
        live_log = fetch(srv, "GET", f"/api/sessions/{sessions[32]['id']}/events").json()["events"]
        assert sessions[32]["starts_at"] < live_log[-1]["at"] < sessions[32]["ends_at"]
        fanned_out = metric(srv, "live_broadcast_latency_seconds_count")  # on the log's own clock:
        assert fanned_out >= len(qa)  # last week's evening was not fanned out a week late
        assert metric(srv, "live_broadcast_latency_seconds_bucket", le="1.0") == fanned_out
    finally:
        srv.stop()


def test_an_installed_wheel_serves_its_pages(tmp_path: Path) -> None:
    """``pip install .`` without ``-e``, as a container image or a Procfile platform does:
    the front end ships inside the package, and the server finds it there."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("live", "static"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
        check=True,
        timeout=300,
    )
    site = tmp_path / "site"
    with zipfile.ZipFile(next((tmp_path / "dist").glob("live-*.whl"))) as wheel:
        wheel.extractall(site)
    env = {"PYTHONPATH": str(site), "PYTHONSAFEPATH": "1"}  # the wheel's live, not this checkout's
    found = subprocess.run(
        [sys.executable, "-c", "from live.routes import STATIC; print(STATIC)"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == str(site / "live" / "static")
    srv = LiveServer(str(tmp_path / "live.db"), env=env).start()
    try:
        for path, file in (
            ("/static/js/ui.js", "js/ui.js"),
            ("/static/css/base.css", "css/base.css"),
            ("/static/js/lang/zh.js", "js/lang/zh.js"),
        ):
            r = fetch(srv, "GET", path)
            assert r.status_code == 200 and r.content == (ROOT / "static" / file).read_bytes(), path
        # The public pages are rendered from the wheel's templates, in the words of its lang files.
        home = fetch(srv, "GET", "/")
        assert home.status_code == 200 and "<title>在线访谈 · 栏目首页</title>" in home.text
        missing = fetch(srv, "GET", "/s/1", headers={"accept-language": "en"})
        assert missing.status_code == 404 and "This session does not exist" in missing.text
        admin = fetch(srv, "GET", "/admin")  # a staff page: its template on the staff base
        assert admin.status_code == 200 and '<body class="staff admin">' in admin.text
    finally:
        srv.stop()
