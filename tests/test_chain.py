"""A record that cannot be quietly changed (issue 19, point 7), against real servers and the CLI.

An evening is played through real WebSocket clients; then the stored events are changed
one byte at a time behind the server's back (in SQLite's file, in PostgreSQL's tables),
as are an export file and every file of a static bundle, and ``live verify`` must refuse
each, naming what differs, and pass what was left alone. Both engines wherever the
engine stores or reads the chain.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import sqlite3
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from live import chain
from live.archive_html import CHECK
from live.events import RESULTS
from live.store.postgres_schema import MIGRATIONS as POSTGRES_MIGRATIONS
from live.store.sqlite import MIGRATIONS as SQLITE_MIGRATIONS

from .attack import UNLIMITED
from .conftest import ADMIN, REDIS, TIMEOUT, Backend, LiveServer, until

CONTACT = "13812345678"
XSS = "<b>粗体</b><script>alert(1)</script>"


@dataclass
class Evening:
    server: LiveServer
    session: dict[str, Any]
    devices: list[str]
    client_ids: list[str]

    @property
    def sid(self) -> int:
        return int(self.session["id"])


async def evening(server: LiveServer, close: bool = True) -> Evening:
    """Questions asked (one with a contact, one with markup), approved, answered, declined,
    edited, hidden and voted on; then the window closed."""
    s = server.create_session(start=timedelta(minutes=-5))
    sid, ids = s["id"], [str(uuid.uuid4()) for _ in range(5)]
    async with (
        server.client(sid) as a,
        server.client(sid) as b,
        server.client(sid, token=s["moderator_token"], name="小王") as mod,
        server.client(sid, token=s["presenter_token"]) as official,
    ):
        road = (await a.request("ask", client_id=ids[0], text="路什么时候修？", name="王", contact=CONTACT))[
            "question_id"
        ]
        markup = (await b.request("ask", client_id=ids[1], text=XSS, name="<img src=x>"))["question_id"]
        other = (await b.request("ask", client_id=ids[2], text="私人问题", name="李"))["question_id"]
        hidden = (await a.request("ask", client_id=ids[3], text="后来隐藏", name="赵"))["question_id"]
        for q in (road, markup, hidden):
            await mod.request("approve", question_id=q)
        await mod.request("edit", question_id=markup, text=XSS + " ")
        await official.request("answer", question_id=road, text="Yes: next month.")
        await official.request("answer", question_id=markup, text="答：*不是* <i>斜体</i>")
        await mod.request("reject", question_id=other, reason="personal_case", note="请联系社区")
        await mod.request("hide", question_id=hidden)
        await b.request("vote", question_id=road)
        await a.wait_for(lambda e: e["type"] == "votes.tallied")
        if close:
            await mod.request("close")
        devices = [a.welcome["device"], b.welcome["device"]]
    return Evening(server, s, devices, ids)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``live ...``: never a traceback, whatever it says."""
    done = subprocess.run(
        [sys.executable, "-m", "live", *args], capture_output=True, text=True, timeout=TIMEOUT * 4
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


def verified(*args: str) -> str:
    done = cli("verify", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def refused(*args: str) -> str:
    """``live verify`` that fails: one line per problem, exit 1; its whole output."""
    done = cli("verify", *args)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "problem(s)" in done.stderr
    return done.stdout


def links(server: LiveServer, sid: int) -> list[dict[str, Any]]:
    r = httpx.get(f"{server.http}/api/sessions/{sid}/chain", timeout=TIMEOUT)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jsonl")
    return [json.loads(line) for line in r.text.splitlines()]


def transcript(server: LiveServer, sid: int, fmt: str = "") -> Any:
    r = httpx.get(f"{server.http}/api/sessions/{sid}/transcript", params={"format": fmt}, timeout=TIMEOUT)
    assert r.status_code == 200
    return r.text if fmt == "md" else r.json()


# The stored rows, changed behind the server's back ------------------------------------------


async def stored(backend: Backend, sid: int, seq: int, column: str) -> str:
    if backend.name == "sqlite":
        with sqlite3.connect(backend.db) as db:
            value = db.execute(
                f"SELECT {column} FROM events WHERE session_id=? AND seq=?", (sid, seq)
            ).fetchone()[0]
        return str(value)
    conn = await asyncpg.connect(backend.db)
    try:
        return str(
            await conn.fetchval(f"SELECT {column} FROM events WHERE session_id=$1 AND seq=$2", sid, seq)
        )
    finally:
        await conn.close()


async def overwrite(backend: Backend, sid: int, seq: int, column: str, value: str) -> None:
    if backend.name == "sqlite":
        with sqlite3.connect(backend.db) as db:
            db.execute(f"UPDATE events SET {column}=? WHERE session_id=? AND seq=?", (value, sid, seq))
        return
    conn = await asyncpg.connect(backend.db)
    try:
        await conn.execute(f"UPDATE events SET {column}=$1 WHERE session_id=$2 AND seq=$3", value, sid, seq)
    finally:
        await conn.close()


def one_byte(text: str, old: str, new: str) -> str:
    """``text`` with its first ``old`` (one ASCII character) changed to ``new``: one byte."""
    assert len(old.encode()) == len(new.encode()) == 1 and old in text
    return text.replace(old, new, 1)


def seq_of(chain_lines: list[dict[str, Any]], kind: str) -> int:
    return next(x["seq"] for x in chain_lines[1:] if x["type"] == kind)


async def test_every_stored_event_is_chained_and_a_changed_byte_is_named(
    backend: Backend, server: LiveServer
) -> None:
    e = await evening(server)
    sid = e.sid
    lines = links(server, sid)
    head = lines[0]["head"]
    assert lines[0] == {
        "kind": "live-chain",
        "spec": chain.SPEC,
        "session": sid,
        "events": len(lines) - 1,
        "head": head,
    }
    found, problems = chain.check_public("".join(json.dumps(x) + "\n" for x in lines), "api")
    assert problems == [] and found["checked_head"] == head

    missing = httpx.get(f"{server.http}/api/sessions/{sid + 100}/chain", timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.json()["code"] == "session_not_found"

    # The head is on the transcript, in JSON and in Markdown.
    doc = transcript(server, sid)
    assert doc["chain"] == {"spec": chain.SPEC, "seq": len(lines) - 1, "head": head}
    assert f"`{head}`" in transcript(server, sid, "md")

    # The public chain carries what viewers were served (a question hidden after it was
    # published was seen until then, as replay shows it) and nothing else.
    text = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines)
    for secret in (CONTACT, *e.devices, *e.client_ids, "私人问题", "小王"):
        assert secret not in text, f"{secret!r} is in the public chain"
    served = httpx.get(f"{server.http}/api/sessions/{sid}/events", params={"limit": 1000}).json()["events"]
    for line, event in zip(lines[1:], served, strict=True):
        part = json.loads(line["public"] if line["public"] is not None else line["data"])
        assert {k: part[k] for k in RESULTS if k in part} == event["data"], f"seq {line['seq']}"

    # The database passes, and names its head.
    assert f"ok: session {sid}: {len(lines) - 1} events, head {head}" in verified("--db", backend.db)

    # One byte of a stored part (the answer's text; the private contact), or of a stored hash.
    answered = seq_of(lines, "question.answered")
    asked = seq_of(lines, "question.asked")
    for seq, column, change in (
        (answered, "data", lambda t: one_byte(t, "Y", "X")),
        (asked, "private", lambda t: t.replace(CONTACT, CONTACT[:-1] + "9")),
        (answered, "hash", lambda t: t[:5] + ("0" if t[5] != "0" else "1") + t[6:]),
    ):
        before = await stored(backend, sid, seq, column)
        after = change(before)
        assert (
            len(after.encode()) == len(before.encode())
            and sum(x != y for x, y in zip(after.encode(), before.encode(), strict=True)) == 1
        ), "one byte"
        await overwrite(backend, sid, seq, column, after)
        out = refused("--db", backend.db)
        line = next(x for x in out.splitlines() if x.startswith(f"session {sid}: "))
        kind = lines[seq]["type"]
        pattern = rf"session {sid}: seq {seq} \({kind}\): expected hash [0-9a-f]{{64}}, found [0-9a-f]{{64}}"
        assert re.fullmatch(pattern, line), out
        assert line.endswith(f"found {after if column == 'hash' else lines[seq]['hash']}")
        if column == "hash":
            assert f"expected hash {lines[seq]['hash']}" in line
        await overwrite(backend, sid, seq, column, before)
        assert f"head {head}" in verified("--db", backend.db)

    # A changed event whose hash was rewritten to match it breaks the next link.
    changed = (await stored(backend, sid, asked, "data")).replace("路什么时候修", "路什么时候铺")
    await overwrite(backend, sid, asked, "data", changed)
    prev = lines[asked - 1]["hash"] if asked > 1 else chain.GENESIS
    private = await stored(backend, sid, asked, "private")
    forged = chain.link(
        prev, asked, "question.asked", changed, lines[asked]["public"], private, lines[asked]["at"]
    )
    await overwrite(backend, sid, asked, "hash", forged)
    out = refused("--db", backend.db)
    assert f"session {sid}: seq {asked + 1} ({lines[asked + 1]['type']}): expected hash" in out
    assert out.rstrip().endswith(f"found {lines[asked + 1]['hash']}")


async def test_an_export_carries_its_chain_and_keeps_its_head_through_an_import(
    tmp_path: Path, backend: Backend
) -> None:
    """Export is SQLite's; the import lands in either engine with the same head."""
    exported = tmp_path / "session.jsonl"
    a = LiveServer(str(tmp_path / "a.db"), env=UNLIMITED).start()
    try:
        e = await evening(a)
        head = transcript(a, e.sid)["chain"]["head"]
        assert cli("export", str(e.sid), str(exported), "--db", a.db).returncode == 0
    finally:
        a.kill()
    lines = exported.read_text().splitlines()
    header = json.loads(lines[0])
    events = sum(json.loads(line)["kind"] == "event" for line in lines)
    assert header["head"] == head and events == header["session"]["last_seq"]
    assert f"ok: export {exported}: session {e.sid}, {events} events, head {head}" in verified(str(exported))

    # One byte of an event line: its seq is named, and import refuses the file.
    n = next(i for i, line in enumerate(lines) if '"question.answered"' in line)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join([*lines[:n], one_byte(lines[n], "Y", "X"), *lines[n + 1 :]]) + "\n")
    seq = json.loads(lines[n])["seq"]
    out = refused(str(tampered))
    found = json.loads(lines[n])["hash"]
    assert re.search(
        rf"tampered\.jsonl: seq {seq} \(question\.answered\): expected hash [0-9a-f]{{64}}, found {found}",
        out,
    )
    done = cli("import", str(tampered), "--db", backend.db)
    assert done.returncode == 1 and f"seq {seq} (question.answered)" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1

    # The file as exported imports with a new id and the same head, on either engine.
    b = LiveServer(backend.db, backend.bus, env={**UNLIMITED, **backend.env}).start()
    try:
        assert httpx.get(f"{b.http}/api/sessions/1").status_code == 404, "the refused import stored nothing"
        b.create_session()
        done = cli("import", str(exported), "--db", b.db)
        new_id = int(re.search(r"imported as session (\d+)", done.stdout)[1])  # type: ignore[index]
        assert new_id == 2
        assert transcript(b, new_id)["chain"]["head"] == head
        assert f"ok: session {new_id}: {events} events, head {head}" in verified("--db", b.db)
    finally:
        b.kill()


async def test_a_bundle_is_signed_and_every_changed_byte_is_refused(
    backend: Backend, server: LiveServer, tmp_path: Path
) -> None:
    e = await evening(server, close=False)
    sid, folder = e.sid, tmp_path / "bundle"
    done = cli("bundle", str(sid), str(folder), "--db", backend.db)
    assert done.returncode == 1 and "not finished" in done.stderr and not folder.exists()
    async with server.client(sid, token=e.session["moderator_token"]) as mod:
        await mod.request("close")
    head = transcript(server, sid)["chain"]["head"]
    events = links(server, sid)[0]["events"]
    done = cli("bundle", str(sid), str(folder), "--db", backend.db)
    assert done.returncode == 0 and f"head {head}" in done.stdout, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == [
        "chain.jsonl",
        "en.html",
        "index.html",
        "manifest.json",
        "manifest.sig",
        "signing-key.pem",
        "transcript.json",
    ]

    # The key is the installation's, as it publishes it; the manifest signs the head.
    key = httpx.get(f"{server.http}/api/signing-key", timeout=TIMEOUT).json()
    assert key["algorithm"] == "Ed25519" and (folder / "signing-key.pem").read_text() == key["pem"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["key"]["key_id"] == key["key_id"] and manifest["chain"] == {
        "spec": chain.SPEC,
        "events": events,
        "head": head,
    }
    assert json.loads((folder / "transcript.json").read_text())["chain"]["head"] == head
    out = verified(str(folder), "--key", key["public_key"])
    assert out.strip() == (
        f"ok: bundle {folder}: session {sid}, {events} events, head {head}, "
        f"signed by key {key['key_id']} (the key given)"
    )

    # Tools that are not ours agree: OpenSSL checks the signature (the command the pages
    # print), SHA-256 the files.
    assert CHECK[1].startswith("openssl pkeyutl -verify")
    openssl = subprocess.run(
        CHECK[1].split(),
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert "Signature Verified Successfully" in openssl.stdout, openssl.stderr
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest

    # Nothing private leaves; nothing typed becomes markup.
    for path in folder.iterdir():
        data = path.read_bytes()
        for secret in (CONTACT, *e.devices, *e.client_ids, "私人问题"):
            assert secret.encode() not in data, f"{secret!r} in {path.name}"
    page = (folder / "index.html").read_text()
    assert "<script" not in page.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert head in page and head in (folder / "en.html").read_text()

    # A second bundle never mixes with the first.
    done = cli("bundle", str(sid), str(folder), "--db", backend.db)
    assert done.returncode == 1 and "not an empty folder" in done.stderr
    if backend.name != "sqlite":
        return  # what follows checks the folder's files, the same from either engine: once

    # One byte of each file, one at a time: refused, naming it; put back, accepted.
    for path in sorted(folder.iterdir()):
        original = path.read_bytes()
        i = len(original) // 2
        path.write_bytes(original[:i] + bytes([original[i] ^ 0x01]) + original[i + 1 :])
        out = refused(str(folder))
        assert path.name in out, f"{path.name} changed: {out}"
        assert all(
            line.split(":")[0] in manifest["files"] or line.startswith("manifest.")
            for line in out.splitlines()
        )
        path.write_bytes(original)
    verified(str(folder))

    # A file added, a file removed, another key.
    (folder / "extra.js").write_text("alert(1)")
    assert "extra.js: not in the manifest" in refused(str(folder))
    (folder / "extra.js").unlink()
    chain_file = (folder / "chain.jsonl").read_bytes()
    (folder / "chain.jsonl").unlink()
    assert "chain.jsonl: missing" in refused(str(folder))
    (folder / "chain.jsonl").write_bytes(chain_file)
    other = base64.b64encode(
        Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    ).decode()
    out = refused(str(folder), "--key", other)
    assert f"signing-key.pem: key {key['key_id']}, not the key given" in out
    assert "manifest.sig: not a signature of manifest.json" in out


def before_the_chain(migrations: tuple[object, ...]) -> int:
    """The schema version just before the migration that chains the logs."""
    return [getattr(m, "__name__", "") for m in migrations].index("_chain")


async def test_a_log_stored_before_the_chain_is_chained_on_upgrade(backend: Backend) -> None:
    """The migration hashes an existing log from its stored text exactly as appends do."""
    srv = LiveServer(backend.db, backend.bus, env=backend.env).start()
    try:
        e = await evening(srv)
        head = transcript(srv, e.sid)["chain"]["head"]
    finally:
        srv.stop()
    # The schema taken back to the version before the chain's migration (later ones run again).
    if backend.name == "sqlite":
        with sqlite3.connect(backend.db) as db:
            db.execute("ALTER TABLE events DROP COLUMN hash")
            db.execute(f"PRAGMA user_version={before_the_chain(SQLITE_MIGRATIONS)}")
    else:
        conn = await asyncpg.connect(backend.db)
        try:
            await conn.execute("ALTER TABLE events DROP COLUMN hash")
            await conn.execute(
                "DELETE FROM schema_version WHERE version>$1", before_the_chain(POSTGRES_MIGRATIONS)
            )
        finally:
            await conn.close()
    out = verified("--db", backend.db)  # opening it migrates it, as a server would
    assert f"ok: session {e.sid}: " in out and f"head {head}" in out
    srv = LiveServer(backend.db, backend.bus, env=backend.env).start()
    try:
        assert transcript(srv, e.sid)["chain"]["head"] == head
    finally:
        srv.stop()


async def test_workers_appending_at_once_extend_one_chain(backend: Backend) -> None:
    """Two workers, one session, asks and votes racing: every append chains from the one
    committed before it (the store reads the previous hash where it claims the next seq)."""
    srv = LiveServer(backend.db, REDIS, env={**UNLIMITED, **backend.env, "LIVE_WORKERS": "2"}).start()
    try:
        sid = srv.create_session(moderation="post")["id"]
        clients = [srv.client(sid) for _ in range(12)]
        await asyncio.gather(*(c.connect() for c in clients))
        try:
            acks = await asyncio.gather(
                *(c.request("ask", client_id=f"q{i}", text=f"问题 {i}") for i, c in enumerate(clients))
            )
            await asyncio.gather(
                *(c.request("vote", question_id=acks[i - 1]["question_id"]) for i, c in enumerate(clients))
            )
        finally:
            await asyncio.gather(*(c.close() for c in clients))
        http = httpx.Client(base_url=srv.http, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=TIMEOUT)
        await until(
            lambda: sum(q["votes"] for q in http.get(f"/api/sessions/{sid}").json()["questions"]) == 12,
            "every vote tallied",
        )
        out = verified("--db", backend.db)
        assert re.search(rf"ok: session {sid}: (\d+) events", out)
        # The signing key, asked for at once on new connections (which the two workers share
        # between them) and made on first need: one key.
        keys = await asyncio.gather(
            *(asyncio.to_thread(httpx.get, f"{srv.http}/api/signing-key", timeout=TIMEOUT) for _ in range(8))
        )
        assert len({r.json()["key_id"] for r in keys}) == 1
    finally:
        srv.kill()


def test_the_documented_example_is_what_the_code_computes() -> None:
    """docs/protocol.md works one link through by hand; an implementation in another
    language can test itself against it, and this checks the document against the code."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()
    data, private, at = '{"at":1767225600000}', '{"by":"moderator"}', 1767225600000
    first = chain.link(chain.GENESIS, 1, "session.opened", data, None, private, at)
    assert hashlib.sha256(data.encode()).hexdigest() in doc
    assert first in doc
    preimage = "\n".join(
        [
            "live-chain/1",
            chain.GENESIS,
            "1",
            str(at),
            chain.digest(data),
            "",
            chain.digest(private),
            "session.opened",
        ]
    )
    assert hashlib.sha256(preimage.encode()).hexdigest() == first


def test_check_names_gaps_missing_hashes_and_short_logs() -> None:
    def entries(n: int) -> list[chain.Entry]:
        out, prev = [], chain.GENESIS
        for seq in range(1, n + 1):
            h = chain.link(prev, seq, "votes.tallied", "{}", None, "{}", seq)
            out.append(chain.entry(chain.Link(seq, "votes.tallied", "{}", None, "{}", seq, h)))
            prev = h
        return out

    good = entries(4)
    assert chain.check(good, 4) == chain.Verdict(4, good[-1].hash or "")
    assert chain.check([*good[:2], *good[3:]], 4).problem == "seq 3 is missing: the log goes from 2 to seq 4"
    assert chain.check(good[1:], 4).problem == "seq 1 is missing: the log starts to seq 2"
    assert chain.check(good[:3], 4).problem == "the log ends at seq 3 but claims 4 events"
    assert (chain.check([good[0]._replace(hash=None)]).problem or "").startswith(
        "seq 1 (votes.tallied): no hash stored"
    )
    swapped = [good[1]._replace(seq=1), good[0]._replace(seq=2)]
    assert (chain.check(swapped).problem or "").startswith("seq 1 (votes.tallied): expected hash")


def test_verify_and_bundle_refuse_the_wrong_thing_in_one_line(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a record\n")
    other = tmp_path / "other.json"
    other.write_text('{"kind": "something-else"}\n')
    for args, says in (
        (("verify", str(tmp_path / "missing.db")), "no such file or folder"),
        (("verify", str(text)), "not a database, an export, a chain or a bundle folder"),
        (("verify", str(other)), "not a database, an export, a chain or a bundle folder"),
        (("verify", str(tmp_path), "--key", "not-a-key"), "--key: not an Ed25519 public key"),
        (("bundle", "7", str(tmp_path / "out"), "--db", str(tmp_path / "live.db")), "no session 7"),
    ):
        done = cli(*args)
        assert done.returncode == 1 and done.stdout == "", done
        assert done.stderr.strip().splitlines() == [done.stderr.strip()] and says in done.stderr, done.stderr
    assert not (tmp_path / "missing.db").exists(), "verify never creates a database"
    assert not (tmp_path / "out").exists()
