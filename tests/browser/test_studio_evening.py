"""Issue 21's "done when": one evening in the studio, in Chromium, against a real server.

A real ffmpeg-made HLS stream (``tests/browser/test_stream.py``'s ``media``) plays above the Q&A
on a citizen's phone while the host's remark and a studio photo arrive live, and a question
phoned in to 12345 is entered by staff with its channel; the official answers it. Afterwards the
recording is set, the replay plays it in step with the questions (a question seeks it to its
moment), the transcript reads as a published 访谈实录 ([主持人] and [嘉宾] lines, the photo, the
channel), and the next episode's ``.ics`` imports into a real iCalendar parser.

Setup only goes around the pages (the session with its stream is created over the admin API, the
staff act over the protocol as their pages do); everything checked is what a person sees.
"""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta

import httpx
import icalendar
import pytest
from playwright.async_api import Browser, expect
from playwright.async_api import Error as PlaywrightError

from ..conftest import TIMEOUT, LiveServer
from ..test_studio import upload
from .conftest import DESKTOP, PHONE, context, open_page, shot
from .test_stream import NO_NATIVE_HLS, at, checked, media, playing
from .test_studio_pages import studio_photo

pytestmark = pytest.mark.asyncio(loop_scope="module")
__all__ = ["checked", "media"]  # the fixtures this module shares with test_stream.py

CALLER = "市民来电：公交12路能不能延长到新城小区？"
ANSWER = "公交12路下月起延长到新城小区，首末班时间不变。"


async def test_an_evening_in_the_studio(site: LiveServer, checked: Browser, media: str) -> None:
    s = site.create_session(
        title="区长在线 第45期：交通出行",
        stream={"url": f"{media}/ep.m3u8", "kind": "video"},
    )
    sid = s["id"]
    nxt = site.create_session(start=timedelta(days=7), episode=46, title="区长在线 第46期")
    phone, pw = await open_page(checked, f"{site.http}/s/{sid}", device=PHONE)
    # The broadcast, above the Q&A, on a phone. A browser may want a tap before sound (its
    # autoplay policy): then the page offers ▶ (state "ready"), and the citizen taps it.
    stream = phone.locator("#stream")
    await expect(stream).to_have_attribute("data-state", re.compile("^(ready|playing)$"))
    if await stream.get_attribute("data-state") == "ready":
        with contextlib.suppress(PlaywrightError):  # unless it began by itself meanwhile
            await phone.locator("#stream-play").tap(timeout=2000)
    await playing(phone, "#stream video", 0.3)
    await expect(stream).to_have_attribute("data-state", "playing")

    async with (
        site.client(sid, token=s["host_token"]) as host,
        site.client(sid, token=s["moderator_token"]) as mod,
        site.client(sid, token=s["presenter_token"]) as official,
    ):
        await host.request("remark", text="各位网友晚上好，欢迎收看本期区长在线。")
        posts = phone.locator("#answered-list li.post")
        await expect(posts.first).to_contain_text("[主持人]")
        await expect(posts.first).to_contain_text("各位网友晚上好")

        sent = upload(site, sid, s["moderator_token"], studio_photo(), caption="访谈现场")
        assert sent.status_code in (200, 201), sent.text
        photo = phone.locator('#answered-list li.post[data-kind="photo"]')
        await expect(photo).to_contain_text("访谈现场")
        await photo.scroll_into_view_if_needed()
        await expect(photo.locator("img")).to_have_js_property("naturalWidth", 640)

        call = await mod.request(
            "ask", client_id="call-1", channel="12345", text=CALLER, name="李先生", contact="13900001111"
        )
        assert call["receipt"].startswith(f"{sid}-"), "a receipt number to read back to the caller"
        qid = call["question_id"]
        await mod.request("approve", question_id=qid)
        asked = phone.locator(f"#q-{qid}")
        await expect(asked).to_contain_text(CALLER)
        await expect(asked.locator(".chip.channel")).to_have_text("12345")
        await host.request("announce", question_id=qid)
        await official.request("answering", question_id=qid)
        await official.request("answer", question_id=qid, text=ANSWER)
        await expect(phone.locator(f"#q-{qid}")).to_contain_text(ANSWER)
        await shot(phone, "studio-evening-phone-zh")
        await mod.request("close")
    await pw.check()
    await phone.context.close()

    log = httpx.get(f"{site.http}/api/sessions/{sid}/events", timeout=TIMEOUT).json()["events"]
    answered = next(e for e in log if e["type"] == "question.answered")
    starts = answered["at"] - 5000  # the recording began five seconds before the answer
    with site.admin() as http:
        rec = {"url": f"{media}/ep.m3u8", "starts_at": starts}
        assert http.patch(f"/api/sessions/{sid}", json={"recording": rec}).status_code == 200

    ctx = await context(checked, DESKTOP)
    await ctx.add_init_script(NO_NATIVE_HLS)  # hls.js, as a browser without native HLS
    replay, rw = await open_page(ctx, f"{site.http}/s/{sid}/replay", live=False)
    video = "#recording video"
    await replay.locator(video).evaluate(
        "(m) => new Promise((ok) => m.readyState >= 1 ? ok() : m.addEventListener('loadedmetadata', ok))"
    )
    await replay.locator("a.chapter", has_text="公交12路").click()
    await at(replay, video, 5)  # the question's answer, five seconds into the recording
    await expect(replay.locator("#answered-list")).to_contain_text(ANSWER)
    await rw.check()

    record, tw = await open_page(ctx, f"{site.http}/s/{sid}/transcript", live=False)
    lines = record.locator("#entries li.line")
    roles = [await li.get_attribute("data-role") for li in await lines.all()]
    assert roles[:2] == ["host", "photo"] and "guest" in roles, roles
    await expect(lines.first).to_contain_text("[主持人]")
    guest = lines.nth(roles.index("guest"))
    await expect(guest).to_contain_text("[嘉宾]")
    await expect(guest).to_contain_text(ANSWER)
    await expect(record.locator("#entries img")).to_have_count(1)
    await expect(record.locator("#entries")).to_contain_text("12345")
    await shot(record, "studio-evening-transcript-desktop-zh")
    await tw.check()
    await ctx.close()

    ics = httpx.get(f"{site.http}/s/{nxt['id']}/calendar.ics", timeout=TIMEOUT)
    [event] = icalendar.Calendar.from_ical(ics.content).walk("VEVENT")
    assert "区长在线 第46期" in str(event["summary"])
    assert event.decoded("dtstart").utcoffset() == timedelta(hours=8)
