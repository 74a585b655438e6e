"""我的问题, as the asker's phone shows it, after every kind of change (issue 17's drift bugs).

The page used to re-derive each event's meaning itself and drifted from the server: "null"
under an approved question or the one being answered, the old text after a moderator's
edit, a merged question linking to ``#q-undefined`` once the page was reloaded, a decline
without the staff's note. Every event now carries its result, and the asker's own view
comes from the server.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from ..conftest import LiveServer
from .conftest import PHONE, context, open_page, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def ask(viewer: Page, text: str) -> None:
    if await viewer.locator("#ask-done").is_visible():
        await viewer.get_by_role("button", name="再问一个问题").click()
    await expect(viewer.get_by_label("您的问题")).to_be_visible()
    await viewer.get_by_label("您的问题").fill(text)
    await viewer.get_by_role("button", name="提交问题").click()
    await expect(viewer.locator("#ask-done")).to_be_visible()  # this ask's, not the last one's
    await expect(viewer.locator("#ask-done")).to_contain_text("已提交，等待审核")


async def test_my_questions_show_what_the_server_says_after_every_change(
    site: LiveServer, browser: Browser
) -> None:
    s = site.create_session()
    sid = s["id"]
    phone = await context(browser, PHONE)
    viewer, watch = await open_page(phone, f"{site.http}/s/{sid}")
    texts = ["公园什么时候开放？", "公园几点开门？", "路灯坏了怎么般", "我家楼上漏水了"]
    for text in texts:
        await ask(viewer, text)
    async with site.client(sid, token=s["moderator_token"]) as mod:
        ids = {q["text"]: q["id"] for q in mod.snapshot["questions"]}
        park, dup, lamp, leak = (ids[t] for t in texts)
        mine = viewer.locator("#mine-list")

        await mod.request("approve", question_id=park)
        await mod.request("answering", question_id=park)
        item = mine.locator("li", has_text="公园什么时候开放？")
        await expect(item).to_contain_text("已公开")
        await mod.request("edit", question_id=lamp, text="路灯坏了怎么办")
        await expect(mine).to_contain_text("路灯坏了怎么办")
        await expect(mine).not_to_contain_text("怎么般")
        await mod.request("reject", question_id=leak, reason="personal_case", note="请拨打12345热线反映")
        await expect(mine.locator("li", has_text="漏水")).to_contain_text("请拨打12345热线反映")
        await mod.request("merge", question_id=dup, into=park)
        merged = mine.locator("li", has_text="公园几点开门？").get_by_role("link")
        await expect(merged).to_have_attribute("href", f"#q-{park}")
    await expect(mine).not_to_contain_text("null")
    await shot(viewer, "asker-mine-live")

    await viewer.reload()  # a page loaded later: the snapshot and welcome.mine, no live events
    await viewer.wait_for_selector('#conn[data-state="live"]', state="attached")
    mine = viewer.locator("#mine-list")
    await expect(mine.locator("li", has_text="公园几点开门？").get_by_role("link")).to_have_attribute(
        "href", f"#q-{park}"
    )
    await expect(mine).to_contain_text("路灯坏了怎么办")
    await expect(mine).to_contain_text("请拨打12345热线反映")
    for wrong in ("null", "undefined", "怎么般"):
        await expect(mine).not_to_contain_text(wrong)
    await shot(viewer, "asker-mine-reloaded")
    await watch.check()
    await phone.close()
