"""Commitments in real Chromium: recorded and updated on the moderator page, read on the
programme's board (phone and desktop, zh-CN and English) and in the receipt lookup, and the
board's replay link landing at the moment the promise was said. And the programme page's
预约 (issue 21): the countdown to the next episode, its calendar file and the programme's feed."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, expect

from ..conftest import TZ, LiveServer
from .conftest import DESKTOP, PHONE, context, open_page, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")
ATOM = "{http://www.w3.org/2005/Atom}"


async def english(page: Page) -> None:
    await page.locator("#lang").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")


async def test_a_commitment_from_the_moderator_page_reaches_the_board_and_the_replay(
    site: LiveServer, browser: Browser
) -> None:
    s = site.create_session(moderation="post")
    sid = s["id"]
    today = datetime.now(TZ).date()
    async with (
        site.client(sid) as asker,
        site.client(sid, token=s["presenter_token"]) as presenter,
        site.client(sid, token=s["moderator_token"]) as mod,
    ):
        road = await asker.request(
            "ask", client_id="road", text="幸福路的坑什么时候修？<b>急</b>", name="王先生"
        )
        later = await asker.request("ask", client_id="later", text="公园的厕所什么时候开放？", name="李女士")
        await presenter.request(
            "answer", question_id=road["question_id"], text="我们会在两个月内修好幸福路。"
        )
        await asyncio.sleep(
            1.5
        )  # the next answer comes later in the evening: the replay must tell them apart
        await presenter.request("answer", question_id=later["question_id"], text="下个月开放。")
        bus = await asker.request("ask", client_id="bus", text="公交站牌太旧了")
        await mod.request("forward", question_id=bus["question_id"], department="区交通局", note="已转交")
        await mod.request(
            "commitment",
            question_id=bus["question_id"],
            department="区交通局",
            promise="上周内更换全部站牌",
            due=(today - timedelta(days=3)).isoformat(),
        )

    # The moderator records the promise the official made in answer to the first question.
    moderator, mw = await open_page(browser, f"{site.http}/s/{sid}/moderator#key={s['moderator_token']}")
    await moderator.locator("#tab-published").click()
    item = moderator.locator("#published li", has_text="幸福路的坑")
    await item.get_by_role("button", name="记录承诺").click()
    await item.get_by_label("责任部门").fill("区住建局")
    await item.get_by_label("承诺内容").fill("两个月内修复幸福路路面")
    due = (today + timedelta(days=60)).isoformat()
    await item.get_by_label("办结时限").fill(due)
    await item.get_by_role("button", name="保存承诺").click()
    await expect(item.locator(".commitment")).to_contain_text("两个月内修复幸福路路面")
    await expect(item.locator(".c-status")).to_have_text("办理中")
    await expect(item.get_by_role("button", name="记录承诺")).to_be_hidden()
    await item.get_by_role("button", name="更新进展").click()
    await item.get_by_label("办理进展").select_option("postponed")
    await item.get_by_label("延期至").fill((today + timedelta(days=90)).isoformat())
    await item.get_by_label("说明（办结时填写办理结果，延期时填写原因）").fill("雨季施工受阻")
    await item.get_by_role("button", name="保存进展").click()
    await expect(item.locator(".c-status")).to_have_text("延期")
    await expect(item.locator(".c-history")).to_contain_text("雨季施工受阻")
    await shot(moderator, "commitment-moderator")
    await mw.check()
    await moderator.context.close()

    # The board, at phone and desktop size, in both languages.
    for name, device in (
        ("phone", PHONE),
        ("desktop", {**DESKTOP, "viewport": {"width": 1440, "height": 900}}),
    ):
        ctx = await context(browser, device)
        board, bw = await open_page(ctx, f"{site.http}/p/qzzx/commitments", live=False)
        road_entry = board.locator(f"#s{sid}-q{road['question_id']}")
        await expect(road_entry).to_contain_text("两个月内修复幸福路路面")
        await expect(road_entry.locator(".c-status")).to_have_text("延期")
        await expect(road_entry).to_contain_text("幸福路的坑什么时候修？<b>急</b>")  # text, never markup
        await expect(road_entry.locator(".c-overdue")).to_have_count(0)
        bus_entry = board.locator(f"#s{sid}-q{bus['question_id']}")
        await expect(bus_entry.locator(".c-overdue")).to_have_text("已逾期")
        # Published when asked (post-moderation), so its text stays public once forwarded.
        await expect(bus_entry).to_contain_text("公交站牌太旧了")
        await expect(board.locator('[data-filter="overdue"] .n')).to_have_text("1")
        await shot(board, f"commitments-{name}-zh")
        await english(board)
        await expect(road_entry.locator(".c-status")).to_have_text("Postponed")
        await expect(bus_entry.locator(".c-overdue")).to_have_text("Overdue")
        await shot(board, f"commitments-{name}-en")
        await board.locator('[data-filter="overdue"]').click()
        await expect(board.locator("#board-list > li")).to_have_count(1)
        await bw.check()
        await ctx.close()

    # The replay link lands where the promise was said: the first answer on screen, not the second.
    ctx = await context(browser, PHONE)
    board, bw = await open_page(ctx, f"{site.http}/p/qzzx/commitments", live=False)
    await board.locator(f"#s{sid}-q{road['question_id']}").get_by_role("link", name="回看承诺时刻").click()
    await board.wait_for_url(f"**/s/{sid}/replay?at=*")
    await expect(board.locator("#player")).to_have_attribute("data-state", "paused")
    await expect(board.locator(f"#answered-list #q{road['question_id']}")).to_contain_text(
        "两个月内修好幸福路"
    )
    await expect(board.locator(f"#open-list #q{later['question_id']}")).to_be_visible()
    assert int(await board.locator("#player").get_attribute("data-position") or 0) > 0
    await shot(board, "commitment-replay-moment")
    await bw.check()

    # The asker's receipt shows the promise and its progress.
    lookup, lw = await open_page(ctx, f"{site.http}/?receipt={road['receipt']}", live=False)
    result = lookup.locator("#lookup-result")
    await expect(result.locator(".commitment")).to_contain_text("两个月内修复幸福路路面")
    await expect(result.locator(".c-history")).to_contain_text("雨季施工受阻")
    await shot(lookup, "commitment-receipt")
    await lw.check()
    await ctx.close()


async def test_the_programme_page_counts_down_to_the_next_episode(site: LiveServer, browser: Browser) -> None:
    """预约 (issue 21): the programme page counts down to the next episode every second, by the
    server's clock, in both languages; offers its calendar file and the programme's feed (in
    the head, for feed readers); and once the episode starts, the countdown is a link to it."""
    s = site.create_session(start=timedelta(hours=1), episode=34, title="养老服务专场")
    sid = s["id"]
    phone = await context(browser, PHONE)
    await phone.clock.install()  # this page's clock, to be moved an hour on below
    page, watch = await open_page(phone, f"{site.http}/", live=False)
    card = page.locator(f'.countdown[data-id="{sid}"]')
    await expect(card.locator(".cd-next")).to_have_text("下一期：第34期 养老服务专场")
    clock = card.locator(".cd-time")
    await expect(clock).to_have_text(re.compile(r"^00:59:[0-5]\d$"))
    before = await clock.text_content()
    await page.clock.run_for(2000)
    await expect(clock).not_to_have_text(before or "")
    await expect(card).to_contain_text("（北京时间）")
    calendar = card.get_by_role("link", name="把第34期 养老服务专场加入日历")
    await expect(calendar).to_have_attribute("href", f"/s/{sid}/calendar.ics")
    upcoming = page.locator(".episodes li", has_text="养老服务专场")
    await expect(upcoming.get_by_role("link", name="把第34期 养老服务专场加入日历")).to_be_visible()
    feed = page.locator('head link[rel="alternate"][type="application/atom+xml"]')
    await expect(feed).to_have_attribute("href", "/p/qzzx/episodes.atom")
    entries = ET.fromstring(await (await page.request.get(f"{site.http}/p/qzzx/episodes.atom")).body())
    assert f"{site.http}/s/{sid}" in [e.findtext(f"{ATOM}id") for e in entries.iter(f"{ATOM}entry")]
    await shot(page, "programme-countdown-phone-zh")
    await english(page)
    await expect(card.locator(".cd-label")).to_have_text("Starts in")
    await expect(card.get_by_role("link", name="Add No. 34 养老服务专场 to your calendar")).to_be_visible()
    await expect(card).to_contain_text("(Beijing time)")
    await shot(page, "programme-countdown-phone-en")
    await page.clock.fast_forward("01:00:01")
    live = card.get_by_role("link", name="No. 34 养老服务专场 has started · join now")
    await expect(live).to_have_attribute("href", f"/s/{sid}")
    await expect(card.locator(".cd-clock")).to_be_hidden()
    await expect(card.locator(".cal-link")).to_be_hidden()
    await shot(page, "programme-countdown-started-en")
    await watch.check()
    await phone.close()
