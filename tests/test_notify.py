"""Telling the asker (issue 19, point 5): real e-mail, a real signed webhook, from a durable outbox.

Every server here is a real ``live serve`` on both engines, sending to receivers the test
starts (:mod:`tests.receivers`): an SMTP server (aiosmtpd) and an HTTP gateway that checks
signatures and deduplicates by delivery id. The delivery promise is *at least once, under
one delivery id per message*: a server killed mid-send sends again after its restart, and
the receiver, deduplicating, acts on each message exactly once.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from live import notify
from live.client import Client
from live.delivery import sign
from live.store import Store, open_store
from live.store.outbox import NewDelivery

from .conftest import ADMIN, REDIS, SHARED_REDIS_ENV, TIMEOUT, Backend, LiveServer, free_port, until
from .receivers import Gateway, MailSink, SilentSmtp

ROOT = Path(__file__).resolve().parent.parent
SECRET = "gateway-shared-secret-0123456789"
SENDER = "区长在线 <noreply@qzzx.example.gov.cn>"
PHONE = "138 0013 8000"
MAIL = "wang.fang@example.cn"


def notifying_env(port: int, mail: str = "", webhook: str = "", **extra: str) -> dict[str, str]:
    env = {
        "LIVE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LIVE_NOTIFY_DELAY": "0",
        "LIVE_NOTIFY_BACKOFF": "0.2",
        "LIVE_NOTIFY_TIMEOUT": "3",
        "LIVE_LOG_LEVEL": "info",
        **extra,
    }
    if mail:
        env |= {"LIVE_SMTP_URL": mail, "LIVE_SMTP_FROM": SENDER}
    if webhook:
        env |= {"LIVE_WEBHOOK_URL": webhook, "LIVE_WEBHOOK_SECRET": SECRET}
    return env


@contextmanager
def serving(backend: Backend, mail: str = "", webhook: str = "", **extra: str) -> Iterator[LiveServer]:
    port = free_port()
    srv = LiveServer(
        backend.db, backend.bus, port=port, env={**backend.env, **notifying_env(port, mail, webhook, **extra)}
    )
    srv.start()
    try:
        yield srv
    finally:
        if srv.proc is not None:
            srv.kill()


async def ask(c: Client, text: str, contact: str = "") -> dict[str, Any]:
    fields = {"contact": contact} if contact else {}
    return await c.request("ask", client_id=str(uuid.uuid4()), text=text, name="王女士", **fields)


def listing(srv: LiveServer, sid: int, token: str = ADMIN) -> dict[str, Any]:
    r = httpx.get(
        f"{srv.http}/api/sessions/{sid}/notifications",
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    return r.json()


def receipt_link(srv: LiveServer, receipt: str) -> str:
    return f"{srv.http}/?receipt={receipt}"


# The messages themselves ---------------------------------------------------------------------


async def test_outcomes_reach_askers_by_email_and_by_signed_webhook(backend: Backend) -> None:
    sink, gateway = MailSink().start(), Gateway(SECRET).start()
    try:
        with serving(backend, sink.url, gateway.url) as srv:
            s = srv.create_session()
            sid = s["id"]
            async with (
                srv.client(sid) as v,
                srv.client(sid, token=s["moderator_token"]) as mod,
                srv.client(sid, token=s["presenter_token"]) as guest,
            ):
                answered = await ask(v, "原来的问题：小区门口路灯坏了", MAIL)
                declined = await ask(v, "我家的私事", PHONE)
                forwarded = await ask(v, "公交站牌太旧", "+86 139-0013-9000")
                silent = await ask(v, "没有留联系方式的问题")
                odd = await ask(v, "联系方式看不懂的问题", "微信 abc")
                await mod.request(
                    "edit", question_id=answered["question_id"], text="小区门口路灯坏了，何时修？"
                )
                await mod.request("approve", question_id=answered["question_id"])
                await guest.request("answer", question_id=answered["question_id"], text="本周五前修复。")
                await mod.request(
                    "reject", question_id=declined["question_id"], reason="personal_case", note="请拨打12345"
                )
                await mod.request(
                    "forward", question_id=forwarded["question_id"], department="区交通局", note="十日内答复"
                )
                for q in (silent, odd):
                    await mod.request("approve", question_id=q["question_id"])
                    await guest.request("answer", question_id=q["question_id"], text="已答复")

            await until(lambda: len(sink.mails) == 1 and len(gateway.accepted) == 2, "one e-mail and two SMS")
            [mail] = sink.mails
            assert mail.rcpt == [MAIL] and mail.message["To"] == MAIL
            assert "您的问题已得到答复" in mail.message["Subject"] and "answered" in mail.message["Subject"]
            text = mail.text
            for wanted in (
                "区长在线 第32期",
                f"回执编号 {answered['receipt']}",
                "小区门口路灯坏了，何时修？",
                "本周五前修复。",
                receipt_link(srv, answered["receipt"]),
                "（北京时间）",
                "has been answered",
            ):
                assert wanted in text, wanted
            assert text.index("您好") < text.index("Hello"), "Chinese first, then English"
            assert "原来的问题" not in text and "王女士" not in text, "no pre-edit text, no display name"
            assert (
                mail.message["Message-ID"].startswith("<")
                and mail.message["X-Live-Delivery"] in mail.message["Message-ID"]
            )

            assert all(c.signed for c in gateway.calls) and gateway.duplicates == 0
            by_question = {b["question_id"]: b for b in gateway.accepted.values()}
            no = by_question[declined["question_id"]]
            assert no["to"] == PHONE and no["type"] == "question.rejected"
            assert no["receipt"] == declined["receipt"] and no["link"] == receipt_link(
                srv, declined["receipt"]
            )
            assert "未被采用" in no["text"]["zh"] and "not taken up" in no["text"]["en"]
            assert no["outcome"] == {
                "id": declined["question_id"],
                "status": "rejected",
                "outcome": "declined",
                "asked_at": no["outcome"]["asked_at"],
                "reason": "personal_case",
                "note": "请拨打12345",
            }, "the outcome as the receipt shows it, no text of an unpublished question"
            fwd = by_question[forwarded["question_id"]]
            assert fwd["to"] == "+86 139-0013-9000" and "已转交区交通局办理" in fwd["text"]["zh"]
            receipt = httpx.get(f"{srv.http}/api/receipts/{forwarded['receipt']}", timeout=TIMEOUT).json()
            assert {k: v for k, v in receipt.items() if k in fwd["outcome"]} == fwd["outcome"]

            rows = listing(srv, sid)["notifications"]
            assert sorted((r["question_id"], r["channel"], r["status"]) for r in rows) == sorted(
                [
                    (answered["question_id"], "email", "sent"),
                    (declined["question_id"], "sms", "sent"),
                    (forwarded["question_id"], "sms", "sent"),
                ]
            )
            shown = json.dumps(rows, ensure_ascii=False)
            assert MAIL not in shown and "0013" not in shown, "staff see contacts masked"
            assert {r["to"] for r in rows} >= {"w***@example.cn", "138****8000"}
            srv.stop()
        log = srv.log.read_text()
        assert "notification" in log and " sent by email" in log, "the log says what was sent"
        for private in (MAIL, "0013", SECRET):
            assert private not in log, private
    finally:
        sink.stop()
        gateway.stop()


async def test_askers_merged_into_a_question_are_told_its_outcome(backend: Backend) -> None:
    """Merged, an asker is told the outcome is the target's; so when the target is answered
    (also by way of a question merged into one merged in turn), they are told, under their own
    receipt number, with the answer, once each."""
    sink, gateway = MailSink().start(), Gateway(SECRET).start()
    try:
        with serving(backend, sink.url, gateway.url) as srv:
            s = srv.create_session()
            sid = s["id"]
            async with (
                srv.client(sid) as v,
                srv.client(sid, token=s["moderator_token"]) as mod,
                srv.client(sid, token=s["presenter_token"]) as guest,
            ):
                target = await ask(v, "夜市什么时候恢复？", PHONE)
                first = await ask(v, "夜市还开吗？", MAIL)
                second = await ask(v, "夜市啥时候开", "li.na@example.cn")
                await mod.request("approve", question_id=target["question_id"])
                await mod.request("merge", question_id=second["question_id"], into=first["question_id"])
                await mod.request("merge", question_id=first["question_id"], into=target["question_id"])
                # Each waits for its message: a newer outcome replaces one not yet sent.
                await until(lambda: len(sink.mails) == 2, "the two merges")
                await guest.request("answer", question_id=target["question_id"], text="下月一日恢复。")
            await until(lambda: len(sink.mails) == 4 and len(gateway.accepted) == 1, "four e-mails, one SMS")
            mails = {(m.rcpt[0], "合并，该问题已得到答复" in m.text): m for m in sink.mails}
            assert set(mails) == {
                (MAIL, False),
                (MAIL, True),
                ("li.na@example.cn", False),
                ("li.na@example.cn", True),
            }
            told = mails[(MAIL, True)]
            tid = target["question_id"]
            assert f"回执编号 {first['receipt']}）已与第{tid}号问题合并，该问题已得到答复" in told.text
            assert "合并后的问题：夜市什么时候恢复？" in told.text and "下月一日恢复。" in told.text
            assert receipt_link(srv, first["receipt"]) in told.text and "(merged)" in told.message["Subject"]
            assert f"回执编号 {second['receipt']}" in mails[("li.na@example.cn", True)].text
            [sms] = gateway.accepted.values()
            assert (sms["to"], sms["question_id"], "merged_into" in sms) == (PHONE, tid, False)
            rows = listing(srv, sid)["notifications"]
            assert len(rows) == 5 and len({r["id"] for r in rows}) == 5 and gateway.duplicates == 0
    finally:
        sink.stop()
        gateway.stop()


async def test_a_failing_gateway_is_retried_until_it_takes_the_message(backend: Backend) -> None:
    gateway = Gateway(SECRET, script=[500, 503, 429]).start()
    refusing = Gateway(SECRET, script=[400]).start()
    try:
        with serving(backend, webhook=gateway.url) as srv:
            s = srv.create_session(moderation="post")
            async with srv.client(s["id"]) as v, srv.client(s["id"], token=s["presenter_token"]) as guest:
                q = await ask(v, "路灯什么时候修", PHONE)
                await guest.request("answer", question_id=q["question_id"], text="周五")
            await until(lambda: gateway.accepted, "the message taken on its fourth attempt")
            assert [c.attempt for c in gateway.calls] == [1, 2, 3, 4]
            assert [c.answered for c in gateway.calls] == [500, 503, 429, 200]
            assert len({c.raw for c in gateway.calls}) == 1, "every attempt sends the same body"
            assert len({c.id for c in gateway.calls}) == 1
            [row] = listing(srv, s["id"])["notifications"]
            assert (row["status"], row["attempts"], row["error"]) == ("sent", 4, "webhook: HTTP 429")

        with serving(backend, webhook=refusing.url) as srv:
            s = srv.create_session(moderation="post")
            async with srv.client(s["id"]) as v, srv.client(s["id"], token=s["presenter_token"]) as guest:
                q = await ask(v, "另一个问题", PHONE)
                await guest.request("answer", question_id=q["question_id"], text="好的")
            await until(
                lambda: [r["status"] for r in listing(srv, s["id"])["notifications"]] == ["failed"],
                "a 400 to be final",
            )
            [row] = listing(srv, s["id"])["notifications"]
            assert (row["attempts"], row["error"]) == (1, "webhook: HTTP 400")
            assert len(refusing.calls) == 1
    finally:
        gateway.stop()
        refusing.stop()


async def test_a_correction_made_before_sending_replaces_the_message(backend: Backend) -> None:
    """An answer typed in two parts (``append``) within ``LIVE_NOTIFY_DELAY``: one message, all of it."""
    sink = MailSink().start()
    try:
        with serving(backend, sink.url, LIVE_NOTIFY_DELAY="6") as srv:
            s = srv.create_session(moderation="post")
            async with srv.client(s["id"]) as v, srv.client(s["id"], token=s["presenter_token"]) as guest:
                q = await ask(v, "学校周边的交通", MAIL)
                await guest.request("answer", question_id=q["question_id"], text="第一部分。")
                await guest.request("answer", question_id=q["question_id"], text="第二部分。", append=True)
            await until(
                lambda: (
                    sorted(r["status"] for r in listing(srv, s["id"])["notifications"])
                    == ["sent", "superseded"]
                ),
                "one message sent, the one it replaced never",
            )
            [mail] = sink.mails
            assert "第一部分。\n\n第二部分。" in mail.text
    finally:
        sink.stop()


# Never on the live path --------------------------------------------------------------------------


async def test_an_smtp_server_that_hangs_does_not_slow_questions(backend: Backend) -> None:
    silent = SilentSmtp()
    try:
        with serving(backend, silent.url, LIVE_NOTIFY_TIMEOUT="120") as srv:
            s = srv.create_session(moderation="post")
            async with srv.client(s["id"]) as v, srv.client(s["id"], token=s["presenter_token"]) as guest:
                first = await ask(v, "第一个问题", MAIL)
                await guest.request("answer", question_id=first["question_id"], text="回答")
                await until(lambda: silent.still_open(), "the notifier to be stuck in the SMTP server")
                for n in range(20):
                    q = await ask(v, f"又一个问题{n}", f"a{n}@example.cn")
                    await guest.request("answer", question_id=q["question_id"], text=f"回答{n}", timeout=10)
                assert silent.still_open(), "the acks came while the SMTP connection still hung"
                await until(lambda: len(listing(srv, s["id"])["notifications"]) == 21, "every message queued")
                rows = listing(srv, s["id"])["notifications"]
                assert all(r["status"] == "pending" for r in rows), "all held by the hanging server"
    finally:
        silent.stop()


async def test_two_hosts_on_one_database_send_each_message_once(backend: Backend) -> None:
    """Two servers (two hosts, or workers) scan the same logs and claim from the same outbox:
    every message goes out, none twice."""
    gateway = Gateway(SECRET).start()
    port = free_port()
    env = {**backend.env, **SHARED_REDIS_ENV, **notifying_env(port, webhook=gateway.url)}
    hosts = [LiveServer(backend.db, REDIS, port=port, env=env), LiveServer(backend.db, REDIS, env=env)]
    try:
        for h in hosts:
            await asyncio.to_thread(h.start)
        s = hosts[0].create_session(moderation="post")
        for n in range(12):
            h = hosts[n % 2]
            async with h.client(s["id"]) as v, h.client(s["id"], token=s["presenter_token"]) as guest:
                q = await ask(v, f"两台服务器上的问题{n}", f"1380013{n:04d}")
                await guest.request("answer", question_id=q["question_id"], text=f"答复{n}")
        await until(lambda: len(gateway.accepted) == 12, "all twelve messages")
        await until(
            lambda: [r["status"] for r in listing(hosts[1], s["id"])["notifications"]] == ["sent"] * 12,
            "every message settled",
        )
        assert len(gateway.calls) == 12 and gateway.duplicates == 0, "no message was sent twice"
        assert sorted(b["to"] for b in gateway.accepted.values()) == [f"1380013{n:04d}" for n in range(12)]
    finally:
        for h in hosts:
            if h.proc is not None:
                h.kill()
        gateway.stop()


# Durable: kill -9 and restart ------------------------------------------------------------------


async def test_kill_9_mid_send_sends_again_under_the_same_delivery_id(backend: Backend) -> None:
    """The gateway got the request but the server died before the answer: after the restart it
    is sent again, with the same id and body, and the gateway acts on it once."""
    gateway = Gateway(SECRET, script=["hang"]).start()
    try:
        with serving(backend, webhook=gateway.url) as srv:
            s = srv.create_session(moderation="post")
            async with srv.client(s["id"]) as v, srv.client(s["id"], token=s["presenter_token"]) as guest:
                q = await ask(v, "停车难", PHONE)
                await guest.request("answer", question_id=q["question_id"], text="新增车位")
            await until(lambda: gateway.calls, "the request, held by the gateway")
            srv.kill()
            assert not gateway.accepted
            await asyncio.to_thread(srv.start)
            await until(
                lambda: gateway.accepted, "the message sent again after the restart", timeout=TIMEOUT * 2
            )
            first, again = gateway.calls
            assert first.id == again.id and first.raw == again.raw and again.signed
            assert again.attempt == 2
            await until(
                lambda: [r["status"] for r in listing(srv, s["id"])["notifications"]] == ["sent"],
                "it settled",
            )
            [row] = listing(srv, s["id"])["notifications"]
            assert row["attempts"] == 2 and len(gateway.calls) == 2, "settled: nothing more is sent"
            assert len(gateway.accepted) == 1 and gateway.duplicates == 0
    finally:
        gateway.stop()


async def test_kill_9_before_the_smtp_server_is_up_sends_the_mail_once_after_restart(
    backend: Backend,
) -> None:
    sink = MailSink()  # its port is chosen, nobody listens on it yet
    try:
        with serving(backend, sink.url) as srv:
            s = srv.create_session(moderation="post")
            async with srv.client(s["id"]) as v, srv.client(s["id"], token=s["presenter_token"]) as guest:
                q = await ask(v, "垃圾分类", MAIL)
                await guest.request("answer", question_id=q["question_id"], text="下月开始")
            await until(
                lambda: [r["attempts"] for r in listing(srv, s["id"])["notifications"]] >= [1],
                "a failed attempt",
            )
            srv.kill()
            sink.start()
            await asyncio.to_thread(srv.start)
            await until(lambda: sink.mails, "the mail after the restart")
            await until(
                lambda: [r["status"] for r in listing(srv, s["id"])["notifications"]] == ["sent"],
                "it settled",
            )
            assert len(sink.mails) == 1, "settled: nothing more is sent"
    finally:
        sink.stop()


# The outbox, on both engines -------------------------------------------------------------------


@asynccontextmanager
async def open_both(backend: Backend) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database, as two workers (or hosts) have."""
    url = backend.db if backend.name == "postgres" else f"sqlite:///{backend.db}"
    one, two = open_store(url), open_store(url)
    await one.open()
    await two.open()
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


async def test_the_outbox_queues_once_claims_once_and_settles_only_the_latest_claim(backend: Backend) -> None:
    from live.events import NewEvent

    async with open_both(backend) as (one, two):
        pid = await one.create_programme("qzzx", "区长在线", "")
        first = await one.create_session(pid, "p", "m", NewEvent("session.created", {"session": {}}))
        sid = first.session_id
        asked = [
            NewEvent(
                "question.asked", {"question": {"id": q}}, private={"device": "d", "contact": f"{q}@x.cn"}
            )
            for q in range(1, 41)
        ]
        await one.append(sid, 1, asked)
        assert await one.contacts(sid, [1, 2, 99]) == {1: "1@x.cn", 2: "2@x.cn"}
        assert (sid, 0) in await one.notify_backlog()

        rows = [NewDelivery(f"n-{q}", sid, q + 1, q, "email", 0) for q in range(1, 41)]
        added = await asyncio.gather(one.enqueue(sid, 41, rows, 1), two.enqueue(sid, 41, rows, 1))
        assert sorted(added) == [0, 40], "queued once, however many workers read the same events"
        await one.enqueue(sid, 5, [], 2)
        assert all(s != sid for s, _ in await one.notify_backlog()), "the cursor only moves forward"

        claims = await asyncio.gather(*(s.claim(10, 1000, 7) for s in (one, two) * 4))
        taken = [d.id for batch in claims for d in batch]
        assert len(taken) == len(set(taken)) == 40, "no message is claimed twice"
        assert await one.claim(10, 1000, 50) == []
        d = next(x for batch in claims for x in batch if x.id == "n-5")
        assert await one.settle(d, "pending", 20, "webhook: HTTP 500", 11)
        [again] = [x for x in await two.claim(20, 1000, 50) if x.id == d.id]
        assert not await one.settle(d, "sent", 0, "", 21), "an expired claim settles nothing"
        assert await two.settle(again, "sent", 0, "", 22)
        [row] = [r for r in await one.deliveries(sid) if r.id == d.id]
        assert (row.status, row.attempts, row.sent_at, row.error) == ("sent", 2, 22, "")

        later = NewDelivery("n-1-later", sid, 99, 1, "email", 0)
        fresh = NewDelivery("n-2-fresh", sid, 98, 2, "email", 0)
        await one.enqueue(sid, 41, [fresh], 30)
        await one.enqueue(sid, 41, [NewDelivery("n-2-newer", sid, 100, 2, "email", 0), later], 31)
        status = {r.id: r.status for r in await one.deliveries(sid)}
        assert status["n-2-fresh"] == "superseded", "never tried: replaced by the newer outcome"
        assert status["n-1"] == "pending" and status["n-1-later"] == "pending", "once tried, it stands"


async def test_merged_askers_are_found_in_one_query_per_hop_for_a_whole_page(backend: Backend) -> None:
    """The questions merged into each outcome of a scan page, also by way of merged ones, are
    read one hop at a time for all of the page's outcomes together, not question by question."""
    from live.auth import Devices
    from live.events import NewEvent
    from live.notifier import Notifier
    from live.settings import Settings

    async with open_both(backend) as (store, _):
        pid = await store.create_programme("qzzx", "区长在线", "")
        created = await store.create_session(pid, "p", "m", NewEvent("session.created", {"session": {}}))
        sid = created.session_id
        merges = [(2, 1), (3, 2), (4, 3), (11, 10), (12, 10)]  # (merged, into), in the order merged
        await store.append(sid, 1, [NewEvent("question.merged", {"id": m, "into": i}) for m, i in merges])
        notifier = Notifier(store, Devices("s" * 32), Settings.from_env({}), "t")
        asked: list[list[int]] = []
        merged_into = store.merged_into

        async def counted(session_id: int, question_ids: list[int]) -> dict[int, list[int]]:
            asked.append(question_ids)
            return await merged_into(session_id, question_ids)

        store.merged_into = counted  # type: ignore[method-assign]
        found = await notifier._merged(sid, {1, 2, 10, 20})
        assert found == {1: [2, 3, 4], 2: [3, 4], 10: [11, 12]}
        assert asked == [[1, 2, 10, 20], [2, 3, 11, 12], [3, 4], [4]], "one query per hop, the chain 1-2-3-4"


# What notifies, declared once ------------------------------------------------------------------

SEEN = frozenset({"text", "name", "votes", "asked_at", "id"})
"""What of a question, as everyone sees it, is not its status or outcome."""


def unclassified(events: list[dict[str, Any]]) -> set[str]:
    """Event types in a public log (``/events`` as a viewer reads it) that changed a question's
    status or outcome as everyone sees it, and are neither in :data:`live.notify.NOTIFYING` nor
    in :data:`live.notify.QUIET`. ``tests/test_views.py`` runs it on each of its random logs."""
    before: dict[int, dict[str, Any]] = {}
    found = set()
    for e in events:
        q = e["data"].get("question")
        if not isinstance(q, dict) or "id" not in q:
            continue
        outcome = {k: v for k, v in q.items() if k not in SEEN}
        old = before.get(q["id"])
        if old is not None and old != outcome and e["type"] not in {*notify.NOTIFYING, *notify.QUIET}:
            found.add(e["type"])
        before[q["id"]] = outcome
    return found


def test_the_check_finds_an_outcome_that_notifies_nobody() -> None:
    """The check run on every random log of test_views can fail: a new outcome event is caught."""

    def ev(seq: int, kind: str, **q: Any) -> dict[str, Any]:
        return {"seq": seq, "type": kind, "at": 0, "data": {"question": {"id": 1, "asked_at": 0, **q}}}

    log = [
        ev(1, "question.asked", status="pending", text="x"),
        ev(2, "question.approved", status="approved", text="x"),
        ev(3, "question.edited", status="approved", text="y"),
        ev(4, "question.answered", status="answered", answer={"text": "a"}),
        ev(5, "question.invented", status="invented"),  # a new status nobody classified
        ev(6, "question.reweighed", status="invented", weight=2),  # the outcome itself changed
    ]
    assert unclassified(log) == {"question.invented", "question.reweighed"}
    assert unclassified(log[:4]) == set()


def test_notifying_and_quiet_are_one_table_each_and_never_overlap() -> None:
    assert not set(notify.NOTIFYING) & set(notify.QUIET)
    assert set(notify.NOTIFYING) >= {
        "question.answered",
        "question.rejected",
        "question.forwarded",
        "question.merged",
    }
    assert all(kind in notify.OUTCOMES for kind in notify.NOTIFYING.values())
    tree = ast.parse((ROOT / "live" / "notifier.py").read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "NOTIFYING" in names, "the notifier reads the table, not a list of its own"


def test_the_messages_say_reasons_and_statuses_as_the_pages_do() -> None:
    """The messages' words for decline reasons are the pages' (a second copy, in Python: compared here)."""
    for lang in ("zh", "en"):
        text = (ROOT / "static" / "js" / "lang" / f"{lang}.js").read_text()
        strings = dict(re.findall(r"^\s*'([\w.]+)': '(.*)',$", text, re.M))
        for reason, said in notify.REASONS.items():
            assert strings[f"reason.{reason}"] == said[lang], (lang, reason)


@pytest.mark.parametrize(
    ("contact", "how"),
    [
        ("wang.fang@example.cn", "email"),
        ("王芳 <wang@example.cn>", None),
        ("13800138000", "sms"),
        ("+86 138-0013-8000", "sms"),
        ("(010) 6512 3456", "sms"),
        ("微信 abc", None),
        ("a@b", None),
        ("x@example.cn\r\nBcc: y@example.cn", None),
        ("123", None),
    ],
)
def test_a_contact_is_an_address_or_a_phone_number_or_nothing(contact: str, how: str | None) -> None:
    assert notify.channel(contact) == how


def test_the_signature_is_hmac_sha256_of_the_body_as_documented() -> None:
    body = '{"id":"x","text":{"zh":"您的问题已得到答复"}}'.encode()
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(SECRET, body) == f"sha256={expected}"
    doc = (ROOT / "docs" / "protocol.md").read_text()
    assert "X-Live-Signature" in doc and "X-Live-Delivery" in doc and "HMAC-SHA256" in doc


def test_a_webhook_without_a_secret_stops_the_server_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "live", "serve", "--db", str(tmp_path / "x.db"), "--port", str(free_port())],
        env={**os.environ, "LIVE_WEBHOOK_URL": "http://127.0.0.1:9/sms", "LIVE_PUBLIC_URL": "http://x"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
    )
    assert done.returncode == 3 and "LIVE_WEBHOOK_SECRET" in done.stderr


# Contacts stay private -------------------------------------------------------------------------


async def test_contacts_never_leave_in_a_public_view_or_export(backend: Backend) -> None:
    """Asked with contacts, answered, declined, forwarded: no page, API, export or feed a viewer
    (or, besides the masked notification list, staff) can read holds one."""
    sink = MailSink().start()
    try:
        with serving(backend, sink.url) as srv:
            s = srv.create_session()
            sid = s["id"]
            async with (
                srv.client(sid) as v,
                srv.client(sid, token=s["moderator_token"]) as mod,
                srv.client(sid, token=s["presenter_token"]) as guest,
            ):
                one = await ask(v, "隐私测试问题一", MAIL)
                two = await ask(v, "隐私测试问题二", "13912345678")
                three = await ask(v, "隐私测试问题三", "li.ming@example.cn")
                await mod.request("approve", question_id=one["question_id"])
                await guest.request("answer", question_id=one["question_id"], text="答复一")
                await mod.request("reject", question_id=two["question_id"], reason="other")
                await mod.request("forward", question_id=three["question_id"], department="区住建局")
                mine = await v.request("mine")
                wire = json.dumps([v.snapshot, v.events, mod.snapshot, mod.events, mine], ensure_ascii=False)
            await until(lambda: sink.mails, "the e-mail")
            staff = {"Authorization": f"Bearer {s['moderator_token']}"}
            admin = {"Authorization": f"Bearer {ADMIN}"}
            reads = [
                (f"/api/sessions/{sid}", {}),
                (f"/api/sessions/{sid}", staff),
                (f"/api/sessions/{sid}/events?limit=1000", {}),
                (f"/api/sessions/{sid}/events?limit=1000", admin),
                (f"/api/sessions/{sid}/transcript", {}),
                (f"/api/sessions/{sid}/transcript?format=md", {}),
                (f"/api/sessions/{sid}/transcript?format=csv&unanswered=1", staff),
                (f"/api/sessions/{sid}/transcript?format=json&unanswered=1", staff),
                (f"/api/sessions/{sid}/stats", staff),
                (f"/api/sessions/{sid}/audit", admin),
                (f"/api/sessions/{sid}/audit?format=csv", admin),
                (f"/api/sessions/{sid}/notifications", staff),
                ("/api/archive", {}),
                ("/api/search?q=隐私测试", {}),
                (f"/api/receipts/{one['receipt']}", {}),
                (f"/api/receipts/{two['receipt']}", {}),
            ]
            with httpx.Client(base_url=srv.http, timeout=TIMEOUT) as http:
                bodies = [http.get(path, headers=headers) for path, headers in reads]
                refused = http.get(f"/api/sessions/{sid}/notifications")
            assert all(r.status_code == 200 for r in bodies), [(r.url, r.status_code) for r in bodies]
            assert refused.status_code == 403 and refused.json()["code"] == "staff_only"
            seen = wire + "".join(r.text for r in bodies)
            for contact in (MAIL, "13912345678", "li.ming@example.cn", "wang.fang"):
                assert contact not in seen, contact
    finally:
        sink.stop()
