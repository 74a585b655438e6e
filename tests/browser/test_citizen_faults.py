"""The citizen-page faults of issue 20 (point 5), each as a citizen meets it in Chromium.

- The asker is told, in words and in view under the sticky top bar, when their question is
  approved, answered, declined (with the reason and the note) or merged; the confirmation box
  after asking no longer hides under that bar, and follows what became of the question.
- 同问 keeps keyboard focus; it is not offered (and the server refuses it) on one's own question
  or once the window is over.
- The receipt lookup's result on ``/`` is brought into view on a phone and announced.
- Replay's pause button stays readable when hovered; on a phone the replayed answers are in
  view above the player.
- The big screen shows the answer, invites to the outcomes once the window is over, and its QR
  code is a quarter of the screen's width.
- An answer given orally on air says so, with its time, wherever answers are shown.

One server and one browser for the module; the sessions are driven by real protocol clients.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from live.client import ServerError

from ..conftest import LiveServer
from .conftest import DESKTOP, PHONE, SHOTS, WAIT_MS, context, open_page

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHANGHAI = ZoneInfo("Asia/Shanghai")

IN_VIEW = """([el, cover]) => {
  const box = el.getBoundingClientRect();
  const top = cover ? document.querySelector(cover).getBoundingClientRect().bottom : 0;
  return !el.closest('[hidden]') && box.height > 0 && box.top >= top - 1 && box.top < innerHeight - 40;
}"""
"""Whether an element's top is on screen, below ``cover`` (the sticky bar over it), if any."""

CONTRAST = """(el) => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const s = getComputedStyle(el);
  const [a, b] = [lum(s.color), lum(s.backgroundColor)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


async def in_view(page: Page, target: Locator, cover: str | None = ".topbar") -> None:
    """Wait until target's top is on screen, not under ``cover``; fail if it never is.

    The notice is a row of the sticky top bar itself: it must be below the bar's first row."""
    handle = await target.element_handle()
    await page.wait_for_function(IN_VIEW, arg=[handle, cover], timeout=WAIT_MS)


async def view_shot(page: Page, name: str) -> None:
    """What the screen shows now, where the person is (not scrolled back to the top)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), animations="disabled", caret="hide")


async def ask(viewer: Page, text: str) -> int:
    if await viewer.locator("#ask-done").is_visible():
        await viewer.get_by_role("button", name="再问一个问题").click()
    await viewer.get_by_label("您的问题").fill(text)
    await viewer.get_by_role("button", name="提交问题").click()
    await expect(viewer.locator("#ask-done")).to_be_visible()
    receipt = (await viewer.locator("#receipt").text_content() or "").strip()
    return int(receipt.split("-")[1])


async def test_the_asker_sees_what_became_of_each_question_and_cannot_vote_for_it(
    site: LiveServer, browser: Browser
) -> None:
    s = site.create_session()
    sid = s["id"]
    phone = await context(browser, PHONE)
    viewer, watch = await open_page(phone, f"{site.http}/s/{sid}")
    park = await ask(viewer, "公园什么时候开放？")
    done = viewer.locator("#ask-done")
    await in_view(viewer, done)  # it used to come to rest under the sticky bar
    await expect(done).to_contain_text("已提交，等待审核")
    lamp = await ask(viewer, "路灯坏了怎么办？")
    again = await ask(viewer, "公园几点开门？")
    notice = viewer.locator("#notice")
    await expect(notice).to_be_hidden()

    async with site.client(sid, token=s["moderator_token"]) as mod:
        await viewer.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # reading further down
        await mod.request("approve", question_id=again)
        await expect(notice).to_contain_text("已通过审核，已公开，等待回答。")
        await expect(notice).to_contain_text("公园几点开门？")
        await in_view(viewer, notice, cover=".brand")
        await expect(done).to_contain_text(
            "已提交，现在：已公开，等待回答"
        )  # the box of the last ask follows
        await expect(viewer.locator("#announcer")).to_contain_text("已通过审核")
        await view_shot(viewer, "citizen-notice-approved-zh-phone")

        # 同问 is for other people's questions: not offered here, refused by the server.
        mine_open = viewer.locator("#open-list li", has_text="公园几点开门？")
        await expect(mine_open).to_contain_text("我提的问题")
        await expect(mine_open.get_by_role("button", name=re.compile("同问"))).to_have_count(0)
        device = next(c["value"] for c in await phone.cookies() if c["name"] == "live_device")
        async with site.client(sid, device=device) as same_phone:
            with pytest.raises(ServerError) as refused:
                await same_phone.request("vote", question_id=again)
            assert refused.value.code == "own_question"
            assert (await same_phone.request("unvote", question_id=again))["changed"] is False

        await mod.request("approve", question_id=park)
        async with site.client(sid, token=s["presenter_token"]) as official:
            await official.request("answer", question_id=park, text="下个月一号起开放。")
        await expect(notice).to_contain_text("嘉宾已回答")
        await expect(notice).to_contain_text("公园什么时候开放？")
        await viewer.get_by_role("button", name="English").click()
        await expect(notice).to_contain_text("It was answered")
        await mod.request("reject", question_id=lamp, reason="personal_case", note="请拨打12345热线反映")
        await expect(notice).to_contain_text("It was not taken up.")
        await expect(notice).to_contain_text("Reason: A personal case: please use the 12345 hotline")
        await expect(notice).to_contain_text("请拨打12345热线反映")
        await in_view(viewer, notice, cover=".brand")
        await view_shot(viewer, "citizen-notice-declined-en-phone")
        await mod.request("merge", question_id=again, into=park)
        await expect(notice).to_contain_text("It was merged")
        await in_view(viewer, notice, cover=".brand")
        await notice.get_by_role("link", name="Show the merged question").click()
        await expect(notice).to_be_hidden()
        await in_view(viewer, viewer.locator(f"#q-{park}"))
        await viewer.get_by_role("button", name="中文").click()
        await mod.request("reject", question_id=await ask(viewer, "小区停车难"), reason="off_topic")
        await expect(viewer.locator("#notice-text")).to_have_text("未被采用。")
        await expect(viewer.locator("#notice-why")).to_have_text("原因：与本期主题无关")
        await in_view(viewer, notice, cover=".brand")
        await view_shot(viewer, "citizen-notice-declined-zh-phone")
        await viewer.set_viewport_size(DESKTOP["viewport"])
        await in_view(viewer, notice, cover=".brand")
        await view_shot(viewer, "citizen-notice-declined-zh-desktop")
    for wrong in ("null", "undefined"):
        await expect(viewer.locator("body")).not_to_contain_text(wrong)
    await watch.check()
    await phone.close()


async def test_vote_keeps_keyboard_focus_and_ends_with_the_window(site: LiveServer, browser: Browser) -> None:
    s = site.create_session(moderation="post")
    sid = s["id"]
    async with site.client(sid) as citizen:
        first = (await citizen.request("ask", client_id="a", text="地铁站出口能加停车点吗？"))["question_id"]
        await citizen.request("ask", client_id="b", text="菜市场什么时候改造？")
    page, watch = await open_page(browser, f"{site.http}/s/{sid}")
    second = page.locator("#open-list li", has_text="菜市场").get_by_role("button", name=re.compile("同问"))
    await second.focus()
    await page.keyboard.press("Enter")  # one vote: it moves up past the other, and keeps focus
    await expect(second).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#open-list li").first).to_contain_text("菜市场")
    await expect(second).to_be_focused()
    await page.keyboard.press("Space")
    await expect(second).to_have_attribute("aria-pressed", "false")
    await expect(second).to_be_focused()

    async with site.client(sid, token=s["moderator_token"]) as mod:
        await mod.request("close")
    await expect(page.locator("#open-list").get_by_role("button", name=re.compile("同问"))).to_have_count(0)
    async with site.client(sid) as late:
        for kind in ("vote", "unvote"):
            with pytest.raises(ServerError) as refused:
                await late.request(kind, question_id=first)
            assert refused.value.code == "voting_closed" and refused.value.message["en"]
    await watch.check()
    await page.context.close()


async def test_receipt_lookup_result_comes_into_view_on_a_phone(site: LiveServer, browser: Browser) -> None:
    s = site.create_session()
    for n in range(3):  # a programme page as long as a real one
        site.create_session(
            start=timedelta(days=-7 * (n + 1)), episode=28 + n, title=f"区长在线 第{28 + n}期"
        )
    async with site.client(s["id"]) as citizen:
        receipt = (await citizen.request("ask", client_id="a", text="老街的井盖松了"))["receipt"]
    phone = await context(browser, PHONE)
    index, watch = await open_page(phone, f"{site.http}/", live=False)
    await index.emulate_media(reduced_motion="reduce")  # brought into view at once, not smoothly
    await expect(index.locator(".programme").first).to_be_visible()
    await index.get_by_label("回执编号").fill(receipt)
    await index.get_by_role("button", name="查询").click()  # at the bottom of the screen
    result = index.locator("#lookup-result")
    await expect(result).to_contain_text(receipt)
    await in_view(index, result)
    await expect(index.locator("#announcer")).to_have_text(f"回执编号：{receipt} 等待审核")
    await view_shot(index, "citizen-lookup-zh-phone")
    await index.get_by_role("button", name="English").click()
    await expect(result).to_contain_text("Waiting for review")
    await result.scroll_into_view_if_needed()  # the programme list above was redrawn in English
    await view_shot(index, "citizen-lookup-en-phone")
    await watch.check()
    await phone.close()


async def test_replay_pause_is_readable_on_hover_and_answers_are_in_view_on_a_phone(
    site: LiveServer, browser: Browser
) -> None:
    s = site.create_session(moderation="post")
    sid = s["id"]
    async with site.client(sid) as citizen, site.client(sid, token=s["presenter_token"]) as official:
        for n, text in enumerate(("公交站台没有遮雨棚", "夜里路灯不亮", "小区垃圾清运太晚", "学校门口拥堵")):
            q = (await citizen.request("ask", client_id=str(n), text=text))["question_id"]
            await official.request("answer", question_id=q, text=f"第{n + 1}条答复：本月内解决。")
        async with site.client(sid, token=s["moderator_token"]) as mod:
            await mod.request("close")
    page, watch = await open_page(browser, f"{site.http}/s/{sid}/replay?t=99999999", live=False)
    await expect(page.locator("#answered-list li").first).to_contain_text("本月内解决")
    await view_shot(page, "citizen-replay-zh-desktop")
    play = page.locator("#play")
    await play.hover()  # then pressed: playing, its label 暂停 under the pointer (or a phone's last tap)
    press = (
        f"(b) => {{ b.click(); return [b.textContent, b.getAttribute('aria-pressed'), ({CONTRAST})(b)]; }}"
    )
    label, pressed, ratio = await play.evaluate(press)
    assert "暂停" in label and pressed == "true", (label, pressed)
    assert ratio >= 4.5, f"the pause label vanishes into its background on hover (contrast {ratio:.2f})"
    await watch.check()
    await page.context.close()

    phone, w = await open_page(browser, f"{site.http}/s/{sid}/replay?t=99999999", device=PHONE, live=False)
    first = phone.locator("#answered-list li").first
    for lang, said in (("zh", "本月内解决"), ("en", "answered:")):
        if lang == "en":
            await phone.get_by_role("button", name="English").click()
        await expect(first).to_contain_text(said)
        await in_view(phone, first)  # and above the player fixed at the bottom of the screen
        box, player = await first.bounding_box(), await phone.locator("#player").bounding_box()
        assert box and player and box["y"] + 40 < player["y"], (box, player)
        await view_shot(phone, f"citizen-replay-{lang}-phone")
    await w.check()
    await phone.context.close()


async def test_big_screen_shows_the_answer_the_end_and_a_qr_code_for_a_room(
    site: LiveServer, browser: Browser
) -> None:
    s = site.create_session(moderation="post")
    sid = s["id"]
    ctx = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    screen = await ctx.new_page()
    await screen.goto(f"{site.http}/s/{sid}/screen")
    await screen.wait_for_selector('#conn[data-state="live"]', state="attached")
    qr = await screen.locator("#qr").bounding_box()
    assert qr and qr["width"] >= 0.24 * 1440, f"a QR code of {qr} cannot be read across a room"
    async with site.client(sid) as citizen, site.client(sid, token=s["presenter_token"]) as official:
        q = (await citizen.request("ask", client_id="a", text="老旧小区什么时候加装电梯？"))["question_id"]
        await official.request("answering", question_id=q)
        await expect(screen.locator("#current-text")).to_have_text("老旧小区什么时候加装电梯？")
        await official.request("answer", question_id=q, text="今年先做十个小区，明年全部覆盖。")
        await expect(screen.locator("#current-reply")).to_have_text("今年先做十个小区，明年全部覆盖。")
        await expect(screen.locator("#current-label")).to_have_text("已回答")
        await view_shot(screen, "citizen-screen-answer-zh-desktop")
        oral = (await citizen.request("ask", client_id="b", text="公园厕所能否24小时开放？"))["question_id"]
        await official.request("answering", question_id=oral)
        await official.request("answer", question_id=oral, mode="video")
        await expect(screen.locator("#current-reply")).to_contain_text("已在直播中口头回答（")
        async with site.client(sid, token=s["moderator_token"]) as mod:
            await mod.request("close")
    await expect(screen.locator("#join-title")).to_have_text("扫码查看办理结果")
    await expect(screen.locator("#idle-title")).to_have_text("本期访谈已结束")
    await view_shot(screen, "citizen-screen-closed-zh-desktop")
    await screen.set_viewport_size({"width": 1920, "height": 1080})
    bigger = await screen.locator("#qr").bounding_box()
    assert bigger and bigger["width"] > qr["width"] * 1.2, "the QR code does not grow with the screen"
    await screen.goto(f"{site.http}/s/{sid}/screen?lang=en")
    await expect(screen.locator("#join-title")).to_have_text("Scan for the outcomes")
    await view_shot(screen, "citizen-screen-closed-en-desktop")
    await ctx.close()


async def test_an_answer_given_orally_on_air_says_so_with_its_time(
    site: LiveServer, browser: Browser
) -> None:
    s = site.create_session(moderation="post")
    sid = s["id"]
    async with site.client(sid) as citizen, site.client(sid, token=s["presenter_token"]) as official:
        q = (await citizen.request("ask", client_id="a", text="河道清淤什么时候开始？"))["question_id"]
        await official.request("answer", question_id=q, mode="video")
    async with site.client(sid) as reader:
        at = next(x for x in reader.snapshot["questions"] if x["id"] == q)["answer"]["at"]  # type: ignore[index]
    hhmm = datetime.fromtimestamp(at / 1000, SHANGHAI).strftime("%H:%M")
    line = f"已在直播中口头回答（{hhmm}）"
    phone = await context(browser, PHONE)
    for name, path, where in (
        ("viewer", f"/s/{sid}", "#answered-list li"),
        ("replay", f"/s/{sid}/replay?t=99999999", "#answered-list li"),
        ("transcript", f"/s/{sid}/transcript", "#entries li"),
        ("search", "/search?q=河道清淤", "#results li"),
    ):
        page, watch = await open_page(phone, f"{site.http}{path}", live=name == "viewer")
        item = page.locator(where, has_text="河道清淤什么时候开始？")
        await expect(item).to_contain_text(line)
        await item.scroll_into_view_if_needed()
        await view_shot(page, f"citizen-oral-{name}-zh-phone")
        if name == "viewer":
            await page.get_by_role("button", name="English").click()
            await expect(item).to_contain_text(f"Answered orally in the live broadcast ({hhmm})")
            await view_shot(page, "citizen-oral-viewer-en-phone")
            await page.get_by_role("button", name="中文").click()
            await expect(item).to_contain_text(line)
        await watch.check()
        await page.close()
    await phone.close()
