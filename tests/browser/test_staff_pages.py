"""Staff pages' faults found in a real browser (issue 20, point 5), and the leftovers.

The moderator's merge list offers a pending question too, picks nothing (or the question it
probably repeats) and follows the queue live; 结束提问 and 生成新链接 ask until answered, never
lapsing on their own (the page's clock is run ahead to show it); the audit log speaks in
words; a bad short name says the rule; the toast after creating a session points where the
links are. And on the citizens' pages: the brand keeps the programme's name in English, the
home page does not say 在线访谈 twice, an archived title holds its episode number once, and the
replay, search and transcript pages have the site's icon.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from ..conftest import LiveServer
from .conftest import DESKTOP, PHONE, Watch, context, open_page, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def clocked(browser: Browser, url: str, device: dict[str, object] = DESKTOP) -> tuple[Page, Watch]:
    """A page whose clock Playwright controls (it runs as usual until run ahead)."""
    ctx = await context(browser, device)
    page = await ctx.new_page()
    await page.clock.install()
    watch = Watch(page)
    await page.goto(url)
    return page, watch


async def test_merge_offers_pending_targets_chooses_none_and_follows_the_queue(
    site: LiveServer, browser: Browser
) -> None:
    s = site.create_session()
    sid = s["id"]
    page, watch = await open_page(browser, f"{site.http}/s/{sid}/moderator#key={s['moderator_token']}")
    async with site.client(sid) as citizen, site.client(sid, token=s["moderator_token"]) as mod:

        async def ask(text: str) -> int:
            return int((await citizen.request("ask", client_id=str(uuid.uuid4()), text=text))["question_id"])

        park = await ask("区里的公园什么时候开放？")
        await mod.request("approve", question_id=park)
        await ask("垃圾分类投放点太远了")
        lift = await ask("老旧小区加装电梯有补贴吗？")
        again = await ask("老旧小区加装电梯有没有补贴？")
        pending = page.locator("#pending > li")
        await expect(pending).to_have_count(3)

        def card(text: str) -> Locator:
            return pending.filter(has=page.locator(".mq-text", has_text=text))

        unrelated = card("垃圾分类")
        await unrelated.get_by_role("button", name="合并", exact=True).click()
        into = unrelated.get_by_label("合并到哪个问题")
        await expect(into).to_have_value("")  # not the newest published question
        await expect(into.locator(f'option[value="{lift}"]')).to_contain_text("等待审核")
        late = await ask("路灯坏了好几天没人修")
        await expect(into.locator(f'option[value="{late}"]')).to_have_count(1)  # live, not on reopening
        await mod.request("reject", question_id=late, reason="off_topic")
        await expect(into.locator(f'option[value="{late}"]')).to_have_count(0)
        await unrelated.get_by_role("button", name="确认合并").click()
        await expect(page.locator("#toast")).to_contain_text("请先选择")

        duplicate = card("有没有补贴")
        await duplicate.get_by_role("button", name="合并", exact=True).click()
        to_lift = duplicate.get_by_label("合并到哪个问题")
        await expect(to_lift).to_have_value(str(lift))  # the question it repeats, though pending
        await shot(page, "merge-pending-target-desktop")
        await duplicate.get_by_role("button", name="确认合并").click()
        await expect(card("有没有补贴")).to_have_count(0)
        await expect(into.locator(f'option[value="{again}"]')).to_have_count(0)
        await expect(into).to_have_value("")
        await expect(page.locator("#n-handled")).to_have_text("2")
    await watch.check()
    await page.context.close()


async def test_ending_questions_asks_until_answered(site: LiveServer, browser: Browser) -> None:
    s = site.create_session()
    page, watch = await clocked(
        browser, f"{site.http}/s/{s['id']}/moderator#key={s['moderator_token']}", PHONE
    )
    await page.wait_for_selector('#conn[data-state="live"]', state="attached")
    await page.get_by_role("button", name="结束提问").click()
    sure = page.get_by_role("button", name="确认结束提问")
    await expect(sure).to_be_visible()
    await expect(page.locator(".confirm")).to_contain_text("市民将不能再提问")
    await page.keyboard.press("Escape")
    await expect(sure).to_be_hidden()
    await expect(page.get_by_role("button", name="结束提问")).to_be_focused()
    await page.get_by_role("button", name="结束提问").click()
    await page.clock.fast_forward(15_000)  # it lapsed after 5 s; (less than the 20 s ping)
    await expect(sure).to_be_visible()
    await shot(page, "moderator-close-confirm-phone")
    await sure.click()
    await expect(page.locator("#phase")).to_have_text("已结束 · 办结中")
    await watch.check()
    await page.context.close()


async def test_admin_audit_in_words_slug_rule_links_toast_and_rotation(
    site: LiveServer, browser: Browser
) -> None:
    first = site.create_session()
    with site.admin() as http:
        refused = http.post("/api/programmes", json={"slug": "Jie Dao", "title": "街道在线"})
        assert (refused.status_code, refused.json()["code"]) == (400, "bad_slug")
        assert "小写英文字母" in refused.json()["message"]["zh"]
    async with (
        site.client(first["id"]) as citizen,
        site.client(first["id"], token=first["moderator_token"], name="审核员甲") as mod,
    ):
        asked = await citizen.request("ask", client_id="audit-words", text="审计用的问题", name="")
        await mod.request("approve", question_id=asked["question_id"])

    admin, watch = await clocked(browser, f"{site.http}/admin#key=test-admin-token")
    await expect(admin.locator("#s-programme option")).not_to_have_count(0)
    await admin.get_by_label("栏目名称").fill("街道在线")
    await admin.get_by_label("英文短名（小写字母、数字、连字符）").fill("Jie Dao")
    await admin.locator("#programme-submit").click()
    await expect(admin.locator("#programme-error")).to_contain_text("只能用小写英文字母 a-z、数字和连字符")
    await expect(admin.locator("#p-slug")).to_have_attribute("aria-invalid", "true")

    await admin.get_by_label("期数").fill("41")
    await admin.get_by_label("标题", exact=True).fill("区长在线 第41期：背街小巷")
    await admin.get_by_label("嘉宾姓名").fill("张华")
    await admin.get_by_label("开始时间").fill("2030-06-19T19:30")
    await admin.get_by_label("结束时间").fill("2030-06-19T21:30")
    await admin.locator("#session-submit").click()
    await expect(admin.locator("#toast")).to_contain_text("请复制上方的工作链接")
    links, form = (
        await admin.locator("#links").bounding_box(),
        await admin.locator("#session-form").bounding_box(),
    )
    assert links and form and links["y"] < form["y"], "the toast says where the links are"

    row = admin.locator(f'li.admin-session[data-session="{first["id"]}"]')
    await row.get_by_role("button", name="生成新链接").click()
    await admin.clock.fast_forward(60_000)  # the question waits for an answer
    await expect(row.locator(".confirm")).to_be_visible()
    await expect(row.locator(".confirm")).to_contain_text("旧的嘉宾和审核链接将立即失效")
    await row.get_by_role("button", name="确认生成新链接").click()
    await expect(admin.locator("#toast")).to_contain_text("旧链接已失效")

    await row.get_by_role("button", name="操作记录").click()
    entry = admin.locator("#audit tbody tr")
    await expect(entry).to_have_count(1)
    await expect(entry.locator("td").nth(1)).to_have_text("审核员 审核员甲")
    await expect(entry.locator("td").nth(2)).to_have_text("审核通过")
    await expect(entry.locator("td").nth(3)).to_contain_text("状态：等待审核 → 已公开，等待回答")
    await shot(admin, "admin-audit-zh-desktop", full_page=False)
    await admin.locator("#lang").click()
    await expect(entry.locator("td").nth(1)).to_have_text("Moderator 审核员甲")
    await expect(entry.locator("td").nth(2)).to_have_text("Approved")
    await watch.check()
    await admin.context.close()


async def test_leftovers_on_the_citizens_pages(site: LiveServer, browser: Browser) -> None:
    past = site.create_session(
        start=timedelta(hours=-3), length=timedelta(hours=1), episode=31, title="区长在线 第31期：教育与交通"
    )
    now = site.create_session()
    page, watch = await open_page(browser, f"{site.http}/", device=PHONE, live=False)
    await expect(page.locator("#programmes section").first).to_be_visible()
    assert await page.locator(".brand").text_content() != await page.locator("h1").text_content()

    await page.goto(f"{site.http}/search")
    entry = page.locator("#archive li", has_text="教育与交通")
    await expect(entry.locator(".ep-title")).to_have_text("区长在线 第31期：教育与交通")

    await page.goto(f"{site.http}/s/{now['id']}")
    brand = page.locator("#programme")
    await expect(brand).to_have_text("区长在线")
    await page.locator("#lang").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(brand).to_have_text("区长在线")  # not "Online Q&A"

    for path in ("replay", "transcript"):
        await page.goto(f"{site.http}/s/{past['id']}/{path}")
        await expect(brand).to_have_text("区长在线")
        await expect(page.locator("#title")).to_have_text("区长在线 第31期：教育与交通")
        await expect(page.locator("#episode")).to_have_text("")  # not "No. 31" beside 第31期
        await icon(page)
    await page.goto(f"{site.http}/search")
    await icon(page)
    await watch.check()
    await page.context.close()


async def icon(page: Page) -> None:
    """The page names the site's icon, and it is there."""
    found = await page.evaluate(
        """async () => {
      const link = document.querySelector('link[rel="icon"]');
      if (!link) return null;
      const r = await fetch(link.href);
      return [r.status, r.headers.get('content-type')];
    }"""
    )
    assert found == [200, "image/svg+xml"], (page.url, found)
