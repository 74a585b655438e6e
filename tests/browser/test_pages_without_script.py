"""The public pages in Chromium with JavaScript off, as an old phone, a reader mode or a link
preview gets them: the transcript read whole, a receipt looked up and a search made through
plain forms, the language switched and the board filtered by links (issue 20, points 1-3).
And with scripts on, a closed session's outcomes as the server renders them and as the
viewer's script redraws them are the same markup (docs/pages.md: the one copy left to merge).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from ..conftest import LiveServer
from ..test_pages_http import Evening, evening
from .conftest import CSP, DESKTOP, PHONE, open_page, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def e(site: LiveServer) -> AsyncIterator[Evening]:
    yield await evening(site)


async def scriptless(browser: Browser, device: dict[str, Any], locale: str = "zh-CN") -> BrowserContext:
    return await browser.new_context(
        **device, locale=locale, timezone_id="Europe/London", java_script_enabled=False
    )


async def visit(page: Page, url: str) -> None:
    response = await page.goto(url)
    assert response is not None and response.status == 200, url
    policy = response.headers.get("content-security-policy", "")
    assert all(part in policy for part in CSP.split("; ")), f"{url} lacks the strict CSP"


async def test_with_scripts_off_a_citizen_reads_looks_up_and_searches(e: Evening, browser: Browser) -> None:
    http, sid = e.server.http, e.closed["id"]
    ctx = await scriptless(browser, PHONE)
    page = await ctx.new_page()

    await visit(page, f"{http}/s/{sid}/transcript")
    await expect(page.locator("#entries .entry")).to_have_count(1)
    await expect(page.locator("#entries .ask")).to_have_text(e.texts["lamp"])  # as typed, not markup
    await expect(page.locator("#entries .reply")).to_have_text(e.texts["answer"])
    await expect(page.locator(".outcome-rate")).to_have_text("回复率 66.7%（已答复 2 / 应答复 3）")
    await expect(page.locator(".outcome-group")).to_have_count(3)
    await expect(page.locator("#chain-head")).to_have_text(e.head)
    await expect(page.locator("#print")).to_be_hidden()  # it needs a script
    assert await page.locator("img, b").count() == 0
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing overflows"
    await shot(page, "nojs-transcript-zh-phone")
    await page.click("#lang")  # a form: the server renders the page again in English
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator(".outcome-rate")).to_have_text("Reply rate 66.7% (2 replied of 3 due)")
    await page.click("#lang")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    await visit(page, f"{http}/")
    await expect(page.locator(".live-card h3")).to_have_text("区长在线 第41期：教育")
    await page.fill("#receipt-input", e.receipt.lower())
    await page.click("#lookup-form button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/\?receipt=[^#]+#lookup$"))
    result = page.locator("#lookup-result")
    await expect(result.locator(".chip")).to_have_text("已回答")
    await expect(result.locator(".answer-text")).to_have_text(e.texts["answer"])
    await expect(result.locator(".q-text")).to_be_in_viewport()  # not below the fold on a phone
    await shot(page, "nojs-receipt-zh-phone", full_page=False)
    await page.fill("#receipt-input", "1-1-NOPE")
    await page.click("#lookup-form button[type=submit]")
    await expect(result).to_have_text("没有找到这个回执编号，请核对后重试。")

    await visit(page, f"{http}/search")
    await page.fill("#q", "路灯")
    await page.click("#search-form button[type=submit]")
    await expect(page.locator("#results .result")).to_have_count(1)
    await expect(page.locator("#results mark").first).to_have_text("路灯")
    await expect(page.locator("#result-count")).to_have_text("“路灯”共找到 1 条结果")
    await shot(page, "nojs-search-zh-phone")
    await page.click("#results .q-link")
    await expect(page).to_have_url(re.compile(rf"/s/{sid}/replay#q\d+$"))

    await visit(page, f"{http}/p/qzzx/commitments")
    await expect(page.locator("#board-list > li")).to_have_count(1)
    await page.click('[data-filter="done"]')
    await expect(page.locator("#board-list > li")).to_have_count(0)
    await expect(page.locator('[data-filter="done"]')).to_have_attribute("aria-current", "true")
    await page.click('[data-filter="overdue"]')
    await expect(page.locator("#board-list .c-overdue")).to_have_text("已逾期")
    await expect(page.locator("#board-list .c-promise")).to_have_text(e.texts["promise"])

    await visit(page, f"{http}/s/{e.live['id']}")  # 同问 needs a script: its count reads as words
    vote = page.locator("#open-list .vote").first
    label = await vote.get_attribute("aria-label") or ""
    assert label.startswith("同问，当前 ")
    assert await vote.evaluate("(el) => getComputedStyle(el, '::after').content") == f'"{label}"'
    fab = page.locator("#fab")  # 我要提问 stays at the end, over nothing
    assert await fab.evaluate("(el) => getComputedStyle(el).position") == "static"
    await shot(page, "nojs-viewer-live-zh-phone")
    await ctx.close()


async def test_with_scripts_off_the_big_screen_names_its_session(e: Evening, browser: Browser) -> None:
    """Its heading is the server's (docs/pages.md): the episode and its guest. The QR code and
    its link are the script's: no empty white box stands in for them."""
    ctx = await scriptless(browser, DESKTOP)
    page = await ctx.new_page()
    await visit(page, f"{e.server.http}/s/{e.live['id']}/screen")
    await expect(page.locator("#title")).to_have_text("区长在线 第41期：教育")
    await expect(page.locator("#guest")).to_have_text("李明 副区长")
    await expect(page.locator(".join")).to_be_hidden()
    await expect(page.locator("#conn")).to_be_hidden()
    await shot(page, "nojs-screen-zh-desktop")
    await ctx.close()


CANON = """el => [...el.querySelectorAll('*:not(button.speak)')].map((n) => [n.tagName, n.className, n.id,
  n.getAttribute('data-outcome') || '', n.getAttribute('href') || '',
  n.children.length ? '' : n.textContent.trim()].join('|'))"""
"""An element's descendants as tag, class, id, outcome, link and text: its markup, without the
white space a template leaves between elements, nor the 朗读 buttons a script adds under answers
where the browser can speak (static/js/speak.js)."""

WATCH = """document.addEventListener('DOMContentLoaded', () => new MutationObserver(() => {
  document.documentElement.dataset.redrawn = 'yes'; }).observe(document.querySelector('#outcomes-body'),
  { childList: true }));"""
"""Marks the page once its script has redrawn the outcomes the server's HTML held."""


async def test_a_closed_sessions_outcomes_are_the_same_from_the_server_and_the_script(
    e: Evening, browser: Browser
) -> None:
    lang = "zh-CN"
    url = f"{e.server.http}/s/{e.closed['id']}"
    ctx = await scriptless(browser, DESKTOP, lang)  # Accept-Language: the browser's language
    page = await ctx.new_page()
    await visit(page, url)
    served = await page.locator("#outcomes-body").evaluate(CANON)
    assert any(e.texts["lamp"] in row for row in served)
    await ctx.close()

    ctx = await browser.new_context(**DESKTOP, locale=lang, timezone_id="Europe/London")
    await ctx.add_init_script(WATCH)
    page, watch = await open_page(ctx, url)
    await expect(page.locator("html")).to_have_attribute("data-redrawn", "yes")
    await expect(page.locator("#outcomes-body .outcome-rate")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    assert await page.locator("#outcomes-body").evaluate(CANON) == served
    await watch.check()
    await ctx.close()


async def test_a_language_chosen_on_this_device_before_the_cookie_is_kept(
    e: Evening, browser: Browser
) -> None:
    """English chosen before the server knew of the choice (this device's storage only): the
    page the server rendered in Chinese is asked for again in English, and the cookie kept."""
    ctx = await browser.new_context(**DESKTOP, locale="zh-CN", timezone_id="Europe/London")
    await ctx.add_init_script("localStorage.setItem('live.lang', 'en');")
    page, watch = await open_page(ctx, f"{e.server.http}/s/{e.closed['id']}/transcript", live=False)
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator(".outcome-rate")).to_have_text("Reply rate 66.7% (2 replied of 3 due)")
    assert {c["name"]: c["value"] for c in await ctx.cookies()}.get("live_lang") == "en"
    await watch.check()
    await ctx.close()
