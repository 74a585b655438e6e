"""Issue 19 seen in Chromium as one walk-through: the evening and its aftermath, through the
pages each person uses, against one real server that sends e-mail to a real SMTP server and
SMS to a real signed-webhook receiver (:mod:`tests.receivers`).

A citizen on a phone asks two questions (leaving an e-mail address) and keeps the receipt
numbers and the 查询码 (secret); another, on a desktop in English, asks two more (leaving a phone
number). Staff approve and decline on the moderator page; the official answers from the
presenter page; a moderator forwards one and records a commitment already past its due day.
The moderator ends the window, carries the last question over to the next episode on the
closing page and archives. The board shows the commitment overdue, then postponed, then done;
the asker's receipt lookup shows it and takes a rating with the 查询码; on the phone, the asker
rates the answer and follows up, and the e-mail arrives. The next episode's page shows the
carried-over question and the follow-up, each linked to the original; the transcript shows
every outcome and the head hash, and the exported bundle shows the same from file:// with no
network.

Only setup goes around the pages: the two sessions are created over the admin API (as /admin
would), and the bundle is written by ``live bundle`` (an operator's command, not a page).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from ..conftest import TZ, LiveServer, free_port, until
from ..receivers import Gateway, MailSink
from ..test_notify import SECRET, notifying_env
from .conftest import DESKTOP, PHONE, context, open_page, shot
from .test_bundle import offline_page

pytestmark = pytest.mark.asyncio(loop_scope="module")

WIDE: dict[str, Any] = {"viewport": {"width": 1440, "height": 900}}
WANG = "wang.fang@example.cn"
ZHAO = "138 0013 8000"
LAMP = "幸福路的路灯坏了三个月，什么时候修？"
CROSSING = "学校门口的人行横道线什么时候重新画？"
PRIVATE = "我家楼上邻居天天半夜装修"
MARKET = "夜市什么时候恢复？"
ANSWER = "本月底前修好幸福路全部路灯。"
FOLLOW_UP = "修好以后谁来维护？坏了找哪个部门？"


@pytest.fixture(scope="module")
def evening(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, MailSink, Gateway]]:
    """One server for the walk, configured to tell askers (as tests/test_notify.py's are)."""
    sink, gateway = MailSink().start(), Gateway(SECRET).start()
    port = free_port()
    db = str(tmp_path_factory.mktemp("walk") / "live.db")
    srv = LiveServer(db, port=port, env=notifying_env(port, sink.url, gateway.url, LIVE_LOG_LEVEL="warning"))
    try:
        yield srv.start(), sink, gateway
    finally:
        if srv.proc is not None:
            srv.kill()
        sink.stop()
        gateway.stop()


def day(offset: int) -> str:
    return (datetime.now(TZ).date() + timedelta(days=offset)).isoformat()


async def ask(viewer: Page, text: str, contact: str, labels: dict[str, str]) -> tuple[int, str, str]:
    """Ask on the viewer page as a person does; the question's id, receipt number and secret."""
    if await viewer.locator("#ask-done").is_visible():
        await viewer.get_by_role("button", name=labels["again"]).click()
    await viewer.get_by_label(labels["question"]).fill(text)
    await viewer.get_by_label(labels["contact"]).fill(contact)
    await viewer.get_by_role("button", name=labels["submit"]).click()
    await expect(viewer.locator("#ask-done")).to_be_visible()
    receipt = (await viewer.locator("#receipt").text_content() or "").strip()
    secret = (await viewer.locator("#secret").text_content() or "").strip()
    assert receipt and secret
    return int(receipt.split("-")[1]), receipt, secret


ZH = {"question": "您的问题", "contact": "联系方式", "submit": "提交问题", "again": "再问一个问题"}
EN = {"question": "Your question", "contact": "Contact", "submit": "Submit question", "again": "Ask another"}


async def test_the_whole_evening_through_the_pages(
    evening: tuple[LiveServer, MailSink, Gateway], browser: Browser, tmp_path: Path
) -> None:
    site, sink, gateway = evening
    # Setup over the admin API, as /admin would do it: episode 32, open now; episode 33 next week,
    # published as asked (post-moderation), so a follow-up shows there at once.
    s = site.create_session()
    nxt = site.create_session(start=timedelta(days=7), episode=33, title="区长在线 第33期", moderation="post")
    sid, nid = s["id"], nxt["id"]
    staff = {"moderator": s["moderator_token"], "presenter": s["presenter_token"]}

    # 1. A citizen on a phone asks two questions, leaving an e-mail address; another, on a
    #    desktop in English, asks two, leaving a phone number.
    phone = await context(browser, PHONE)
    viewer, vw = await open_page(phone, f"{site.http}/s/{sid}")
    lamp, lamp_receipt, _ = await ask(viewer, LAMP, WANG, ZH)
    await expect(viewer.locator("#ask-done")).to_contain_text("请保存回执编号和查询码")
    await shot(viewer, "walk-1-ask-phone-zh")
    crossing, crossing_receipt, crossing_secret = await ask(viewer, CROSSING, WANG, ZH)
    assert WANG not in await viewer.content()

    desk = await context(browser, DESKTOP)
    other, ow = await open_page(desk, f"{site.http}/s/{sid}")
    await expect(other).to_have_title("区长在线 第32期 - 区长在线")  # the programme's name has come
    await other.get_by_role("button", name="English").click()
    await expect(other.locator("html")).to_have_attribute("lang", "en")
    await expect(other.locator("#programme")).to_have_text("区长在线")  # a name, in either language
    private, _, _ = await ask(other, PRIVATE, ZHAO, EN)
    market, _, _ = await ask(other, MARKET, ZHAO, EN)
    await expect(other.locator("#ask-done")).to_contain_text("Submitted, waiting for review")
    await expect(other.locator("#mine-list li")).to_have_count(2)
    await shot(other, "walk-1-ask-desktop-en")

    # 2. Staff approve and decline on the moderator page; the official answers from the
    #    presenter page; the moderator forwards one and records a commitment already late.
    mod, mw = await open_page(browser, f"{site.http}/s/{sid}/moderator#key={staff['moderator']}", device=WIDE)
    pending = mod.locator("#pending")
    for text in (LAMP, CROSSING, MARKET):
        await pending.locator("li", has_text=text).get_by_role("button", name="通过").click()
    declined = pending.locator("li", has_text=PRIVATE)
    await declined.get_by_role("button", name="不采用").click()
    await declined.get_by_label("原因").select_option("personal_case")
    await declined.get_by_label("说明").fill("请联系所在社区")
    await declined.get_by_role("button", name="确认不采用").click()
    await expect(mod.locator("#n-published")).to_have_text("3")
    await expect(mod.locator("#n-handled")).to_have_text("1")

    presenter, pw = await open_page(
        browser, f"{site.http}/s/{sid}/presenter#key={staff['presenter']}", device=WIDE
    )
    await presenter.get_by_role("button", name=f"开始回答: {LAMP}").click()
    await expect(viewer.locator("#now-text")).to_have_text(LAMP)  # the phone follows the studio
    await presenter.get_by_label("回答内容").fill(ANSWER)
    await presenter.get_by_role("button", name="发布回答（Ctrl+Enter）").click()
    await expect(presenter.locator("#done")).to_contain_text(ANSWER)
    mine = viewer.locator("#mine-list")
    await expect(mine.locator("li", has_text=LAMP)).to_contain_text(ANSWER)

    await mod.locator("#tab-published").click()
    item = mod.locator("#published li", has_text=CROSSING)
    await item.get_by_role("button", name="转交部门").click()
    await item.get_by_label("转交给哪个部门").fill("区交通局")
    await item.get_by_label("说明").fill("十个工作日内答复")
    await item.get_by_role("button", name="确认转交").click()
    await mod.locator("#tab-handled").click()
    item = mod.locator("#handled li", has_text=CROSSING)
    await item.get_by_role("button", name="记录承诺").click()
    await item.get_by_label("承诺内容").fill("重新施划学校门口人行横道线")
    await item.get_by_label("办结时限").fill(day(-3))
    await item.get_by_role("button", name="保存承诺").click()
    await expect(item.locator(".c-status")).to_have_text("办理中")
    await expect(mine.locator("li", has_text=CROSSING)).to_contain_text("已转交区交通局办理。")

    # 3. The moderator ends the window and settles the rest on the closing page: the question
    #    not reached goes to episode 33 under its receipt number; then the session is archived.
    await mod.get_by_role("button", name="结束提问", exact=True).click()
    await mod.get_by_role("button", name="确认结束提问").click()
    await expect(mod.locator("#phase")).to_have_text("已结束 · 办结中")
    await mod.get_by_role("link", name="办结（待办结问题）").click()
    todo = mod.locator("#todo li")
    await expect(todo).to_have_count(1)
    await expect(mod.locator("#archive")).to_be_disabled()
    await todo.filter(has_text=MARKET).get_by_role("checkbox").check()
    await mod.locator("#bulk-carry").click()
    await expect(mod.locator("#bulk-fields")).to_contain_text("保留原回执编号")
    await mod.locator("#bulk-form").get_by_role("button", name="结转下一期").click()
    await expect(mod.locator("#todo-empty")).to_be_visible()
    await mod.get_by_role("button", name="归档本期").click()
    await expect(mod.locator("#archive-state")).to_have_text("本期已归档，记录不再更改。")
    groups = mod.locator("#done .outcome-group")
    assert [await g.get_attribute("data-outcome") for g in await groups.all()] == [
        "answered",
        "forwarded",
        "carried_over",
        "declined",
    ]

    # 4. The board shows the promise late; the moderator reports it postponed, then done; the
    #    board and the asker's receipt lookup follow.
    board, bw = await open_page(phone, f"{site.http}/p/qzzx/commitments", live=False)
    entry = board.locator(f"#s{sid}-q{crossing}")
    await expect(entry.locator(".c-overdue")).to_have_text("已逾期")
    await expect(entry.locator(".c-status")).to_have_text("办理中")
    await expect(entry).to_contain_text("重新施划学校门口人行横道线")
    await shot(board, "walk-4-board-overdue-phone-zh")

    await mod.goto(f"{site.http}/s/{sid}/moderator#key={staff['moderator']}")
    await mod.locator("#tab-handled").click()
    item = mod.locator("#handled li", has_text=CROSSING)
    for status, note in (("postponed", "雨季无法施工"), ("done", "人行横道线已重新施划")):
        await item.get_by_role("button", name="更新进展").click()
        await item.get_by_label("办理进展").select_option(status)
        if status == "postponed":
            await item.get_by_label("延期至").fill(day(14))
        await item.get_by_label("说明（办结时填写办理结果，延期时填写原因）").fill(note)
        await item.get_by_role("button", name="保存进展").click()
        await expect(item.locator(".c-history li")).to_have_count(1 if status == "postponed" else 2)
        await board.reload()
        await expect(entry.locator(".c-status")).to_have_text("延期" if status == "postponed" else "已办结")
        await expect(entry.locator(".c-overdue")).to_have_count(0)
    await expect(entry.locator(".c-history")).to_contain_text("雨季无法施工")
    await expect(entry.locator(".c-result")).to_have_text("办理结果：人行横道线已重新施划")
    await shot(board, "walk-4-board-done-phone-zh")

    await board.goto(f"{site.http}/")
    await board.get_by_label("回执编号").fill(crossing_receipt)
    await board.get_by_role("button", name="查询", exact=True).click()
    result = board.locator("#lookup-result")
    await expect(result.locator(".c-status")).to_have_text("已办结")
    await expect(result.locator(".c-history")).to_contain_text("雨季无法施工")
    await expect(result).to_contain_text("已转交区交通局办理。")
    # The receipt number and the 查询码 kept from step 1 are enough to rate it, from any phone.
    await result.get_by_label("查询码").fill(crossing_secret)
    await result.get_by_label("基本满意", exact=True).check()
    await result.get_by_role("button", name="提交评价").click()
    await expect(result.locator(".say-done")).to_have_text("已评价")

    # 5. On the phone that asked: the outcome in 我的问题, a rating, a follow-up; the e-mail.
    await viewer.bring_to_front()
    await expect(viewer.locator("#closed-title")).to_have_text("本期访谈已办结归档")
    mine_lamp = mine.locator("li", has_text=LAMP)
    await expect(mine_lamp.locator(".chip")).to_have_text("已回答")
    rating = mine_lamp.get_by_role("group", name="您对办理结果满意吗？")
    await rating.get_by_label("满意", exact=True).check()
    await mine_lamp.get_by_label("说说您的看法").fill("回答很具体")
    await mine_lamp.get_by_role("button", name="提交评价").click()
    await expect(mine_lamp).to_contain_text("您的评价：满意")
    await mine_lamp.get_by_text("追问", exact=True).click()
    await mine_lamp.get_by_label("您的追问").fill(FOLLOW_UP)
    await mine_lamp.get_by_role("button", name="提交追问").click()
    await expect(mine_lamp.locator(".say-made")).to_contain_text(
        "追问已提交，将进入“区长在线 第33期”的问题征集"
    )
    promise = mine.locator("li", has_text=CROSSING).locator(".commitment")  # as the lookup shows it
    await expect(promise.locator(".c-status")).to_have_text("已办结")
    await expect(promise.locator(".c-result")).to_have_text("办理结果：人行横道线已重新施划")
    await shot(viewer, "walk-5-outcome-rating-phone-zh")

    mails = await until(lambda: [m for m in sink.mails if f"回执编号 {lamp_receipt}" in m.text], "the e-mail")
    [told] = mails
    assert told.rcpt == [WANG] and "您的问题已得到答复" in str(told.message["Subject"])
    assert ANSWER in told.text and LAMP in told.text, told.text
    assert f"{site.http}/?receipt={lamp_receipt}" in told.text
    await until(
        lambda: any("承诺事项有了新进展" in m.text for m in sink.mails if crossing_receipt in m.text),
        "the e-mail that the commitment moved",
    )
    await until(lambda: len(gateway.accepted) == 2, "the two SMS to the desktop asker")
    sms = sorted(gateway.accepted.values(), key=lambda b: str(b["type"]))
    assert [(b["to"], b["type"]) for b in sms] == [
        (ZHAO, "question.carried_over"),
        (ZHAO, "question.rejected"),
    ]
    assert all(call.signed for call in gateway.calls)

    # 6. Episode 33's page: the carried-over question and the follow-up, each linked to the original.
    nxt_page, nw = await open_page(phone, f"{site.http}/s/{nid}")
    open_list = nxt_page.locator("#open-list")
    carried = open_list.locator("li", has_text=MARKET)
    await expect(carried.locator(".origin .chip")).to_have_text("结转")
    await expect(carried.get_by_role("link", name="由上一期结转而来，查看原问题")).to_have_attribute(
        "href", f"/s/{sid}#o-{market}"
    )
    follow = open_list.locator("li", has_text=FOLLOW_UP)
    await expect(follow.locator(".origin .chip")).to_have_text("追问")
    link = follow.get_by_role("link", name="追问上一期的问题，查看原问题")
    await expect(link).to_have_attribute("href", f"/s/{sid}#o-{lamp}")
    await expect(nxt_page.locator("#mine-list")).to_contain_text(FOLLOW_UP)
    await shot(nxt_page, "walk-6-next-episode-phone-zh")
    await nxt_page.get_by_role("button", name="English").click()
    await expect(carried.locator(".origin")).to_have_text(
        "Carried over Carried over from an earlier episode: see the original"
    )
    await expect(follow.locator(".origin")).to_have_text(
        "Follow-up Follows up a question of an earlier episode: see the original"
    )
    await shot(nxt_page, "walk-6-next-episode-phone-en")
    await nxt_page.get_by_role("button", name="中文").click()
    await link.click()
    await expect(nxt_page.locator(f"#o-{lamp}")).to_contain_text(ANSWER)

    # 7. The record: the transcript shows every outcome and the head; the bundle, from file://.
    # Written by the operator's command, with the settings the server runs with (its public URL).
    folder = tmp_path / "bundle"
    made = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "live", "bundle", str(sid), str(folder), "--db", site.db],
        env={**os.environ, "LIVE_PUBLIC_URL": site.http},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    head = json.loads((folder / "manifest.json").read_text())["chain"]["head"]
    transcript, tw = await open_page(phone, f"{site.http}/s/{sid}/transcript", live=False)
    outcomes = transcript.locator("#outcomes-body")
    await expect(outcomes.locator(".outcome-rate")).to_have_text("回复率 66.7%（已答复 2 / 应答复 3）")
    for outcome, said in (
        ("answered", ANSWER),
        ("forwarded", CROSSING),
        ("carried_over", MARKET),
        ("declined", "（未公开的问题）"),
    ):
        await expect(outcomes.locator(f'.outcome-group[data-outcome="{outcome}"]')).to_contain_text(said)
    declined_item = outcomes.locator(f'.outcome-group[data-outcome="declined"] #o-{private}')
    await expect(declined_item).to_contain_text("原因：涉及个人具体事项")
    await expect(transcript.locator("#chain-head")).to_have_text(head)
    await expect(transcript.locator("#satisfaction")).to_contain_text(
        "满意度：2 人评价，满意 1（50%）、基本满意 1（50%）"
    )
    await shot(transcript, "walk-7-transcript-phone-zh")

    bundle, bundle_watch, asked = await offline_page(browser, PHONE)
    await bundle.goto((folder / "index.html").as_uri())
    published = bundle.locator("#outcomes")
    await expect(published).to_contain_text("回复率 66.7%（已答复 2 / 应答复 3）")
    for said in (
        "现场回答 1",
        CROSSING,
        "已转交区交通局办理。",
        "结转下一期 1",
        MARKET,
        "（未公开的问题）",
    ):
        await expect(published).to_contain_text(said)
    carried = published.get_by_role("link", name="已结转到下一期，点此查看")  # the site's page
    await expect(carried).to_have_attribute("href", re.compile(rf"^{re.escape(site.http)}/s/{nid}#q-\d+$"))
    await expect(bundle.locator("#entries .entry")).to_contain_text(ANSWER)
    await expect(bundle.locator("#check code").first).to_have_text(head)
    await shot(bundle, "walk-7-bundle-phone-zh")
    assert asked == [], f"the bundle asked the network for {asked}"

    # The desktop asker, in English, sees the archived session's outcomes and their own decline.
    await other.bring_to_front()
    await expect(other.locator("#closed-title")).to_have_text("This session is closed and archived")
    await expect(other.locator(".outcome-rate")).to_have_text("Reply rate 66.7% (2 replied of 3 due)")
    await expect(other.locator("#mine-list li", has_text=PRIVATE)).to_contain_text("personal case")
    await expect(other.locator("#mine-list li", has_text=MARKET).locator(".chip")).to_have_text(
        "Carried over to the next episode"  # a status, capitalised as the others are
    )
    await shot(other, "walk-7-outcomes-desktop-en")

    for page in (viewer, other, mod, presenter, board, nxt_page, transcript, bundle):
        assert "null" not in await page.inner_text("body"), page.url
    for page in (board, nxt_page, transcript, bundle):  # what anyone may read
        said = await page.content()
        assert not [x for x in (PRIVATE, WANG, ZHAO, "13800138000") if x in said], page.url
    for w in (vw, ow, mw, pw, bw, nw, tw, bundle_watch):
        await w.check()
    for ctx in (phone, desk, mod.context, presenter.context, bundle.context):
        await ctx.close()
