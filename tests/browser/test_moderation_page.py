"""The moderator's tools in real Chromium, and what the asker sees of each decision.

Blocked-word hits are marked in the queue; a typo is fixed with the original
kept; a duplicate is merged into the question it repeats (offered beside it);
a personal case is declined with a reason the asker reads on the phone. An
admin sets the blocked words from the admin page.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Browser, expect

from ..conftest import LiveServer
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
