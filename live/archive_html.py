"""The published record as one self-contained HTML page, for the static bundle (:mod:`live.bundle`).

The transcript page (``static/transcript.html``) is laid out by its script from the
transcript's JSON; a bundle must be read with no server, no network and no script, so
this renders the same document (:func:`live.archive.transcript`) in Python: the answers,
then every question under its outcome with the counts and the reply rate (有问必答, in the
words of :mod:`live.outcomes`, as the Markdown transcript has them), with the
same markup classes and the site's own stylesheets inlined (``base.css`` and
``replay.css``, which have no ``url()`` in them), so it looks like the page it copies.
Everything a person typed is escaped (:func:`html.escape`); the page's
Content-Security-Policy allows no script, no request and no style but its own, and images only
from beside it (the studio's photos, ``photos/``). A record with the host's lines or photos is
the run of lines a published 访谈实录 is (:func:`live.archive.lines`), in place of the answers.

One page per language, zh-CN first: ``index.html`` and ``en.html`` link to each other.
"""

from __future__ import annotations

from html import escape

from . import outcomes
from .archive import LABELS, asker, said, speaker, studio, when
from .events import JSON
from .routes import STATIC

PAGES = {"zh": "index.html", "en": "en.html"}
"""Each language's page in a bundle."""
TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "lang": "zh-CN",
        "other": "English",
        "badge": "访谈实录",
        "entries": "问答",
        "empty": "本期没有已答复的问题。",
        "check": "记录校验",
        "about": "本文件夹是直播问答系统导出的静态记录，无需服务器即可阅读。"
        "每条记录都带有与前一条相连的 SHA-256 哈希，最后一条的哈希（哈希链头）代表整场记录；"
        "manifest.json 列出每个文件的 SHA-256，manifest.sig 是用本系统签名密钥对它的 Ed25519 签名。",
        "head": "哈希链头（SHA-256）",
        "events": "记录条数",
        "key": "签名密钥",
        "made": "导出时间",
        "source": "原始页面",
        "how": "核对方法",
    },
    "en": {
        "lang": "en",
        "other": "中文",
        "badge": "Transcript",
        "entries": "Questions and answers",
        "empty": "No questions were answered in this session.",
        "check": "Checking this record",
        "about": "This folder is a static record exported by the live Q&A server, readable with no server. "
        "Every event carries a SHA-256 hash chained to the one before, so the last one (the head) stands "
        "for the whole record; manifest.json lists each file's SHA-256 and manifest.sig is its Ed25519 "
        "signature with this installation's signing key.",
        "head": "Hash chain head (SHA-256)",
        "events": "Events",
        "key": "Signing key",
        "made": "Exported at",
        "source": "Original page",
        "how": "To check it",
    },
}
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
    return "".join((STATIC / "css" / name).read_text() for name in ("base.css", "replay.css")) + EXTRA_CSS


def _paren(text: str, lang: str) -> str:
    return f"（{text}）" if lang == "zh" else f" ({text})"


def _entry(item: JSON, doc: JSON, lang: str) -> str:
    lab = LABELS[lang]
    a = item["answer"] or {}
    who = a.get("by") or doc["session"]["guest_name"] or ""
    mode = {"video": lab["video"], "written": lab["written"]}.get(a.get("mode", ""), "")
    parts = [
        f'<li class="entry" id="q{item["id"]}">',
        f"<h3>{item['n']}. {escape(asker(item, lang))}{_paren(escape(item['asked_at_local']), lang)}</h3>",
        f'<p class="ask">{escape(item["question"])}</p>',
        f'<p><span class="who">{escape(who)}{_paren(escape(item["answered_at_local"]), lang)}'
        + f"{lab['colon']}</span>"
        + (f' <span class="meta">{escape(mode)}</span>' if mode else "")
        + "</p>",
    ]
    if a.get("text"):
        parts.append(f'<p class="reply">{escape(a["text"])}</p>')
    return "".join(parts) + "</li>"


def _line(line: JSON, lang: str) -> str:
    """One line of the run (访谈实录): who says it and when, then what; a photo as its file,
    which the bundle holds beside the page (``photos/``)."""
    lab = LABELS[lang]
    said_when = _paren(escape(when(line, lang)), lang)
    who = f'<span class="who">{escape(speaker(line, lang))}{said_when}{lab["colon"]}</span>'
    if line["kind"] == "photo":
        return (
            f'<li class="line photo" data-role="photo"><figure class="photo">'
            f'<img src="{escape(line["file"])}" width="{int(line["width"])}" height="{int(line["height"])}" '
            f'alt="{escape(line["caption"])}"><figcaption>{who}{escape(line["caption"])}</figcaption>'
            "</figure></li>"
        )
    key = f' id="q{line["id"]}"' if line["kind"] in ("announce", "question") else ""
    body = escape(said(line, lang))
    text = f'<p class="reply">{body}</p>' if line["kind"] == "answer" else f'<p class="ask">{body}</p>'
    return f'<li class="line" data-role="{line["role"]}"{key}><p>{who}</p>{text}</li>'


def _outcomes(doc: JSON, lang: str, base: str) -> list[str]:
    """Every question the session received, grouped by outcome: a question never published
    shows its outcome alone (the transcript's section carries no text for it)."""
    lab, colon = outcomes.labels(lang), LABELS[lang]["colon"]
    section = doc["outcomes"]
    numbers = {item["id"]: item["n"] for item in doc["items"]}
    out = [f'<section class="card" id="outcomes"><h2>{lab["title"]}</h2>']
    out += [f'<p class="meta">{escape(line)}</p>' for line in outcomes.summary(section["counts"], lang)]
    group = None
    for q in section["questions"]:
        if q["outcome"] != group:
            out.append("</ul>" if group else "")
            group = q["outcome"]
            out.append(f"<h3>{lab[group]}{_paren(str(section['counts'][group]), lang)}</h3><ul>")
        who = f"{escape(asker(q, lang))} " if asker(q, lang) else ""
        text = escape(q["text"]) if "text" in q else lab["private"]
        detail = outcomes.describe(q, lang, base, numbers)
        out.append(
            f'<li id="o{q["id"]}">#{q["id"]} {who}{_paren(escape(q["asked_at_local"]), lang)}{colon}{text}'
            + (f'<br><span class="meta">{escape(detail)}</span>' if detail else "")
            + "</li>"
        )
    return [*out, "</ul>" if group else "", "</section>\n"]


def to_html(doc: JSON, lang: str, signed: JSON, base: str = "") -> str:
    """The page of one language. ``signed`` is the manifest's ``key`` and ``made_at_local``;
    ``base``, the site's public address when known, is printed as text (never fetched)."""
    lab, txt = LABELS[lang], TEXT[lang]
    s, chain = doc["session"], doc["chain"]
    other = next(code for code in PAGES if code != lang)
    guest = " · ".join(x for x in (s["guest_name"], s["guest_post"]) if x)
    when = f"{s['starts_at_local']}–{(s['ends_at_local'] or '')[-5:]}{_paren(s['timezone'], lang)}"
    entries = [_entry(item, doc, lang) for item in doc["items"] if item["answer"]]
    if studio(doc):  # the run of [主持人] and [嘉宾] lines, as a published 访谈实录 reads
        entries = [_line(line, lang) for line in doc["lines"]]
    meta = [
        (lab["programme"], s["programme"]["title"]),
        (lab["guest"], guest),
        (lab["time"], when),
    ]
    check = [
        (txt["head"], f"<code>{escape(str(chain['head']))}</code>"),
        (txt["events"], str(chain["seq"])),
        (
            txt["key"],
            f"<code>{escape(signed['key']['key_id'])}</code> ({escape(signed['key']['algorithm'])})",
        ),
        (txt["made"], escape(signed["made_at_local"])),
    ]
    if base:
        check.append((txt["source"], f"<code>{escape(base)}/s/{s['id']}/transcript</code>"))
    return "".join(
        [
            f'<!doctype html>\n<html lang="{txt["lang"]}">\n<head>\n<meta charset="utf-8">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'\">\n",
            f"<title>{escape(s['title'] or '')} · {txt['badge']}</title>\n<style>{_css()}</style>\n</head>\n",
            '<body class="transcript-page">\n<header class="topbar">',
            f'<span class="brand">{escape(s["programme"]["title"] or "")}</span>',
            f'<a class="lang" href="{PAGES[other]}" lang="{TEXT[other]["lang"]}">{txt["other"]}</a>',
            "</header>\n",
            '<main>\n<article>\n<header class="card record-head">',
            f'<p class="episode"><span class="badge">{txt["badge"]}</span> ',
            f"{escape(lab['episode_n'].format(n=s['episode'])) if s['episode'] else ''}</p>",
            f"<h1>{escape(s['title'] or '')}</h1>",
            '<dl class="record-meta">',
            *(f"<dt>{dt}{lab['colon']}</dt><dd>{escape(dd or '')}</dd>" for dt, dd in meta),
            "</dl>",
            f'<p class="desc">{escape(s["description"] or "")}</p>' if s.get("description") else "",
            f'<p class="meta" id="summary">{escape(lab["answered"].format(n=doc["answered"]))}</p>',
            "</header>\n",
            f'<section class="card"><h2>{txt["entries"]}</h2><ol class="entries" id="entries">',
            *entries,
            "</ol>",
            "" if entries else f'<p class="empty">{txt["empty"]}</p>',
            "</section>\n",
            *_outcomes(doc, lang, base),
            f'<section class="card bundle-check" id="check"><h2>{txt["check"]}</h2><p>{txt["about"]}</p>',
            '<dl class="record-meta">',
            *(f"<dt>{dt}{lab['colon']}</dt><dd>{dd}</dd>" for dt, dd in check),
            f"</dl><p>{txt['how']}{lab['colon']}</p>",
            *(f"<pre>{escape(line)}</pre>" for line in CHECK),
            "</section>\n</article>\n</main>\n</body>\n</html>\n",
        ]
    )
