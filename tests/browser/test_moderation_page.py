"""The moderator's tools in real Chromium, and what the asker sees of each decision.

Blocked-word hits are marked in the queue; a typo is fixed with the original
kept; a duplicate is merged into the question it repeats (offered beside it);
a personal case is declined with a reason the asker reads on the phone. An
admin sets the blocked words from the admin page. A question received by 12345 is typed in
with its channel and read back its receipt number (issue 21).
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.async_api import Browser, expect

from ..conftest import TIMEOUT, LiveServer
from .conftest import PHONE, context, open_page, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_moderator_tools_and_what_the_asker_sees(site: LiveServer, browser: Browser) -> None:
    admin, aw = await open_page(browser, f"{site.http}/admin#key=test-admin-token", live=False)
    await admin.get_by_label("屏蔽词表（每行一个）").fill("敏感词\n测试屏蔽")
    await admin.get_by_role("button", name="保存屏蔽词").click()
    await expect(admin.locator("#words-count")).to_have_text("共 2 个词")
    await aw.check()
    await admin.context.close()

    s = site.create_session()
    sid = s["id"]
    phone = await context(browser, PHONE)
    viewer, vw = await open_page(phone, f"{site.http}/s/{sid}")
    moderator, mw = await open_page(browser, f"{site.http}/s/{sid}/moderator#key={s['moderator_token']}")

    async with site.client(sid) as other:
        park = await other.request(
            "ask", client_id=str(uuid.uuid4()), text="区里的公园什么时候开放？", name="李女士"
        )
        await other.request("ask", client_id=str(uuid.uuid4()), text="请问敏 感 词怎么处理", name="")
    pending = moderator.locator("#pending")
    park_item = pending.locator("li", has_text="区里的公园什么时候开放？")
    await park_item.get_by_role("button", name="通过").click()
    await expect(moderator.locator("#n-published")).to_have_text("1")

    flagged = pending.locator("li", has_text="怎么处理")
    await expect(flagged.locator("mark")).to_have_text("敏 感 词")
    await expect(flagged).to_contain_text("含敏感词：敏感词")

    async def ask(text: str) -> None:
        if await viewer.locator("#ask-done").is_visible():
            await viewer.get_by_role("button", name="再问一个问题").click()
        await expect(viewer.get_by_label("您的问题")).to_be_visible()
        await viewer.get_by_label("您的问题").fill(text)
        await viewer.get_by_role("button", name="提交问题").click()
        await expect(viewer.locator("#ask-done")).to_be_visible()
        await expect(viewer.locator("#ask-done")).to_contain_text("已提交，等待审核")

    await ask("公园什么时候开放呀")
    await ask("我家楼上漏水好几天了怎么办")
    duplicate = pending.locator("li", has_text="公园什么时候开放呀")
    await expect(duplicate.locator(".similar")).to_contain_text("区里的公园什么时候开放？")
    await shot(moderator, "moderator-queue")
    await duplicate.get_by_role("button", name=f"合并到 #{park['question_id']}").click()

    leak = pending.locator("li", has_text="漏水")
    await leak.get_by_role("button", name="不采用").click()
    await leak.get_by_label("原因").select_option("personal_case")
    await leak.get_by_role("button", name="确认不采用").click()

    await flagged.get_by_role("button", name="修改错字").click()
    await flagged.get_by_label("修改后的问题（原文会保留）").fill("请问这类问题怎么处理")
    await flagged.get_by_role("button", name="保存修改").click()
    edited = pending.locator("li", has_text="请问这类问题怎么处理")
    await expect(edited).to_contain_text("原文：请问敏 感 词怎么处理")

    mine = viewer.locator("#mine-list")
    await expect(mine.locator("li", has_text="公园什么时候开放呀")).to_contain_text("已合并")
    declined = mine.locator("li", has_text="漏水")
    await expect(declined).to_contain_text("未采用")
    await expect(declined).to_contain_text("涉及个人具体事项")
    await expect(moderator.locator("#n-handled")).to_have_text("2")
    await expect(moderator.locator("#c-declined")).to_have_text("1")
    assert await viewer.locator("#open-list").get_by_text("敏").count() == 0, "unreviewed text was shown"
    for w in (vw, mw):
        await w.check()
    await phone.close()
    await moderator.context.close()


async def test_a_phoned_in_question_entered_on_the_moderator_page(site: LiveServer, browser: Browser) -> None:
    """Issue 21: staff type in a question received by 12345 with the caller's contact; it joins the
    queue marked 12345, its receipt number is shown large and is a real one, and once approved
    the presenter and the citizens' page show where it came from."""
    s = site.create_session()
    sid, key = s["id"], s["moderator_token"]
    phone = await context(browser, PHONE)
    moderator, mw = await open_page(phone, f"{site.http}/s/{sid}/moderator#key={key}")
    await moderator.get_by_text("录入热线、短信、微信、12345 收到的问题").click()
    await expect(moderator.get_by_label("来源渠道").locator("option")).to_have_text(
        ["热线", "短信", "微信", "12345"]
    )
    await moderator.get_by_label("来源渠道").select_option("12345")
    await moderator.get_by_label("问题内容").fill("老街菜市场门口晚上没有路灯，老人走路不安全")
    await moderator.get_by_label("群众称呼（公开显示）").fill("张先生")
    await moderator.get_by_label("联系方式（不公开").fill("139 0000 1234")
    await moderator.get_by_role("button", name="录入到审核队列").click()
    number = moderator.locator("#enter-receipt-no")
    await expect(number).to_have_text(re.compile(rf"^{sid}-\d+-[A-Z0-9]{{6}}$"))
    await expect(moderator.locator("#enter-about")).to_have_text(re.compile(r"^#\d+ · 12345 · 等待审核$"))
    await expect(moderator.get_by_label("问题内容")).to_have_value("")
    receipt = (await number.text_content()) or ""
    looked = httpx.get(f"{site.http}/api/receipts/{receipt}", timeout=TIMEOUT).json()
    assert looked["channel"] == "12345" and looked["status"] == "pending", looked
    item = moderator.locator("#pending li", has_text="老街菜市场")
    await expect(item.locator(".chip.channel")).to_have_text("12345")
    await shot(moderator, "channel-moderator-phone")
    await moderator.locator("#lang").click()
    await expect(item.locator(".chip.channel")).to_have_text("12345")
    await expect(moderator.locator("#enter-about")).to_have_text(
        re.compile(r"^#\d+ · 12345 · Waiting for review$")
    )
    await expect(moderator.get_by_label("Channel").locator("option")).to_have_text(
        ["Hotline", "SMS", "WeChat", "12345"]
    )
    await shot(moderator, "channel-moderator-phone-en")
    await moderator.locator("#lang").click()

    desk, dw = await open_page(browser, f"{site.http}/s/{sid}/moderator#key={key}")
    await desk.get_by_text("录入热线、短信、微信、12345 收到的问题").click()
    await desk.get_by_label("来源渠道").select_option("wechat")
    await desk.get_by_label("问题内容").fill("微信上问：幼儿园学位够不够？")
    await desk.get_by_role("button", name="录入到审核队列").click()
    await expect(desk.locator("#enter-about")).to_have_text(re.compile(r"^#\d+ · 微信 · 等待审核$"))
    await desk.locator("#pending li", has_text="老街菜市场").get_by_role("button", name="通过").click()
    await shot(desk, "channel-moderator-desktop")
    presenter, pw = await open_page(desk.context, f"{site.http}/s/{sid}/presenter#key={s['presenter_token']}")
    await expect(presenter.locator("#queue li", has_text="老街菜市场").locator(".chip.channel")).to_have_text(
        "12345"
    )
    viewer, vw = await open_page(phone, f"{site.http}/s/{sid}")
    await expect(
        viewer.locator("#open-list li", has_text="老街菜市场").locator(".chip.channel")
    ).to_have_text("12345")
    await shot(viewer, "channel-viewer-phone")
    assert await viewer.get_by_text("139 0000 1234").count() == 0, "a caller's contact is never shown"
    for w in (mw, dw, pw, vw):
        await w.check()
    await phone.close()
    await desk.context.close()
