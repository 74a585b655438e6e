"""The asker's say on a phone: the secret shown once, a rating in 我的问题, and a follow-up from
another phone with the receipt number and the secret, in Chromium against a real server.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.async_api import Browser, Page, expect

from ..conftest import LiveServer
from .conftest import DESKTOP, PHONE, XSS, context, open_page, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = re.compile(r"^[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$")


async def ask(viewer: Page, text: str) -> tuple[str, str]:
    """Ask as a first-time visitor would; the receipt number and the secret it was shown."""
    await viewer.get_by_label("您的问题").fill(text)
    await viewer.get_by_role("button", name="提交问题").click()
    done = viewer.locator("#ask-done")
    await expect(done).to_be_visible()
    await expect(done).to_contain_text("请保存回执编号和查询码")
    receipt = (await viewer.locator("#receipt").text_content() or "").strip()
    secret = (await viewer.locator("#secret").text_content() or "").strip()
    assert SECRET.match(secret), secret
    return receipt, secret


async def test_an_asker_rates_on_one_phone_and_follows_up_from_another(
    site: LiveServer, browser: Browser
) -> None:
    s = site.create_session(moderation="post")
    sid = s["id"]
    upcoming = site.create_session(start=timedelta(days=7), episode=33, title="区长在线 第33期")
    phone = await context(browser, PHONE)
    viewer, watch = await open_page(phone, f"{site.http}/s/{sid}")
    receipt, secret = await ask(viewer, "老街的路灯什么时候修？")
    await shot(viewer, "say-secret-zh-phone")
    mine = viewer.locator("#mine-list li", has_text="老街的路灯")
    await expect(mine.get_by_role("group", name="您对办理结果满意吗？")).to_have_count(0)  # no outcome yet

    async with site.client(sid, token=s["presenter_token"]) as official:
        qid = int(receipt.split("-")[1])
        await official.request("answer", question_id=qid, text="本月底前修好。")
    rating = mine.get_by_role("group", name="您对办理结果满意吗？")
    await expect(rating).to_be_visible()
    await mine.get_by_label("说说您的看法").fill(XSS)  # typed text stays text
    async with site.client(sid) as someone:  # a live event re-renders the page: what was typed stays
        await someone.request("ask", client_id="other", text="公园几点开门？")
    await expect(viewer.locator("#open-list")).to_contain_text("公园几点开门？")
    await expect(mine.get_by_label("说说您的看法")).to_have_value(XSS)
    await mine.get_by_role("button", name="提交评价").click()
    await expect(mine.get_by_role("alert").filter(has_text="请先选择满意、基本满意或不满意")).to_be_visible()
    await shot(viewer, "say-form-zh-phone")
    await rating.get_by_label("基本满意", exact=True).check()
    await mine.get_by_role("button", name="提交评价").click()
    await expect(mine).to_contain_text("您的评价：基本满意")
    await expect(mine.locator(".say-comment")).to_have_text(XSS)
    await shot(viewer, "say-rated-zh-phone")
    await watch.check()

    other = await context(browser, PHONE)
    lookup, watch2 = await open_page(other, f"{site.http}/?receipt={receipt}", live=False)
    result = lookup.locator("#lookup-result")
    await expect(result).to_contain_text("已评价")
    await result.get_by_text("追问", exact=True).click()
    await result.get_by_label("您的追问").fill("那人行道的坑呢？")
    await result.get_by_role("button", name="提交追问").click()
    await expect(result.get_by_role("alert").filter(has_text="请填写查询码")).to_be_visible()
    await result.get_by_label("查询码").fill("2222-2222")
    await result.get_by_role("button", name="提交追问").click()
    await expect(result.get_by_role("alert").filter(has_text="回执编号与查询码不匹配")).to_be_visible()
    await shot(lookup, "say-lookup-form-zh-phone")
    await result.get_by_label("查询码").fill(secret.lower().replace("-", " "))
    await result.get_by_role("button", name="提交追问").click()
    made = result.locator(".say-made")
    await expect(made).to_contain_text("追问已提交，将进入“区长在线 第33期”的问题征集")
    await expect(made).to_contain_text("请保存回执编号和查询码")
    follow_receipt = (await made.locator(".receipt strong").first.text_content() or "").strip()
    assert follow_receipt.startswith(f"{upcoming['id']}-")
    assert SECRET.match((await made.locator(".receipt strong").nth(1).text_content() or "").strip())
    await shot(lookup, "say-follow-up-zh-phone")
    await lookup.get_by_role("button", name="English").click()
    await expect(made).to_contain_text("Follow-up sent")
    await shot(lookup, "say-follow-up-en-phone")
    await watch2.check()

    await expect(mine).to_contain_text("已追问，查看下一期")  # the first phone follows, live
    link = mine.get_by_role("link", name="已追问，查看下一期")
    await expect(link).to_have_attribute("href", f"/s/{upcoming['id']}")
    await viewer.get_by_role("button", name="English").click()
    await expect(mine).to_contain_text("Your rating: Basically satisfied")
    await shot(viewer, "say-rated-en-phone")
    await viewer.get_by_role("button", name="中文").click()

    # Days later the session is over; the phone that asked rates from the lookup, with no secret.
    await viewer.get_by_role("button", name="再问一个问题").click()
    second, _ = await ask(viewer, "我家楼上漏水了")
    async with site.client(sid, token=s["moderator_token"]) as mod:
        await mod.request("forward", question_id=int(second.split("-")[1]), department="区水务局")
        await mod.request("close")
    again, watch4 = await open_page(phone, f"{site.http}/?receipt={second}", live=False)
    box = again.locator("#lookup-result")
    await box.get_by_label("不满意", exact=True).check()
    await box.get_by_role("button", name="提交评价").click()
    await expect(box).to_contain_text("已评价")
    await watch4.check()
    await watch.check()
    await phone.close()
    await other.close()

    desktop = await context(browser, DESKTOP)
    page, watch3 = await open_page(desktop, f"{site.http}/?receipt={receipt}", live=False)
    await expect(page.locator("#lookup-result")).to_contain_text("已评价")
    await shot(page, "say-lookup-zh-desktop")
    transcript, _ = await open_page(desktop, f"{site.http}/s/{sid}/transcript", live=False)
    await expect(transcript.locator("#satisfaction")).to_have_text(
        "满意度：2 人评价，满意 0（0%）、基本满意 1（50%）、不满意 1（50%）；满意率 50%。"
    )
    await shot(transcript, "say-transcript-zh-desktop")
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("#lookup-result")).to_contain_text("Rated")
    await shot(page, "say-lookup-en-desktop")
    await watch3.check()
    await desktop.close()
