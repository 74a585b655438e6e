"""Rules every front-end file keeps, checked on the files themselves (no browser needed).

The browser tests load each page under the strict CSP, but only the paths they
walk; these checks cover every page and script: both languages define the same
strings, every string a page names exists, nothing inline that the CSP would
refuse, and no way for typed text to become HTML.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from live import review, state
from live.auth import Role
from live.pages import TEMPLATES as JINJA

STATIC = Path(__file__).resolve().parents[2] / "static"
TEMPLATES = Path(__file__).resolve().parents[2] / "live" / "templates"
STAFF = ["presenter.html", "moderator.html", "host.html", "admin.html", "notifications.html", "closing.html"]
"""The staff pages, templates on ``staff.html`` (live/pages.py, ``staff``): they are the same for
every reader, so the rules are checked on each as rendered, its base and its blocks together."""
RENDERED = [
    "base.html",
    "parts.html",
    "error.html",
    "index.html",
    "viewer.html",
    "commitments.html",
    "search.html",
    "transcript.html",
    "replay.html",
    "screen.html",
    "preview.html",
]
"""The public pages' templates in ``live/templates/``: the same rules hold for what they render."""
SCRIPTS = [
    "i18n.js",
    "live.js",
    "model.js",
    "ui.js",
    "ask.js",
    "viewer.js",
    "presenter.js",
    "moderator.js",
    "similar.js",
    "screen.js",
    "index.js",
    "admin.js",
    "notifications.js",
    "commitment.js",
    "search.js",
    "transcript.js",
    "held.js",
    "say.js",
    "closing.js",
    "outcomes.js",
    "notice.js",
    "actor.js",
    "confirm.js",
    "player.js",
    "stream.js",
    "recording.js",
    "admin-stream.js",
    "speak.js",
    "chrome.js",
    "host.js",
    "studio.js",
]


STAFF_PAGES = {f"templates/{name}" for name in STAFF}
"""Pages marked ``<html data-staff>``: they also download ``lang/<code>-staff.js`` (see i18n.js)."""


def dictionary(name: str) -> dict[str, str]:
    text = (STATIC / "js" / "lang" / f"{name}.js").read_text()
    pairs = re.findall(r"^\s*'([^']+)':\s*'((?:[^'\\]|\\.)*)',?$", text, re.M)
    assert len(pairs) == len(re.findall(r"^\s*'[^']+':", text, re.M)), f"unparsed line in {name}.js"
    return dict(pairs)


def strings(lang: str) -> dict[str, str]:
    """Every string of ``lang``: the one file every page downloads, and the staff pages' own."""
    base, staff = dictionary(lang), dictionary(f"{lang}-staff")
    assert not set(base) & set(staff), f"strings in both {lang}.js and {lang}-staff.js"
    return {**base, **staff}


def reachable(entry: str) -> set[str]:
    """The scripts a page's entry script loads, itself included, imported or imported later."""
    seen, todo = set(), [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        code = (STATIC / "js" / name).read_text()
        todo += re.findall(r"(?:from |import\()'\./([a-z0-9-]+\.js)'", code)
    return seen


def every_page() -> list[tuple[str, str]]:
    """(name, text) of every page: the staff pages as rendered, then the public pages' templates."""
    staff = {"lang": "zh", "html_lang": "zh-CN"}
    return [(f"templates/{name}", JINJA.env.get_template(name).render(staff)) for name in STAFF] + [
        (f"templates/{name}", (TEMPLATES / name).read_text()) for name in RENDERED
    ]


def named(html: str) -> set[str]:
    """The strings a page or template names: data-i18n attributes, and t('key') in a template."""
    keys = set(re.findall(r'data-i18n(?:-[a-z]+)?="([^"]+)"', html))
    return keys | set(re.findall(r"\bt\('([a-z_]+\.[a-z_0-9]+)'\s*[,)]", html))


def test_pages_other_than_staff_pages_need_no_staff_string() -> None:
    """The viewer page's weight budget rests on this: staff strings are not in ``zh.js``; and the
    server reads only ``zh.js``/``en.js`` (live/i18n.py), so its pages name no staff string."""
    staff = set(dictionary("zh-staff"))
    for page, html in every_page():
        assert (" data-staff>" in html) == (page in STAFF_PAGES), page
        if page in STAFF_PAGES:
            continue
        used = named(html)
        for entry in re.findall(r'src="/static/js/([a-z]+\.js)"', html):
            for script in reachable(entry):
                used |= set(re.findall(r"\bt\('([a-z_]+\.[a-z_0-9]+)'", (STATIC / "js" / script).read_text()))
        assert sorted(used & staff) == [], f"{page} names staff strings it never downloads"


def test_both_languages_define_the_same_strings_with_the_same_placeholders() -> None:
    zh, en = strings("zh"), strings("en")
    assert sorted(zh) == sorted(en), set(zh) ^ set(en)
    for key in zh:
        assert set(re.findall(r"\{\w+\}", zh[key])) == set(re.findall(r"\{\w+\}", en[key])), key
        assert zh[key] and en[key], key


def test_every_string_a_page_or_script_names_exists() -> None:
    zh = strings("zh")
    used: set[str] = set()
    for _, html in every_page():
        used |= named(html)
    for script in SCRIPTS:
        used |= set(re.findall(r"\bt\('([a-z_]+\.[a-z_0-9]+)'", (STATIC / "js" / script).read_text()))
    assert used, "no strings found: the patterns are out of date"
    assert sorted(used - set(zh)) == []


def test_every_page_shows_the_sites_icon() -> None:
    """Without a ``<link rel="icon">`` a browser shows no icon in the tab and asks for a
    ``/favicon.ico`` there is not (the replay, search and transcript pages did)."""
    icon = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
    assert (STATIC / "favicon.svg").read_text().startswith("<svg")
    assert [page for page, html in every_page() if page in STAFF_PAGES and icon not in html] == []
    assert icon in (TEMPLATES / "preview.html").read_text()
    for page in ("base.html", "screen.html"):  # the rendered pages' head: their preview
        assert '{% include "preview.html" %}' in (TEMPLATES / page).read_text(), page


def test_pages_have_nothing_inline_that_the_csp_would_refuse() -> None:
    for page, html in every_page():
        # A static bundle's page (live/archive_html.py) inlines its stylesheets under its own policy.
        html = re.sub(r"\{% if bundle %\}\s*<style>\{\{ css \}\}</style>", "", html)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script in {page}"
        assert "<style" not in html, f"inline <style> in {page}"
        assert not re.search(r"\sstyle=", html), f"style attribute in {page}"
        assert not re.search(r"\son[a-z]+=", html), f"inline event handler in {page}"
        assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html), f"external resource in {page}"


def test_scripts_never_build_html_from_strings() -> None:
    for script in [*SCRIPTS, "lang/zh.js", "lang/en.js", "lang/zh-staff.js", "lang/en-staff.js"]:
        code = (STATIC / "js" / script).read_text()
        for sink in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            ".style.",
        ):
            assert sink not in code, f"{script} uses {sink}"


def applied_event_types() -> set[str]:
    """Every event type :func:`live.state.apply` gives a meaning to: the one definition of them."""
    tree = ast.parse(inspect.getsource(state.apply))
    return {
        n.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == "t"
        for c in node.comparators
        for n in ast.walk(c)
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def test_every_event_type_and_actor_has_an_audit_label() -> None:
    """The admin's audit log names each action and each actor in words (static/js/actor.js,
    admin.js), from strings checked here against the server's own definitions: the event types
    ``state.apply`` knows, the roles of :class:`live.auth.Role`, and the clock that releases
    delayed answers (``review.CLOCK``), so a new one cannot reach the page as a raw code."""
    types = applied_event_types()
    assert {"question.approved", "question.carried_in", "session.archived"} <= types, "apply's shape changed"
    wanted = {f"audit.event.{t}" for t in types} | {f"audit.role.{r.value}" for r in Role}
    wanted.add(f"audit.actor.{review.CLOCK}")
    for lang in ("zh", "en"):
        labels = dictionary(f"{lang}-staff")
        assert sorted(wanted - set(labels)) == [], lang
        stale = {k for k in labels if k.startswith(("audit.event.", "audit.role.", "audit.actor."))} - wanted
        assert sorted(stale) == [], f"labels of nothing in {lang}-staff.js"
