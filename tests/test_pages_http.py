"""The public pages' first response, read as a link preview or a phone with no script reads it.

Every public page the server renders (live/pages.py) is fetched over HTTP and parsed, with no
script run: its ``<title>``, description and Open Graph tags (per session, with an image the
server serves), and its content (questions, answers, counts, the reply rate, the head hash),
in zh-CN by default and in English by the ``live_lang`` cookie or ``Accept-Language``; what a
citizen typed (``<img src=x onerror=alert(1)>``) arrives as text. The server reads the scripts'
own language files and formats times as they do: both are compared with Node's reading.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from live import i18n

from .conftest import TIMEOUT, TZ, LiveServer

pytestmark = pytest.mark.asyncio(loop_scope="module")
ROOT = Path(__file__).resolve().parents[1]
XSS = "<img src=x onerror=alert(1)>"


@dataclass
class Evening:
    """A programme with a closed episode (answered, declined, forwarded with a promise now
    overdue), one live now (a question answered, one open to 同问, one pending) and one next week."""

    server: LiveServer
    closed: dict[str, Any]
    live: dict[str, Any]
    upcoming: dict[str, Any]
    receipt: str = ""
    head: str = ""
    texts: dict[str, str] = field(default_factory=dict)


async def evening(srv: LiveServer) -> Evening:
    closed = srv.create_session(start=timedelta(minutes=-5), episode=40, title="区长在线 第40期：路灯与停车")
    live = srv.create_session(start=timedelta(minutes=-5), episode=41, title="区长在线 第41期：教育")
    upcoming = srv.create_session(start=timedelta(days=7), episode=42, title="区长在线 第42期：养老")
    e = Evening(srv, closed, live, upcoming)
    e.texts = {
        "lamp": f"老街的路灯什么时候修？{XSS}",
        "answer": "本月底前修好。<b>一定</b>",
        "private": "我家的私事",
        "bus": "公交站牌太旧了",
        "promise": f"两周内更换全部站牌{XSS}",
        "school": f"学校门口接送车辆太多怎么办？{XSS}",
        "school_answer": "下周起增派交警疏导。",
        "open": "菜市场什么时候翻新？",
        "pending": "这个问题还在审核中",
    }
    sid = closed["id"]
    async with (
        srv.client(sid) as asker,
        srv.client(sid, token=closed["moderator_token"]) as mod,
        srv.client(sid, token=closed["presenter_token"]) as official,
    ):
        lamp = await asker.request("ask", client_id="lamp", text=e.texts["lamp"], name=XSS)
        await mod.request("approve", question_id=lamp["question_id"])
        await official.request("answer", question_id=lamp["question_id"], text=e.texts["answer"])
        private = await asker.request("ask", client_id="private", text=e.texts["private"], name="李")
        await mod.request(
            "reject", question_id=private["question_id"], reason="personal_case", note="请联系社区"
        )
        bus = await asker.request("ask", client_id="bus", text=e.texts["bus"], name="赵")
        await mod.request("approve", question_id=bus["question_id"])
        await mod.request("forward", question_id=bus["question_id"], department="区交通局")
        due = (datetime.now(TZ).date() - timedelta(days=2)).isoformat()
        await mod.request(
            "commitment",
            question_id=bus["question_id"],
            department="区交通局",
            promise=e.texts["promise"],
            due=due,
        )
        await mod.request("close")
        e.receipt = lamp["receipt"]
    async with (
        srv.client(live["id"]) as asker,
        srv.client(live["id"], token=live["moderator_token"]) as mod,
        srv.client(live["id"], token=live["presenter_token"]) as official,
    ):
        school = await asker.request("ask", client_id="school", text=e.texts["school"], name=XSS)
        await mod.request("approve", question_id=school["question_id"])
        await official.request("answer", question_id=school["question_id"], text=e.texts["school_answer"])
        market = await asker.request("ask", client_id="market", text=e.texts["open"], name="孙")
        await mod.request("approve", question_id=market["question_id"])
        await asker.request("ask", client_id="pending", text=e.texts["pending"], name="周")
    doc = httpx.get(f"{srv.http}/api/sessions/{sid}/transcript", timeout=TIMEOUT).json()
    e.head = doc["chain"]["head"]
    return e


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def e(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Evening]:
    srv = await asyncio.to_thread(LiveServer(str(tmp_path_factory.mktemp("pages") / "live.db")).start)
    try:
        yield await evening(srv)
    finally:
        srv.kill()


class Page(HTMLParser):
    """A page as a preview or a screen reader with no script gets it: its language, title,
    meta tags, the elements it holds (not those of a ``<template>``, inert), and its text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lang, self.title, self.metas, self.tags, self.chunks = "", "", {}, [], []
        self._in_title, self._skip, self._inert = False, 0, 0
        self.feed(html)
        self.text = " ".join(" ".join(self.chunks).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self._inert += tag == "template"
        if not self._inert:
            self.tags.append(tag)
        if tag == "html":
            self.lang = a.get("lang", "")
        elif tag == "meta" and ("name" in a or "property" in a):
            self.metas[a.get("name") or a["property"]] = a.get("content", "")
        self._in_title = tag == "title"
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False
        self._skip -= tag in ("script", "style")
        self._inert -= tag == "template"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.chunks.append(data)


def get(e: Evening, path: str, **headers: str) -> tuple[httpx.Response, Page]:
    r = httpx.get(f"{e.server.http}{path}", headers=headers, timeout=TIMEOUT)
    return r, Page(r.text)


def pages(e: Evening) -> dict[str, tuple[str, list[str]]]:
    """Each page: its path, and what its first response must hold (zh-CN)."""
    closed, t = e.closed["id"], e.texts
    return {
        "home": (
            "/",
            ["区长在线 第40期：路灯与停车", "区长在线 第41期：教育", "区长在线 第42期：养老", "直播中"],
        ),
        "receipt": (f"/?receipt={e.receipt}", [t["lamp"], t["answer"], "已回答", e.receipt]),
        "search": ("/search?q=路灯", ["“路灯”共找到 1 条结果", t["answer"], "区长在线 第40期：路灯与停车"]),
        "transcript": (
            f"/s/{closed}/transcript",
            [t["lamp"], t["answer"], f"1. {XSS} 问", "回复率 66.7%（已答复 2 / 应答复 3）", e.head],
        ),
        "board": ("/p/qzzx/commitments", [t["promise"], "已逾期", "区交通局", t["bus"]]),
        "closed": (
            f"/s/{closed}",
            ["区长在线 第40期：路灯与停车", "已结束 · 办结中", t["lamp"], "回复率 66.7%", "未采用 1"],
        ),
        "live": (
            f"/s/{e.live['id']}",
            [
                "区长在线 第41期：教育",
                "直播中",
                "李明 副区长",
                t["school"],
                t["school_answer"],
                t["open"],
                "同问",
            ],
        ),
    }


@pytest.mark.parametrize("name", ["home", "receipt", "search", "transcript", "board", "closed", "live"])
async def test_the_first_response_holds_the_page_its_title_and_its_preview(e: Evening, name: str) -> None:
    path, wanted = pages(e)[name]
    r, page = get(e, path, **{"accept-language": "zh-CN,zh;q=0.9"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert page.lang == "zh-CN"
    for text in wanted:
        assert text in page.text, (name, text)
    assert page.title.strip() and page.metas["description"].strip(), name
    assert page.metas["og:title"] == page.title and page.metas["og:description"] == page.metas["description"]
    assert page.metas["og:url"] == f"{e.server.http}{path.split('?')[0]}"
    assert page.metas["og:image"] == f"{e.server.http}/static/img/share.png"
    assert "img" not in page.tags, "typed markup became an element"
    assert XSS not in r.text, "typed markup arrived unescaped"
    assert e.texts["pending"] not in r.text, "a question not published is never on a page"
    if name in ("transcript", "closed", "live"):  # per session: its title, its official and time
        title = e.live["title"] if name == "live" else e.closed["title"]
        assert title in page.title and "李明" in page.metas["description"], name
        assert "北京时间" in page.metas["description"], name


async def test_the_preview_image_is_served(e: Evening) -> None:
    r = httpx.get(f"{e.server.http}/static/img/share.png", timeout=TIMEOUT)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"


async def test_english_by_cookie_or_accept_language_and_the_switch_remembers(e: Evening) -> None:
    path = f"/s/{e.closed['id']}/transcript"
    english = ["Transcript", "Outcomes", "Reply rate 66.7% (2 replied of 3 due)", f"1. {XSS} asked"]
    for headers in (
        {"accept-language": "en-GB,en;q=0.9,zh;q=0.5"},
        {"accept-language": "zh-CN", "cookie": "live_lang=en"},
    ):
        _, page = get(e, path, **headers)
        assert page.lang == "en" and page.title.endswith("· Transcript"), headers
        for text in english:
            assert text in page.text, (headers, text)
    _, page = get(e, path, **{"accept-language": "en", "cookie": "live_lang=zh"})
    assert page.lang == "zh-CN" and "办理结果" in page.text, "a choice made outweighs the browser's"
    r, page = get(e, f"{path}?lang=en", **{"accept-language": "zh-CN"})
    assert page.lang == "en" and r.cookies.get(i18n.COOKIE) == "en", "the switch is remembered"
    for name in ("home", "board", "closed", "search"):
        _, page = get(e, pages(e)[name][0], **{"accept-language": "en"})
        assert page.lang == "en" and "中文" in page.text, name
    _, page = get(e, pages(e)["board"][0], cookie="live_lang=en")
    assert "Overdue" in page.text and e.texts["promise"] in page.text


async def test_the_viewer_page_lists_the_published_questions_in_either_language(e: Evening) -> None:
    """Issue 20: a session's page holds its questions and answers in the first response, as the
    script lists them (answered with the answer, then those open to 同问 with their counts), in
    the session's timezone, in Chinese or English; never a pending one's text."""
    path, t = f"/s/{e.live['id']}", e.texts
    for lang, words in (
        ("zh", ["已回答", "大家在问", "同问", "下周起增派交警疏导。"]),
        ("en", ["Answered", "Me too"]),
    ):
        r, page = get(e, path, cookie=f"live_lang={lang}")
        assert page.lang == ("en" if lang == "en" else "zh-CN")
        for text in [t["school"], t["school_answer"], t["open"], *words]:
            assert text in page.text, (lang, text)
        assert t["pending"] not in r.text
        assert XSS not in r.text and "&lt;img src=x onerror=alert(1)&gt;" in r.text
        answered, open_ = r.text.index('id="answered-list"'), r.text.index('id="open-list"')
        assert answered < r.text.index(t["school_answer"]) < open_ < r.text.index(t["open"])
        assert 'data-key="' in r.text and '<template id="t-answered">' in r.text  # the script adopts them


def form_of(html: str) -> dict[str, str]:
    """The hidden fields of the page's ask form."""
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))


async def test_asking_with_a_plain_form_takes_the_one_ask_path_and_refuses_a_forged_post(e: Evening) -> None:
    """Issue 20 point 2: the ask form posted without script goes through Sessions.handle (the
    same receipt, secret, idempotency and limits as the live stream's ask), answers with the
    page in the reader's language, and a post without the page's token is refused (CSRF)."""
    sid, base = e.live["id"], e.server.http
    with httpx.Client(base_url=base, timeout=TIMEOUT) as browser:  # keeps the device cookie
        page = browser.get(f"/s/{sid}")
        hidden = form_of(page.text)
        assert hidden["csrf"] and browser.cookies.get("live_device")
        url = f"/s/{sid}/ask"
        for forged in ({}, {"csrf": "x" + hidden["csrf"]}):  # no token, or one that is not this device's
            r = browser.post(url, data={"text": "伪造的问题", **forged})
            assert r.status_code == 403 and 'data-code="bad_csrf_token"' in r.text
            assert "表单已失效" in r.text
        with httpx.Client(base_url=base, timeout=TIMEOUT) as other:  # another device, this one's token
            other.get(f"/s/{sid}")
            r = other.post(url, data={"text": "伪造的问题", **hidden})
            assert r.status_code == 403 and 'data-code="bad_csrf_token"' in r.text
        r = browser.post(url, data={"text": "长" * 501, "name": "留着", **hidden})
        assert r.status_code == 413 and 'data-code="text_too_long"' in r.text and "最多 500 字" in r.text
        assert 'value="留着"' in r.text and "长" * 501 in r.text, "the form is kept filled"
        text = f"无脚本提问{XSS}"
        browser.cookies.set("live_lang", "en")
        r = browser.post(url, data={"text": text, "name": "吴", **hidden})
        assert r.status_code == 200 and "Submitted, waiting for review" in r.text
        receipt = re.search(r'id="receipt">([^<]+)<', r.text)
        secret = re.search(r'id="secret">([^<]+)<', r.text)
        assert receipt and secret and re.fullmatch(rf"{sid}-\d+-[A-Z0-9]{{6}}", receipt[1]), r.text
        again = browser.post(url, data={"text": text, "name": "吴", **hidden})  # a reload resends it
        assert again.status_code == 200 and f'id="receipt">{receipt[1]}<' in again.text
        assert f">{secret[1]}<" not in again.text, "the secret is shown once"
        state = httpx.get(f"{base}/api/sessions/{sid}", timeout=TIMEOUT).json()
        stored = [q for q in state["questions"] if q["id"] == int(receipt[1].split("-")[1])]
        assert stored and stored[0]["status"] == "pending" and "text" not in stored[0], "stored once, pending"
        assert f"{XSS}" not in r.text
        mine = browser.get(f"/s/{sid}").text  # its asker's page: under 我的问题 alone, as text
        assert mine.count("无脚本提问") == 1 and f'id="mine-{stored[0]["id"]}"' in mine and XSS not in mine
        assert "无脚本提问" not in httpx.get(f"{base}/s/{sid}", timeout=TIMEOUT).text  # anyone else's
        closed = browser.get(f"/s/{e.closed['id']}")
        r = browser.post(f"/s/{e.closed['id']}/ask", data={"text": "太晚了", **form_of(closed.text)})
        assert r.status_code == 409 and 'data-code="session_not_open"' in r.text and "太晚了" in r.text
        assert browser.get(url, follow_redirects=False).headers["location"] == f"/s/{sid}#ask"


async def test_the_replay_and_the_big_screen_name_their_session_in_a_preview(e: Evening) -> None:
    """Their content is their scripts', but a link to them is previewed with the session's
    title, official and window, in the reader's language (issue 20, point 1)."""
    for path, lang, head in (
        (f"/s/{e.closed['id']}/replay", "zh-CN", "回放 · 区长在线 第40期：路灯与停车 - 区长在线"),
        (f"/s/{e.closed['id']}/replay", "en", "Replay · 区长在线 第40期：路灯与停车 - 区长在线"),
        (f"/s/{e.live['id']}/screen", "zh-CN", "大屏 - 区长在线 第41期：教育"),
    ):
        r, page = get(e, path, **{"accept-language": lang})
        assert r.status_code == 200 and page.lang == lang and page.title == head, (path, page.title)
        assert page.metas["og:title"] == head and page.metas["og:url"] == f"{e.server.http}{path}"
        assert "李明" in page.metas["description"] == page.metas["og:description"]
        assert ("北京时间" if lang == "zh-CN" else "Beijing time") in page.metas["description"]
    r, page = get(e, "/s/999999/replay")
    assert r.status_code == 404 and page.title == "该期访谈不存在"


async def test_the_staff_pages_are_one_page_each_on_their_shared_base(e: Evening) -> None:
    """Each staff page (templates/staff.html and its own blocks) is the same for every reader but
    for the language it starts in (its words are its script's), is never cached stale, and
    mints the device cookie a browser lacks, only then."""
    sid = e.live["id"]
    for path, role in (
        (f"/s/{sid}/moderator", "moderator"),
        (f"/s/{sid}/presenter", "presenter"),
        (f"/s/{sid}/host", "host"),
        (f"/s/{sid}/closing", "closing"),
        (f"/s/{sid}/notifications", "notifications"),
        ("/admin", "admin"),
    ):
        r, _ = get(e, path, **{"accept-language": "en"})
        assert r.status_code == 200 and r.headers["cache-control"] == "no-cache", path
        assert r.text.startswith('<!doctype html>\n<html lang="en" data-lang="en" data-staff>'), path
        assert f'<title data-i18n="{role}.doc_title"></title>' in r.text, path
        assert f'<body class="staff {role}">' in r.text and 'id="lang"' in r.text, path
        assert f'<script type="module" src="/static/js/{role}.js"></script>' in r.text, path
        zh = get(e, path)[0].text  # the same but for the language it starts in: its words are its script's
        assert zh == r.text.replace('lang="en" data-lang="en"', 'lang="zh-CN" data-lang="zh"', 1), path
        cookie = r.cookies.get("live_device")
        assert cookie, path
        again = httpx.get(
            f"{e.server.http}{path}", headers={"Cookie": f"live_device={cookie}"}, timeout=TIMEOUT
        )
        assert "set-cookie" not in again.headers, path


async def test_an_id_too_long_for_the_store_names_nothing_on_every_door(e: Evening) -> None:
    """A path's id beyond what the store's integers take (and the protocol's 2**53) is no
    session: the router's structured 404 on pages and the API, a refused handshake on the live
    stream; never the store's overflow as a 500."""
    huge = "9" * 23
    for path in (
        f"/s/{huge}",
        f"/s/{huge}/replay",
        f"/s/{huge}/transcript",
        f"/s/{huge}/moderator",
        f"/api/sessions/{huge}",
        f"/api/sessions/{huge}/events",
        f"/s/{'9' * 16}/screen",
    ):
        r = httpx.get(f"{e.server.http}{path}", timeout=TIMEOUT)
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), path
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{e.server.ws}/ws/{huge}"):
            pass
    assert refused.value.response.status_code == 403
    assert httpx.get(f"{e.server.http}/s/{e.live['id']}/replay", timeout=TIMEOUT).status_code == 200


async def test_a_missing_session_or_programme_is_a_page_that_says_so(e: Evening) -> None:
    r, page = get(e, "/s/999999/transcript", **{"accept-language": "en"})
    assert r.status_code == 404 and page.lang == "en" and page.title == "No such session"
    r, page = get(e, "/p/nope/commitments")
    assert r.status_code == 404 and "栏目不存在" in page.text


def node(script: str) -> Any:
    exe = shutil.which("node")
    assert exe, "node is needed to read the scripts' files as the browser does"
    done = subprocess.run(
        [exe, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_the_server_reads_the_language_files_and_writes_times_as_the_scripts_do() -> None:
    """One definition of every string (static/js/lang/*.js) and a test for the one copy that
    cannot be avoided: Intl's date formats, written again in Python (live/i18n.py)."""
    rng = random.Random(20)
    moments = [rng.randrange(1_500_000_000_000, 2_100_000_000_000) for _ in range(60)]
    zones = ["Asia/Shanghai", "Europe/London", "America/New_York", "Asia/Urumqi"]
    cases = [(ms, zones[n % len(zones)]) for n, ms in enumerate(moments)]
    formats = {
        "time": "{hour: '2-digit', minute: '2-digit'}",
        "date": "{year: 'numeric', month: 'long', day: 'numeric', weekday: 'short'}",
        "day": "{month: 'long', day: 'numeric', weekday: 'short'}",
        "date_time": "{month: 'long', day: 'numeric', weekday: 'short', hour: '2-digit', minute: '2-digit'}",
    }
    read, js = node(
        "const strings = {};"
        "for (const l of ['zh', 'en']) strings[l] = (await import(`./static/js/lang/${l}.js`)).default;"
        f"const cases = {json.dumps(cases)}; const out = [];"
        "for (const l of ['zh', 'en']) for (const [ms, tz] of cases) out.push(["
        + ", ".join(
            f"new Intl.DateTimeFormat(strings[l]['lang.locale'], {{...{f}, hourCycle: 'h23', timeZone: tz}})"
            ".format(ms)"
            for f in formats.values()
        )
        + "]); console.log(JSON.stringify([strings, out]));"
    )
    assert read == {"zh": i18n.strings("zh"), "en": i18n.strings("en")}
    py = [
        [getattr(i18n, name)(lang, ms, tz) for name in formats] for lang in ("zh", "en") for ms, tz in cases
    ]
    assert py == js
    assert i18n.choose(None, None, "en-US,en;q=0.9,zh-CN;q=0.8") == "en"
    assert i18n.choose(None, None, "zh-TW,zh;q=0.9,en;q=0.8") == "zh"
    assert i18n.choose(None, None, "fr, en;q=0.1") == "en"
    assert i18n.choose(None, None, "") == i18n.choose("xx", "yy", "fr") == "zh"
    with pytest.raises(ValueError, match="not a string table"):
        i18n.parse("export default { 'a': `template` };")
    with pytest.raises(ValueError, match="defined twice"):
        i18n.parse("export default { 'a': 'x', 'a': 'y' };")
