"""Access and hostile users: every role against every privileged action, forged devices,
vote stuffing, cross-site requests, secrets at rest and in logs, headers, HTML as text.

One server serves the whole module (``LIVE_SCREEN_FRAME_ANCESTORS`` and ``LIVE_PUBLIC_URL``
set, so the configured cases can be checked); each test makes its own sessions.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import io
import itertools
import json
import re
import socket
import sqlite3
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from live.auth import PERMISSIONS, Role
from live.client import Client, ServerError

from .attack import fetch, full_log, running, state
from .conftest import ADMIN, TIMEOUT, LiveServer, until

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = "https://live.example.gov.cn"
TV = "https://tv.example.gov.cn"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running(
        tmp_path_factory.mktemp("security"),
        LIVE_PUBLIC_URL=PUBLIC,
        LIVE_SCREEN_FRAME_ANCESTORS=TV,
        LIVE_LOG_LEVEL="debug",
    ) as server:
        yield server


def device_cookie(srv: LiveServer, session_id: int) -> str:
    """What a browser gets on opening the viewer page: a signed device id."""
    return fetch(srv, "GET", f"/s/{session_id}").cookies["live_device"]


# 9. Origin on the WebSocket handshake --------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "null", "https://live.example.gov.cn.evil.cn", "http://127.0.0.1.evil.example"],
)
async def test_cross_site_websocket_is_refused(srv: LiveServer, origin: str) -> None:
    s = srv.create_session()
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{srv.ws}/ws/{s['id']}", origin=origin, open_timeout=TIMEOUT)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("origin", [PUBLIC, "same-host"])
async def test_the_sites_own_pages_may_open_the_websocket(srv: LiveServer, origin: str) -> None:
    s = srv.create_session()
    site = f"http://127.0.0.1:{srv.port}" if origin == "same-host" else origin
    async with srv.client(s["id"], origin=site) as c:
        assert c.welcome["role"] == "viewer"


# 9. every privileged message and route, with every role and with none: one table --------------

STAFF = {"moderator", "admin"}
STUDIO = {"host", "moderator", "admin"}
"""Who posts the studio's lines and photos (issue 21): the host, or a moderator standing in."""
COMMANDS: dict[str, set[str]] = {
    **dict.fromkeys(
        (
            "approve",
            "reject",
            "edit",
            "merge",
            "hide",
            "forward",
            "open",
            "close",
            "extend",
            "set_moderation",
        ),
        STAFF,
    ),
    "answering": {"presenter", "moderator", "admin"},
    "answer": {"presenter", "moderator", "admin"},
    **dict.fromkeys(("commitment", "progress"), STAFF),
    "release": {"presenter", "moderator", "admin"},
    "withdraw": {"presenter", "moderator", "admin"},
    **dict.fromkeys(("settle", "carry_over", "archive"), STAFF),
    "archive_override": {"admin"},
    **dict.fromkeys(("remark", "announce", "withdraw_post", "photo"), STUDIO),
}
"""Who may send what, as docs/protocol.md promises it; checked against the server below. (A
``photo`` has no message: it is the upload route's, tried over HTTP only.)"""
CLOSING = ("carry_over", "archive", "archive_override")
"""Commands of a session whose window is over, each done once: tried on a session of their own."""
ROLES = ("none", "viewer", "presenter", "moderator", "host", "admin")
ROUTES = (
    "POST /api/programmes",
    "PATCH /api/programmes/{pid}",
    "POST /api/sessions",
    "PATCH /api/sessions/{sid}",
    "POST /api/sessions/{sid}/links",
)
"""Admin only. Rotating links comes last: it changes the keys the other rows use."""


_numbers = itertools.count()


async def _prepare(srv: LiveServer, admin: Client, asker: Client, kind: str) -> dict[str, Any]:
    """Arguments that make ``kind`` succeed now, so 'allowed' means acknowledged, not 'not forbidden'."""
    if kind in ("open", "close"):
        phase = state(srv, admin.session_id)["session"]
        if (phase.get("closed_at") is None) == (kind == "open"):
            await admin.request("close" if kind == "open" else "open")
        return {}
    if kind == "extend":
        return {"ends_at": (asker.welcome["server_time"] // 1000 + 3 * 3600) * 1000}
    if kind == "set_moderation":
        return {"mode": "post" if state(srv, admin.session_id)["session"]["moderation"] == "pre" else "pre"}
    if kind in CLOSING:
        if kind == "carry_over":
            text = f"问题 {next(_numbers)}-{kind}"
            qid = (await asker.request("ask", client_id=text, text=text))["question_id"]
            await admin.request("approve", question_id=qid)
            srv.create_session(start=timedelta(days=1))  # a next episode
        await admin.request("close")
        return {"note": "理由"} if kind == "archive_override" else {}
    if kind == "remark":
        return {"text": "主持人的话"}
    if kind == "withdraw_post":
        return {"post_id": (await admin.request("remark", text="将被撤回的话"))["post_id"]}
    if kind == "photo":
        return {}
    text = f"问题 {next(_numbers)}-{kind}"
    qid = (await asker.request("ask", client_id=text, text=text))["question_id"]
    if kind in ("commitment", "progress"):
        await admin.request("forward", question_id=qid, department="区住建局")
        promise = {"department": "区住建局", "promise": "六月底前修好", "due": "2030-06-30"}
        if kind == "commitment":
            return {"question_id": qid, **promise}
        await admin.request("commitment", question_id=qid, **promise)
        return {"question_id": qid, "status": "in_progress", "note": "已开工"}
    if kind in ("answering", "answer", "hide", "merge", "release", "withdraw", "announce"):
        await admin.request("approve", question_id=qid)
    if kind in ("release", "withdraw"):  # held for review: typed by the admin, on another device
        await admin.request("answer", question_id=qid, text="待放行的答复")
    if kind == "merge":
        into = await asker.request("ask", client_id=text + "i", text=text + "（合并目标）")
        await admin.request("approve", question_id=into["question_id"])
        return {"question_id": qid, "into": into["question_id"]}
    extra = {
        "reject": {"reason": "off_topic"},
        "edit": {"text": "改正后的问题"},
        "forward": {"department": "区信访局"},
        "answer": {"text": "答复"},
    }.get(kind, {})
    if kind == "settle":
        return {"question_ids": [qid], "outcome": "declined", "reason": "off_topic"}
    return {"question_id": qid, **extra}


async def _try_ws(
    srv: LiveServer, sid: int, role: str, tokens: dict[str, str], device: str, kind: str, args: dict[str, Any]
) -> str:
    token = tokens.get(role)
    async with srv.client(sid, token=token, device=device if role == "viewer" else None) as c:
        try:
            await c.request(kind, **args)
        except ServerError as err:
            return err.code
    return "ack"


def _try_http(
    srv: LiveServer, sid: int, role: str, tokens: dict[str, str], cookie: str, kind: str, args: dict[str, Any]
) -> str:
    body: dict[str, Any] = {"json": {"type": kind, **args}}
    path = f"/api/sessions/{sid}/commands"
    if kind == "photo":  # the upload route (live/photos_http.py)
        photo = io.BytesIO()
        Image.new("RGB", (8, 8), "red").save(photo, "JPEG")
        body = {"files": {"photo": ("a.jpg", photo.getvalue(), "image/jpeg")}}
        path = f"/api/sessions/{sid}/photos"
    r = fetch(srv, "POST", path, tokens.get(role), cookie if role == "viewer" else None, **body)
    return "ack" if r.status_code == 200 else r.json()["code"]


async def test_every_privileged_action_with_every_role_and_none(srv: LiveServer) -> None:
    privileged = {k for k, roles in PERMISSIONS.items() if roles != frozenset(Role)}
    assert privileged == set(COMMANDS), "docs and server disagree on which commands are privileged"
    for kind, roles in COMMANDS.items():
        assert {r.value for r in PERMISSIONS[kind]} == roles, kind

    wrong: list[str] = []
    for kind, allowed in COMMANDS.items():
        attempts = [(role, transport) for role in ROLES for transport in ("ws", "http")]
        attempts = [(r, t) for r, t in attempts if t == "http"] if kind == "photo" else attempts
        for batch in [[one] for one in attempts] if kind in CLOSING else [attempts]:
            s = srv.create_session(answer_review="approve")  # so release and withdraw have a held answer
            sid = s["id"]
            tokens = {
                "presenter": s["presenter_token"],
                "moderator": s["moderator_token"],
                "host": s["host_token"],
                "admin": ADMIN,
            }
            cookie = device_cookie(srv, sid)
            async with srv.client(sid, token=ADMIN) as admin, srv.client(sid) as asker:
                for role, transport in batch:
                    args = await _prepare(srv, admin, asker, kind)
                    before = state(srv, sid)["seq"]
                    if transport == "ws":
                        got = await _try_ws(srv, sid, role, tokens, asker.device or "", kind, args)
                    else:
                        got = _try_http(srv, sid, role, tokens, cookie, kind, args)
                    grew = state(srv, sid)["seq"] > before
                    want = "ack" if role in allowed else "refused"
                    refused = got in ("forbidden", "no_device") and not grew
                    if (want == "ack") != (got == "ack" and grew) or (want == "refused") != refused:
                        wrong.append(f"{kind} as {role} over {transport}: wanted {want}, got {got}")

    s = srv.create_session()
    tokens = {
        "presenter": s["presenter_token"],
        "moderator": s["moderator_token"],
        "host": s["host_token"],
        "admin": ADMIN,
    }
    bodies = {
        "/api/programmes": {"slug": "x", "title": "新栏目"},
        "/api/sessions": {
            "programme_id": s["programme_id"],
            "title": "新一期",
            "guest_name": "李明",
            "starts_at": "2030-01-01T19:00",
            "ends_at": "2030-01-01T21:00",
        },
    }
    for n, route in enumerate(ROUTES):
        method, path = route.split()
        path = path.format(pid=s["programme_id"], sid=s["id"])
        for role in ROLES:
            body = dict(bodies.get(path, {"title": "改过的标题"}))
            if "slug" in body:
                body["slug"] = f"p{n}-{role}"
            cookie = device_cookie(srv, s["id"]) if role == "viewer" else None
            r = fetch(srv, method, path, tokens.get(role), cookie, json=body)
            ok = r.status_code in (200, 201)
            if ok != (role == "admin") or (not ok and r.status_code != 403):
                wrong.append(f"{route} as {role}: {r.status_code} {r.text[:80]}")
    assert wrong == []


# 8. vote stuffing -----------------------------------------------------------------------------


async def _published_question(srv: LiveServer, sid: int) -> int:
    async with srv.client(sid) as c:
        return (await c.request("ask", client_id="q", text="路灯坏了谁来修？"))["question_id"]


async def _votes(srv: LiveServer, sid: int, qid: int, want: int) -> None:
    def counted() -> bool:
        return next(q for q in state(srv, sid)["questions"] if q["id"] == qid)["votes"] == want

    await until(counted, f"the tally to reach {want}")


async def test_reconnecting_never_adds_a_second_vote(srv: LiveServer) -> None:
    sid = srv.create_session(moderation="post")["id"]
    qid = await _published_question(srv, sid)
    async with srv.client(sid) as first:
        assert (await first.request("vote", question_id=qid))["changed"] is True
        device = first.device
    for _ in range(3):
        async with srv.client(sid, device=device) as again:
            assert again.welcome["votes"] == [qid]
            assert (await again.request("vote", question_id=qid))["changed"] is False
    await _votes(srv, sid, qid, 1)


async def test_a_forged_or_edited_device_gets_a_fresh_one_never_someone_elses(srv: LiveServer) -> None:
    sid = srv.create_session(moderation="post")["id"]
    qid = await _published_question(srv, sid)
    async with srv.client(sid) as victim:
        await victim.request("ask", client_id="v", text="我家楼下的垃圾站")
        await victim.request("vote", question_id=qid)
        signed = victim.device or ""
    other = Client(srv.ws, sid)
    await other.connect()
    mine = other.device or ""
    await other.close()
    victim_id, signature = signed.split(".", 1)
    forged = [
        f"{victim_id}.{mine.split('.', 1)[1]}",
        f"{victim_id}.{signature[:-2]}xx",
        victim_id,
        f"{victim_id}.{signature}.extra",
    ]
    for fake in forged:
        async with srv.client(sid, device=fake) as attacker:
            minted = attacker.welcome["device"]
            assert minted and not minted.startswith(victim_id), "a forged device was accepted"
            assert attacker.welcome["votes"] == [] and attacker.welcome["mine"] == []
            assert (await attacker.request("unvote", question_id=qid))["changed"] is False
        r = fetch(
            srv,
            "POST",
            f"/api/sessions/{sid}/commands",
            cookie=fake,
            json={"type": "vote", "question_id": qid},
        )
        assert r.status_code == 403 and r.json()["code"] == "no_device"
    await _votes(srv, sid, qid, 1)


async def test_racing_votes_from_one_device_count_once(srv: LiveServer) -> None:
    sid = srv.create_session(moderation="post")["id"]
    qid = await _published_question(srv, sid)
    cookie = device_cookie(srv, sid)
    clients = [srv.client(sid, device=cookie) for _ in range(4)]
    for c in clients:
        await c.connect()

    async with httpx.AsyncClient(
        base_url=srv.http, headers={"Cookie": f"live_device={cookie}"}, timeout=TIMEOUT, verify=False
    ) as h:

        async def over_http() -> dict[str, Any]:
            r = await h.post(f"/api/sessions/{sid}/commands", json={"type": "vote", "question_id": qid})
            return r.json()["result"]

        try:
            results = await asyncio.gather(
                *[c.request("vote", question_id=qid) for c in clients for _ in range(10)],
                *[over_http() for _ in range(10)],
            )
        finally:
            for c in clients:
                await c.close()
    assert sum(r["changed"] for r in results) == 1 and all(r["voted"] for r in results)
    await _votes(srv, sid, qid, 1)


# 10. secrets: hashed at rest, constant-time, rotatable, never logged --------------------------


async def test_secrets_are_stored_hashed_and_never_shown_to_viewers(srv: LiveServer) -> None:
    s = srv.create_session()
    old = (s["presenter_token"], s["moderator_token"])
    links = fetch(srv, "POST", f"/api/sessions/{s['id']}/links", ADMIN).json()["links"]
    new = tuple(links[r].split("#key=")[1] for r in ("presenter", "moderator"))
    stored = b"".join(
        Path(srv.db + suffix).read_bytes() for suffix in ("", "-wal") if Path(srv.db + suffix).exists()
    )
    for token in (ADMIN, *old, *new):
        assert token.encode() not in stored, "a secret is stored in plain text"
    for token in new:
        assert hashlib.sha256(token.encode()).hexdigest().encode() in stored
    public = fetch(srv, "GET", "/api/sessions").text + fetch(srv, "GET", f"/api/sessions/{s['id']}").text
    assert "hash" not in public and not any(t in public for t in (*old, *new))


def test_secrets_are_only_ever_compared_in_constant_time() -> None:
    """No ``==`` / ``!=`` / ``in`` on anything named like a token, hash, secret or signature."""
    suspicious = re.compile(r"token|hash|secret|signature|\bmac\b", re.I)
    found = []
    for path in sorted((ROOT / "live").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops):
                continue
            for side in (node.left, *node.comparators):
                name = ast.unparse(side)
                if (
                    isinstance(side, (ast.Name, ast.Attribute, ast.Subscript, ast.Call))
                    and suspicious.search(name)
                    and not re.search(r"\.get\(|\bkeys?\(\)|_keys\b", name)
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert found == [], "\n".join(found)


async def test_rotating_links_locks_out_the_old_ones_even_if_connected(srv: LiveServer) -> None:
    s = srv.create_session()
    sid = s["id"]
    async with srv.client(sid, token=s["moderator_token"]) as old_mod:
        links = fetch(srv, "POST", f"/api/sessions/{sid}/links", ADMIN).json()["links"]
        with pytest.raises(ConnectionError):
            await old_mod.request("open")
        assert old_mod.close_code == 4401
    for key in (s["moderator_token"], s["presenter_token"]):
        c = srv.client(sid, token=key)
        with pytest.raises(ConnectionError):
            await c.connect()
        assert c.close_code == 4401
        r = fetch(
            srv, "POST", f"/api/sessions/{sid}/commands", key, json={"type": "answering", "question_id": None}
        )
        assert r.status_code == 403
    async with srv.client(sid, token=links["moderator"].split("#key=")[1]) as new_mod:
        assert new_mod.welcome["role"] == "moderator"


async def test_no_secret_or_private_contact_is_ever_logged(tmp_path: Path) -> None:
    """A session of activity at debug level; then the whole log is searched."""
    contacts = ("13912345678", "wang.fang@example.cn")
    with running(tmp_path, LIVE_LOG_LEVEL="debug") as srv:
        s = srv.create_session()
        sid = s["id"]
        async with (
            srv.client(sid) as v,
            srv.client(sid, token=s["moderator_token"]) as mod,
            srv.client(sid, token=s["presenter_token"]) as official,
        ):
            for i, contact in enumerate(contacts):
                q = await v.request("ask", client_id=f"c{i}", text=f"我的问题{i}", contact=contact)
                await mod.request("approve", question_id=q["question_id"])
                await official.request("answer", question_id=q["question_id"], text="已转交")
            device = v.device or ""
        bad = srv.client(sid, token="not-" + s["moderator_token"])
        with pytest.raises(ConnectionError):
            await bad.connect()
        rotated = fetch(srv, "POST", f"/api/sessions/{sid}/links", ADMIN).json()["links"]
        fetch(srv, "GET", f"/api/sessions/{sid}/events", ADMIN)
        fetch(srv, "POST", f"/api/sessions/{sid}/commands", s["moderator_token"], json={"type": "open"})
        srv.stop()
        log = srv.log.read_text()
        assert '"request_id"' in log, "the structured log did not run at debug level"
        with sqlite3.connect(srv.db) as db:
            (db_secret,) = db.execute("SELECT value FROM meta WHERE key='secret'").fetchone()
        secrets = [
            ADMIN,
            s["presenter_token"],
            s["moderator_token"],
            db_secret,
            device.split(".", 1)[1],
            *(link.split("#key=")[1] for link in (rotated["presenter"], rotated["moderator"])),
        ]
        for secret in (*secrets, *contacts):
            assert secret not in log, f"{secret[:6]}... appears in the server log"


# 10. CSRF and security headers ------------------------------------------------------------------


async def test_cookie_only_cross_site_posts_cannot_act(srv: LiveServer) -> None:
    s = srv.create_session(moderation="post")
    qid = await _published_question(srv, s["id"])
    cookie = device_cookie(srv, s["id"])
    evil = {
        "Origin": "https://evil.example",
        "Content-Type": "text/plain",
        "Cookie": f"live_device={cookie}; Authorization=Bearer {ADMIN}; key={ADMIN}",
    }
    for path, body in (
        (f"/api/sessions/{s['id']}/commands", {"type": "vote", "question_id": qid}),
        ("/api/programmes", {"slug": "evil", "title": "x"}),
        (f"/api/sessions/{s['id']}/links", {}),
    ):
        r = fetch(srv, "POST", path, headers=evil, content=json.dumps(body))
        assert r.status_code == 403 and r.json()["code"] == "cross_site", path
    same_site = {"Cookie": f"Authorization=Bearer {ADMIN}; key={ADMIN}"}
    r = fetch(srv, "POST", "/api/programmes", headers=same_site, json={"slug": "cookie", "title": "x"})
    assert r.status_code == 403 and r.json()["code"] == "admin_only"
    async with srv.client(s["id"], device=cookie) as victim:
        assert victim.welcome["votes"] == [], "a cross-site POST voted with the viewer's cookie"
    assert all(
        p["slug"] not in ("evil", "cookie") for p in fetch(srv, "GET", "/api/programmes").json()["programmes"]
    )


CSP_BASE = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/s/{sid}",
        "/s/{sid}/presenter",
        "/s/{sid}/moderator",
        "/s/{sid}/host",
        "/s/{sid}/replay",
        "/admin",
        "/api/sessions",
        "/api/sessions/{sid}",
        "/healthz",
        "/static/js/live.js",
        "/no/such/page",
    ],
)
def test_security_headers_on_every_response(srv: LiveServer, path: str) -> None:
    h = fetch(srv, "GET", path.format(sid=1)).headers
    assert h["content-security-policy"].startswith(CSP_BASE)
    assert "frame-ancestors 'none'" in h["content-security-policy"] and h["x-frame-options"] == "DENY"
    assert "unsafe" not in h["content-security-policy"]
    assert h["x-content-type-options"] == "nosniff"
    # The viewer page posts its ask form without script: no-referrer would send Origin: null.
    assert h["referrer-policy"] == ("same-origin" if path == "/s/{sid}" else "no-referrer")
    assert h["strict-transport-security"].startswith("max-age=")  # LIVE_PUBLIC_URL is https
    assert re.fullmatch(r"[0-9a-f]{16}", h["x-request-id"])


def test_only_the_big_screen_may_be_framed_and_only_where_configured(srv: LiveServer) -> None:
    s = srv.create_session()
    h = fetch(srv, "GET", f"/s/{s['id']}/screen").headers
    assert h["content-security-policy"].startswith(CSP_BASE)
    assert h["content-security-policy"].endswith(f"frame-ancestors 'self' {TV}")
    assert "x-frame-options" not in h


def test_pages_need_no_inline_script_or_style() -> None:
    """What the CSP forbids, the pages must not use (else they break in the browser); a
    static bundle's page (the transcript template with ``bundle``) inlines its stylesheets."""
    pages = sorted((ROOT / "static").glob("*.html")) + sorted((ROOT / "live" / "templates").glob("*.html"))
    assert len(pages) > 10
    for page in pages:
        html = re.sub(r"\{% if bundle %\}\s*<style>\{\{ css \}\}</style>", "", page.read_text())
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, f"{page.name}: inline script"
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html), f"{page.name}: inline style/handler"


# 7. HTML typed by users comes back as text, in JSON, from every API and export -------------------


async def test_html_in_every_user_field_comes_back_as_inert_json_text(
    srv: LiveServer, tmp_path: Path
) -> None:
    evil = '<script>alert("XSS-7f3a")</script><img src=x onerror=alert(1)>&lt;b&gt;'
    s = srv.create_session(moderation="pre")
    sid = s["id"]
    async with (
        srv.client(sid) as v,
        srv.client(sid, token=s["moderator_token"]) as mod,
        srv.client(sid, token=s["presenter_token"]) as official,
    ):
        ack = await v.request("ask", client_id="html", text="问" + evil, name=evil[:40], contact=evil[:100])
        qid = ack["question_id"]
        await mod.request("edit", question_id=qid, text="改" + evil)
        await mod.request("approve", question_id=qid)
        await official.request("answer", question_id=qid, text="答" + evil)
        second = await v.request("ask", client_id="html2", text="另一个" + evil)
        await mod.request("reject", question_id=second["question_id"], reason="other", note=evil)
        await mod.request(
            "forward",
            question_id=(await v.request("ask", client_id="html3", text="第三个" + evil))["question_id"],
            department=evil[:100],
        )
    urls = [
        f"/api/sessions/{sid}",
        f"/api/sessions/{sid}/events",
        f"/api/sessions/{sid}/transcript",
        f"/api/receipts/{ack['receipt']}",
    ]
    for url in urls:
        r = fetch(srv, "GET", url, ADMIN)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", url
        assert r.headers["x-content-type-options"] == "nosniff"
        texts = _strings(r.json())
        assert any(evil in t for t in texts), url
        assert "&lt;script" not in r.text, f"{url} escaped HTML: double escaping on display"
    for page in (f"/s/{sid}/screen", "/"):
        assert "XSS-7f3a" not in fetch(srv, "GET", page).text, f"{page} rendered user text"
    searched = "/search?" + urllib.parse.urlencode({"q": evil})  # the query is shown back
    pages = (f"/s/{sid}", f"/s/{sid}/replay", f"/s/{sid}/transcript", f"/?receipt={ack['receipt']}", searched)
    for page in pages:
        html = fetch(srv, "GET", page).text  # rendered on the server: typed text arrives escaped
        assert "XSS-7f3a" in html and "<script>alert" not in html and "<img src=x" not in html, page
        assert "&lt;script&gt;alert(&#34;XSS-7f3a&#34;)&lt;/script&gt;" in html, page
    missing = fetch(srv, "GET", "/api/receipts/" + evil.replace("/", ""))
    assert missing.headers["content-type"] == "application/json" and "<script" not in missing.text
    assert any(
        "答" + evil == e["data"].get("question", {}).get("answer", {}).get("text") for e in full_log(srv, sid)
    )
    export = tmp_path / "s.jsonl"
    subprocess.run(
        [sys.executable, "-m", "live", "export", str(sid), str(export), "--db", srv.db],
        check=True,
        capture_output=True,
    )
    lines = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    assert any("问" + evil in t for t in _strings(lines))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


async def test_a_forged_host_does_not_make_a_foreign_origin_ours(srv: LiveServer) -> None:
    """``Host: evil.example`` with ``Origin: http://evil.example`` used to pass the Origin check,
    which trusted the request's own Host; with LIVE_PUBLIC_URL set only that site (or the
    loopback address the request went to) is ours, on both transports."""
    s = srv.create_session()
    forged = {"Host": "evil.example", "Origin": "http://evil.example"}
    r = fetch(srv, "POST", f"/api/sessions/{s['id']}/commands", ADMIN, headers=forged, json={"type": "close"})
    assert (r.status_code, r.json()["code"]) == (403, "cross_site")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT) as sock:
        sock.sendall(
            f"GET /ws/{s['id']} HTTP/1.1\r\nHost: evil.example\r\n"
            "Origin: http://evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13"
            "\r\n\r\n".encode()
        )
        assert sock.recv(4096).split()[1] == b"403"
    r = fetch(
        srv,
        "POST",
        f"/api/sessions/{s['id']}/commands",
        ADMIN,
        headers={"Origin": PUBLIC},
        json={"type": "close"},
    )
    assert r.status_code == 200, r.text


def test_the_device_cookie_is_secure_when_the_site_is_https(srv: LiveServer) -> None:
    s = srv.create_session()
    cookie = fetch(srv, "GET", f"/s/{s['id']}").headers["set-cookie"]
    assert "secure" in cookie.lower() and "httponly" in cookie.lower()
