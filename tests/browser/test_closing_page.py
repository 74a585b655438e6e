"""Closing (有问必答) in real Chromium: the staff's closing page, then what the public sees.

A session has ended with questions left: the moderator ticks several and forwards them, declines
a pending one, carries one over to the next episode; the official writes a written reply on the
same page; the moderator archives once none is left. The public session page, the replay and
the transcript then show every question under its outcome with the reply rate, on a phone and a
desktop, in Chinese and in English; the asker's receipt follows the carried question.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from ..conftest import ADMIN, LiveServer
from .conftest import DESKTOP, PHONE, XSS, open_page, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")
WIDE: dict[str, Any] = {**DESKTOP, "viewport": {"width": 1440, "height": 900}}


async def _ended_session(site: LiveServer) -> tuple[dict[str, Any], dict[str, int], str, dict[str, Any]]:
    """A session whose window is over: one answered live, four published, one pending."""
    s = site.create_session()
    sid = s["id"]
    ids: dict[str, int] = {}
    async with (
        site.client(sid) as asker,
        site.client(sid, token=s["moderator_token"]) as mod,
        site.client(sid, token=s["presenter_token"]) as official,
    ):
        texts = {
            "live": "地铁站出口能加装电梯吗？",
            "bus1": "公交站牌太旧了",
            "bus2": "公交车晚上班次太少",
            "park": "公园厕所不够用",
            "night": "夜市什么时候恢复？",
            "private": "我家楼上装修太吵",
        }
        receipt = ""
        for key, text in texts.items():
            name = XSS if key == "bus1" else "市民"
            ack = await asker.request("ask", client_id=str(uuid.uuid4()), text=text, name=name)
            ids[key] = ack["question_id"]
            if key == "night":
                receipt = ack["receipt"]
        for key in ("live", "bus1", "bus2", "park", "night"):
            await mod.request("approve", question_id=ids[key])
        await official.request("answer", question_id=ids["live"], text="明年加装两部电梯。")
        await mod.request("close")
    nxt = site.create_session(start=timedelta(days=7), episode=33, title="区长在线 第33期")
    return s, ids, receipt, nxt


async def test_the_closing_workflow_and_the_public_outcomes(site: LiveServer, browser: Browser) -> None:
    s, ids, receipt, nxt = await _ended_session(site)
    sid = s["id"]
    mod, mw = await open_page(browser, f"{site.http}/s/{sid}/closing#key={s['moderator_token']}", device=WIDE)
    todo = mod.locator("#todo")
    await expect(todo.locator("li")).to_have_count(5)
    await expect(mod.locator("#archive")).to_be_disabled()
    await expect(mod.locator("#archive-state")).to_contain_text("还有 5 个问题没有办理结果")
    await shot(mod, "closing-moderator-zh")
    phone, pw = await open_page(
        browser, f"{site.http}/s/{sid}/closing#key={s['moderator_token']}", device=PHONE
    )
    await expect(phone.locator("#todo li")).to_have_count(5)
    await shot(phone, "closing-todo-phone-zh")
    await phone.locator("#lang").click()
    await expect(phone.locator("#todo-title")).to_contain_text("To settle")
    await expect(phone.locator("#archive-state")).to_have_text(
        "5 questions have no outcome yet; the session is archived once every one has."
    )
    await shot(phone, "closing-todo-phone-en")
    await pw.check()
    await phone.context.close()

    for key in ("bus1", "bus2"):
        await mod.locator(f"#pick-{ids[key]}").check()
    await expect(mod.locator("#selected")).to_have_text("已选 2 个")
    await mod.locator("#bulk-forward").click()
    await mod.get_by_label("转交给哪个部门").fill("区交通运输局")
    await mod.get_by_label("说明").fill("十个工作日内答复")
    await mod.locator("#bulk-apply").click()
    await expect(todo.locator("li")).to_have_count(3)
    forwarded = mod.locator('#done .outcome-group[data-outcome="forwarded"]')
    await expect(forwarded.locator("li")).to_have_count(2)
    await expect(forwarded).to_contain_text("已转交区交通运输局办理。 十个工作日内答复")

    await mod.locator(f"#pick-{ids['private']}").check()
    await mod.locator("#bulk-decline").click()
    await mod.get_by_label("原因").select_option("personal_case")
    await mod.locator("#bulk-apply").click()
    await expect(todo.locator("li")).to_have_count(2)

    await mod.locator(f"#pick-{ids['night']}").check()
    await mod.locator("#bulk-carry").click()
    await expect(mod.locator("#bulk-fields")).to_contain_text("保留原回执编号")
    await mod.locator("#bulk-apply").click()
    await expect(todo.locator("li")).to_have_count(1)
    await expect(mod.locator('#done .outcome-group[data-outcome="carried_over"]')).to_contain_text(
        "夜市什么时候恢复？"
    )

    # The official writes the last reply on the same page, with the presenter's key.
    official, ow = await open_page(
        browser, f"{site.http}/s/{sid}/closing#key={s['presenter_token']}", device=WIDE
    )
    park = official.locator("#todo li", has_text="公园厕所不够用")
    await expect(official.locator("#bulk")).to_be_hidden()
    await park.get_by_role("button", name="书面答复").click()
    await park.get_by_label("书面答复内容").fill("年底前新建两座公厕。")
    await park.get_by_role("button", name="发布书面答复").click()
    await expect(official.locator("#todo-empty")).to_be_visible()

    await expect(mod.locator("#todo-empty")).to_be_visible()
    await expect(mod.locator("#archive")).to_be_enabled()
    await mod.locator("#archive").click()
    await expect(mod.locator("#archive-state")).to_have_text("本期已归档，记录不再更改。")
    await expect(mod.locator("#phase")).to_have_text("已归档")
    await shot(mod, "closing-archived-zh")

    # What the public sees: every question under its outcome, at both sizes, in both languages.
    for device, size in ((PHONE, "phone"), (WIDE, "desktop")):
        page, vw = await open_page(browser, f"{site.http}/s/{sid}", device=device)
        await _public_outcomes(page, ids)
        await shot(page, f"outcomes-{size}-zh")
        await page.locator("#lang").click()
        await expect(page.locator("#outcomes-title")).to_have_text("Outcomes")
        await expect(page.locator(".outcome-rate")).to_have_text("Reply rate 80.0% (4 replied of 5 due)")
        await expect(page.locator('.outcome-group[data-outcome="written"] h3')).to_contain_text(
            "Written reply"
        )
        await shot(page, f"outcomes-{size}-en")
        await vw.check()
        await page.context.close()

    replay, rw = await open_page(browser, f"{site.http}/s/{sid}/replay", device=PHONE, live=False)
    await expect(replay.locator("#outcomes")).to_be_visible()
    await expect(replay.locator(".outcome-rate")).to_have_text("回复率 80.0%（已答复 4 / 应答复 5）")
    await expect(replay.locator('.outcome-group[data-outcome="carried_over"]')).to_contain_text("夜市")
    transcript, tw = await open_page(browser, f"{site.http}/s/{sid}/transcript", device=WIDE, live=False)
    section = transcript.locator("#outcomes-body")
    await expect(section.locator(".outcome-rate")).to_have_text("回复率 80.0%（已答复 4 / 应答复 5）")
    await expect(section.locator('.outcome-group[data-outcome="written"]')).to_contain_text(
        "年底前新建两座公厕。"
    )
    await expect(section.locator('.outcome-group[data-outcome="declined"]')).to_contain_text(
        "（未公开的问题）"
    )
    assert "我家楼上装修太吵" not in await transcript.content()
    await shot(transcript, "outcomes-transcript")

    # The asker's receipt: where the question went.
    home, hw = await open_page(browser, f"{site.http}/?receipt={receipt}", device=PHONE, live=False)
    result = home.locator("#lookup-result")
    await expect(result).to_contain_text("已结转下一期")
    await expect(result.locator(".carried")).to_contain_text("区长在线 第33期")
    await expect(result.locator(".carried a")).to_have_attribute("href", f"/s/{nxt['id']}#q-1")
    await shot(home, "outcomes-receipt")
    for w in (mw, ow, rw, tw, hw):
        await w.check()
    for p in (mod, official, replay, transcript, home):
        await p.context.close()

    # The closing page itself, on a phone and a desktop, in both languages.
    for device, size in ((PHONE, "phone"), (WIDE, "desktop")):
        page, cw = await open_page(browser, f"{site.http}/s/{sid}/closing#key={ADMIN}", device=device)
        await expect(page.locator("#archive-state")).to_have_text("本期已归档，记录不再更改。")
        await shot(page, f"closing-{size}-zh")
        await page.locator("#lang").click()
        await expect(page.locator("#archive-state")).to_have_text(
            "This session is archived; its record no longer changes."
        )
        await expect(page.locator("#todo-empty")).to_have_text("Every question has an outcome.")
        await shot(page, f"closing-{size}-en")
        await cw.check()
        await page.context.close()


async def _public_outcomes(page: Page, ids: dict[str, int]) -> None:
    """The session page after archiving: the outcomes, never the declined question's text."""
    await expect(page.locator("#closed-title")).to_have_text("本期访谈已办结归档")
    await expect(page.locator("#ask")).to_be_hidden()
    section = page.locator("#outcomes")
    await expect(section).to_be_visible()
    await expect(section.locator(".outcome-rate")).to_have_text("回复率 80.0%（已答复 4 / 应答复 5）")
    groups = section.locator(".outcome-group")
    await expect(groups).to_have_count(5)
    order = [await g.get_attribute("data-outcome") for g in await groups.all()]
    assert order == ["answered", "written", "forwarded", "carried_over", "declined"]
    await expect(section.locator(f"#o-{ids['live']}")).to_contain_text("明年加装两部电梯。")
    await expect(section.locator(f"#o-{ids['park']}")).to_contain_text("书面答复")
    declined = section.locator(f"#o-{ids['private']}")
    await expect(declined).to_contain_text("（未公开的问题）")
    await expect(declined).to_contain_text("涉及个人具体事项")
    await expect(section.locator(f"#o-{ids['bus1']}")).to_contain_text("<img src=x onerror=alert(1)>")
    assert await section.locator("img").count() == 0, "a name a citizen typed became markup"
    assert "我家楼上装修太吵" not in await page.content()
