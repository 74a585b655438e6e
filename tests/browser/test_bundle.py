"""The record's check value in Chromium: a bundle opened from file:// with no network, and the
transcript page showing the head hash (issue 19, point 7).

An evening is played over real WebSockets against a real server, closed, and written as a
bundle by ``live bundle``; its pages are then opened from disk in a browser context that is
offline and refuses every request that is not a file, at phone and desktop sizes, in both
languages (screenshots in ``test-artifacts/screenshots``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Request, Route, expect

from ..conftest import LiveServer
from ..test_chain import CONTACT, XSS, Evening, cli, evening
from .conftest import PHONE, Watch, context, open_page, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")
DESKTOP = {"viewport": {"width": 1440, "height": 900}}
SIZES = {"phone": PHONE, "desktop": DESKTOP}


@dataclass
class Published:
    evening: Evening
    folder: Path
    manifest: dict[str, Any]

    @property
    def head(self) -> str:
        return str(self.manifest["chain"]["head"])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def published(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Published]:
    tmp = tmp_path_factory.mktemp("bundle")
    srv = await asyncio.to_thread(LiveServer(str(tmp / "live.db")).start)
    try:
        e = await evening(srv)
        folder = tmp / "published"
        done = await asyncio.to_thread(cli, "bundle", str(e.sid), str(folder), "--db", srv.db)
        assert done.returncode == 0, done.stderr
        yield Published(e, folder, json.loads((folder / "manifest.json").read_text()))
    finally:
        srv.kill()


async def offline_page(browser: Browser, device: dict[str, Any]) -> tuple[Page, Watch, list[str]]:
    """A page that has no network: offline, and every request but a file's refused and noted."""
    ctx = await browser.new_context(**device, locale="zh-CN", timezone_id="Europe/London", offline=True)
    asked: list[str] = []

    async def refuse(route: Route, request: Request) -> None:
        if request.url.startswith("file://"):
            await route.continue_()
        else:
            asked.append(request.url)
            await route.abort()

    await ctx.route("**/*", refuse)
    page = await ctx.new_page()
    return page, Watch(page), asked


@pytest.mark.parametrize("size", list(SIZES))
async def test_the_bundle_reads_from_file_with_no_network(
    published: Published, browser: Browser, size: str
) -> None:
    page, watch, asked = await offline_page(browser, SIZES[size])
    await page.goto((published.folder / "index.html").as_uri())
    for lang, heading in (("zh-CN", "问答实录"), ("en", "Questions and answers")):  # the site's page
        await expect(page.locator("html")).to_have_attribute("lang", lang)
        await expect(page.locator("h2").first).to_have_text(heading)
        entries = page.locator("#entries .entry")
        await expect(entries).to_have_count(2)
        await expect(entries.nth(1).locator(".ask")).to_have_text(XSS + " ")  # as typed, not markup
        await expect(entries.nth(0).locator(".reply")).to_have_text("Yes: next month.")
        await expect(page.locator("#check code").first).to_have_text(published.head)
        assert (
            await page.evaluate("document.scripts.length + document.querySelectorAll('img, b, i').length")
            == 0
        )
        body = await page.inner_text("body")
        assert CONTACT not in body and "私人问题" not in body
        if size == "phone":
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing overflows"
        await shot(page, f"bundle-{lang}-{size}")
        if lang == "zh-CN":
            await page.click("header .lang")  # to en.html, a file beside it
            await expect(page).to_have_url((published.folder / "en.html").as_uri())
    assert asked == [], f"the bundle asked the network for {asked}"
    await watch.check()
    await page.context.close()


@pytest.mark.parametrize("size", list(SIZES))
async def test_the_transcript_page_shows_the_head_hash(
    published: Published, browser: Browser, size: str
) -> None:
    e = published.evening
    ctx = await context(browser, SIZES[size])
    page, watch = await open_page(ctx, f"{e.server.http}/s/{e.sid}/transcript", live=False)
    await expect(page.locator("#chain-head")).to_have_text(published.head)
    await expect(page.locator("#chain")).to_be_visible()
    await expect(page.locator("#dl-chain")).to_have_attribute("href", f"/api/sessions/{e.sid}/chain")
    await shot(page, f"transcript-chain-zh-{size}")
    await page.click("#lang")
    await expect(page.locator("#chain")).to_contain_text("Record check value")
    await expect(page.locator("#chain-head")).to_have_text(published.head)
    await shot(page, f"transcript-chain-en-{size}")
    await watch.check()
    await ctx.close()
