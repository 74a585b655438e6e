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
- 我的问题 likewise: the same device's own questions in every state, from the server and from the
  script, are the same markup; the script adopts the server's; and a question asked with scripts
  off is there, with what became of it, when its asker comes back.
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
from .conftest import CSP_PROBE, DESKTOP, PHONE, SHOTS, XSS, Watch, context, open_page, shot
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


MINE_ADOPTED = """document.addEventListener('DOMContentLoaded', () => {
  window.__mine = [];
  const list = document.querySelector('#mine-list');
  for (const li of list.children) li.__served = true;
  const added = (n) => n.nodeType === 1 && n.hasAttribute('data-added'); // 朗读, the asker's say
  const el = (n) => (n.nodeType === 1 ? n : n.parentNode);
  const inside = (n) => el(n).closest('[data-added]');
  new MutationObserver((records) => window.__mine.push(...records.filter((r) => !inside(r.target)
    && (r.type !== 'childList' || ![...r.addedNodes, ...r.removedNodes].every(added)))
    .map((r) => [r.type, el(r.target).className, r.attributeName])))
    .observe(list, { subtree: true, childList: true, attributes: true, characterData: true });
});"""
"""Marks the items of 我的问题 the server rendered, and records every change the script makes to
them but what it adds beside them (the 朗读 button, the asker's say: static/js/say.js)."""


async def mine_shot(page: Page, name: str) -> None:
    """我的问题 alone: on a phone the whole page is many screens long."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.locator("#mine").screenshot(path=str(SHOTS / f"{name}.png"), animations="disabled")


async def ask_on(page: Page, text: str) -> None:
    """Ask text on a viewer page with its script, in whatever language it is in."""
    if await page.locator("#ask-done").is_visible():
        await page.click("#ask-again")
    await page.fill("#q-text", text)
    await page.click("#ask-submit")
    await expect(page.locator("#ask-done")).to_be_visible()
    await expect(page.locator("#mine-list > li").first.locator(".chip")).to_have_attribute(
        "data-status", "pending"
    )


async def test_my_questions_are_the_same_from_the_server_and_the_script(
    site: LiveServer, browser: Browser
) -> None:
    """我的问题 in every state the script built from live events, and the same device's page
    with scripts off: the same markup, in Chinese and English; then a page opened with the
    script adopts the server's items and changes nothing of them."""
    s = site.create_session(episode=34, title="区长在线 第34期：物业")
    sid, url = s["id"], f"{site.http}/s/{s['id']}"
    note = "请拨打12345热线反映"
    texts = {
        "pending": "还在审核的问题",
        "approved": f"电梯什么时候修？{XSS}",
        "answered": "小区停车位怎么分配？",
        "rejected": "我家楼上漏水了",
        "merged": "电梯几时修好？",
        "forwarded": "物业费能公示吗？",
    }
    ctx = await context(browser, PHONE)
    page, watch = await open_page(ctx, url)
    for text in texts.values():
        await ask_on(page, text)
    async with (
        site.client(sid, token=s["moderator_token"]) as mod,
        site.client(sid, token=s["presenter_token"]) as official,
    ):
        ids = {q["text"]: q["id"] for q in mod.snapshot["questions"]}
        q = {state: ids[text] for state, text in texts.items()}
        for state in ("approved", "answered"):
            await mod.request("approve", question_id=q[state])
        await official.request("answer", question_id=q["answered"], text="按登记先后分配，<b>本月</b>公示。")
        await mod.request("reject", question_id=q["rejected"], reason="personal_case", note=note)
        await mod.request("merge", question_id=q["merged"], into=q["approved"])
        await mod.request("forward", question_id=q["forwarded"], department="区住建局", note="三日内答复")
    for state, id_ in q.items():
        await expect(page.locator(f"#mine-{id_} .chip")).to_have_attribute("data-status", state)
    for lang in ("zh", "en"):
        if lang == "en":
            await page.click("#lang")  # in place: the script draws its items again, in English
            await expect(page.locator("#mine-title")).to_have_text("My questions")
        state = await ctx.storage_state()  # the same device (its cookie), with scripts off
        off = await browser.new_context(**PHONE, storage_state=state, java_script_enabled=False)
        served = await off.new_page()
        await served.goto(f"{url}?lang={lang}")
        server = await served.locator("#mine-list").evaluate(MARKUP)
        await expect(served.locator("#mine")).to_be_visible()
        await mine_shot(served, f"nojs-viewer-mine-{lang}-phone")
        await off.close()
        script = await page.locator("#mine-list").evaluate(MARKUP)
        assert script == server, f"{lang}:\nscript {script}\nserver {server}"
        await mine_shot(page, f"viewer-mine-{lang}-phone")
    merged = f'href="#q-{q["approved"]}"'
    for text in (f"电梯什么时候修？{XSS}<", note, "区住建局", merged, "本月"):  # as text, not markup
        assert text in server, text
    await watch.check()
    await ctx.add_init_script(MINE_ADOPTED)
    await page.reload()  # the server's items, then the script's snapshot and welcome.mine
    await page.wait_for_selector('#conn[data-state="live"]', state="attached")
    await expect(page.locator("#mine-list .say")).to_have_count(4)  # the asker's say, on each outcome
    assert await page.evaluate("window.__mine") == []
    assert await page.evaluate("[...document.querySelectorAll('#mine-list > li')].every((li) => li.__served)")
    await expect(page.locator("#mine-list > li")).to_have_count(len(texts))
    await ctx.close()


async def test_with_scripts_off_my_questions_are_there_when_i_come_back(
    site: LiveServer, browser: Browser
) -> None:
    """A citizen asks through the plain form, leaves, and comes back: 我的问题 shows the question,
    its status and receipt number, and later what became of it (by the device cookie)."""
    s = site.create_session(episode=35, title="区长在线 第35期：教育")
    url = f"{site.http}/s/{s['id']}"
    for device, lang in ((PHONE, "zh-CN"), (DESKTOP, "en")):
        zh = lang == "zh-CN"
        ctx = await browser.new_context(
            **device, locale=lang, timezone_id="Europe/London", java_script_enabled=False
        )
        page = await ctx.new_page()
        await page.goto(url)
        await expect(page.locator("#mine")).to_be_hidden()  # nothing asked from here yet
        text = f"学区怎么划分？{XSS}" if zh else f"How are school districts drawn? {XSS}"
        await page.fill("#q-text", text)
        await page.click("#ask-submit")
        await expect(page.locator("#ask-done")).to_be_visible()
        receipt = await page.locator("#receipt").text_content() or ""
        qid = int(receipt.split("-")[1])
        await page.goto(url)  # back later: the question, as this device asked it
        item = page.locator(f"#mine-{qid}")
        await expect(page.locator("#mine")).to_be_visible()
        await expect(item.locator(".q-text")).to_have_text(text)
        await expect(item.locator(".chip")).to_have_attribute("data-status", "pending")
        await expect(item.locator(".chip")).to_have_text("等待审核" if zh else "Waiting for review")
        await expect(item).to_contain_text(receipt)
        await expect(item).to_contain_text("工作人员正在审核" if zh else "Staff are reviewing it")
        async with (
            site.client(s["id"], token=s["moderator_token"]) as mod,
            site.client(s["id"], token=s["presenter_token"]) as official,
        ):
            if zh:
                await mod.request("reject", question_id=qid, reason="personal_case", note="请联系所在学校")
            else:
                await mod.request("approve", question_id=qid)
                await official.request("answer", question_id=qid, text="By the district's published map.")
        await page.reload()  # what became of it
        if zh:
            await expect(item.locator(".chip")).to_have_text("未采用")
            await expect(item).to_contain_text("原因：涉及个人具体事项")
            await expect(item).to_contain_text("请联系所在学校")
        else:
            await expect(item.locator(".chip")).to_have_text("Answered")
            await expect(item.locator(".answer-text")).to_have_text("By the district's published map.")
        await mine_shot(page, f"nojs-viewer-mine-came-back-{'zh-phone' if zh else 'en-desktop'}")
        await ctx.close()
