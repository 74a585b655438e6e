"""适老化 and accessibility in real Chromium: the text-size switch, line spacing, signs beside
colours, touch targets, reading answers aloud, the keyboard, and axe-core on every page.

axe-core comes from the test dependency ``axe-playwright-python``, which ships ``axe.min.js``:
nothing is downloaded while the tests run. One server, one browser, the pages visited in one
loop per language and text size.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from axe_playwright_python.base import AXE_FILE_PATH
from playwright.async_api import Browser, BrowserContext, Page, expect

from ..conftest import ADMIN, TZ, LiveServer
from .conftest import ARTIFACTS, DESKTOP, PHONE, Watch, context, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")

AXE = AXE_FILE_PATH.read_text(encoding="utf-8")
SIZES = ("standard", "large", "xlarge")
ROOT_PX = {"standard": 16, "large": 20, "xlarge": 24}
ANSWER = "明年加装两部电梯，施工期间出口照常通行。"
PENDING = "小区的路灯晚上不亮，能修一下吗？"

SPEECH_PROBE = """
window.__spoken = [];
window.__cancelled = 0;
if (window.speechSynthesis) {
  // Headless Chromium has no audio (its speak() fails at once): record what speak() was given and
  // hold the utterance as a voice would while it reads; cancel() ends it as a real one does.
  let held = null;
  speechSynthesis.speak = (u) => { window.__spoken.push({ text: u.text, lang: u.lang }); held = u; };
  speechSynthesis.cancel = () => {
    window.__cancelled += 1;
    const stop = { utterance: held, error: 'interrupted' };
    if (held) held.dispatchEvent(new SpeechSynthesisErrorEvent('error', stop));
    held = null;
  };
}
"""

# What a person can operate: measured for size, walked with Tab.
CONTROLS = (
    "a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], "
    "[tabindex]:not([tabindex='-1'])"
)

MEASURE = """(sel) => {
  const seen = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && el.checkVisibility({ visibilityProperty: true })
      && !el.closest('[hidden], .sr-only');
  };
  // A link inside a sentence (a paragraph with words of its own) is text, not a tap target.
  const inline = (el) => el.tagName === 'A' && getComputedStyle(el).display === 'inline'
    && [...el.parentElement.childNodes].some((n) => n !== el && n.textContent.trim());
  const small = [];
  for (const el of document.querySelectorAll(sel)) {
    if (!seen(el) || inline(el)) continue;
    // A box or radio inside its label is tapped through the label.
    const target = (el.type === 'checkbox' || el.type === 'radio') && el.closest('label') || el;
    const r = target.getBoundingClientRect();
    if (r.width < 44 - 0.01 || r.height < 44 - 0.01) {
      small.push(`${target.outerHTML.slice(0, 90)} ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  }
  const tight = [];
  for (const el of document.querySelectorAll('body *')) {
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()) || !seen(el)) continue;
    const s = getComputedStyle(el);
    const ratio = s.lineHeight === 'normal' ? 0 : parseFloat(s.lineHeight) / parseFloat(s.fontSize);
    if (ratio < 1.3 - 0.001) tight.push(`${el.tagName}.${el.className} ${s.lineHeight}/${s.fontSize}`);
  }
  // On a phone a page wider than the screen widens the layout viewport (innerWidth) to fit it.
  const wide = Math.max(document.documentElement.scrollWidth, innerWidth);
  return { small, tight, overflow: wide - screen.width };
}"""

FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  // The colour the ring is drawn on: the first ancestor (outside the element) with a solid background.
  let bg = [255, 255, 255];
  for (let p = el.parentElement; p; p = p.parentElement) {
    const c = rgb(getComputedStyle(p).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) { bg = c.slice(0, 3); break; }
  }
  const ring = rgb(s.outlineColor).slice(0, 3);
  const [a, b] = [lum(ring), lum(bg)].sort((x, y) => y - x);
  if (!el.dataset.walk) el.dataset.walk = String(Math.random());
  return {
    id: el.dataset.walk, what: `${el.tagName} ${(el.textContent || el.value || '').trim().slice(0, 30)}`,
    outline: s.outlineStyle === 'none' ? 0 : parseFloat(s.outlineWidth), contrast: (a + 0.05) / (b + 0.05),
    order: [...document.querySelectorAll('*')].indexOf(el),
  };
}"""

MISSED = """(sel) => [...document.querySelectorAll(sel)].filter((el) => {
  const r = el.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && !el.disabled && !el.dataset.walk && el.tabIndex >= 0
    && !el.closest('[hidden], [inert]') && el.checkVisibility({ visibilityProperty: true });
}).map((el) => el.outerHTML.slice(0, 80))"""
REACHABLE = """(sel) => new Set([...document.querySelectorAll(sel)].filter((el) => {
  const r = el.getBoundingClientRect();
  // checkVisibility: not inside a closed <details>, whose content keeps its boxes
  return r.width > 0 && r.height > 0 && !el.disabled && el.checkVisibility({ visibilityProperty: true })
    && !el.closest('[hidden], [inert]') && el.tabIndex >= 0;
}).map((el) => (el.type === 'radio' ? `radio ${el.name}` : el))).size"""


async def walk(page: Page) -> list[str]:
    """Tab from the top of the page to its end: every control is reached once, in document
    order (which is the order they are seen in), each with a ring of 2px or more at 3:1 against
    what is behind it, and at the end the walk leaves the page or comes round to its first
    control (no trap, no loop)."""
    await page.evaluate("document.activeElement?.blur(); window.scrollTo(0, 0)")
    want = await page.evaluate(REACHABLE, CONTROLS)
    seen: list[dict[str, Any]] = []
    problems = []
    for _ in range(3 * want + 10):  # a date or time input takes a Tab for each of its fields
        await page.keyboard.press("Tab")
        f = await page.evaluate(FOCUS)
        if (f is None and (seen or not want)) or (seen and f is not None and f["id"] == seen[0]["id"]):
            break  # left the page, or came round to its first control again: a whole cycle
        if f is None or (seen and f["id"] == seen[-1]["id"]):
            continue  # not in the page yet, or the next field of one date or time input
        if any(x["id"] == f["id"] for x in seen):
            problems.append(
                f"focus came back to {f['what']} after {[x['what'] for x in seen]}: a trap or a loop"
            )
            break
        if seen and f["order"] < seen[-1]["order"]:
            problems.append(f"{f['what']} comes after {seen[-1]['what']} by Tab but before it in the page")
        if f["outline"] < 2 or f["contrast"] < 3:
            problems.append(f"{f['what']}: focus ring {f['outline']}px at {f['contrast']:.1f}:1")
        seen.append(f)
    else:
        problems.append(f"Tab never left the page after {len(seen)} stops")
    if len(seen) < want:
        missed = await page.evaluate(MISSED, CONTROLS)
        problems.append(
            f"Tab reached {len(seen)} of {want} controls: {[x['what'] for x in seen]}, not {missed}"
        )
    return problems


@dataclass
class World:
    """Every page, with what it shows once it is ready."""

    pages: dict[str, tuple[str, str]]
    citizen: tuple[str, ...]
    live: dict[str, Any]
    ended: dict[str, Any]
    answered: int
    """The ended session's answered question."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(site: LiveServer) -> World:
    """A live session with answers and open questions, and one whose window is over (replay,
    transcript, outcomes, closing), with a commitment overdue on the programme's board."""
    ended = site.create_session()
    live = site.create_session()
    today = datetime.now(TZ).date()
    async with (
        site.client(ended["id"]) as asker,
        site.client(ended["id"], token=ended["moderator_token"]) as mod,
        site.client(ended["id"], token=ended["presenter_token"]) as official,
    ):
        asked = {}
        for key, text in (
            ("lift", "地铁站出口能加装电梯吗？"),
            ("bus", "公交车晚上班次太少"),
            ("park", "公园厕所不够用"),
        ):
            asked[key] = (await asker.request("ask", client_id=key, text=text, name="市民"))["question_id"]
            await mod.request("approve", question_id=asked[key])
        await official.request("answer", question_id=asked["lift"], text=ANSWER)
        await mod.request("forward", question_id=asked["bus"], department="区交通局", note="已转交")
        await mod.request(
            "commitment",
            question_id=asked["bus"],
            department="区交通局",
            promise="增开夜班公交",
            due=(today - timedelta(days=3)).isoformat(),
        )
        await asker.request("ask", client_id="late", text="路灯坏了没人修")
        await mod.request("close")
    async with (
        site.client(live["id"]) as asker,
        site.client(live["id"], token=live["moderator_token"]) as mod,
        site.client(live["id"], token=live["presenter_token"]) as official,
    ):
        ids = []
        for text in ("小区门口的路什么时候修好？", "垃圾分类点什么时候增加？", "夜市会恢复吗？", PENDING):
            ids.append(
                (await asker.request("ask", client_id=str(uuid.uuid4()), text=text, name="市民"))[
                    "question_id"
                ]
            )
        for qid in ids[:3]:
            await mod.request("approve", question_id=qid)
        await official.request("answer", question_id=ids[0], text=ANSWER)
    async with site.client(live["id"]) as neighbour:
        await neighbour.request("vote", question_id=ids[1])
    h, e, lv = site.http, ended["id"], live["id"]
    staff = f"#key={live['moderator_token']}"
    pages = {
        "index": (f"{h}/", ".live-card"),
        "viewer": (f"{h}/s/{lv}", "#open-list li >> nth=1"),
        "outcomes": (f"{h}/s/{e}", "#outcomes .outcome-group"),
        "replay": (f"{h}/s/{e}/replay", '#player[data-state="paused"]'),
        "transcript": (f"{h}/s/{e}/transcript", "#entries li"),
        "search": (f"{h}/search?q=电梯", "#results li"),
        "commitments": (f"{h}/p/qzzx/commitments", "#board-list li"),
        "screen": (f"{h}/s/{lv}/screen", "#join-link:not(:empty)"),
        "moderator": (f"{h}/s/{lv}/moderator{staff}", "#pending > li"),
        "presenter": (f"{h}/s/{lv}/presenter#key={live['presenter_token']}", "#queue li"),
        "closing": (f"{h}/s/{e}/closing#key={ended['moderator_token']}", '#conn[data-state="live"]'),
        "admin": (f"{h}/admin#key={ADMIN}", "li.admin-session"),
        "notifications": (f"{h}/s/{lv}/notifications{staff}", "#updated:not(:empty)"),
        "host": (f"{h}/s/{lv}/host#key={live['host_token']}", "#queue li"),
    }
    citizen = ("index", "viewer", "outcomes", "replay", "transcript", "search", "commitments")
    return World(pages, citizen, live, ended, asked["lift"])


async def reader(browser: Browser, site: LiveServer, device: dict[str, Any], **size: str) -> BrowserContext:
    """A browser profile that records what it is asked to say aloud (headless Chromium has no
    audio) and, given size=..., whose reader chose that text size on an earlier visit."""
    ctx = await context(browser, device)
    if size:
        await ctx.add_cookies([{"name": "live_size", "value": size["size"], "url": site.http}])
    await ctx.add_init_script(SPEECH_PROBE)
    return ctx


async def visit(page: Page, url: str, ready: str) -> None:
    await page.goto(url)
    await page.locator(ready).first.wait_for(state="attached")


CHOOSE = """(size) => {
  // What a press on the switch's option does (the switch itself is tested on its own, by keyboard).
  document.querySelector(`#size-panel [data-size="${size}"]`).click();
  window.scrollTo(0, 0); // axe judges what covers what where the page is scrolled: always at the top
  return parseFloat(getComputedStyle(document.documentElement).fontSize);
}"""


async def choose(page: Page, size: str) -> None:
    """Pick a text size with the page's own switch (once its script has drawn it)."""
    await page.locator(f'#size-panel [data-size="{size}"]').wait_for(state="attached")
    root = await page.evaluate(CHOOSE, size)
    assert root == ROOT_PX[size], (page.url, size, root)


async def switch_language(page: Page) -> str:
    """Switch to the other language with the page's own switch; the screen has none (it
    follows the language chosen on this device, in the live_lang cookie), so it is reloaded
    in the other one."""
    now = await page.locator("html").get_attribute("lang")
    other = "en" if now == "zh-CN" else "zh-CN"
    if await page.locator("#lang").count():
        await page.locator("#lang").click()
    else:
        await page.evaluate("(l) => { document.cookie = `live_lang=${l}; path=/`; }", other[:2])
        await page.reload()
    await expect(page.locator("html")).to_have_attribute("lang", other)
    return other


SHOTS = ("index", "viewer", "replay", "transcript", "outcomes")
"""Pages photographed at phone size with extra large text, in both languages."""
LAYOUT = [
    "color-contrast",
    "target-size",
    "scrollable-region-focusable",
    "link-in-text-block",
    "avoid-inline-spacing",
]
"""The axe rules whose verdict can change with the text size; the rest read the document, which
a size does not change, and run once per language."""


async def axe(page: Page, rules: list[str] | None = None) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it now is (injected once per page load)."""
    if not await page.evaluate("typeof axe === 'object'"):
        await page.evaluate(AXE)
    # target-size (WCAG 2.2) is off unless asked for.
    options: dict[str, Any] = {"resultTypes": ["violations"], "rules": {"target-size": {"enabled": True}}}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    result = await page.evaluate("(o) => axe.run(document, o)", options)
    return list(result["violations"])


async def test_axe_finds_nothing_serious_on_any_page_in_either_language_at_any_size(
    browser: Browser, world: World
) -> None:
    """Every page in zh-CN and English at standard, large and extra large text (chosen with the
    page's own switches) on a phone: no serious or critical violation (all of axe's rules at
    standard size, its layout rules at the others), no line set tighter than 1.3, nothing wider
    than the screen, and on the citizen pages no control smaller than 44x44. On a desktop every
    page is walked with Tab (see walk)."""
    found: dict[str, list[str]] = {}
    report: dict[str, Any] = {}

    async def check(page: Page, where: str, measure: bool, standard: bool, citizen: bool) -> None:
        violations = await axe(page, None if standard else LAYOUT)
        report[where] = [f"{v['id']} ({v['impact']}): {len(v['nodes'])}" for v in violations]
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        if bad:
            found[where] = [
                f"{v['id']}: {[(n['target'], n['failureSummary']) for n in v['nodes']][:4]}" for v in bad
            ]
        if measure:
            m = await page.evaluate(MEASURE, CONTROLS)
            if m["small"] and standard and citizen:
                found[f"{where}: under 44x44"] = m["small"]
            if m["tight"]:
                found[f"{where}: lines under 1.3"] = m["tight"]
            if m["overflow"] > 0:
                found[f"{where}: wider than the phone"] = [f"{m['overflow']} px"]

    async def sweep(names: list[str]) -> None:
        """On a phone: each page in both languages at every size."""
        ctx = await context(browser, PHONE)
        page = await ctx.new_page()
        watch = Watch(page)
        for name in names:
            url, ready = world.pages[name]
            await visit(page, url, ready)
            for _ in range(2):
                lang = await page.locator("html").get_attribute("lang")
                for size in SIZES if name != "screen" else ("standard",):
                    if name != "screen":
                        await choose(page, size)
                    where = f"{name} {lang} {size}"
                    await check(page, where, name != "screen", size == "standard", name in world.citizen)
                    if name in SHOTS and size == "xlarge":
                        await shot(page, f"a11y-{name}-{lang}-{size}-phone")
                await switch_language(page)
                await page.locator(ready).first.wait_for(state="attached")
        await watch.check()
        await ctx.close()

    async def desktop() -> None:
        """On a desktop: each page walked with Tab; the size switch open, checked by axe."""
        ctx = await context(browser, DESKTOP)
        page = await ctx.new_page()
        watch = Watch(page)
        for name, (url, ready) in world.pages.items():
            await visit(page, url, ready)
            if problems := await walk(page):
                found[f"{name}: keyboard"] = problems
            if name in ("viewer", "admin"):
                await page.locator("#size").click()
                await check(page, f"{name} size switch open", False, True, False)
                await page.keyboard.press("Escape")
        for lang, size in (("zh-CN", "large"), ("en", "xlarge")):  # what a desktop reader sees
            await visit(page, *world.pages["viewer"])
            if await page.locator("html").get_attribute("lang") != lang:
                await switch_language(page)
            await choose(page, size)
            await shot(page, f"a11y-viewer-{lang}-{size}-desktop")
        await watch.check()
        await ctx.close()

    names = list(world.pages)
    await asyncio.gather(sweep(names[::2]), sweep(names[1::2]), desktop())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "axe.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


async def test_text_size_switch_by_keyboard_is_announced_remembered_and_scales_the_page(
    site: LiveServer, browser: Browser, world: World
) -> None:
    ctx = await reader(browser, site, PHONE)
    page = await ctx.new_page()
    watch = Watch(page)
    await visit(page, world.pages["viewer"][0], world.pages["viewer"][1])
    toggle = page.get_by_role("button", name="字号")
    for _ in range(6):
        await page.keyboard.press("Tab")
        if await toggle.evaluate("(el) => el === document.activeElement"):
            break
    await expect(toggle).to_be_focused()
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await page.keyboard.press("Enter")
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    group = page.get_by_role("group", name="文字大小")
    await expect(group.get_by_role("button", name="标准", pressed=True)).to_be_visible()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    await expect(group.get_by_role("button", name="特大")).to_be_focused()
    await page.keyboard.press("Space")
    await expect(group.get_by_role("button", name="特大", pressed=True)).to_be_visible()
    await expect(group.get_by_role("button", name="标准", pressed=False)).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("data-size", "xlarge")
    sizes = (
        "['html', '#ask-submit', '.q-text'].map((s) => getComputedStyle(document.querySelector(s)).fontSize)"
    )
    assert await page.evaluate(sizes) == ["24px", "26.4px", "24px"]
    await page.keyboard.press("Escape")
    await expect(group).to_be_hidden()
    await expect(toggle).to_be_focused()

    response = await page.reload()
    assert response is not None and 'data-size="xlarge"' in await response.text(), "not from the first byte"
    await expect(page.locator("html")).to_have_attribute("data-size", "xlarge")
    await page.goto(world.pages["index"][0])
    await expect(page.locator("html")).to_have_attribute("data-size", "xlarge")
    await page.get_by_role("button", name="Switch to English").click()
    await page.get_by_role("button", name="Text size").click()
    group = page.get_by_role("group", name="Text size")
    await expect(group.get_by_role("button", name="Extra large", pressed=True)).to_be_visible()
    await group.get_by_role("button", name="Standard").click()
    assert await page.evaluate("getComputedStyle(document.documentElement).fontSize") == "16px"
    await watch.check()
    await ctx.close()


async def test_answers_are_read_aloud_in_a_chinese_voice_and_stop_when_pressed_again(
    site: LiveServer, browser: Browser, world: World
) -> None:
    """朗读 calls the browser's speech synthesis with the answer and zh-CN (speak itself runs
    too; only what it was given is recorded), on the viewer page, the replay and the transcript,
    also on the English page; a browser without speech synthesis shows no such button."""
    ctx = await reader(browser, site, DESKTOP)
    page = await ctx.new_page()
    watch = Watch(page)
    spoken = "window.__spoken"
    await visit(page, world.pages["viewer"][0], "#answered-list .answer-text")
    item = page.locator("#answered-list li", has_text=ANSWER)
    await item.get_by_role("button", name="朗读").click()
    assert await page.evaluate(spoken) == [{"text": ANSWER, "lang": "zh-CN"}]
    await item.get_by_role("button", name="停止朗读").click()
    await expect(item.get_by_role("button", name="朗读")).to_be_visible()
    assert await page.evaluate(spoken) == [{"text": ANSWER, "lang": "zh-CN"}], "pressed again, it spoke again"
    assert await page.evaluate("window.__cancelled") >= 2

    await page.get_by_role("button", name="Switch to English").click()
    await item.get_by_role("button", name="Read aloud").click()
    assert (await page.evaluate(spoken))[-1] == {"text": ANSWER, "lang": "zh-CN"}
    await expect(item.get_by_role("button", name="Stop reading")).to_be_visible()

    await visit(
        page, f"{site.http}/s/{world.ended['id']}/replay#q{world.answered}", "#answered-list .answer-text"
    )
    await page.locator("#answered-list").get_by_role("button", name="Read aloud").click()
    assert await page.evaluate(spoken) == [{"text": ANSWER, "lang": "zh-CN"}]
    await visit(page, world.pages["transcript"][0], "#entries .reply")
    await page.locator("#entries").get_by_role("button", name="Read aloud").click()
    assert await page.evaluate(spoken) == [{"text": ANSWER, "lang": "zh-CN"}]
    await watch.check()
    await ctx.close()

    # The browser's own speech synthesis, unwrapped: headless it has no voice, and says so.
    real = await context(browser, DESKTOP)
    page = await real.new_page()
    await visit(page, world.pages["transcript"][0], "#entries .reply")
    await page.locator("#entries").get_by_role("button", name="朗读").click()
    await expect(page.locator("#toast")).to_contain_text("这台设备现在无法朗读")
    await expect(page.locator("#entries").get_by_role("button", name="朗读")).to_be_visible()
    await real.close()

    mute = await context(browser, DESKTOP)
    await mute.add_init_script("delete window.SpeechSynthesisUtterance; delete window.speechSynthesis;")
    page = await mute.new_page()
    await visit(page, world.pages["viewer"][0], "#answered-list .answer-text")
    await expect(page.locator("#answered-list .answer")).to_contain_text(ANSWER)
    assert await page.locator("button.speak").count() == 0
    await mute.close()


async def tab_to(page: Page, target: Any, limit: int = 60) -> None:
    """Press Tab until target has focus (as a keyboard user would), failing after limit presses."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await target.evaluate("(el) => el === document.activeElement"):
            return
    raise AssertionError(f"{target} never got focus by Tab on {page.url}")


async def test_a_citizen_asks_and_votes_by_keyboard_alone(site: LiveServer, browser: Browser) -> None:
    s = site.create_session(moderation="post")
    async with site.client(s["id"]) as other:
        await other.request("ask", client_id="other", text="垃圾分类点什么时候增加？", name="市民")
    ctx = await context(browser, DESKTOP)
    page = await ctx.new_page()
    watch = Watch(page)
    await visit(page, f"{site.http}/s/{s['id']}", "#open-list li")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="跳到提问")).to_be_focused()
    await page.keyboard.press("Enter")
    await tab_to(page, page.get_by_label("您的问题"), 3)
    await page.keyboard.type("公交站能加个遮雨棚吗？")
    await tab_to(page, page.get_by_role("button", name="提交问题"), 4)
    await page.keyboard.press("Enter")
    await expect(page.locator("#ask-done")).to_be_visible()
    await expect(page.locator("#ask-done")).to_be_focused()

    vote = page.locator("#open-list li", has_text="垃圾分类点").get_by_role("button")
    await tab_to(page, vote)
    await page.keyboard.press("Space")
    await expect(vote).to_have_attribute("aria-pressed", "true")
    await expect(vote).to_contain_text("1")
    await expect(vote).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(vote).to_have_attribute("aria-pressed", "false")
    await expect(vote).to_be_focused()
    await watch.check()
    await ctx.close()


async def test_a_moderator_approves_by_keyboard_and_keeps_their_place(
    site: LiveServer, browser: Browser
) -> None:
    s = site.create_session()
    async with site.client(s["id"]) as asker:
        for text in ("第一个待审核的问题", "第二个待审核的问题"):
            await asker.request("ask", client_id=text, text=text)
    ctx = await context(browser, DESKTOP)
    page = await ctx.new_page()
    watch = Watch(page)
    await visit(
        page, f"{site.http}/s/{s['id']}/moderator#key={s['moderator_token']}", "#pending > li >> nth=1"
    )
    first = (
        page.locator("#pending > li")
        .filter(has=page.locator(".mq-text", has_text="第一个"))
        .get_by_role("button", name="通过")
    )
    await tab_to(page, first)
    await page.keyboard.press("Enter")
    await expect(page.locator("#pending > li")).to_have_count(1)
    second = (
        page.locator("#pending > li")
        .filter(has=page.locator(".mq-text", has_text="第二个"))
        .get_by_role("button", name="通过")
    )
    await expect(second).to_be_focused()
    await page.keyboard.press("Space")
    await expect(page.locator("#pending > li")).to_have_count(0)
    await expect(page.locator("#pending")).to_be_focused()
    await expect(page.locator("#c-pending")).to_have_text("0")
    await watch.check()
    await ctx.close()


async def test_a_first_time_visitor_on_a_phone_asks_within_three_taps(
    site: LiveServer, browser: Browser, world: World
) -> None:
    """From the programme page, at standard and at extra large text: join (1), the question
    box (2), submit (3); typing is not a tap."""
    for size in ("standard", "xlarge"):
        ctx = await reader(browser, site, PHONE, size=size)
        page = await ctx.new_page()
        watch = Watch(page)
        await visit(page, world.pages["index"][0], ".live-card")
        await page.locator(f'.live-card a[href="/s/{world.live["id"]}"]').tap()
        await page.get_by_label("您的问题").tap()
        await page.keyboard.type("小区里的健身器材坏了，谁来修？")
        await page.get_by_role("button", name="提交问题").tap()
        await expect(page.locator("#ask-done")).to_contain_text("已提交，等待审核")
        await expect(page.locator("#ask-done")).to_be_in_viewport()
        m = await page.evaluate(MEASURE, CONTROLS)  # the confirmation and 我的问题, now shown
        assert (m["small"], m["tight"], m["overflow"] <= 0) == ([], [], True), (size, m)
        await watch.check()
        await ctx.close()
