"""Real Chromium for the browser tests.

One browser and one real server (``LiveServer``: ``python -m live serve`` on a
free port) per test module, so the suite stays fast. Every page must arrive with
the strict Content-Security-Policy the server sends (checked on each load), so an
inline script, inline style or handler attribute would be refused; a page's
console errors, uncaught exceptions, CSP violations and dialogs are collected by
:class:`Watch` and checked by the tests.

Chromium is Debian's ``/usr/bin/chromium``; if it is missing the tests fail
(they never skip), and ``playwright install`` is never used.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Response,
    async_playwright,
)

from ..conftest import TIMEOUT, LiveServer

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SHOTS = ARTIFACTS / "screenshots"
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1366, "height": 900}}
WAIT_MS = TIMEOUT * 1000
XSS = "<img src=x onerror=alert(1)>"

CSP_PROBE = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    """One real server for the whole module (each test makes its own session)."""
    db = str(tmp_path_factory.mktemp("browser") / "live.db")
    srv = await asyncio.to_thread(LiveServer(db).start)
    try:
        yield srv
    finally:
        if srv.proc is not None:
            srv.kill()


@dataclass
class Watch:
    """What went wrong on one page that no assertion on its content would show."""

    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    allow: tuple[str, ...] = ("Failed to load resource",)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("dialog", self._dialog)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning") and not msg.text.startswith(self.allow):
            self.errors.append(f"{msg.type}: {msg.text}")

    async def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()

    async def check(self) -> None:
        """No console error, uncaught exception, CSP violation or dialog happened."""
        violations = await self.page.evaluate("window.__csp || []")
        assert violations == [], f"CSP violations on {self.page.url}: {violations}"
        assert self.errors == [], f"errors on {self.page.url}: {self.errors}"
        assert self.dialogs == [], f"dialogs on {self.page.url}: {self.dialogs}"


PAGE_FILES = ("document", "stylesheet", "script")
"""The resource types a page's weight counts the bytes of: its HTML, CSS and JavaScript."""


@dataclass
class Weight:
    """What a page downloads, by path under ``origin``, as its responses come in.

    ``body``: the bytes of each of its :data:`PAGE_FILES`, as the page reads them (decoded).
    ``wire``: what each response took on the wire (its body as sent, compressed, and its headers),
    the browser's own count; of the same files, or of every response with ``every``.
    """

    page: Page
    origin: str
    every: bool = False
    body: dict[str, int] = field(default_factory=dict)
    wire: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.page.on("response", self._record)

    async def _record(self, response: Response) -> None:
        counted = response.request.resource_type in PAGE_FILES
        if not (counted or self.every):
            return
        url = response.url.replace(self.origin, "")
        sizes = await response.request.sizes()
        self.wire[url] = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        if counted:
            self.body[url] = len(await response.body())


async def context(browser: Browser, device: dict[str, Any]) -> BrowserContext:
    """A fresh browser profile (its own cookies and storage) under the strict CSP.

    The browser's own timezone is London on purpose: pages must show times in the
    session's timezone (Asia/Shanghai), whatever the device is set to.
    """
    ctx = await browser.new_context(**device, locale="zh-CN", timezone_id="Europe/London")
    ctx.set_default_timeout(WAIT_MS)
    await ctx.add_init_script(CSP_PROBE)
    return ctx


async def open_page(
    where: Browser | BrowserContext, url: str, *, device: dict[str, Any] | None = None, live: bool = True
) -> tuple[Page, Watch]:
    """Open url (in a new context of its own when given the browser: a window that stays
    visible, as each person's screen would be) and wait until its connection is live."""
    ctx = await context(where, device or DESKTOP) if isinstance(where, Browser) else where
    page = await ctx.new_page()
    watch = Watch(page)
    response = await page.goto(url)
    assert response is not None
    policy = response.headers.get("content-security-policy", "")
    assert all(part in policy for part in CSP.split("; ")), f"{url} lacks the strict CSP: {policy!r}"
    if live:
        await page.wait_for_selector('#conn[data-state="live"]', state="attached")
    return page, watch


async def shot(page: Page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.bring_to_front()
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(
        path=str(SHOTS / f"{name}.png"), full_page=full_page, animations="disabled", caret="hide"
    )
