"""Commitments (承诺事项, issue 19 point 2), over real connections to a real server, on both engines.

Staff record a commitment from an answer or a forward, and report its progress; both are
events every audience receives with the question as it may see it. The programme's board
lists every commitment across its episodes, overdue by the server's clock in the session's
timezone, each linking to the replay at the moment it was said; the receipt lookup shows it;
the Atom feed carries it, each entry changing when progress is reported.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from live.client import Client, ServerError

from .conftest import TIMEOUT, TZ, LiveServer

ATOM = "{http://www.w3.org/2005/Atom}"


def today() -> date:
    return datetime.now(TZ).date()


def board(srv: LiveServer, slug: str = "qzzx") -> dict[str, Any]:
    r = httpx.get(f"{srv.http}/api/commitments", params={"programme": slug}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def receipt(srv: LiveServer, number: str) -> dict[str, Any]:
    return httpx.get(f"{srv.http}/api/receipts/{number}", timeout=TIMEOUT).json()


async def refused(c: Client, kind: str, **args: Any) -> ServerError:
    with pytest.raises(ServerError) as err:
        await c.request(kind, **args)
    return err.value


async def answered(asker: Client, presenter: Client, text: str) -> dict[str, Any]:
    """A question asked (the session publishes at once) and answered live; its ack."""
    ack = await asker.request("ask", client_id=text, text=text)
    await presenter.request("answer", question_id=ack["question_id"], text="我们会在六月底前修好这条路。")
    return ack


async def test_a_commitment_is_recorded_reported_and_seen_by_everyone(server: LiveServer) -> None:
    s = server.create_session(moderation="post")
    sid = s["id"]
    due = (today() + timedelta(days=60)).isoformat()
    async with (
        server.client(sid) as asker,
        server.client(sid) as viewer,
        server.client(sid, token=s["presenter_token"]) as presenter,
        server.client(sid, token=s["moderator_token"], name="小王") as mod,
    ):
        ack = await answered(asker, presenter, "幸福路的坑什么时候修？")
        qid = ack["question_id"]
        made = await mod.request(
            "commitment", question_id=qid, department=" 区住建局 ", promise="六月底前修复幸福路路面", due=due
        )
        assert made == {"question_id": qid, "due": due}
        event = await viewer.wait_for(lambda e: e.get("type") == "commitment.made")
        c = event["data"]["question"]["commitment"]
        answer_at = event["data"]["question"]["answer"]["at"]
        assert c == {
            "department": "区住建局",
            "promise": "六月底前修复幸福路路面",
            "due": due,
            "status": "in_progress",
            "said_at": answer_at,
            "made_at": c["made_at"],
            "updated_at": c["made_at"],
            "history": [],
        }
        assert c["made_at"] >= answer_at
        assert event["data"]["question"]["text"] == "幸福路的坑什么时候修？"

        # Progress: still being handled, postponed with a reason and a later day, then done.
        later = (date.fromisoformat(due) + timedelta(days=30)).isoformat()
        await mod.request("progress", question_id=qid, status="in_progress", note="已完成设计，进入招标")
        await mod.request("progress", question_id=qid, status="postponed", note="雨季施工受阻", due=later)
        await mod.request("progress", question_id=qid, status="done", note="路面已于七月修复")
        last = await asker.wait_for(
            lambda e: (
                e.get("type") == "commitment.progress"
                and e["data"]["question"]["commitment"]["status"] == "done"
            )
        )
        c = last["data"]["question"]["commitment"]
        assert (c["status"], c["due"], c["result"]) == ("done", later, "路面已于七月修复")
        assert [(h["status"], h["note"], h.get("due")) for h in c["history"]] == [
            ("in_progress", "已完成设计，进入招标", None),
            ("postponed", "雨季施工受阻", later),
            ("done", "路面已于七月修复", None),
        ]
        assert c["updated_at"] == c["history"][-1]["at"]

        # The receipt, the asker's own view and a late viewer's snapshot all carry it.
        r = receipt(server, ack["receipt"])
        assert r["commitment"] == c and r["overdue"] is False
        [mine] = (await asker.request("mine"))["mine"]
        assert mine["commitment"] == c
        async with server.client(sid) as late:
            assert next(q for q in late.snapshot["questions"] if q["id"] == qid)["commitment"] == c

        # The board: the question as everyone sees it, the replay at the moment it was said.
        b = board(server)
        [entry] = [e for e in b["commitments"] if e["session_id"] == sid]
        assert entry["question"] == last["data"]["question"]
        assert entry["links"]["replay"] == f"/s/{sid}/replay?at={answer_at}"
        assert entry["overdue"] is False
        assert entry["session"]["title"] == "区长在线 第32期"
        assert b["programme"]["slug"] == "qzzx" and b["counts"]["done"] >= 1

        # The audit trail names who did each.
        with server.admin() as http:
            audit = http.get(f"/api/sessions/{sid}/audit").json()["audit"]
        assert [(a["action"], a["who"]) for a in audit if a["action"].startswith("commitment.")] == [
            ("commitment.made", "moderator:小王")
        ] + [("commitment.progress", "moderator:小王")] * 3

        # What is refused, and why.
        assert (await refused(mod, "progress", question_id=qid, status="in_progress", note="x")).code == (
            "commitment_done"
        )
        again = dict(department="区住建局", promise="再修一次", due=due)
        assert (await refused(mod, "commitment", question_id=qid, **again)).code == "commitment_exists"
        pending = (await asker.request("ask", client_id="p", text="还没回答的问题"))["question_id"]
        assert (await refused(mod, "commitment", question_id=pending, **again)).code == "not_committable"
        assert (await refused(mod, "progress", question_id=pending, status="done", note="x")).code == (
            "no_commitment"
        )
        await presenter.request("answer", question_id=pending, text="好的")
        for bad in ("2025-6-30", "明年六月", "2025-02-30", "1999-12-31"):
            err = await refused(mod, "commitment", question_id=pending, **{**again, "due": bad})
            assert (err.code, err.details["field"]) == ("bad_due", "due"), bad
        err = await refused(mod, "commitment", question_id=pending, **{**again, "promise": "  "})
        assert (err.code, err.details["field"]) == ("missing_field", "promise")
        await mod.request("commitment", question_id=pending, **again)
        assert (await refused(mod, "progress", question_id=pending, status="later", note="x")).code == (
            "bad_status"
        )
        assert (await refused(mod, "progress", question_id=pending, status="done")).code == "missing_field"
        earlier = {"status": "postponed", "note": "延期", "due": due}
        assert (await refused(mod, "progress", question_id=pending, **earlier)).code == "bad_due"
        assert (await refused(presenter, "commitment", question_id=qid, **again)).code == "forbidden"
        assert (await refused(viewer, "progress", question_id=pending, status="done", note="x")).code == (
            "forbidden"
        )


async def test_overdue_is_by_the_servers_clock_in_the_sessions_timezone(server: LiveServer) -> None:
    """A commitment not done whose due day is over (in Asia/Shanghai) is flagged on the board, in
    the receipt and in its asker's 我的问题; one due today is not late yet, and one done is never late."""
    s = server.create_session()
    sid = s["id"]
    days = {"late": today() - timedelta(days=1), "today": today(), "done_late": today() - timedelta(days=10)}
    async with server.client(sid) as asker, server.client(sid, token=s["moderator_token"]) as mod:
        numbers: dict[str, str] = {}
        for name, day in days.items():
            ack = await asker.request("ask", client_id=name, text=f"问题：{name}")
            numbers[name] = ack["receipt"]
            await mod.request("forward", question_id=ack["question_id"], department="区交通局", note="转办")
            await mod.request(
                "commitment",
                question_id=ack["question_id"],
                department="区交通局",
                promise=f"承诺：{name}",
                due=day.isoformat(),
            )
            if name == "done_late":
                await mod.request("progress", question_id=ack["question_id"], status="done", note="已办结")
        mine = {m["commitment"]["promise"]: m["overdue"] for m in (await asker.request("mine"))["mine"]}
    assert mine == {"承诺：late": True, "承诺：today": False, "承诺：done_late": False}  # 我的问题 too
    flagged = {e["question"]["commitment"]["promise"]: e["overdue"] for e in board(server)["commitments"]}
    assert flagged == {"承诺：late": True, "承诺：today": False, "承诺：done_late": False}
    assert {name: receipt(server, n)["overdue"] for name, n in numbers.items()} == {
        "late": True,
        "today": False,
        "done_late": False,
    }
    b = board(server)
    assert b["counts"] == {"total": 3, "in_progress": 2, "done": 1, "postponed": 0, "overdue": 1}
    assert [e["question"]["commitment"]["due"] for e in b["commitments"]] == sorted(
        d.isoformat() for d in days.values()
    )
    late = next(e for e in b["commitments"] if e["question"]["commitment"]["promise"] == "承诺：late")
    assert "text" not in late["question"], "a forwarded question's text was never published"
    assert late["question"]["status"] == "forwarded" and late["question"]["department"] == "区交通局"


async def test_the_board_spans_a_programmes_episodes_and_no_other(server: LiveServer) -> None:
    first = server.create_session()
    with server.admin() as http:
        other = http.post("/api/programmes", json={"slug": "other", "title": "另一个栏目"}).json()["id"]
    second = server.create_session(episode=33)
    elsewhere = server.create_session(programme_id=other)
    for n, s in enumerate((first, second, elsewhere)):
        async with (
            server.client(s["id"]) as asker,
            server.client(s["id"], token=s["moderator_token"]) as mod,
        ):
            qid = (await asker.request("ask", client_id="a", text=f"第{n}期的问题"))["question_id"]
            await mod.request("forward", question_id=qid, department="区教育局")
            due = (today() + timedelta(days=n)).isoformat()
            await mod.request(
                "commitment", question_id=qid, department="区教育局", promise=f"承诺{n}", due=due
            )
    assert [
        (e["session_id"], e["question"]["commitment"]["promise"]) for e in board(server)["commitments"]
    ] == [
        (first["id"], "承诺0"),
        (second["id"], "承诺1"),
    ]
    assert [e["session_id"] for e in board(server, "other")["commitments"]] == [elsewhere["id"]]
    missing = httpx.get(f"{server.http}/api/commitments", params={"programme": "nope"}, timeout=TIMEOUT)
    assert (missing.status_code, missing.json()["code"]) == (404, "programme_not_found")
    bare = httpx.get(f"{server.http}/api/commitments", timeout=TIMEOUT)
    assert (bare.status_code, bare.json()["code"]) == (400, "missing_field")
    page = httpx.get(f"{server.http}/p/qzzx/commitments", timeout=TIMEOUT)  # rendered on the server
    assert page.status_code == 200 and "承诺0" in page.text and "承诺1" in page.text
    assert "承诺2" not in page.text  # another programme's
    missing_page = httpx.get(f"{server.http}/p/nope/commitments", timeout=TIMEOUT)
    assert missing_page.status_code == 404 and "栏目不存在" in missing_page.text


def entries(feed: ET.Element) -> dict[str, ET.Element]:
    return {e.findtext(f"{ATOM}id", ""): e for e in feed.findall(f"{ATOM}entry")}


async def test_the_atom_feed_carries_each_commitment_and_changes_with_its_progress(
    server: LiveServer,
) -> None:
    s = server.create_session(moderation="post")
    sid = s["id"]
    async with (
        server.client(sid) as asker,
        server.client(sid, token=s["presenter_token"]) as presenter,
        server.client(sid, token=s["moderator_token"]) as mod,
    ):
        qid = (await answered(asker, presenter, "学校门口<b>红绿灯</b>？"))["question_id"]
        due = (today() + timedelta(days=30)).isoformat()
        await mod.request(
            "commitment", question_id=qid, department="区交通局", promise="一个月内装好 & 启用", due=due
        )

        def fetch() -> ET.Element:
            r = httpx.get(f"{server.http}/p/qzzx/commitments.atom", timeout=TIMEOUT)
            assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
            return ET.fromstring(r.content)

        feed = fetch()
        assert feed.tag == f"{ATOM}feed"
        assert feed.findtext(f"{ATOM}id") == f"{server.http}/p/qzzx/commitments"
        assert feed.findtext(f"{ATOM}title") == "区长在线 · 承诺事项"
        assert feed.find(f"{ATOM}author/{ATOM}name") is not None
        links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
        assert links == {
            "self": f"{server.http}/p/qzzx/commitments.atom",
            "alternate": f"{server.http}/p/qzzx/commitments",
        }
        [(entry_id, entry)] = entries(feed).items()
        assert entry_id == f"{server.http}/p/qzzx/commitments#s{sid}-q{qid}"
        title = entry.findtext(f"{ATOM}title", "")
        assert title.startswith("[办理中]") and "区交通局" in title and "一个月内装好 & 启用" in title
        [replay] = entry.findall(f"{ATOM}link")  # no rel: Atom's default, "alternate"
        assert replay.get("rel", "alternate") == "alternate"
        assert replay.get("href", "").startswith(f"{server.http}/s/{sid}/replay?at=")
        content = entry.findtext(f"{ATOM}content", "")
        assert "学校门口<b>红绿灯</b>？" in content and f"办结时限：{due}" in content  # text, escaped
        first_updated = datetime.fromisoformat(entry.findtext(f"{ATOM}updated", ""))
        assert datetime.fromisoformat(entry.findtext(f"{ATOM}published", "")) == first_updated
        assert entry.find(f"{ATOM}category").get("term") == "in_progress"  # type: ignore[union-attr]

        await mod.request("progress", question_id=qid, status="done", note="已于本周启用")
        entry = entries(fetch())[entry_id]
        assert entry.findtext(f"{ATOM}title", "").startswith("[已办结]")
        assert datetime.fromisoformat(entry.findtext(f"{ATOM}updated", "")) > first_updated
        assert "办理结果：已于本周启用" in entry.findtext(f"{ATOM}content", "")
        english = ET.fromstring(
            httpx.get(f"{server.http}/p/qzzx/commitments.atom?lang=en", timeout=TIMEOUT).content
        )
        assert entries(english)[entry_id].findtext(f"{ATOM}title", "").startswith("[Done]")
    missing = httpx.get(f"{server.http}/p/nope/commitments.atom", timeout=TIMEOUT)
    assert (missing.status_code, missing.json()["code"]) == (404, "programme_not_found")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_an_imported_session_brings_its_commitments_to_the_board(
    server: LiveServer, tmp_path: Path
) -> None:
    """The board is a projection of the log: ``live import`` writes it as appends do."""
    s = server.create_session()
    async with server.client(s["id"]) as asker, server.client(s["id"], token=s["moderator_token"]) as mod:
        qid = (await asker.request("ask", client_id="a", text="要搬走的问题"))["question_id"]
        await mod.request("forward", question_id=qid, department="区民政局")
        await mod.request(
            "commitment", question_id=qid, department="区民政局", promise="年内答复", due="2030-12-31"
        )
    out = tmp_path / "s.jsonl"
    live = [sys.executable, "-m", "live"]
    subprocess.run(
        [*live, "export", str(s["id"]), str(out), "--db", server.db], check=True, capture_output=True
    )
    subprocess.run([*live, "import", str(out), "--db", server.db], check=True, capture_output=True)
    promises = [
        (e["session_id"], e["question"]["commitment"]["promise"]) for e in board(server)["commitments"]
    ]
    assert promises == [(s["id"], "年内答复"), (s["id"] + 1, "年内答复")]
