"""Replay, transcript and search pages in real Chromium, on a session recorded over WebSockets.

The session is recorded once per module by real protocol clients (see
``tests/test_archive.py``); the pages then read it back from the real server.
Every page load is checked for console errors and CSP violations (``Watch``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from ..conftest import TIMEOUT, LiveServer
from ..test_archive import CONTACTS, NEVER, PUBLISHED, Recording, _record, read_log
from .conftest import DESKTOP, PHONE, SHOTS, context, open_page, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def recorded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Recording]:
    srv = await asyncio.to_thread(LiveServer(str(tmp_path_factory.mktemp("replay") / "live.db")).start)
    try:
        yield await _record(srv)
    finally:
        srv.kill()


async def plan(page: Page, sid: int) -> dict[str, Any]:
    """The page's own schedule and 32x delays, computed by timeline.js in the browser."""
    return await page.evaluate(
        """async (sid) => {
        const m = await import('/static/js/timeline.js');
        let events = [], after = 0, more = true;
        while (more) {
            const r = await (await fetch(`/api/sessions/${sid}/events?after=${after}&limit=7`)).json();
            events = events.concat(r.events); after = r.next; more = r.more;
        }
        const s = m.schedule(events);
        return { ...s, delays32: s.offsets.map((o) => m.delay(o, 0, 32)),
                 seqs: events.map((e) => e.seq) };
    }""",
        sid,
    )


async def texts(page: Page, selector: str) -> list[str]:
    return await page.locator(selector).all_inner_texts()


async def test_schedule_follows_the_recorded_pace(recorded: Recording, browser: Browser) -> None:
    ctx = await context(browser, DESKTOP)
    page, watch = await open_page(ctx, f"{recorded.server.http}/s/{recorded.sid}/replay", live=False)
    got = await plan(page, recorded.sid)
    log = await asyncio.to_thread(read_log, recorded, None, 50)
    start = max(recorded.session["starts_at"], log[0]["at"])
    assert got["start"] == start and got["end"] == log[-1]["at"]
    assert got["seqs"] == [e["seq"] for e in log]
    assert got["offsets"] == [e["at"] - start for e in log], "each event plays at its recorded time"
    assert got["delays32"] == [(e["at"] - start) / 32 for e in log], "scaled exactly at 32x"
    by_seq = {e["seq"]: got["offsets"][i] for i, e in enumerate(log)}
    for before, after, seconds in recorded.paused:
        assert by_seq[after] - by_seq[before] >= seconds * 1000
    await watch.check()
    await ctx.close()


async def test_replay_plays_at_32x_in_order_and_seeks(recorded: Recording, browser: Browser) -> None:
    http, sid = recorded.server.http, recorded.sid
    log = await asyncio.to_thread(read_log, recorded, None, 50)
    ctx = await context(browser, DESKTOP)
    page, watch = await open_page(ctx, f"{http}/s/{sid}/replay?speed=32", live=False)
    player = page.locator("#player")
    await expect(player).to_have_attribute("data-state", "paused")
    await expect(page.locator("#speed")).to_have_value("32")
    await expect(player).to_have_attribute("data-seq", str(log[-1]["seq"]))  # it opens at the end
    await expect(page.locator("#play")).to_have_text("↺ 重新播放")
    await page.evaluate("""() => {
        window.seen = [];
        const p = document.querySelector('#player');
        new MutationObserver(() => window.seen.push(Number(p.dataset.seq)))
            .observe(p, { attributes: true, attributeFilter: ['data-seq'] });
    }""")
    await page.click("#play")
    await expect(player).to_have_attribute("data-state", "ended")
    seen = await page.evaluate("window.seen")
    assert seen == sorted(seen) and seen[-1] == log[-1]["seq"], "played forward, in order, to the end"
    answered = await texts(page, "#answered-list .q-text")
    assert sorted(answered) == sorted(recorded.texts[k] for k in PUBLISHED)
    assert await texts(page, "#open-list .q-text") == [recorded.texts["park"]]
    body = await page.inner_text("body")
    for never in (*CONTACTS, *(recorded.texts[k] for k in NEVER if k != "park")):
        assert never not in body
    await shot(page, "replay-end")

    road = recorded.ids["road"]
    answering = next(i for i, e in enumerate(log) if e["type"] == "question.answering")
    offsets = (await plan(page, sid))["offsets"]
    position = offsets[answering]
    shown = sum(1 for o in offsets if o <= position)
    await page.locator("#seek").fill(str(position))
    await expect(player).to_have_attribute("data-seq", str(log[shown - 1]["seq"]))
    await expect(page.locator("#now-text")).to_have_text(recorded.texts["road"])
    assert await texts(page, "#answered-list .q-text") == []
    await shot(page, "replay-seek")

    await page.locator("#seek").fill("0")
    await expect(player).to_have_attribute("data-seq", str(sum(1 for o in offsets if o <= 0)))
    await page.click("#play")
    await expect(player).to_have_attribute("data-state", "ended")
    assert sorted(await texts(page, "#answered-list .q-text")) == sorted(answered)
    await watch.check()

    first_answer = next(
        e for e in log if e["type"] == "question.answered" and e["data"]["question"]["id"] == road
    )
    page, watch = await open_page(ctx, f"{http}/s/{sid}/replay#q{road}", live=False)
    await expect(page.locator("#player")).to_have_attribute("data-seq", str(first_answer["seq"]))
    await expect(page.locator(f"#q{road}")).to_have_class("q target")
    await expect(page.locator(f"#q{road} .answer-text")).to_have_text("下个月完工。")
    page, watch = await open_page(ctx, f"{http}/s/{sid}/replay?t={position}", live=False)
    await expect(page.locator("#player")).to_have_attribute("data-position", str(position))
    await watch.check()
    await ctx.close()


async def test_replay_on_a_phone(recorded: Recording, browser: Browser) -> None:
    ctx = await context(browser, PHONE)
    page, watch = await open_page(ctx, f"{recorded.server.http}/s/{recorded.sid}/replay", live=False)
    await expect(page.locator("#player")).to_have_attribute("data-state", "paused")
    await page.locator(".chapter").first.click()
    await expect(page.locator(".q.target")).to_have_count(1)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing overflows"
    await expect(page.locator("#play")).to_be_in_viewport()
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "replay-phone.png"))
    await watch.check()
    await ctx.close()


async def test_transcript_page_shows_the_published_record(recorded: Recording, browser: Browser) -> None:
    http, sid = recorded.server.http, recorded.sid
    ctx = await context(browser, DESKTOP)
    page, watch = await open_page(ctx, f"{http}/s/{sid}/transcript", live=False)
    await expect(page.locator("#entries .entry")).to_have_count(len(PUBLISHED))
    assert await texts(page, "#entries .ask") == [recorded.texts[k] for k in PUBLISHED]
    assert await page.locator("#staff").is_hidden()
    await expect(page.locator("#m-time")).to_contain_text("北京时间")
    body = await page.inner_text("body")
    for never in (*CONTACTS, *(recorded.texts[k] for k in NEVER)):
        assert never not in body
    markup = await page.locator("#entries .entry").nth(2).locator(".ask").inner_html()
    assert markup.startswith("=SUM(A1) &lt;b&gt;"), "what a citizen typed is text, never HTML"
    md = await page.locator("#dl-md").get_attribute("href")
    r = await asyncio.to_thread(httpx.get, f"{http}{md}", timeout=TIMEOUT)
    assert r.headers["content-disposition"].startswith("attachment")
    await shot(page, "transcript")
    await watch.check()

    page, watch = await open_page(
        ctx, f"{http}/s/{sid}/transcript#key={recorded.session['moderator_token']}", live=False
    )
    await expect(page.locator("#staff")).to_be_visible()
    await expect(page.locator("#stats-grid .stat")).to_have_count(6)
    assert await page.locator("#stats-grid .stat b").first.inner_text() == "7"
    await page.check("#unanswered")
    await expect(page.locator("#unanswered-list .entry")).to_have_count(1)
    assert await texts(page, "#unanswered-list .ask") == [recorded.texts["park"]]
    async with page.expect_download() as download:
        await page.click("#staff-md")
    saved = await (await download.value).path()
    assert recorded.texts["park"] in saved.read_text(encoding="utf-8")
    await shot(page, "transcript-staff")
    await watch.check()
    await ctx.close()


async def test_search_page_finds_and_links_into_the_replay(recorded: Recording, browser: Browser) -> None:
    ctx = await context(browser, DESKTOP)
    page, watch = await open_page(ctx, f"{recorded.server.http}/search", live=False)
    await page.fill("#q", "完工")
    await page.click("#search-form button[type=submit]")
    await expect(page.locator("#results .result")).to_have_count(1)
    await expect(page.locator("#results mark").first).to_have_text("完工")
    assert page.url.endswith("/search?q=%E5%AE%8C%E5%B7%A5")
    await shot(page, "search")
    await page.click("#results .q-link")
    await expect(page.locator("#player")).to_have_attribute("data-state", "paused")
    assert page.url.endswith(f"/s/{recorded.sid}/replay#q{recorded.ids['road']}")
    await expect(page.locator(f"#q{recorded.ids['road']}")).to_have_class("q target")
    await watch.check()
    await ctx.close()
