"""What an operator types: commands that must never destroy data they were not meant to touch.

```live demo`` resets only a database that it made itself, and never one that a
running server holds (issue 18, point 1); a server that cannot start says so with its
exit status (point 7).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from .attack import fetch
from .conftest import PG, TIMEOUT, LiveServer


def live(*args: str, db: Path | str) -> subprocess.CompletedProcess[str]:
    """``live ARGS --db DB`` that must stop by itself (a refusal), never start serving."""
    return subprocess.run(
        [sys.executable, "-m", "live", *args, "--db", str(db), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 4,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line_refusal(done: subprocess.CompletedProcess[str], *words: str) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and all(w in lines[0] for w in words), lines[0]


def test_demo_refuses_a_database_it_did_not_make(tmp_path: Path) -> None:
    """``LIVE_DB=prod.db live demo`` used to replace production data with the demo."""
    prod = tmp_path / "prod.db"
    srv = LiveServer(str(prod)).start()
    try:
        sid = srv.create_session()["id"]
    finally:
        srv.stop()
    before = digest(prod)
    one_line_refusal(live("demo", db=prod), str(prod), "not made by live demo")
    assert digest(prod) == before
    srv = LiveServer(str(prod)).start()  # and it still serves what it held
    try:
        assert fetch(srv, "GET", f"/api/sessions/{sid}").status_code == 200
    finally:
        srv.stop()
    for other in ("not a database at all\n", ""):
        text = tmp_path / "notes.txt"
        text.write_text(other)
        one_line_refusal(live("demo", db=text), "not made by live demo")
        assert text.read_text() == other
    one_line_refusal(live("demo", db=PG), "not a SQLite file")


def test_a_second_demo_never_deletes_the_database_a_running_demo_serves(tmp_path: Path) -> None:
    db = tmp_path / "live-demo.db"
    first = LiveServer(str(db), command="demo").start()
    try:
        sessions = fetch(first, "GET", "/api/sessions").json()["sessions"]
        one_line_refusal(live("demo", db=db), "running server")
        assert fetch(first, "GET", "/api/sessions").json()["sessions"] == sessions
        assert db.exists()
    finally:
        first.stop()
    # Once the first one has stopped, the demo may start afresh on its own file.
    again = LiveServer(str(db), command="demo").start()
    try:
        fresh = fetch(again, "GET", "/api/sessions").json()["sessions"]
        assert [s["episode"] for s in fresh] == [s["episode"] for s in sessions]
    finally:
        again.stop()


def test_demo_help_names_the_file_it_uses() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "live", "demo", "--help"], capture_output=True, text=True, check=True
    )
    assert "live-demo.db" in done.stdout and "'live.db'" not in done.stdout


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_start_that_cannot_reach_its_bus_exits_promptly_and_non_zero(tmp_path: Path, workers: str) -> None:
    """It used to log "Application startup failed" and never exit (the store's threads kept
    it alive), and with ``--workers 2`` exit 0 as if stopped on purpose. Now the host opens
    every service once before any worker starts, and says in one line what failed."""
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "live",
            "serve",
            "--db",
            str(tmp_path / "x.db"),
            "--port",
            "0",
            "--bus",
            "redis://127.0.0.1:1/0",
            "--workers",
            workers,
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
    )
    assert done.returncode == 3, done.stderr[-2000:]
    assert time.monotonic() - started < 10
    assert "cannot start: Redis at 127.0.0.1:1/0 is not usable" in done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout


# Operator input: a one-line error, and nothing created or changed by mistake (point 9) ---------


def run_live(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVE_")}
    return subprocess.run(
        [sys.executable, "-m", "live", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
    )


def test_a_wrong_port_is_refused_not_wrapped_around(tmp_path: Path) -> None:
    for port in ("99999", "-1", "http"):
        done = run_live(tmp_path, "serve", "--port", port, "--db", "x.db")
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert "argument --port" in done.stderr.splitlines()[-1], done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_database_gets_one_line_and_nothing_is_created(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("minutes of the meeting\n" * 50)
    folder = tmp_path / "folder"
    folder.mkdir()
    for db, words in (
        (str(notes), "not a SQLite database"),
        ("mysql://x/y", "not a store live knows"),
        (str(tmp_path / "no" / "such" / "x.db"), "does not exist"),
        (str(folder), "not a file"),
        ("/proc/live-test.db", "cannot be opened for writing"),
    ):
        one_line_refusal(run_live(tmp_path, "serve", "--db", db, "--port", "0"), words)
    assert notes.read_text() == "minutes of the meeting\n" * 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "notes.txt"]
    assert list(folder.iterdir()) == []


async def test_import_and_export_of_the_wrong_thing_get_one_line(tmp_path: Path) -> None:
    from .conftest import fresh_pg_database

    (tmp_path / "random.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "text.txt").write_text("not an export\n")
    (tmp_path / "other.json").write_text('{"kind": "something else"}\n')
    (tmp_path / "dir").mkdir()
    db = tmp_path / "new.db"
    refused = [
        ("random.bin", "not a live-session export"),
        ("text.txt", "not a live-session export"),
        ("other.json", "not a live-session v1 export"),
        ("missing.jsonl", "No such file"),
        ("dir", "Is a directory"),
    ]
    for file, words in refused:
        one_line_refusal(run_live(tmp_path, "import", file, "--db", str(db)), words)
    assert not db.exists(), "a refused import created a database"
    srv = LiveServer(str(tmp_path / "live.db")).start()
    try:
        sid = srv.create_session()["id"]
    finally:
        srv.stop()
    for command in (("export", str(sid), "missing/s.jsonl"), ("backup", "missing/b.db")):
        one_line_refusal(run_live(tmp_path, *command, "--db", "live.db"), "does not exist")
    good = tmp_path / "s.jsonl"
    assert run_live(tmp_path, "export", str(sid), str(good), "--db", "live.db").returncode == 0
    vote = {"question_id": 1, "device": "d", "at": 1, "weight": 9}  # a column no engine has
    (tmp_path / "row.jsonl").write_text(
        good.read_text() + json.dumps({"kind": "row", "table": "votes", "row": vote})
    )
    refused.append(("row.jsonl", "a votes row is not question_id, device, at"))
    one_line_refusal(run_live(tmp_path, "import", "row.jsonl", "--db", str(db)), "a votes row is not")
    assert not db.exists(), "a refused import created a database"
    async with fresh_pg_database() as url:  # into PostgreSQL too, before any schema is made
        for file, words in refused:
            one_line_refusal(run_live(tmp_path, "import", file, "--db", url), words)
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == [], (
                "schema made anyway"
            )
        finally:
            await conn.close()
    nowhere = "postgresql://postgres@127.0.0.1:1/live"
    one_line_refusal(
        run_live(tmp_path, "import", str(good), "--db", nowhere), "127.0.0.1:1/live", "not usable"
    )
