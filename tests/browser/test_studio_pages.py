"""The studio in Chromium (issue 21, points 2 and 3): the host page, the viewer, the transcript.

The host posts a remark and reads out a published question from the host page; a citizen's
phone shows both live, marked [主持人]. A moderator follows the moderator page's link to the
host desk and uploads a photo with a caption; the phone shows it, loaded, with its caption.
The big screen shows the host's remark, then the question read out, then the answer. After the
close, the transcript reads as a published 访谈实录: [主持人] and [嘉宾] lines with the photo
among them, and the replay has the posts at their moments. Screenshots of the viewer, the host page and the
transcript, phone and desktop, Chinese and English, go to ``test-artifacts/screenshots``.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw
from playwright.async_api import Browser, Page, expect

from ..conftest import LiveServer
from .conftest import DESKTOP, PHONE, XSS, context, open_page, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")


def studio_photo() -> bytes:
    """A 640 x 400 picture of a studio desk (drawn, so the test needs no file)."""
    im = Image.new("RGB", (640, 400), (28, 44, 84))
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 260, 640, 400), fill=(120, 72, 40))
    draw.rectangle((70, 150, 250, 260), fill=(180, 40, 40))
    draw.ellipse((120, 70, 200, 150), fill=(230, 200, 170))
    draw.rectangle((390, 150, 570, 260), fill=(40, 40, 40))
    draw.ellipse((440, 70, 520, 150), fill=(225, 195, 165))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


async def both_languages(page: Page, name: str, ready: str) -> None:
    """Screenshots in Chinese, then English (switched on the page, as a person would), then back."""
    await shot(page, f"{name}-zh")
    await page.click("#lang")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator(ready).first).to_be_visible()
    await shot(page, f"{name}-en")
    await page.click("#lang")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


async def test_the_host_and_a_photo_reach_the_viewer_and_the_transcript(
    site: LiveServer, browser: Browser
) -> None:
    s = site.create_session()
    sid = s["id"]
    phone = await context(browser, PHONE)
    viewer, vw = await open_page(phone, f"{site.http}/s/{sid}")
    host, hw = await open_page(browser, f"{site.http}/s/{sid}/host#key={s['host_token']}")
    screen, sw = await open_page(browser, f"{site.http}/s/{sid}/screen")

    await host.get_by_label("发言内容").fill("各位网友，大家晚上好！欢迎收看本期区长在线。")
    await host.get_by_role("button", name="发布发言").click()
    posts = viewer.locator("#answered-list li.post")
    await expect(posts.first).to_contain_text("[主持人]")
    await expect(posts.first).to_contain_text("各位网友，大家晚上好！欢迎收看本期区长在线。")
    await expect(viewer.locator("#answered-title")).to_contain_text("访谈实况")
    await expect(screen.locator("#current-label")).to_have_text("主持人")  # the big screen too
    await expect(screen.locator("#current-text")).to_have_text("各位网友，大家晚上好！欢迎收看本期区长在线。")

    async with site.client(sid) as citizen, site.client(sid, token=s["moderator_token"]) as mod:
        asked = await citizen.request(
            "ask", client_id="b1", text="小区门口的路灯坏了一个月，什么时候修？", name="王先生"
        )
        qid = asked["question_id"]
        await mod.request("approve", question_id=qid)
        queued = host.locator("#queue li", has_text="路灯坏了")
        await queued.get_by_role("button", name="报题").click()
        announced = viewer.locator('#answered-list li.post[data-kind="announce"]')
        await expect(announced).to_contain_text("下面请看网友“王先生”的提问：")
        await expect(announced).to_contain_text("小区门口的路灯坏了一个月，什么时候修？")
        await expect(queued).to_contain_text("报题")  # the queue says it was read out
        await expect(screen.locator("#current-label")).to_have_text("下一个问题")
        await expect(screen.locator("#current-text")).to_have_text("小区门口的路灯坏了一个月，什么时候修？")
        await expect(screen.locator("#current-name")).to_contain_text("王先生")
        await expect(host.locator("#posts li")).to_have_count(2)

        desk, mw = await open_page(browser, f"{site.http}/s/{sid}/moderator#key={s['moderator_token']}")
        await desk.locator("#host-link").click()  # a moderator stands in for a host
        await desk.wait_for_selector('#conn[data-state="live"]', state="attached")
        await desk.set_input_files(
            "#photo-file", files=[{"name": "studio.jpg", "mimeType": "image/jpeg", "buffer": studio_photo()}]
        )
        await desk.get_by_label("图片说明").fill("访谈现场：副区长李明（左）与主持人")
        await desk.get_by_role("button", name="上传图片").click()
        photo = viewer.locator('#answered-list li.post[data-kind="photo"]')
        await expect(photo).to_contain_text("访谈现场：副区长李明（左）与主持人")
        await expect(photo).to_contain_text("[图片]")
        await photo.scroll_into_view_if_needed()
        await expect(photo.locator("img")).to_have_js_property("naturalWidth", 640)
        await expect(desk.locator("#posts li img")).to_have_count(1)

        await host.get_by_label("发言内容").fill("这句说错了")  # then taken back (撤回)
        await host.get_by_role("button", name="发布发言").click()
        await expect(posts.first).to_contain_text("这句说错了")
        mistake = host.locator("#posts li", has_text="这句说错了")
        await mistake.get_by_role("button", name="撤回").click()
        await mistake.get_by_role("button", name="确认撤回").click()
        await expect(viewer.locator("#answered-list")).not_to_contain_text("这句说错了")
        await expect(mistake).to_have_count(0)

        async with site.client(sid, token=s["presenter_token"]) as official:
            await official.request("answering", question_id=qid)
            await official.request("answer", question_id=qid, text="已安排维修，本周内修好。")
        await expect(viewer.locator(f"#q-{qid}")).to_contain_text("已安排维修，本周内修好。")
        await expect(screen.locator("#current-reply")).to_have_text("已安排维修，本周内修好。")
        await host.get_by_label("发言内容").fill(f"本期访谈到此结束，感谢各位网友的参与！{XSS}")
        await host.get_by_role("button", name="发布发言").click()
        await expect(posts.first).to_contain_text(f"本期访谈到此结束，感谢各位网友的参与！{XSS}")  # as text

        await both_languages(viewer, "studio-viewer-phone", "#answered-list li.post")
        wide, ww = await open_page(browser, f"{site.http}/s/{sid}", device=DESKTOP)
        await expect(wide.locator('#answered-list li.post[data-kind="photo"] img')).to_have_count(1)
        await both_languages(wide, "studio-viewer-desktop", "#answered-list li.post")
        await both_languages(host, "studio-host-desktop", "#posts li")
        narrow, nw = await open_page(phone, f"{site.http}/s/{sid}/host#key={s['host_token']}")
        await expect(narrow.locator("#posts li")).to_have_count(4)
        await both_languages(narrow, "studio-host-phone", "#posts li")
        await mod.request("close")

    for device, size in ((PHONE, "phone"), (DESKTOP, "desktop")):
        record, rw = await open_page(browser, f"{site.http}/s/{sid}/transcript", device=device, live=False)
        lines = record.locator("#entries li.line")
        await expect(lines).to_have_count(5)
        roles = [await li.get_attribute("data-role") for li in await lines.all()]
        assert roles == ["host", "host", "photo", "guest", "host"], roles
        await expect(lines.nth(0)).to_contain_text("[主持人]")
        await expect(lines.nth(1)).to_contain_text("[主持人]")
        await expect(lines.nth(1)).to_contain_text("下面请看网友“王先生”的提问：小区门口的路灯坏了一个月")
        await expect(lines.nth(3)).to_contain_text("[嘉宾]")
        await expect(lines.nth(3)).to_contain_text("已安排维修，本周内修好。")
        await expect(lines.nth(4)).to_contain_text(XSS)
        await expect(lines.nth(2)).to_contain_text("访谈现场：副区长李明（左）与主持人")
        await lines.nth(2).scroll_into_view_if_needed()
        await expect(lines.nth(2).locator("img")).to_have_js_property("naturalWidth", 640)
        await both_languages(record, f"studio-transcript-{size}", "#entries li.line")
        await expect(lines.nth(0)).to_contain_text("[主持人]")
        await rw.check()
        await record.context.close()
    replay, pw = await open_page(browser, f"{site.http}/s/{sid}/replay?t=99999999", live=False)
    await expect(replay.locator("#answered-list li.post")).to_have_count(4)  # at their moments
    log = (await (await replay.request.get(f"{site.http}/api/sessions/{sid}/events")).json())["events"]
    [said] = [e for e in log if e["type"] == "host.remarked" and e["data"]["post"]["text"] == "这句说错了"]
    await replay.goto(f"{site.http}/s/{sid}/replay?at={said['at']}")  # the moment it was said:
    await expect(replay.locator("#player")).to_have_attribute("data-seq", str(said["seq"]))
    await expect(replay.locator('#answered-list li.post[data-kind="photo"]')).to_have_count(1)
    assert "这句说错了" not in await replay.locator("main").inner_text(), "withdrawn: gone then too"
    await expect(replay.locator('#answered-list li.post[data-kind="photo"]')).to_contain_text("访谈现场")
    for w in (vw, hw, mw, ww, nw, sw, pw):
        await w.check()
    for ctx in (phone, host.context, desk.context, wide.context, screen.context, replay.context):
        await ctx.close()
