"""A whole evening and its aftermath, end to end: issue 19's "done when", on both engines.

One real ``live serve`` sends to a real SMTP server and a real signed-webhook receiver
(:mod:`tests.receivers`), as :mod:`tests.test_notify` does. Episode 32 of 区长在线 is open
now and episode 33 is scheduled next week. Citizens ask (some leave an e-mail address,
some a phone number), staff moderate, the official answers on air, a moderator's typed
answer waits for a second person; one question is declined, one forwarded with a
commitment already past its due day. The session is closed and every question given an
outcome before it may be archived; the commitment is postponed, then done; askers hear of
each outcome, rate, follow up; episode 33 opens with what was carried over and the
follow-up; the transcript, the static bundle and ``live verify`` close the record.

Every check is one a citizen or a journalist could make: the receipt lookup, the public
session, the transcript, the board and its feed, the messages received, the bundle's files.
Each step is a function below, in the order of the evening.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from live.client import Client, ServerError

from .conftest import ADMIN, TIMEOUT, TZ, Backend, LiveServer, until
from .receivers import Gateway, Mail, MailSink
from .test_chain import cli, verified
from .test_chain import refused as verify_refused
from .test_notify import SECRET, serving
from .test_ratings import http_command

ATOM = "{http://www.w3.org/2005/Atom}"
WANG, LI, CHEN = "wang.fang@example.cn", "li.na@example.cn", "chen.jing@example.cn"
ZHANG, ZHAO = "138 0013 8000", "+86 139-0013-9000"
CONTACTS = (WANG, LI, CHEN, ZHANG, ZHAO, "13800138000", "13900139000")
"""Each contact as given, and each phone as its bare digits (a hash or a timestamp may hold a
short run such as 0013 by chance: only a whole number is a leak)."""
NAMES = ("王芳", "李娜", "陈静", "张伟", "赵强", "刘洋")
PRIVATE = "我家楼上邻居天天半夜装修"
"""A question declined before it was ever published: its text is its asker's alone."""
TYPED = "老城区将新增三处立体停车场，年底前建成。"
WRITTEN = "自下月起，社区养老食堂晚餐延长到19:30。"
COMMENTS = ("路灯当周就修好了", "拖了这么久才画线")
"""Rating comments: staff and the asker see them, the public only the rates."""
FOLLOW_UP = "立体停车场建在哪里？收费标准是多少？"
FOLLOW_UP_ANSWER = "建在老城区北、中、南三处，首小时免费。"


@dataclass
class Evening:
    srv: LiveServer
    sink: MailSink
    gateway: Gateway
    s: dict[str, Any] = field(default_factory=dict)
    """Episode 32, as created (with its staff keys)."""
    nxt: dict[str, Any] = field(default_factory=dict)
    """Episode 33."""
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each question's acknowledgement, as its asker got it (receipt number and secret)."""
    devices: dict[str, str] = field(default_factory=dict)
    carried: dict[int, int] = field(default_factory=dict)
    """Question id in episode 32 -> its id in episode 33."""

    @property
    def sid(self) -> int:
        return int(self.s["id"])

    @property
    def q(self) -> dict[str, int]:
        return {name: int(ack["question_id"]) for name, ack in self.acks.items()}

    def receipt(self, name: str) -> dict[str, Any]:
        """What the lookup on ``/`` shows whoever holds this question's receipt number."""
        return dict(get(self.srv, f"/api/receipts/{self.acks[name]['receipt']}"))

    def sms(self, name: str) -> list[dict[str, Any]]:
        """The webhook requests the gateway acted on for this episode-32 question, in order."""
        qid = self.q[name]
        return [
            b
            for b in self.gateway.accepted.values()
            if (b["session_id"], b["question_id"]) == (self.sid, qid)
        ]

    def mails(self, name: str) -> list[Mail]:
        return [m for m in self.sink.mails if f"回执编号 {self.acks[name]['receipt']}" in m.text]


async def ask(c: Client, text: str, name: str, contact: str = "") -> dict[str, Any]:
    fields = {"contact": contact} if contact else {}
    return await c.request("ask", client_id=str(uuid.uuid4()), text=text, name=name, **fields)


async def refused(code: str, c: Client, kind: str, **fields: Any) -> ServerError:
    with pytest.raises(ServerError) as err:
        await c.request(kind, **fields)
    assert err.value.code == code, err.value
    return err.value


def get(srv: LiveServer, path: str, staff: bool = False, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {ADMIN}"} if staff else {}
    r = httpx.get(f"{srv.http}{path}", params=params, headers=headers, timeout=TIMEOUT)
    assert r.status_code == 200, (path, r.text)
    return r.json() if r.headers["content-type"].split(";")[0] == "application/json" else r.text


def board(srv: LiveServer) -> dict[str, Any]:
    """The programme's commitment board: its one entry, with the board's counts."""
    b = get(srv, "/api/commitments", programme="qzzx")
    [entry] = b["commitments"]
    return {**entry, "counts": b["counts"]}


def feed_entry(srv: LiveServer) -> ET.Element:
    [entry] = ET.fromstring(get(srv, "/p/qzzx/commitments.atom").encode()).findall(f"{ATOM}entry")
    return entry


def day(offset: int) -> str:
    """The calendar day ``offset`` days from today in Beijing, as a due day is written."""
    return (datetime.now(TZ).date() + timedelta(days=offset)).isoformat()


async def test_an_evening_and_its_aftermath(backend: Backend, tmp_path: Path) -> None:
    sink, gateway = MailSink().start(), Gateway(SECRET).start()
    try:
        with serving(backend, sink.url, gateway.url) as srv:
            e = Evening(srv, sink, gateway)
            programme(e)
            await the_evening(e)
            await closing(e)
            await the_commitment_kept(e)
            await askers_told(e)
            await askers_say(e)
            await the_next_episode(e)
            the_record(e, backend.db, tmp_path / "bundle")
    finally:
        sink.stop()
        gateway.stop()


def programme(e: Evening) -> None:
    """1. Episode 32, open now, with four eyes on typed answers; episode 33 next week."""
    e.s = e.srv.create_session(answer_review="approve")
    e.nxt = e.srv.create_session(
        start=timedelta(days=7), episode=33, title="区长在线 第33期", moderation="post"
    )
    phases = {x["id"]: x["phase"] for x in get(e.srv, "/api/sessions")["sessions"]}
    assert phases == {e.sid: "open", e.nxt["id"]: "upcoming"}


async def the_evening(e: Evening) -> None:
    """2. Questions asked, approved, answered on air, typed and released, declined, forwarded
    with a commitment whose due day is already over."""
    srv, sid = e.srv, e.sid
    async with (
        srv.client(sid) as wang,
        srv.client(sid) as zhang,
        srv.client(sid) as li,
        srv.client(sid) as zhao,
        srv.client(sid) as chen,
        srv.client(sid) as liu,
        srv.client(sid, token=e.s["moderator_token"], name="小王") as mod,
        srv.client(sid, token=e.s["presenter_token"], name="李明") as official,
    ):
        e.acks = {
            "lamp": await ask(wang, "幸福路的路灯坏了三个月，什么时候修？", "王芳", WANG),
            "parking": await ask(zhang, "老城区停车太难，有什么办法？", "张伟", ZHANG),
            "private": await ask(li, PRIVATE, "李娜", LI),
            "crossing": await ask(zhao, "学校门口的人行横道线什么时候重新画？", "赵强", ZHAO),
            "canteen": await ask(wang, "社区养老食堂能否延长开放时间？", "王芳", WANG),
            "idle": await ask(liu, "区长平时喜欢看什么书？", "刘洋"),
            "market": await ask(chen, "夜市什么时候恢复？", "陈静", CHEN),
            "toilets": await ask(zhang, "公园里的公共厕所太少了", "张伟", ZHANG),
        }
        e.devices = {"wang": str(wang.device), "zhang": str(zhang.device)}
        q = e.q
        for name in ("lamp", "parking", "crossing", "canteen", "market", "toilets"):
            await mod.request("approve", question_id=q[name])
        await mod.request("reject", question_id=q["private"], reason="personal_case", note="请联系所在社区")

        # The official answers on air: nothing typed, nothing to hold.
        assert await official.request("answer", question_id=q["lamp"], mode="video") == {
            "question_id": q["lamp"],
            "revision": 1,
        }

        # Typed by a moderator on the official's behalf: nobody outside staff sees it until
        # a second person releases it.
        assert (await mod.request("answer", question_id=q["parking"], text=TYPED))["held"] == "approve"
        before = e.receipt("parking")
        assert before["status"] == "approved" and "answer" not in before
        assert TYPED not in json.dumps(get(srv, f"/api/sessions/{sid}"), ensure_ascii=False)
        await refused("second_person_required", mod, "release", question_id=q["parking"])
        await official.request("release", question_id=q["parking"])
        assert e.receipt("parking")["answer"]["text"] == TYPED

        # Forwarded, and a commitment recorded whose due day is over by the server's clock.
        # Each waits for the asker's message: a newer outcome would replace one not yet sent.
        await mod.request(
            "forward", question_id=q["crossing"], department="区交通局", note="十个工作日内答复"
        )
        await until(lambda: len(e.sms("crossing")) == 1, "the forward's SMS")
        due = day(-3)
        await mod.request(
            "commitment",
            question_id=q["crossing"],
            department="区交通局",
            promise="重新施划学校门口人行横道线",
            due=due,
        )
        await until(lambda: len(e.sms("crossing")) == 2, "the commitment's SMS")
        promised = e.receipt("crossing")
        assert promised["commitment"]["due"] == due and promised["overdue"] is True


async def closing(e: Evening) -> None:
    """3. Closed: a written reply, a settle, a carry-over; archived only once none is left."""
    q = e.q
    async with (
        e.srv.client(e.sid, token=e.s["moderator_token"], name="小王") as mod,
        e.srv.client(e.sid, token=e.s["presenter_token"], name="李明") as official,
    ):
        await mod.request("close")
        missing = await refused("outcomes_missing", mod, "archive")
        assert sorted(missing.details["question_ids"]) == sorted(
            q[n] for n in ("canteen", "idle", "market", "toilets")
        )
        await refused("written_only", official, "answer", question_id=q["canteen"], text="文字")
        await official.request("answer", question_id=q["canteen"], text=WRITTEN, mode="written")
        await mod.request("release", question_id=q["canteen"])  # four eyes on a written reply too
        await mod.request("settle", question_ids=[q["idle"]], outcome="declined", reason="off_topic")
        one = await mod.request("carry_over", question_ids=[q["market"]])
        assert one["session_id"] == e.nxt["id"]
        missing = await refused("outcomes_missing", mod, "archive")
        assert missing.details == {"count": 1, "question_ids": [q["toilets"]]}
        rest = await mod.request("carry_over")
        e.carried = {old: new for old, new in [*one["carried"], *rest["carried"]]}
        assert sorted(e.carried) == [q["market"], q["toilets"]]
        assert await mod.request("archive") == {"phase": "archived", "without_outcome": 0}

    public = get(e.srv, f"/api/sessions/{e.sid}")
    assert public["phase"] == "archived"
    assert {x["id"]: x["outcome"] for x in public["questions"]} == {
        q["lamp"]: "answered",
        q["parking"]: "answered",
        q["private"]: "declined",
        q["crossing"]: "forwarded",
        q["canteen"]: "written",
        q["idle"]: "declined",
        q["market"]: "carried_over",
        q["toilets"]: "carried_over",
    }
    trail = get(e.srv, f"/api/sessions/{e.sid}/audit", staff=True)["audit"]
    released = [r for r in trail if r["action"] == "question.answered" and r.get("typed_by")]
    assert [(r["who"], r["typed_by"]) for r in released] == [
        ("presenter:李明", "moderator:小王"),
        ("moderator:小王", "presenter:李明"),
    ]


async def the_commitment_kept(e: Evening) -> None:
    """4. Weeks later: postponed to a day not yet come, then done; the board and its feed follow."""
    srv, qid = e.srv, e.q["crossing"]
    entry = board(srv)
    assert entry["session_id"] == e.sid and entry["overdue"] is True and entry["counts"]["overdue"] == 1
    assert entry["question"]["text"] == "学校门口的人行横道线什么时候重新画？"
    assert feed_entry(srv).findtext(f"{ATOM}title", "").startswith("[办理中 · 已逾期] 区交通局")
    later = day(14)
    async with srv.client(e.sid, token=e.s["moderator_token"], name="小王") as mod:
        await mod.request("progress", question_id=qid, status="postponed", note="雨季无法施工", due=later)
        await until(lambda: len(e.sms("crossing")) == 3, "the postponement's SMS")
        entry = board(srv)
        c = entry["question"]["commitment"]
        assert (c["status"], c["due"], entry["overdue"]) == ("postponed", later, False)
        assert feed_entry(srv).findtext(f"{ATOM}title", "").startswith("[延期] 区交通局")
        assert e.receipt("crossing")["overdue"] is False
        await mod.request("progress", question_id=qid, status="done", note="人行横道线已重新施划")
        await until(lambda: len(e.sms("crossing")) == 4, "the SMS that it is done")
    entry = board(srv)
    c = entry["question"]["commitment"]
    assert (c["status"], c["result"], entry["overdue"]) == ("done", "人行横道线已重新施划", False)
    assert [(h["status"], h.get("due")) for h in c["history"]] == [("postponed", later), ("done", None)]
    assert entry["counts"] == {"total": 1, "in_progress": 0, "done": 1, "postponed": 0, "overdue": 0}
    assert entry["links"]["replay"] == f"/s/{e.sid}/replay?at={c['said_at']}"
    feed = feed_entry(srv)
    assert feed.findtext(f"{ATOM}title", "").startswith("[已办结] 区交通局")
    assert "办理结果：人行横道线已重新施划" in feed.findtext(f"{ATOM}content", "")
    assert e.receipt("crossing")["commitment"] == c


async def askers_told(e: Evening) -> None:
    """5. Each asker heard of each outcome at the contact they left, and of nothing else:
    four e-mails, six signed SMS requests, none about the question left without a contact."""
    await until(lambda: len(e.sink.mails) == 4 and len(e.gateway.accepted) == 6, "every message")
    for mail in e.sink.mails:
        assert len(mail.rcpt) == 1 and mail.message["To"] == mail.rcpt[0]
        said = mail.text + str(mail.message["Subject"])
        assert not [x for x in (*CONTACTS, *NAMES) if x in said.replace(mail.rcpt[0], "")], said
        assert said.index("您好") < said.index("Hello"), "Chinese first, then English"
    [lamp] = e.mails("lamp")
    assert lamp.rcpt == [WANG] and "已在直播视频中得到答复" in lamp.message["Subject"]
    [canteen] = e.mails("canteen")
    assert canteen.rcpt == [WANG] and "已得到书面答复" in canteen.text and WRITTEN in canteen.text
    [declined] = e.mails("private")
    assert declined.rcpt == [LI] and "未被采用" in declined.text
    assert "涉及个人具体事项" in declined.text and "请联系所在社区" in declined.text
    assert PRIVATE not in declined.text, "never published: the message repeats no text of it"
    [market] = e.mails("market")
    assert market.rcpt == [CHEN] and "将在下一期节目中继续办理，查询编号不变" in market.text
    assert f"{e.srv.http}/?receipt={e.acks['market']['receipt']}" in market.text

    assert all(call.signed for call in e.gateway.calls) and e.gateway.duplicates == 0
    [parking] = e.sms("parking")
    assert (parking["to"], parking["type"], parking["outcome"]["answer"]["text"]) == (
        ZHANG,
        "question.answered",
        TYPED,
    )
    assert [b["type"] for b in e.sms("toilets")] == ["question.carried_over"]
    crossing = e.sms("crossing")
    assert [b["type"] for b in crossing] == [
        "question.forwarded",
        "commitment.made",
        "commitment.progress",
        "commitment.progress",
    ]
    assert {b["to"] for b in crossing} == {ZHAO} and "已转交区交通局办理" in crossing[0]["text"]["zh"]
    assert "已列为承诺事项，由区交通局办理" in crossing[1]["text"]["zh"]
    assert [b["outcome"]["commitment"]["status"] for b in crossing[2:]] == ["postponed", "done"]
    for b in e.gateway.accepted.values():
        said = json.dumps(b, ensure_ascii=False)
        assert not [x for x in (*CONTACTS, PRIVATE) if x in said.replace(b["to"], "")], said
        assert not [x for x in NAMES if x in json.dumps(b["text"], ensure_ascii=False)], said
    sent = json.dumps(list(e.gateway.accepted.values())) + "".join(m.text for m in e.sink.mails)
    assert e.acks["idle"]["receipt"] not in sent


async def askers_say(e: Evening) -> None:
    """6a. Two ratings (by the device that asked; by receipt number and secret from another
    phone, days later), published as rates only; one follow-up into episode 33."""
    srv, q = e.srv, e.q
    async with srv.client(e.sid, device=e.devices["wang"]) as phone:
        await phone.request("rate", question_id=q["lamp"], level="satisfied", comment=COMMENTS[0])
    crossing = e.acks["crossing"]
    rating = {"type": "rate", "receipt": crossing["receipt"], "secret": crossing["secret"]}
    status, body = http_command(srv, e.sid, {**rating, "level": "dissatisfied", "comment": COMMENTS[1]})
    assert status == 200 and body["result"] == {"question_id": q["crossing"], "level": "dissatisfied"}
    rates = {
        "rated": 2,
        "counts": {"satisfied": 1, "basically_satisfied": 0, "dissatisfied": 1},
        "percent": {"satisfied": 50.0, "basically_satisfied": 0.0, "dissatisfied": 50.0},
        "satisfied": 50.0,
    }
    assert get(srv, f"/api/sessions/{e.sid}/transcript")["satisfaction"] == rates
    assert get(srv, f"/api/sessions/{e.sid}/stats", staff=True)["satisfaction"] == rates
    departments = {d["department"]: d["satisfied"] for d in get(srv, "/api/satisfaction")["departments"]}
    assert departments == {"副区长": 100.0, "区交通局": 0.0}, "the guest's post, and the department"

    async with srv.client(e.sid, device=e.devices["zhang"]) as phone:
        ack = await phone.request("follow_up", question_id=q["parking"], text=FOLLOW_UP)
    fu = ack["follow_up"]
    assert (fu["session_id"], fu["status"], fu["session_title"]) == (
        e.nxt["id"],
        "approved",
        "区长在线 第33期",
    )
    e.acks["follow_up"] = {"question_id": fu["question_id"], "receipt": fu["receipt"]}
    assert e.receipt("parking")["follow_up"] == {"session_id": e.nxt["id"], "question_id": fu["question_id"]}
    assert e.receipt("follow_up")["follows"] == {"session_id": e.sid, "question_id": q["parking"]}


async def the_next_episode(e: Evening) -> None:
    """6b. Episode 33 opens with the carried-over questions under their receipt numbers and the
    follow-up; a carried-over question answered there is told under the number its asker holds."""
    srv, q, nid = e.srv, e.q, e.nxt["id"]
    async with (
        srv.client(nid, token=e.nxt["moderator_token"]) as mod,
        srv.client(nid, token=e.nxt["presenter_token"], name="李明") as official,
        srv.client(nid, device=e.devices["zhang"]) as zhang,
    ):
        await mod.request("open")
        there = get(srv, f"/api/sessions/{nid}")
        assert there["phase"] == "open"
        came = {x["id"]: (x["text"], x.get("carried_from"), x.get("follows")) for x in there["questions"]}
        assert came == {
            e.carried[q["market"]]: (
                "夜市什么时候恢复？",
                {"session_id": e.sid, "question_id": q["market"]},
                None,
            ),
            e.carried[q["toilets"]]: (
                "公园里的公共厕所太少了",
                {"session_id": e.sid, "question_id": q["toilets"]},
                None,
            ),
            q["follow_up"]: (FOLLOW_UP, None, {"session_id": e.sid, "question_id": q["parking"]}),
        }
        mine = {m["id"]: m["receipt"] for m in zhang.welcome["mine"]}
        assert mine == {
            e.carried[q["toilets"]]: e.acks["toilets"]["receipt"],
            q["follow_up"]: e.acks["follow_up"]["receipt"],
        }, "the receipt numbers its asker was given"
        for name in ("market", "toilets"):
            r = e.receipt(name)
            assert (r["status"], r["session_id"]) == ("carried_over", e.sid)
            [where] = r["carried"]
            assert (where["session_id"], where["session_title"]) == (nid, "区长在线 第33期")
        await official.request("answer", question_id=e.carried[q["market"]], text="夜市下月一日恢复。")
        await official.request("answer", question_id=q["follow_up"], text=FOLLOW_UP_ANSWER)
    there = e.receipt("market")["carried"][0]
    assert there["answer"]["text"] == "夜市下月一日恢复。"
    assert there["rated"] is False and there["rating_until"] > 0, "rated where it was answered"
    await until(lambda: len(e.mails("market")) == 2, "the answer, under the receipt number its asker holds")
    answered = e.mails("market")[-1]
    assert answered.rcpt == [CHEN] and "夜市下月一日恢复。" in answered.text
    assert "区长在线 第33期" in answered.text and f"/?receipt={e.acks['market']['receipt']}" in answered.text

    # The number and secret from episode 32 rate the copy in episode 33, from any phone.
    market = e.acks["market"]
    by_receipt = {"type": "rate", "receipt": market["receipt"], "secret": market["secret"]}
    status, body = http_command(srv, nid, {**by_receipt, "level": "basically_satisfied"})
    assert status == 200 and body["result"]["question_id"] == e.carried[q["market"]], body
    assert e.receipt("market")["carried"][0]["rated"] is True
    status, body = http_command(srv, nid, {**by_receipt, "secret": "2222-2222", "level": "satisfied"})
    assert (status, body["code"]) == (403, "wrong_secret"), body

    # The follow-up's asker is told at the contact left with the original question.
    def follow_up_sms() -> list[dict[str, Any]]:
        key = (nid, q["follow_up"])
        return [b for b in e.gateway.accepted.values() if (b["session_id"], b["question_id"]) == key]

    await until(lambda: len(follow_up_sms()) == 1, "the follow-up's answer, by SMS")
    [told] = follow_up_sms()
    assert (told["to"], told["outcome"]["answer"]["text"]) == (ZHANG, FOLLOW_UP_ANSWER)


def the_record(e: Evening, db: str, folder: Path) -> None:
    """7. The transcript lists every question by outcome with the reply rate and the head; the
    bundle is exported and verified; one byte changed in it is refused, naming the file. No
    contact, unpublished text or rating comment anywhere the public can read."""
    srv, q, sid = e.srv, e.q, e.sid
    doc = get(srv, f"/api/sessions/{sid}/transcript")
    assert [(x["id"], x["outcome"]) for x in doc["outcomes"]["questions"]] == [
        (q["lamp"], "answered"),
        (q["parking"], "answered"),
        (q["canteen"], "written"),
        (q["crossing"], "forwarded"),
        (q["market"], "carried_over"),
        (q["toilets"], "carried_over"),
        (q["private"], "declined"),
        (q["idle"], "declined"),
    ]
    counts = doc["outcomes"]["counts"]
    assert (counts["replied"], counts["due"], counts["reply_rate"]) == (4, 6, 4 / 6)
    head = doc["chain"]["head"]
    assert json.loads(get(srv, f"/api/sessions/{sid}/chain").splitlines()[0])["head"] == head
    md = get(srv, f"/api/sessions/{sid}/transcript", format="md")
    assert "回复率 66.7%（已答复 4 / 应答复 6）" in md and f"`{head}`" in md
    assert md.index("### 现场回答（2）") < md.index("### 结转下一期（2）") < md.index("### 未采用（2）")

    made = cli("bundle", str(sid), str(folder), "--db", db)
    assert made.returncode == 0 and f"head {head}" in made.stdout, made.stderr
    assert f"ok: bundle {folder}: session {sid}, " in verified(str(folder))
    page = (folder / "index.html").read_text()
    assert head in page and "回复率 66.7%（已答复 4 / 应答复 6）" in page
    assert '结转下一期 <span class="count-badge">2</span>' in page and "夜市什么时候恢复？" in page
    assert "（未公开的问题）" in page, "a declined, never published question: its outcome, not its text"

    published = [json.dumps(get(srv, f"/api/sessions/{x}"), ensure_ascii=False) for x in (sid, e.nxt["id"])]
    published += [
        json.dumps(get(srv, f"/api/sessions/{sid}/events", limit=1000), ensure_ascii=False),
        json.dumps(doc, ensure_ascii=False),
        md,
        get(srv, f"/api/sessions/{sid}/transcript", format="csv"),
        json.dumps(get(srv, "/api/commitments", programme="qzzx"), ensure_ascii=False),
        get(srv, "/p/qzzx/commitments.atom"),
        *(json.dumps(e.receipt(name), ensure_ascii=False) for name in e.acks),
        *(p.read_bytes().decode(errors="replace") for p in folder.iterdir()),
    ]
    for text in published:
        assert not [x for x in (*CONTACTS, PRIVATE, *COMMENTS) if x in text], text[:300]

    original = (folder / "index.html").read_bytes()
    at = original.index(head.encode())
    (folder / "index.html").write_bytes(original[:at] + bytes([original[at] ^ 0x01]) + original[at + 1 :])
    assert "index.html" in verify_refused(str(folder))
