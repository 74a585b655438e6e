"""The published record as one self-contained HTML page, for the static bundle (:mod:`live.bundle`).

A bundle must be read with no server, no network and no script, and look like the site's
transcript page: so it is that page. The same template (``live/templates/transcript.html``,
rendered by :mod:`live.pages` for ``/s/{id}/transcript``) with the same words
(``static/js/lang/*.js``, through :mod:`live.i18n`) renders the transcript
(:func:`live.archive.transcript`): the answers (with the host's lines or photos, the run of
[主持人] and [嘉宾] lines), then every question under its outcome with the counts and the reply
rate (有问必答), then how to check the record. In a bundle the template inlines the site's own
stylesheets (``base.css``, ``replay.css``, ``outcomes.css``, ``studio.css``: no ``url()`` in
them) under the page's own Content-Security-Policy, which allows no script, no request and no
style but its own, and images only from beside it (the studio's photos, ``photos/``, which
:mod:`live.bundle` writes there); it links to the other language's page, and to the site's
pages (the replay, a carried-over question's episode) only when the site's address is known.
Everything a person typed is escaped (the template is autoescaped).

One page per language, zh-CN first: ``index.html`` and ``en.html`` link to each other.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from . import i18n
from .events import JSON
from .pages import TEMPLATES, percent, transcript_context
from .routes import STATIC
from .state import OUTCOMES

PAGES = {"zh": "index.html", "en": "en.html"}
"""Each language's page in a bundle."""
CHECK = (
    "live verify .",
    "openssl pkeyutl -verify -pubin -inkey signing-key.pem -rawin -in manifest.json -sigfile manifest.sig",
    "sha256sum index.html en.html transcript.json chain.jsonl signing-key.pem",
)
"""How to check a bundle, as its pages print it (docs/operations.md says more)."""
EXTRA_CSS = """
.bundle-check code, .bundle-check pre { font-family: ui-monospace, Menlo, Consolas, monospace;
  font-size: .85rem; overflow-wrap: anywhere; white-space: pre-wrap; }
.bundle-check pre { background: var(--bg); border-radius: 8px; padding: .5rem .75rem;
  margin: .25rem 0 .5rem; }
.topbar .lang { text-decoration: none; }
"""


def _css() -> str:
    sheets = ("base.css", "replay.css", "outcomes.css", "studio.css")
    return "".join((STATIC / "css" / name).read_text(encoding="utf-8") for name in sheets) + EXTRA_CSS


def to_html(doc: JSON, lang: str, signed: JSON, base: str = "") -> str:
    """The page of one language. ``signed`` is the manifest's ``key`` and ``made_at_local``;
    ``base``, the site's public address when known, is printed as text (never fetched)."""
    other = next(code for code in PAGES if code != lang)

    def context(title: str, description: str, **more: Any) -> JSON:
        return {
            "lang": lang,
            "other_html": i18n.t(other, "lang.html"),
            "other_page": PAGES[other],
            "t": partial(i18n.t, lang),
            "hm": partial(i18n.time, lang),
            "date": partial(i18n.date, lang),
            "window": partial(i18n.window, lang),
            "episode_label": partial(i18n.episode_label, lang),
            "due_text": partial(i18n.due, lang),
            "percent": percent,
            "outcome_names": OUTCOMES,
            "title": title,
            "description": description,
            "bundle": True,
            "size": "",  # a published file is read at the reader's own browser's text size
            "links": base.rstrip("/") or None,  # to the site's pages when its address is known
            "css": _css(),
            "signed": signed,
            "site": base.rstrip("/"),
            "check": CHECK,
            **more,
        }

    return TEMPLATES.get_template("transcript.html").render(transcript_context(context, lang, doc))
