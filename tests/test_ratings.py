"""The asker's say (issue 19, point 3), against a real server on both engines.

An asker rates the outcome once and follows it up once, by the device that asked or by
receipt number and secret from another phone; staff and the asker see the rating, everyone
else only the published rates; the follow-up lands in the next episode, linked both ways.
And ratings cannot be stuffed: many devices, many guessed secrets, many addresses, both
transports (see ``live/ratings.py`` for the numbers).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from datetime import timedelta
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from live.client import Client, ServerError
from live.protocol import PROTOCOL

from .conftest import ADMIN, TIMEOUT, Backend, LiveServer

SECRET = re.compile(r"[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}")


def http_command(
    srv: LiveServer, sid: int, body: dict[str, Any], cookie: str | None = None, address: str | None = None
) -> tuple[int, dict[str, Any]]:
    """One command over HTTP, as a browser with ``cookie`` (a fresh device if None) at ``address``."""
    with httpx.Client(base_url=srv.http, timeout=TIMEOUT) as http:
        headers = {"X-Forwarded-For": address} if address else {}
        if cookie is None:
            cookie = http.get(f"/s/{sid}", headers=headers).cookies["live_device"]
        r = http.post(
            f"/api/sessions/{sid}/commands",
            json=body,
            headers={**headers, "Cookie": f"live_device={cookie}"},
        )
        return r.status_code, r.json()


async def ws_command(srv: LiveServer, sid: int, body: dict[str, Any], address: str) -> dict[str, Any]:
    """One command over a fresh WebSocket from ``address`` (the test is the trusted proxy)."""
    async with connect(f"{srv.ws}/ws/{sid}", additional_headers={"X-Forwarded-For": address}) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": PROTOCOL}))
        await ws.send(json.dumps({"id": "x", **body}))
        while True:
            frames = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            for frame in frames if isinstance(frames, list) else [frames]:
                if frame.get("re") == "x":
                    return frame


def code(frame: dict[str, Any]) -> str:
    return "ack" if frame.get("type") == "ack" else frame["code"]


async def refused(c: Client, kind: str, **fields: Any) -> ServerError:
    with pytest.raises(ServerError) as err:
        await c.request(kind, **fields)
    return err.value


def get(srv: LiveServer, path: str, staff: bool = False) -> Any:
    headers = {"Authorization": f"Bearer {ADMIN}"} if staff else {}
    r = httpx.get(f"{srv.http}{path}", headers=headers, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json() if "json" in r.headers["content-type"] else r.text


def text(body: Any) -> str:
    """A response body as the text a person could read in it."""
    return body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)


def seq(srv: LiveServer, sid: int) -> int:
    return int(get(srv, f"/api/sessions/{sid}", staff=True)["seq"])


async def test_the_asker_rates_once_and_everyone_else_sees_only_the_rates(server: LiveServer) -> None:
    s = server.create_session(moderation="post")
    sid = s["id"]
    async with (
        server.client(sid) as asker,
        server.client(sid) as viewer,
        server.client(sid, token=s["moderator_token"]) as mod,
        server.client(sid, token=s["presenter_token"]) as official,
    ):
        a = await asker.request("ask", client_id="a", text="老街的路灯什么时候修？")
        q = a["question_id"]
        assert SECRET.fullmatch(a["secret"]), a
        assert (await refused(asker, "rate", question_id=q, level="satisfied")).code == "no_outcome_yet"
        await official.request("answer", question_id=q, text="本月底前修好。")
        assert (await refused(asker, "rate", question_id=q, level="great")).code == "bad_level"
        assert (await refused(viewer, "rate", question_id=q, level="dissatisfied")).code == "not_asker"
        ack = await asker.request("rate", question_id=q, level="basically_satisfied", comment="希望按时完成")
        assert ack == {"question_id": q, "level": "basically_satisfied"}
        for level in ("dissatisfied", "basically_satisfied"):  # no second rating, nor a change
            assert (await refused(asker, "rate", question_id=q, level=level)).code == "already_rated"

        staff = await mod.wait_for(lambda e: e["type"] == "question.rated")
        rating = staff["data"]["question"]["rating"]
        assert (rating["level"], rating["comment"]) == ("basically_satisfied", "希望按时完成")
        public = await viewer.wait_for(lambda e: e["type"] == "question.rated")
        assert "rating" not in public["data"]["question"] and "希望" not in text(public)
        [mine] = (await asker.request("mine"))["mine"]
        assert mine["rating"] == rating and mine["rating_until"] > rating["at"]
        receipt = get(server, f"/api/receipts/{a['receipt']}")
        assert receipt["rated"] is True and "rating" not in receipt and "希望" not in text(receipt)
        assert "rating" not in next(iter(get(server, f"/api/sessions/{sid}")["questions"]))

    rates = {
        "rated": 1,
        "counts": {"satisfied": 0, "basically_satisfied": 1, "dissatisfied": 0},
        "percent": {"satisfied": 0.0, "basically_satisfied": 100.0, "dissatisfied": 0.0},
        "satisfied": 100.0,
    }
    assert get(server, f"/api/sessions/{sid}/transcript")["satisfaction"] == rates
    assert get(server, f"/api/sessions/{sid}/stats", staff=True)["satisfaction"] == rates
    for fmt in ("md", "csv", "json"):
        assert "希望" not in text(
            get(server, f"/api/sessions/{sid}/transcript?format={fmt}&unanswered=1", True)
        )
    published = get(server, f"/api/satisfaction?programme_id={s['programme_id']}")
    assert published["overall"] == rates
    [programme] = published["programmes"]
    assert programme["rated"] == 1 and [x["id"] for x in programme["sessions"]] == [sid]
    assert published["departments"] == [{"department": "副区长", **rates}]  # the guest's post


async def test_another_phone_rates_with_the_receipt_number_and_secret(server: LiveServer) -> None:
    s = server.create_session()
    sid = s["id"]
    async with server.client(sid) as asker, server.client(sid, token=s["moderator_token"]) as mod:
        a = await asker.request("ask", client_id="a", text="公交站牌太旧了")
        await mod.request("forward", question_id=a["question_id"], department="区交通局", note="十日内答复")
    wrong = {"type": "rate", "receipt": a["receipt"], "secret": guessed(), "level": "satisfied"}
    status, body = http_command(server, sid, wrong)
    assert (status, body["code"]) == (403, "wrong_secret")
    forged = {
        "type": "rate",
        "receipt": f"{sid}-{a['question_id']}-AAAAAA",
        "secret": a["secret"],
        "level": "satisfied",
    }
    status, body = http_command(server, sid, forged)
    assert (status, body["code"]) == (404, "receipt_not_found")
    typed = a["secret"].lower().replace("-", " ")  # as read out over the phone
    status, body = http_command(
        server,
        sid,
        {"type": "rate", "receipt": a["receipt"].lower(), "secret": typed, "level": "dissatisfied"},
    )
    assert status == 200 and body["result"] == {"question_id": a["question_id"], "level": "dissatisfied"}
    again = {"type": "rate", "receipt": a["receipt"], "secret": typed, "level": "satisfied"}
    status, body = http_command(server, sid, again)
    assert (status, body["code"]) == (409, "already_rated")
    assert get(server, f"/api/receipts/{a['receipt']}")["rated"] is True
    [dept] = get(server, "/api/satisfaction")["departments"]
    assert (dept["department"], dept["counts"]["dissatisfied"], dept["satisfied"]) == ("区交通局", 1, 0.0)


async def test_a_follow_up_enters_the_next_episode_linked_both_ways(server: LiveServer) -> None:
    s = server.create_session(moderation="post")
    sid = s["id"]
    async with (
        server.client(sid) as asker,
        server.client(sid) as phone,
        server.client(sid, token=s["presenter_token"]) as official,
    ):
        a = await asker.request("ask", client_id="a", text="学校门口的斑马线什么时候画？")
        b = await asker.request("ask", client_id="b", text="菜市场什么时候改造？")
        for ack in (a, b):
            await official.request("answer", question_id=ack["question_id"], text="下个月。")
        err = await refused(asker, "follow_up", question_id=a["question_id"], text="那红绿灯呢？")
        assert err.code == "no_next_episode"
        later = server.create_session(start=timedelta(days=14), episode=34, title="区长在线 第34期")
        nearer = server.create_session(
            start=timedelta(days=7), episode=33, title="区长在线 第33期", moderation="post"
        )
        with server.admin() as http:  # a follow-up is screened like any question
            assert http.put("/api/filter/words", json={"words": ["菜霸"]}).status_code == 200
        nxt = nearer["id"]
        assert (
            await refused(phone, "follow_up", question_id=a["question_id"], text="追问")
        ).code == "not_asker"

        ack = await asker.request("follow_up", question_id=a["question_id"], text="那红绿灯呢？")
        fu = ack["follow_up"]
        assert (fu["session_id"], fu["status"], fu["session_title"]) == (nxt, "approved", "区长在线 第33期")
        assert SECRET.fullmatch(fu["secret"]) and fu["secret"] != a["secret"]
        again = await refused(asker, "follow_up", question_id=a["question_id"], text="再追问")
        assert again.code == "already_followed_up"
        linked = await phone.wait_for(lambda e: e["type"] == "question.followed_up")
        link = {"session_id": nxt, "question_id": fu["question_id"]}
        assert linked["data"]["question"]["follow_up"] == link  # public, like the outcome

        by_phone = await phone.request(
            "follow_up", receipt=b["receipt"], secret=b["secret"], text="改造期间菜霸横行怎么办？"
        )
        assert (by_phone["follow_up"]["session_id"], by_phone["follow_up"]["status"]) == (nxt, "pending")

    follows = {"session_id": sid, "question_id": a["question_id"]}
    staff = {q["id"]: q for q in get(server, f"/api/sessions/{nxt}", staff=True)["questions"]}
    assert staff[fu["question_id"]]["follows"] == follows
    assert staff[fu["question_id"]]["text"] == "那红绿灯呢？" and staff[fu["question_id"]]["name"] == "网友"
    assert staff[by_phone["follow_up"]["question_id"]]["flags"]["words"] == ["菜霸"]
    assert get(server, f"/api/sessions/{later['id']}", staff=True)["questions"] == []
    assert get(server, f"/api/receipts/{fu['receipt']}")["follows"] == follows
    assert get(server, f"/api/receipts/{a['receipt']}")["follow_up"] == link
    async with server.client(nxt, device=asker.device) as same_phone:  # the device that asked
        mine = {m["id"]: m for m in same_phone.welcome["mine"]}
    assert set(mine) == {fu["question_id"], by_phone["follow_up"]["question_id"]}
    assert (
        mine[fu["question_id"]]["text"] == "那红绿灯呢？"
        and mine[fu["question_id"]]["receipt"] == fu["receipt"]
    )
    async with server.client(nxt) as anyone:  # the follow-up's own secret works, and only it
        assert (
            await refused(anyone, "rate", receipt=fu["receipt"], secret=a["secret"], level="satisfied")
        ).code == ("wrong_secret")
        right = await refused(anyone, "rate", receipt=fu["receipt"], secret=fu["secret"], level="satisfied")
        assert right.code == "no_outcome_yet"


async def test_the_say_ends_rating_days_after_the_session(backend: Backend) -> None:
    env = {**backend.env, "LIVE_RATING_DAYS": "0"}
    srv = await asyncio.to_thread(LiveServer(backend.db, backend.bus, env=env).start)
    try:
        s = srv.create_session()
        sid = s["id"]
        async with srv.client(sid) as asker, srv.client(sid, token=s["moderator_token"]) as mod:
            one = await asker.request("ask", client_id="a", text="问题一")
            two = await asker.request("ask", client_id="b", text="问题二")
            for ack in (one, two):
                await mod.request("reject", question_id=ack["question_id"], reason="off_topic")
            await asker.request("rate", question_id=one["question_id"], level="dissatisfied")  # still on
            await mod.request("close")
            err = await refused(asker, "rate", question_id=two["question_id"], level="satisfied")
            assert err.code == "rating_closed" and err.details["until"] == closed_at(srv, sid)
            assert (await refused(asker, "follow_up", question_id=two["question_id"], text="为何")).code == (
                "rating_closed"
            )
    finally:
        srv.kill()


def closed_at(srv: LiveServer, sid: int) -> int:
    """When the session was closed, by the server's clock."""
    return int(get(srv, f"/api/sessions/{sid}")["session"]["closed_at"])


async def test_ratings_cannot_be_stuffed(server: LiveServer) -> None:
    """Many devices, many guessed secrets from one address and from many, both transports:
    nothing is stored but the asker's own one rating, however many of its requests race."""
    s = server.create_session(moderation="post")
    sid = s["id"]
    async with server.client(sid) as asker, server.client(sid, token=s["presenter_token"]) as official:
        acks = [await asker.request("ask", client_id=f"c{i}", text=f"第{i}个问题") for i in range(4)]
        for a in acks:
            await official.request("answer", question_id=a["question_id"], text="已答复")
        target = acks[0]
        before = seq(server, sid)

        # 1. Other devices: 20 WebSocket clients and 20 fresh HTTP cookies.
        others = [server.client(sid) for _ in range(20)]
        await asyncio.gather(*(c.connect() for c in others))
        try:
            got = await asyncio.gather(
                *(c.request("rate", question_id=target["question_id"], level="satisfied") for c in others),
                return_exceptions=True,
            )
        finally:
            await asyncio.gather(*(c.close() for c in others))
        assert {getattr(g, "code", g) for g in got} == {"not_asker"}
        body = {"type": "rate", "question_id": target["question_id"], "level": "satisfied"}
        assert {http_command(server, sid, body)[1]["code"] for _ in range(20)} == {"not_asker"}

        # 2. Guessed secrets for one receipt from 30 addresses, alternating transports: the
        # receipt's 10 tries an hour, then refusals, even for the right secret.
        outcomes = []
        for i in range(30):
            guess = {"type": "rate", "receipt": target["receipt"], "secret": guessed(), "level": "satisfied"}
            address = f"10.1.0.{i + 1}"
            if i % 2:
                outcomes.append(code(await ws_command(server, sid, guess, address)))
            else:
                outcomes.append(code(http_command(server, sid, guess, address=address)[1]))
        assert outcomes == ["wrong_secret"] * 10 + ["rate_limited"] * 20
        right = {
            "type": "rate",
            "receipt": target["receipt"],
            "secret": target["secret"],
            "level": "satisfied",
        }
        assert code(await ws_command(server, sid, right, "10.1.1.1")) == "rate_limited"

        # 3. One address against the other receipts: its 10 tries a minute, whatever the receipt.
        outcomes = []
        for i in range(24):
            a = acks[1 + i % 3]
            guess = {"type": "follow_up", "receipt": a["receipt"], "secret": guessed(), "text": "追问"}
            if i % 2:
                outcomes.append(code(await ws_command(server, sid, guess, "10.2.0.1")))
            else:
                outcomes.append(code(http_command(server, sid, guess, address="10.2.0.1")[1]))
        assert outcomes == ["wrong_secret"] * 10 + ["rate_limited"] * 14
        assert seq(server, sid) == before, "a refused attempt stored something"

        # 4. The asker's own device is not held up, and rates once however many requests race.
        cookie = asker.device or ""
        own = {"type": "rate", "question_id": target["question_id"], "level": "satisfied"}
        raced = await asyncio.gather(
            *(asker.request("rate", question_id=target["question_id"], level="satisfied") for _ in range(10)),
            *(asyncio.to_thread(http_command, server, sid, own, cookie) for _ in range(10)),
            return_exceptions=True,
        )
    assert sorted(map(outcome, raced)) == ["ack"] + ["already_rated"] * 19, raced
    assert seq(server, sid) == before + 1
    assert get(server, f"/api/sessions/{sid}/transcript")["satisfaction"]["rated"] == 1


def outcome(reply: Any) -> str:
    """What one request got, whichever way it was sent: an ack, or the refusal's code."""
    if isinstance(reply, ServerError):
        return reply.code
    if isinstance(reply, tuple):  # (status, body) over HTTP
        return code(reply[1])
    assert isinstance(reply, dict), reply
    return "ack"


def guessed() -> str:
    return "".join(secrets.choice("23456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(8))
