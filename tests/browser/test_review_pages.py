"""Four eyes on typed answers in real Chromium: held, then released or withdrawn (撤回).

The official's seat types an answer that is held; the moderator's page shows it with who
typed it and releases it, and the viewer's phone shows it only then. A moderator types one
on the official's behalf under a broadcast delay; both staff pages count down; the official
withdraws it, and the viewer's page never receives a byte of it: every WebSocket frame the
page gets is kept and searched, not only what it shows.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, WebSocket, expect

from ..conftest import TIMEOUT, LiveServer
from .conftest import PHONE, context, open_page, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")

WIDE: dict[str, Any] = {"viewport": {"width": 1440, "height": 900}}


def tap(ctx: BrowserContext) -> list[str]:
    """Every WebSocket frame any page of ``ctx`` receives, as received."""
    frames: list[str] = []

    def on_socket(ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: frames.append(str(payload)))

    ctx.on("page", lambda page: page.on("websocket", on_socket))
    return frames


async def published(site: LiveServer, sid: int, text: str) -> int:
    async with site.client(sid) as citizen:
        ack = await citizen.request("ask", client_id=str(uuid.uuid4()), text=text, name="王先生")
    return int(ack["question_id"])


SAID = """() => {
  window.__said = [];
  const region = document.querySelector('#announcer');
  new MutationObserver(() => { if (region.textContent) window.__said.push(region.textContent); })
    .observe(region, { childList: true, characterData: true, subtree: true });
}"""
"""Keep everything the page reads out to screen readers."""


async def english(page: Page) -> None:
    await page.get_by_role("button", name="Switch to English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")


async def test_typed_held_then_released_by_a_second_person(site: LiveServer, browser: Browser) -> None:
    s = site.create_session(moderation="post", answer_review="approve")
    sid = s["id"]
    phone = await context(browser, PHONE)
    frames = tap(phone)
    viewer, vw = await open_page(phone, f"{site.http}/s/{sid}")
    presenter, pw = await open_page(
        browser, f"{site.http}/s/{sid}/presenter#key={s['presenter_token']}", device=WIDE
    )
    moderator, mw = await open_page(
        browser, f"{site.http}/s/{sid}/moderator#key={s['moderator_token']}", device=WIDE
    )
    await published(site, sid, "老旧小区加装电梯有补贴吗？")
    await expect(presenter.locator("#cur-text")).to_have_text("老旧小区加装电梯有补贴吗？")

    answer = "有补贴，每台最高二十万元，六月起受理。"
    await presenter.get_by_label("回答内容").fill(answer)
    await presenter.get_by_role("button", name="发布回答（Ctrl+Enter）").click()
    await expect(presenter.locator("#toast")).to_contain_text("放行前观众看不到")
    held = moderator.locator("#held")
    await expect(held).to_be_visible()
    await expect(held.locator(".held-text")).to_have_text(answer)
    await expect(held).to_contain_text("等待另一位工作人员放行")
    await expect(presenter.locator("#held .held-text")).to_have_text(answer)
    await presenter.locator("#held").get_by_role("button", name="放行：老旧小区加装电梯有补贴吗？").click()
    await expect(presenter.locator("#toast")).to_contain_text("需要另一位工作人员放行")
    await expect(viewer.locator("#answered-list")).not_to_contain_text(answer)
    await shot(moderator, "review-held-moderator-desktop")
    await shot(presenter, "review-held-presenter-desktop")
    await english(moderator)
    await expect(held).to_contain_text("Waiting for a second person to release it")
    await shot(moderator, "review-held-moderator-desktop-en")

    await held.get_by_role("button", name="Release: 老旧小区加装电梯有补贴吗？").click()
    await expect(moderator.locator("#toast")).to_contain_text("Answer released")
    answered = viewer.locator("#answered-list li", has_text="老旧小区加装电梯有补贴吗？")
    await expect(answered).to_contain_text(answer)
    await expect(held).to_be_hidden()
    await expect(presenter.locator("#held")).to_be_hidden()
    before = [f for f in frames if answer in f]
    assert before and all('"question.answered"' in f for f in before), "the answer reached the phone early"
    assert not [f for f in frames if '"held"' in f]
    for w in (vw, pw, mw):
        await w.check()
    await phone.close()
    await presenter.context.close()
    await moderator.context.close()


async def test_typed_on_the_officials_behalf_then_withdrawn_never_reaches_a_viewer(
    site: LiveServer, browser: Browser
) -> None:
    s = site.create_session(moderation="post", answer_review="delay", answer_delay_s=600)
    sid = s["id"]
    phone = await context(browser, PHONE)
    frames = tap(phone)
    viewer, vw = await open_page(phone, f"{site.http}/s/{sid}")
    presenter, pw = await open_page(
        browser, f"{site.http}/s/{sid}/presenter#key={s['presenter_token']}", device=WIDE
    )
    moderator, mw = await open_page(
        browser, f"{site.http}/s/{sid}/moderator#key={s['moderator_token']}", device=WIDE
    )
    await viewer.evaluate(SAID)
    await viewer.get_by_label("您的问题").fill("夜市噪音扰民能管一管吗？")  # the phone's own question
    await viewer.get_by_role("button", name="提交问题").click()
    await expect(viewer.locator("#ask-done")).to_be_visible()
    await moderator.get_by_role("tab", name="已公开").click()
    item = moderator.locator("#published li", has_text="夜市噪音扰民能管一管吗？")
    await item.get_by_role("button", name="代为输入回答").click()
    secret = "草稿：此条不应播出 <b>不是标记</b>"
    await item.get_by_label("以嘉宾名义输入的回答（须由另一位工作人员放行）").fill(secret)
    await item.get_by_role("button", name="提交待放行").click()
    await expect(moderator.locator("#toast")).to_contain_text("放行前观众看不到")
    for page in (moderator, presenter):
        held = page.locator("#held")
        await expect(held.locator(".held-text")).to_have_text(secret)
        await expect(held).to_contain_text("后自动播出")
        await expect(held).to_contain_text("审核员 ")
        assert await held.locator("b").count() == 0, "typed text became markup"
    countdown = await presenter.locator("#held .held-wait").text_content()
    await expect(presenter.locator("#held .held-wait")).not_to_have_text(countdown or "")  # it moves
    await shot(presenter, "review-delay-presenter-desktop")
    await english(presenter)
    await expect(presenter.locator("#held")).to_contain_text("Goes out in")
    await shot(presenter, "review-delay-presenter-desktop-en")

    await presenter.locator("#held").get_by_role("button", name="Withdraw: 夜市噪音扰民能管一管吗？").click()
    await expect(presenter.locator("#toast")).to_contain_text("viewers will never see it")
    await expect(presenter.locator("#held")).to_be_hidden()
    await expect(moderator.locator("#held")).to_be_hidden()

    # The phone saw the hold and the withdrawal as events, and not a word typed; its asker was
    # told nothing of them (then the official starts on the question: that, it reads out).
    await presenter.locator("#start").click()
    await expect(viewer.locator("#now-text")).to_have_text("夜市噪音扰民能管一管吗？")
    said: list[str] = []
    async with asyncio.timeout(TIMEOUT):
        while not any("正在回答" in x for x in said):  # read out 50 ms after it is shown
            said = await viewer.evaluate("window.__said")
    assert not [x for x in said if "新进展" in x], said
    assert any('"question.answer_withdrawn"' in f for f in frames)
    assert not [f for f in frames if "草稿" in f or '"held"' in f]
    assert "草稿" not in await viewer.content()
    for w in (vw, pw, mw):
        await w.check()
    await phone.close()
    await presenter.context.close()
    await moderator.context.close()


async def test_held_answers_on_a_phone_in_both_languages(site: LiveServer, browser: Browser) -> None:
    """What staff see of held answers on a phone-sized screen: screenshots to read."""
    s = site.create_session(moderation="post", answer_review="both", answer_delay_s=120)
    sid = s["id"]
    phone = await context(browser, PHONE)
    moderator, mw = await open_page(phone, f"{site.http}/s/{sid}/moderator#key={s['moderator_token']}")
    other = await context(browser, PHONE)
    presenter, pw = await open_page(other, f"{site.http}/s/{sid}/presenter#key={s['presenter_token']}")
    first = await published(site, sid, "社区食堂什么时候开到我们街道？")
    await published(site, sid, "地铁站出口能加装雨棚吗？")
    async with site.client(sid, token=s["presenter_token"], name="秘书") as desk:
        await desk.request("answer", question_id=first, text="今年底前覆盖全部街道，已选好六处场地。")
        await desk.request("answer", question_id=first + 1, text="已列入明年计划，先在三个出口试点。")
    held = moderator.locator("#held")
    await expect(held.locator("li")).to_have_count(2)
    await expect(held).to_contain_text("等待另一位工作人员审核")
    await held.get_by_role("button", name="审核通过：社区食堂什么时候开到我们街道？").click()
    await expect(held).to_contain_text("已由 审核员 ")
    await expect(held).to_contain_text("后自动播出")
    await shot(moderator, "review-held-moderator-phone")
    await shot(presenter, "review-held-presenter-phone")
    await english(moderator)
    await expect(held).to_contain_text("Goes out in")
    await shot(moderator, "review-held-moderator-phone-en")
    await english(presenter)
    await expect(presenter.locator("#held")).to_contain_text("Goes out in")
    await shot(presenter, "review-held-presenter-phone-en")
    for w in (mw, pw):
        await w.check()
    await phone.close()
    await other.close()
