"""The replay's content in Chromium: in the server's first response, and the same markup once
the script has read the log (issue 20, points 1-3; docs/pages.md).

The replay opens at its end, the session's final state: the server renders that state's record
(answers and the studio's posts), the questions left open, the counts and, once the window is
over, every outcome, from the same macros whose ``<template>``s the script fills at each moment
of the playback. So for the same session the two are the same markup, in both languages; and
with scripts off the page reads in full.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from ..conftest import LiveServer
from .conftest import DESKTOP, PHONE, XSS, context, open_page, shot
from .markup import MARKUP
from .test_studio_pages import studio_photo

pytestmark = pytest.mark.asyncio(loop_scope="module")

PARTS = ("#answered-list", "#open-list", "#counts", "#answered-title")
TEXTS = {
    "lamp": f"路灯坏了{XSS}",
    "call": "热线来电：公交站台",
    "market": "菜市场什么时候翻新？",
    "remark": "欢迎收看本期区长在线。",
    "caption": "访谈现场",
    "bus": "公交站台能加个顶棚吗？",
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def session(site: LiveServer) -> AsyncIterator[dict[str, Any]]:
    """An evening with every kind of item: a host's remark, a question read out and answered,
    a photo, a hotline call answered on air, a question left open with a vote, one declined."""
    s = site.create_session(title="区长在线 第40期：回放")
    sid = s["id"]
    async with (
        site.client(sid) as asker,
        site.client(sid) as neighbour,
        site.client(sid, token=s["moderator_token"]) as mod,
        site.client(sid, token=s["presenter_token"]) as official,
        site.client(sid, token=s["host_token"]) as host,
    ):
        await host.request("remark", text=TEXTS["remark"])
        lamp = (await asker.request("ask", client_id="lamp", text=TEXTS["lamp"], name=XSS))["question_id"]
        await mod.request("approve", question_id=lamp)
        await host.request("announce", question_id=lamp)
        await official.request("answer", question_id=lamp, text="本月底前修好。")
        async with httpx.AsyncClient(base_url=site.http) as http:
            r = await http.post(
                f"/api/sessions/{sid}/photos",
                headers={"authorization": f"Bearer {s['host_token']}"},
                files={"photo": ("desk.jpg", studio_photo(), "image/jpeg")},
                data={"caption": TEXTS["caption"]},
            )
            assert r.status_code == 200, r.text
        call = await mod.request("ask", client_id="call", text=TEXTS["call"], name="来电", channel="hotline")
        await mod.request("approve", question_id=call["question_id"])
        await official.request("answer", question_id=call["question_id"], mode="video")
        market = (await asker.request("ask", client_id="market", text=TEXTS["market"], name="孙"))[
            "question_id"
        ]
        await mod.request("approve", question_id=market)
        await neighbour.request("vote", question_id=market)
        bus = (await asker.request("ask", client_id="bus", text=TEXTS["bus"], name="赵"))["question_id"]
        await mod.request("approve", question_id=bus)  # published, then forwarded: still counted so
        await mod.request("forward", question_id=bus, department="区交通局", note="已转交")
        bad = (await asker.request("ask", client_id="bad", text="广告", name="某"))["question_id"]
        await mod.request("reject", question_id=bad, reason="off_topic")
    yield s


async def compare(browser: Browser, url: str, parts: tuple[str, ...]) -> None:
    """The parts as the server rendered them (scripts off) and as the script redrew them at the
    end of the timeline, in both languages."""
    for lang in ("zh-CN", "en"):
        off = await browser.new_context(
            **DESKTOP, java_script_enabled=False, extra_http_headers={"accept-language": lang}
        )
        page = await off.new_page()
        await page.goto(url)
        server = {part: await page.locator(part).evaluate(MARKUP) for part in parts}
        await off.close()
        ctx = await browser.new_context(**DESKTOP, locale=lang, extra_http_headers={"accept-language": lang})
        page, watch = await open_page(ctx, url, live=False)
        await expect(page.locator("#player")).to_have_attribute("data-state", "paused")
        await expect(page.locator("#answered-list .answer-by").first).to_be_visible()
        script = {part: await page.locator(part).evaluate(MARKUP) for part in parts}
        for part in parts:
            assert script[part] == server[part], (lang, part)
        await watch.check()
        await ctx.close()


async def test_the_replay_opens_at_its_end_as_the_server_rendered_it(
    site: LiveServer, session: dict[str, Any], browser: Browser
) -> None:
    url = f"{site.http}/s/{session['id']}/replay"
    await compare(browser, url, PARTS)
    async with site.client(session["id"], token=session["moderator_token"]) as mod:
        market = next(q["id"] for q in (mod.snapshot or {})["questions"] if q.get("text") == TEXTS["market"])
        await mod.request("answering", question_id=market)
    # On air and still live: the question being answered and the note that the session runs.
    await compare(browser, url, (*PARTS, "#now", "#live-note"))
    async with site.client(session["id"], token=session["moderator_token"]) as mod:
        await mod.request("close")
    await compare(browser, url, (*PARTS, "#outcomes-body", "#now", "#live-note"))


async def test_the_replay_reads_in_full_with_scripts_off(
    site: LiveServer, session: dict[str, Any], browser: Browser
) -> None:
    for device in (PHONE, DESKTOP):
        ctx = await browser.new_context(**device, java_script_enabled=False)
        page = await ctx.new_page()
        await page.goto(f"{site.http}/s/{session['id']}/replay")
        record = page.locator("#answered-list")
        for key in ("lamp", "call", "remark", "caption"):
            await expect(record).to_contain_text(TEXTS[key])
        await expect(record.locator("li.post[data-kind=photo] img")).to_have_js_property("naturalWidth", 640)
        await expect(page.locator("#open-list")).to_contain_text(TEXTS["market"])
        await expect(page.locator("#answered-empty")).to_be_hidden()
        await expect(page.locator("#loading")).to_be_hidden()
        await expect(page.locator("#play")).to_be_hidden()  # playing needs a script: the note says so
        await expect(page.locator("#player .notice")).to_be_visible()
        chapter = page.locator("#chapter-list a.chapter").first
        await expect(chapter).to_have_attribute("href", "#q1")
        assert "广告" not in await page.inner_text("body")
        # None of the player's dead controls either, and the note is in its place rather than
        # fixed over the record at the bottom of a phone's screen.
        player = page.locator("#player")
        for control in ("#speed", "#seek", "#share"):
            await expect(player.locator(control)).to_be_hidden()
        assert await player.evaluate("e => getComputedStyle(e).position") in ("static", "relative")
        await shot(page, f"replay-noscript-{'phone' if device is PHONE else 'desktop'}")
        await ctx.close()


async def test_a_chapter_plays_its_moment(
    site: LiveServer, session: dict[str, Any], browser: Browser
) -> None:
    ctx = await context(browser, PHONE)
    page, watch = await open_page(ctx, f"{site.http}/s/{session['id']}/replay", live=False)
    await expect(page.locator("#player")).to_have_attribute("data-state", "paused")
    await page.locator("#chapter-list a.chapter").first.click()
    await expect(page.locator(".q.target")).to_have_count(1)
    assert page.url.endswith("#q1")
    await watch.check()
    await ctx.close()


CLEAR_OF_THE_PLAYER = """() => {
  window.scrollTo(0, document.documentElement.scrollHeight);
  const cards = [...document.querySelectorAll('main .card:not(#player)')].filter((c) => c.offsetParent);
  const player = document.querySelector('#player').getBoundingClientRect();
  return cards.at(-1).getBoundingClientRect().bottom <= player.top;
}"""
"""Scrolled to the page's end, whether its last card is above the player."""


async def test_the_end_of_the_replay_scrolls_clear_of_the_player_at_every_text_size(
    site: LiveServer, session: dict[str, Any], browser: Browser
) -> None:
    """On a phone the player is fixed at the bottom of the screen, and grows with the text size:
    scrolled to its end, the page's last card is above it, not under it (read in English, whose
    longer words make the player tallest)."""
    for size in ("standard", "large", "xlarge"):
        ctx = await context(browser, PHONE)
        await ctx.add_cookies([{"name": "live_size", "value": size, "url": site.http}])
        await ctx.add_cookies([{"name": "live_lang", "value": "en", "url": site.http}])
        page, watch = await open_page(ctx, f"{site.http}/s/{session['id']}/replay", live=False)
        await expect(page.locator("#player")).to_have_attribute("data-state", "paused")
        await page.wait_for_function(CLEAR_OF_THE_PLAYER, timeout=5000)
        await watch.check()
        await ctx.close()
