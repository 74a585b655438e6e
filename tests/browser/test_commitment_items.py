"""A commitment (承诺事项) in Chromium, defined once (docs/pages.md): the server renders it with the
``commitment`` macro (the board, the receipt lookup), and the pages that follow the live stream
(我的问题 on the viewer page, the moderator page) fill the templates the same macro renders given
none (``commitmentView`` in static/js/commitment.js). For the same commitment, the receipt
lookup's markup and the script's are the same, in both languages: one late, postponed and in
progress again (the overdue chip, two steps, a new due day), one done with its result.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.async_api import Browser, Page

from ..conftest import TZ, LiveServer
from .conftest import CSP_PROBE, DESKTOP, WAIT_MS, XSS, open_page
from .test_viewer_items import MARKUP

pytestmark = pytest.mark.asyncio(loop_scope="module")

DRAWN = """async (receipt) => {
  const r = await (await fetch(`/api/receipts/${receipt}`)).json();
  const { commitmentView } = await import('/static/js/commitment.js');
  return commitmentView(r.commitment, r.session_timezone, r.overdue);
}"""
"""The commitment on a receipt, as the page's script draws it from the receipt's JSON."""


async def served(browser: Browser, url: str, lang: str) -> str:
    """The receipt lookup's commitment as the server rendered it: Chromium with scripts off."""
    ctx = await browser.new_context(
        **DESKTOP, java_script_enabled=False, extra_http_headers={"accept-language": lang}
    )
    page = await ctx.new_page()
    await page.goto(url)
    out = str(await page.locator("#lookup-result .commitment").evaluate(MARKUP))
    await ctx.close()
    return out


async def drawn(page: Page, receipt: str) -> str:
    return str(await (await page.evaluate_handle(DRAWN, receipt)).evaluate(MARKUP))


async def test_a_commitment_is_the_same_from_the_server_and_the_script(
    site: LiveServer, browser: Browser
) -> None:
    s = site.create_session(title="区长在线 第50期：道路")
    sid, today = s["id"], datetime.now(TZ).date()
    day = lambda n: (today + timedelta(days=n)).isoformat()  # noqa: E731
    receipts = {}
    async with site.client(sid) as asker, site.client(sid, token=s["moderator_token"]) as mod:
        for key, text in (("late", "公交站牌太旧了"), ("done", "幸福路路面破损")):
            q = await asker.request("ask", client_id=key, text=text, name="赵")
            qid = q["question_id"]
            receipts[key] = q["receipt"]
            await mod.request("approve", question_id=qid)
            await mod.request("forward", question_id=qid, department="区交通局")
            due = day(-5) if key == "late" else day(30)
            promise = f"更换全部站牌{XSS}" if key == "late" else "两个月内修复幸福路路面"
            await mod.request("commitment", question_id=qid, department="区交通局", promise=promise, due=due)
            if key == "late":
                await mod.request(
                    "progress", question_id=qid, status="postponed", note=f"材料未到{XSS}", due=day(-2)
                )
                await mod.request("progress", question_id=qid, status="in_progress", note="正在安装")
            else:
                await mod.request("progress", question_id=qid, status="done", note=f"已修复{XSS}")
    for lang in ("zh-CN", "en"):
        server = {k: await served(browser, f"{site.http}/?receipt={r}", lang) for k, r in receipts.items()}
        assert 'data-overdue="yes"' in server["late"] and "c-overdue" in server["late"], server["late"]
        assert server["late"].count("<li>") == 2 and "c-result" not in server["late"]
        assert "c-result" in server["done"] and "c-overdue" not in server["done"]
        assert f"{XSS}<" in server["late"]  # text: an element would have its attributes quoted
        ctx = await browser.new_context(**DESKTOP, locale=lang, timezone_id="Europe/London")
        ctx.set_default_timeout(WAIT_MS)
        await ctx.add_init_script(CSP_PROBE)
        await ctx.add_cookies([{"name": "live_lang", "value": lang[:2], "url": site.http}])  # staff pages'
        for url in (f"{site.http}/s/{sid}", f"{site.http}/s/{sid}/moderator#key={s['moderator_token']}"):
            page, watch = await open_page(ctx, url)
            for key, receipt in receipts.items():
                script = await drawn(page, receipt)
                assert script == server[key], f"{lang} {url} {key}:\nscript {script}\nserver {server[key]}"
            if "moderator" in url:  # and as the moderator's list draws it (no verdict of its own)
                done = page.locator('.mq .commitment[data-status="done"]')
                assert await done.evaluate(MARKUP) == server["done"]
            await watch.check()
        await ctx.close()
