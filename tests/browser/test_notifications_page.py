"""Messages to askers, seen in real Chromium: the asker leaves a contact on the phone, staff see
on /s/{id}/notifications what was sent, to whom (masked), and what failed, in both languages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from ..conftest import TIMEOUT, LiveServer, free_port, until
from ..receivers import Gateway, MailSink
from .conftest import PHONE, context, open_page, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = "browser-gateway-secret"
LAPTOP: dict[str, Any] = {"viewport": {"width": 1440, "height": 900}}


@pytest.fixture(scope="module")
def notifying(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, MailSink, Gateway]]:
    """A server that sends: e-mail to a real SMTP server, SMS to a gateway that refuses the
    first request for good (400) and asks for the second to be sent later (503)."""
    sink, gateway = MailSink().start(), Gateway(SECRET, script=[400, 503]).start()
    port = free_port()
    env = {
        "LIVE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LIVE_SMTP_URL": sink.url,
        "LIVE_SMTP_FROM": "区长在线 <noreply@qzzx.example.gov.cn>",
        "LIVE_WEBHOOK_URL": gateway.url,
        "LIVE_WEBHOOK_SECRET": SECRET,
        "LIVE_NOTIFY_DELAY": "0",
        "LIVE_NOTIFY_BACKOFF": "900",
    }
    db = str(tmp_path_factory.mktemp("notify") / "live.db")
    srv = LiveServer(db, port=port, env=env).start()
    try:
        yield srv, sink, gateway
    finally:
        srv.kill()
        sink.stop()
        gateway.stop()


def rows(srv: LiveServer, sid: int) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{srv.http}/api/sessions/{sid}/notifications",
        headers={"Authorization": "Bearer test-admin-token"},
        timeout=TIMEOUT,
    )
    return list(r.json()["notifications"])


async def test_the_asker_leaves_a_contact_and_staff_see_what_was_sent(
    notifying: tuple[LiveServer, MailSink, Gateway], browser: Browser
) -> None:
    srv, sink, gateway = notifying
    s = srv.create_session(moderation="post")
    sid = s["id"]
    phone = await context(browser, PHONE)
    viewer, vw = await open_page(phone, f"{srv.http}/s/{sid}")
    await expect(viewer.locator("#contact-hint")).to_contain_text("可能以短信或邮件通知您")
    await viewer.get_by_label("您的问题").fill("小区门口的路灯什么时候修？")
    await viewer.get_by_label("联系方式").fill("wang.fang@example.cn")
    await viewer.get_by_role("button", name="提交问题").click()
    await expect(viewer.locator("#ask-done")).to_be_visible()
    assert "wang.fang@example.cn" not in await viewer.content()

    async with (
        srv.client(sid) as other,
        srv.client(sid, token=s["moderator_token"]) as mod,
        srv.client(sid, token=s["presenter_token"]) as guest,
    ):

        async def ask(text: str, contact: str) -> int:
            ack = await other.request("ask", client_id=str(uuid.uuid4()), text=text, contact=contact)
            return int(ack["question_id"])

        leak, bus = await ask("楼上漏水怎么办", "13800138000"), await ask("公交站牌太旧", "13900139000")
        await guest.request("answer", question_id=1, text="本周五前修好。")
        for q in (leak, bus):
            await mod.request("forward", question_id=q, department="区住建局", note="十日内答复")
    await until(lambda: sink.mails and len(gateway.calls) == 2, "one e-mail and two gateway calls")
    await until(
        lambda: sorted(r["status"] for r in rows(srv, sid)) == ["failed", "pending", "sent"],
        "sent, failed, waiting for its retry",
    )
    await expect(viewer.locator("#mine-list li").first).to_contain_text("已回答")
    await vw.check()

    staff = f"{srv.http}/s/{sid}/notifications#key={s['moderator_token']}"
    for device, size in ((PHONE, "phone"), (LAPTOP, "desktop")):
        page, watch = await open_page(browser, staff, device=device, live=False)
        await expect(page.locator("#c-sent")).to_have_text("1")
        await expect(page.locator("#c-pending")).to_have_text("1")
        await expect(page.locator("#c-failed")).to_have_text("1")
        await expect(page.locator("#channels")).to_have_text("已开通：邮件、短信")
        items = page.locator("#list li")
        await expect(items).to_have_count(3)
        mail = items.filter(has_text="w***@example.cn")
        await expect(mail).to_contain_text("#1 已回答 · 邮件")
        await expect(mail.locator(".badge")).to_have_text("已送达")
        await expect(mail).to_contain_text("（北京时间）")
        await expect(items.filter(has_text="发送失败").locator(".meta")).to_contain_text("webhook: HTTP 400")
        await expect(items.filter(has_text="将于")).to_contain_text("webhook: HTTP 503")
        text = await page.content()
        for contact in ("wang.fang@example.cn", "13800138000", "13900139000"):
            assert contact not in text, contact
        await shot(page, f"notifications-zh-{size}")
        await page.get_by_role("button", name="English").click()
        await expect(page.locator("#channels")).to_have_text("Sending by: e-mail, SMS")
        await expect(mail.locator(".badge")).to_have_text("Delivered")
        await expect(mail).to_contain_text("(Beijing time)")
        await shot(page, f"notifications-en-{size}")
        await watch.check()
        await page.context.close()

    moderator, mw = await open_page(
        browser, f"{srv.http}/s/{sid}/moderator#key={s['moderator_token']}", device=PHONE
    )
    link = moderator.locator("#notifications-link")
    await expect(link).to_have_text("结果通知")
    await shot(moderator, "moderator-messages-link-phone", full_page=False)
    await link.click()
    await expect(moderator.locator("#c-sent")).to_have_text("1")
    await mw.check()
    await moderator.context.close()

    for url, said in (
        (f"{srv.http}/s/{sid}/notifications", "链接中缺少密钥"),
        (f"{srv.http}/s/{sid}/notifications#key=wrong", "链接无效或已更换"),
    ):
        page, watch = await open_page(browser, url, live=False)
        await expect(page.locator("#fatal")).to_contain_text(said)
        await expect(page.locator("#list li")).to_have_count(0)
        await watch.check()
        await page.context.close()
    await phone.close()
