"""A phone whose network drops, and a server that restarts, in real Chromium.

The viewer page must notice, say so, reconnect by itself with the last seq and
epoch it saw, and show what it missed, without a reload. A question submitted
while the server is down is sent once it is back, and acknowledged once.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import pytest
from playwright.async_api import Browser, expect

from ..conftest import LiveServer
from .conftest import PHONE, context, open_page, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")

DOWN = re.compile("reconnecting|offline")


async def test_viewer_catches_up_after_network_drop_and_server_restart(
    site: LiveServer, browser: Browser
) -> None:
    s = site.create_session(moderation="post")
    sid = s["id"]
    phone = await context(browser, PHONE)
    viewer, watch = await open_page(phone, f"{site.http}/s/{sid}")
    watch.allow += ("WebSocket connection to",)
    welcomes: list[dict] = []

    def on_frame(payload: str | bytes) -> None:
        frame = json.loads(payload)
        for f in frame if isinstance(frame, list) else [frame]:
            if f.get("type") == "welcome":
                welcomes.append(f)

    viewer.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    await viewer.evaluate("window.__sameDocument = true")
    conn = viewer.locator("#conn")
    answered = viewer.locator("#answered-list")

    async with site.client(sid) as citizen:
        first = await citizen.request("ask", client_id=str(uuid.uuid4()), text="第一个问题", name="甲")
        second = await citizen.request("ask", client_id=str(uuid.uuid4()), text="第二个问题", name="乙")
    async with site.client(sid, token=s["presenter_token"]) as official:
        await official.request("answer", question_id=first["question_id"], text="第一个回答")
        await expect(answered).to_contain_text("第一个回答")

        await phone.set_offline(True)
        await expect(conn).to_have_attribute("data-state", DOWN)
        await official.request("answer", question_id=second["question_id"], text="断网期间的回答")
        assert "断网期间的回答" not in (await answered.text_content() or "")
        await phone.set_offline(False)
        await expect(conn).to_have_attribute("data-state", "live")
        await expect(answered).to_contain_text("断网期间的回答")
    assert welcomes and welcomes[-1]["mode"] == "resume", welcomes

    await asyncio.to_thread(site.stop)
    await expect(conn).to_have_attribute("data-state", "reconnecting")
    await expect(conn).to_contain_text("重新连接中")
    await shot(viewer, "viewer-phone-reconnecting", full_page=False)
    await viewer.get_by_label("您的问题").fill("服务器重启时提交的问题")
    await viewer.get_by_role("button", name="提交问题").click()
    await expect(viewer.locator("#mine-list")).to_contain_text("正在提交")
    await asyncio.to_thread(site.start)
    await expect(conn).to_have_attribute("data-state", "live")
    await expect(viewer.locator("#ask-done")).to_be_visible()
    await expect(viewer.locator("#receipt")).to_have_text(re.compile(rf"^{sid}-\d+-[A-Z0-9]{{6}}$"))
    await expect(viewer.locator("#mine-list")).to_contain_text("服务器重启时提交的问题")

    async with site.client(sid, token=s["presenter_token"]) as official:
        mine = viewer.locator("#mine-list li", has_text="服务器重启时提交的问题")
        await expect(mine).to_contain_text("已公开")
        state = official.snapshot or {}
        asked = [q for q in state.get("questions", []) if q.get("text") == "服务器重启时提交的问题"]
        assert len(asked) == 1, "the question sent while the server was down was stored once"
        await official.request("answer", question_id=asked[0]["id"], text="重启之后的回答")
        await expect(answered).to_contain_text("重启之后的回答")
    assert welcomes[-1]["mode"] == "resume", welcomes[-1]
    assert await viewer.evaluate("window.__sameDocument") is True, "the viewer page was reloaded"
    await watch.check()
    await phone.close()
