"""The viewer page's questions and answers in Chromium: rendered by the server, taken over by the
script, and asked with scripts off (issue 20, points 1-3; docs/pages.md).

- What a question looks like is defined once (live/templates/parts.html): the server renders each
  item from a macro, and the script fills clones of the same macro's empty ``<template>``. For
  the same state, the items the script built from live events and those the server rendered
  are the same markup, in both languages, so a change to one side alone fails here.
- The script adopts the server's items: no item is rebuilt, none is shown twice, and 同问 works
  on them.
- With scripts off a citizen asks through the plain form and reads the receipt number and the
  secret (查询码); a refusal is shown in words with the form kept filled.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from ..conftest import LiveServer
from .conftest import CSP_PROBE, DESKTOP, PHONE, XSS, Watch, context, open_page, shot
from .markup import MARKUP

pytestmark = pytest.mark.asyncio(loop_scope="module")

PARTS = ("#answered-list", "#open-list", "#now .now-q")


@dataclass
class Room:
    server: LiveServer
    session: dict[str, Any]
    texts: dict[str, str]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def room(site: LiveServer) -> AsyncIterator[Room]:
    """Next week's episode, opened early by staff, holding a question carried over from an
    earlier one (an item with its origin): the rest is asked in the first test."""
    earlier = site.create_session(title="区长在线 第31期")
    s = site.create_session(start=timedelta(days=7), title="区长在线 第32期：交通")
    async with (
        site.client(earlier["id"]) as asker,
        site.client(earlier["id"], token=earlier["moderator_token"]) as mod,
    ):
        q = await asker.request("ask", client_id="carried", text="上期没答的：地铁口的共享单车", name="冯")
        await mod.request("approve", question_id=q["question_id"])
        await mod.request("close")
        await mod.request("carry_over")
    async with site.client(s["id"], token=s["moderator_token"]) as mod:
        await mod.request("open")
    yield Room(site, s, {"carried": "上期没答的：地铁口的共享单车"})


async def served(browser: Browser, url: str, lang: str) -> dict[str, str]:
    """The items as the server rendered them: Chromium with scripts off."""
    ctx = await browser.new_context(
        **DESKTOP, java_script_enabled=False, extra_http_headers={"accept-language": lang}
    )
    page = await ctx.new_page()
    await page.goto(url)
    out = {part: await page.locator(part).evaluate(MARKUP) for part in PARTS}
    await ctx.close()
    return out


async def test_the_script_fills_each_item_as_the_server_renders_it(room: Room, browser: Browser) -> None:
    site, s = room.server, room.session
    sid, url = s["id"], f"{site.http}/s/{s['id']}"
    live: dict[str, tuple[BrowserContext, Page, Watch]] = {}
    for lang in ("zh-CN", "en"):  # open before anything is asked: every item is the script's
        ctx = await browser.new_context(**DESKTOP, locale=lang, timezone_id="Europe/London")
        await ctx.add_init_script(CSP_PROBE)
        live[lang] = (ctx, *await open_page(ctx, url))
    t = room.texts | {"lamp": f"路灯{XSS}", "hotline": "热线来电：公交", "open": "菜市场", "now": "学校门口"}
    async with (
        site.client(sid) as asker,
        site.client(sid) as neighbour,
        site.client(sid, token=s["moderator_token"]) as mod,
        site.client(sid, token=s["presenter_token"]) as official,
    ):
        lamp = (await asker.request("ask", client_id="lamp", text=t["lamp"], name=XSS))["question_id"]
        await mod.request("approve", question_id=lamp)
        await official.request("answer", question_id=lamp, text="本月修好。<b>一定</b>")
        await official.request("answer", question_id=lamp, text="本月底前修好。")  # revised: 已更新
        call = await mod.request("ask", client_id="call", text=t["hotline"], name="来电", channel="hotline")
        await mod.request("approve", question_id=call["question_id"])
        await official.request("answer", question_id=call["question_id"], mode="video")  # said on air
        market = (await asker.request("ask", client_id="market", text=t["open"], name="孙"))["question_id"]
        await mod.request("approve", question_id=market)
        await neighbour.request("vote", question_id=market)
        school = await mod.request("ask", client_id="school", text=t["now"], name="来信", channel="wechat")
        await mod.request("approve", question_id=school["question_id"])
        await official.request("answering", question_id=school["question_id"])
        await asker.request("ask", client_id="pending", text="还在审核的问题", name="周")
        async with site.client(sid, token=s["host_token"]) as host:  # the studio's posts among them
            await host.request("remark", text=f"欢迎收看{XSS}")
            await host.request("announce", question_id=market)
    for _, page, _ in live.values():
        await expect(page.locator("#answered-list > li")).to_have_count(4)
        await expect(page.locator("#open-list > li")).to_have_count(2)
        await expect(page.locator(f"#q-{market} .votes")).to_have_text("1")
        await expect(page.locator("#now-text")).to_have_text(t["now"])
    for lang, (ctx, page, watch) in live.items():
        server = await served(browser, url, lang)
        script = {part: await page.locator(part).evaluate(MARKUP) for part in PARTS}
        for part in PARTS:
            assert script[part] == server[part], (
                f"{lang} {part}:\nscript {script[part]}\nserver {server[part]}"
            )
        await watch.check()
        await ctx.close()
    zh = await served(browser, url, "zh-CN")  # what was compared holds every kind of part
    for text in (
        f"路灯{XSS}<",  # as text: an element would have its attributes quoted
        "已更新",
        "已在直播中口头回答（",
        "热线",
        "结转",
        'href="/s/',
        '"votes">1<',
        "微信",
        f"欢迎收看{XSS}<",
        "[主持人]",
        "下面请看网友",
    ):
        assert text in "".join(zh.values()), text
    assert "还在审核的问题" not in "".join(zh.values())


ADOPTED = """document.addEventListener('DOMContentLoaded', () => {
  window.__changes = [];
  for (const sel of ['#answered-list', '#open-list', '#now .now-q']) {
    const el = document.querySelector(sel);
    for (const li of el.children) li.__served = true;
    const added = (n) => n.nodeType === 1 && n.hasAttribute('data-added'); // 朗读, beside an answer
    new MutationObserver((records) => window.__changes.push(...records.filter((r) => r.type !== 'childList'
      || ![...r.addedNodes, ...r.removedNodes].every(added)).map((r) => [r.type,
      r.target.nodeType === 1 ? r.target.className : r.target.parentNode.className, r.attributeName])))
      .observe(el, { subtree: true, childList: true, attributes: true, characterData: true });
  }
});"""
"""Marks the items the server rendered, and records every change the script makes to them."""


async def test_the_script_adopts_the_servers_items_without_redrawing_them(
    room: Room, browser: Browser
) -> None:
    site, s = room.server, room.session
    ctx = await context(browser, PHONE)
    await ctx.add_init_script(ADOPTED)
    page, watch = await open_page(ctx, f"{site.http}/s/{s['id']}")
    carried = page.locator("#open-list > li", has_text=room.texts["carried"])
    before = int(await carried.locator(".votes").text_content() or "0")
    async with site.client(s["id"]) as neighbour:  # a change after the snapshot: the script has drawn
        await neighbour.request("vote", question_id=int(await carried.get_attribute("data-key") or "0"))
    await expect(carried.locator(".votes")).to_have_text(str(before + 1))
    changes = await page.evaluate("window.__changes")
    # Since the page loaded: the new count, and the list sorted again by it; nothing else.
    assert changes and all(c[1] in ("btn small vote", "votes", "list qlist") for c in changes), changes
    assert await page.evaluate(
        "[...document.querySelectorAll('#answered-list > li, #open-list > li')].every((li) => li.__served)"
    )
    assert (
        await page.locator("#answered-list > li").count() == 4  # two answers, two posts
        and await page.locator("#open-list > li").count() == 2
    )
    await carried.locator(".vote").click()  # 同问 on an item the server rendered
    await expect(carried.locator(".vote")).to_have_attribute("aria-pressed", "true")
    await expect(carried.locator(".votes")).to_have_text(str(before + 2))
    await expect(carried.locator(".vote")).to_be_focused()
    await watch.check()
    await ctx.close()


async def test_with_scripts_off_a_citizen_asks_through_the_form(site: LiveServer, browser: Browser) -> None:
    s = site.create_session(episode=33, title="区长在线 第33期：养老")
    for device, lang in ((PHONE, "zh-CN"), (DESKTOP, "en")):
        ctx = await browser.new_context(
            **device, locale=lang, timezone_id="Europe/London", java_script_enabled=False
        )
        page = await ctx.new_page()
        await page.goto(f"{site.http}/s/{s['id']}")
        name = "老张" if lang == "zh-CN" else "Zhang"
        await page.fill("#q-name", name)
        await page.click("#ask-submit")  # nothing typed: refused, in words, the name kept
        error = "内容不能为空" if lang == "zh-CN" else "Text must not be empty"
        await expect(page.locator("#ask-error")).to_have_text(error)
        await expect(page.locator("#ask-error")).to_have_attribute("data-code", "empty_text")
        await expect(page.locator("#q-name")).to_have_value(name)
        suffix = "zh-phone" if lang == "zh-CN" else "en-desktop"
        await shot(page, f"nojs-viewer-refused-{suffix}", full_page=False)
        await page.fill("#q-text", f"养老院床位怎么申请？{XSS}")
        await page.click("#ask-submit")
        await expect(page.locator("#ask-done")).to_be_visible()
        await expect(page.locator("#ask-done")).to_be_in_viewport()
        receipt = await page.locator("#receipt").text_content() or ""
        secret = await page.locator("#secret").text_content() or ""
        assert re.fullmatch(rf"{s['id']}-\d+-[A-Z0-9]{{6}}", receipt), receipt
        assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", secret), secret
        await expect(page.locator("#ask-form")).to_be_hidden()
        await expect(page.locator(".done-title")).to_have_text(
            "已提交，等待审核" if lang == "zh-CN" else "Submitted, waiting for review"
        )
        await shot(page, f"nojs-viewer-asked-{suffix}", full_page=False)
        await page.goto(f"{site.http}/?receipt={receipt}#lookup")  # the number finds it: pending
        await expect(page.locator('#lookup-result .chip[data-status="pending"]')).to_be_visible()
        await ctx.close()
