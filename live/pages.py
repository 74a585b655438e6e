"""The public pages, rendered on the server with their content in the first response.

A link shared in a WeChat group is previewed from its HTML, with no script run; search
engines, web archives, screen readers and a slow phone all start from the same HTML. So
each public page is a Jinja2 template (``live/templates/``, through Starlette's
:class:`~starlette.templating.Jinja2Templates`, autoescaped: whatever a person typed is
text) filled here from the same services the JSON API reads: the programme page with its
live, upcoming and past episodes and the receipt lookup (``/?receipt=``), the search
(``/search?q=``), the transcript (访谈实录), the commitment board, and a session's viewer
page (its head, heading and, once the window is over, every question's outcome). Every page
has a real ``<title>``, description and Open Graph tags, per session where it is a
session's. Its words come from the scripts' own language files (:mod:`live.i18n`), in the
reader's language (``?lang=``, the ``live_lang`` cookie, ``Accept-Language``; zh-CN first).

What each thing looks like (an answer, an outcome, a transcript entry, a commitment, a
receipt) is one macro in ``templates/parts.html``; the static bundle's pages
(:mod:`live.archive_html`) render the same transcript template. Scripts then only add what
needs one (the live stream, rating a reply, staff tools): see ``docs/pages.md``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from . import archive, i18n, outcomes, stream
from .archive_http import flag, int_param, require_staff
from .auth import DEVICE_COOKIE
from .events import JSON, now_ms
from .exceptions import LiveError, NotFound, Unavailable
from .middleware import content_security_policy
from .ratings import LEVELS
from .routes import COOKIE_AGE
from .services import Services
from .startup import not_ready
from .state import ENDED, OUTCOMES, phase

TEMPLATES = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a name a template gets wrong fails, never renders empty
        trim_blocks=True,
        lstrip_blocks=True,
    )
)
"""Every page's template; autoescaped whatever the file's name."""
SIZE_COOKIE = "live_size"
"""The reader's text size, set by the 字号 switch (static/js/ui.js)."""
BOARD_FILTERS = ("total", "overdue", "in_progress", "postponed", "done")
SESSION_FIELDS = ("episode", "title", "guest_name", "guest_post", "description", "collect_from")
"""What pages show of a session, absent ones as None."""


def percent(rate: float) -> str:
    """A rate as ``66.7%``, rounded as the scripts' ``toFixed(1)`` rounds (half up, exactly)."""
    return f"{Decimal(rate * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def satisfaction_text(lang: str, s: JSON | None) -> str:
    """A session's satisfaction tally in words (``satisfactionText`` in ``say.js``)."""
    t = partial(i18n.t, lang)
    if not s or not s.get("rated"):
        return t("say.none_rated")
    parts = t("common.list_sep").join(
        t("say.level_share", level=t(f"say.{lv}"), n=s["counts"][lv], p=s["percent"][lv]) for lv in LEVELS
    )
    return t("say.summary", n=s["rated"], parts=parts, p=s["satisfied"])


_SPLIT = re.compile(r"""[\s,.;:!?，。；：！？、"'“”‘’()（）《》【】]+""")


def terms(query: str) -> list[str]:
    """The words of a search as the reader typed them, to mark in the results."""
    return list(dict.fromkeys(w for w in _SPLIT.split(query) if w))


def marked(text: str, words: list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into pieces, each marked if it is one of ``words`` (case-insensitive)."""
    out: list[tuple[str, bool]] = []
    lower, i = text.lower(), 0
    while i < len(text):
        best: tuple[int, int] | None = None
        for w in words:
            at = lower.find(w.lower(), i)
            if at >= 0 and (best is None or at < best[0] or (at == best[0] and len(w) > best[1])):
                best = (at, len(w))
        if best is None:
            break
        if best[0] > i:
            out.append((text[i : best[0]], False))
        out.append((text[best[0] : best[0] + best[1]], True))
        i = best[0] + best[1]
    if i < len(text):
        out.append((text[i:], False))
    return out


def clip(text: str, words: list[str], size: int = 160) -> str:
    """An answer cut to about ``size`` characters around the first word found."""
    if len(text) <= size:
        return text
    lower = text.lower()
    hits = [at for at in (lower.find(w.lower()) for w in words) if at >= 0]
    start = max(0, min([*hits, len(text)]) - 40)
    return ("…" if start else "") + text[start : start + size] + ("…" if start + size < len(text) else "")


class Page:
    """One request's page: its language, its address and the words and times in that language."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.live: Services | None = request.app.state.live
        self.asked = request.query_params.get("lang")
        self.lang = i18n.choose(
            self.asked, request.cookies.get(i18n.COOKIE), request.headers.get("accept-language")
        )
        public = self.live.settings.public_url if self.live else ""
        self.base = (public or str(request.base_url)).rstrip("/")

    def t(self, key: str, **values: Any) -> str:
        return i18n.t(self.lang, key, **values)

    def size(self) -> str:
        """The reader's text size (the 字号 switch in static/js/ui.js keeps it in a cookie), so the
        page is drawn at that size from its first byte: "large", "xlarge" or "" (standard)."""
        size = self.request.cookies.get(SIZE_COOKIE, "")
        return size if size in ("large", "xlarge") else ""

    def context(
        self, title: str, description: str, *, reload: bool = True, brand: str = "", **more: Any
    ) -> JSON:
        lang, other = self.lang, "en" if self.lang == "zh" else "zh"
        return {
            "lang": lang,
            "other": other,
            "other_html": i18n.t(other, "lang.html"),
            "t": self.t,
            "hm": partial(i18n.time, lang),
            "date": partial(i18n.date, lang),
            "day": partial(i18n.day, lang),
            "date_time": partial(i18n.date_time, lang),
            "window": partial(i18n.window, lang),
            "due_text": partial(i18n.due, lang),
            "episode": partial(i18n.episode_title, lang),
            "episode_label": partial(i18n.episode_label, lang),
            "countdown": partial(i18n.countdown, lang),
            "percent": percent,
            "outcome_names": OUTCOMES,
            "title": title,
            "description": description,
            "site_name": self.t("site.name"),
            "brand": brand or self.t("site.name"),
            "base": self.base,
            "canonical": self.base + self.request.url.path,
            "path": self.request.url.path,
            "keep": [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"],
            "reload": reload,
            "size": self.size(),
            "bundle": False,
            "links": "",
            **more,
        }

    def render(self, name: str, context: JSON, status: int = 200) -> Response:
        response = TEMPLATES.TemplateResponse(
            self.request,
            name,
            context,
            status_code=status,
            headers={"cache-control": "no-cache", "vary": "Accept-Language, Cookie"},
        )
        secure = self.base.startswith("https://")
        if self.asked in i18n.LANGS:  # the switch: remember the choice
            response.set_cookie(
                i18n.COOKIE, self.lang, max_age=i18n.COOKIE_AGE, samesite="lax", secure=secure
            )
        if (
            self.live is not None
            and self.live.devices.verify(self.request.cookies.get(DEVICE_COOKIE)) is None
        ):
            _, signed = self.live.devices.mint()  # the device a citizen asks and rates as
            response.set_cookie(
                DEVICE_COOKIE, signed, max_age=COOKIE_AGE, httponly=True, samesite="lax", secure=secure
            )
        return response

    def error(self, exc: LiveError) -> Response:
        message = exc.en if self.lang == "en" else exc.zh
        return self.render("error.html", self.context(message, message, message=message), exc.status)


Render = Callable[[Page], Awaitable[Response]]


def page(render: Render) -> Callable[[Request], Awaitable[Response]]:
    """A page endpoint: a refusal (no such session, not ready, ...) is a page in the reader's
    language with the refusal's status, not the API's JSON."""

    async def endpoint(request: Request) -> Response:
        p = Page(request)
        try:
            return await render(p)
        except LiveError as exc:
            return p.error(exc)

    return endpoint


def _live(p: Page) -> Services:
    if p.live is None:
        raise not_ready()
    return p.live


def _guest(info: JSON) -> str:
    return " ".join(x for x in (info.get("guest_name"), info.get("guest_post")) if x)


def _about(p: Page, info: JSON) -> str:
    """A session in one line for a link preview: its description, or who answers and when."""
    if info.get("description"):
        return str(info["description"])
    when = i18n.window(p.lang, info["starts_at"], info["ends_at"], info.get("timezone"))
    guest = p.t("index.guest", guest=_guest(info)) if _guest(info) else ""
    return " · ".join(x for x in (guest, when) if x)


@page
async def index(p: Page) -> Response:
    """``/``: every programme with its live, upcoming and past episodes; ``?receipt=`` looks one up."""
    live = _live(p)
    now = now_ms()
    sessions = [
        {
            "id": r.id,
            "programme_id": r.programme_id,
            **dict.fromkeys(SESSION_FIELDS),
            **r.info,
            "phase": phase(r.info, now),
            "tz": r.info.get("timezone") or "Asia/Shanghai",
        }
        for r in await live.programmes.sessions(None)
    ]
    programmes = []
    for prog in await live.programmes.all():
        mine = [s for s in sessions if s["programme_id"] == prog["id"]]
        programmes.append(
            {
                **prog,
                "live": [s for s in mine if s["phase"] == "open"],
                "upcoming": sorted(
                    (s for s in mine if s["phase"] in ("upcoming", "collecting")),
                    key=lambda s: s["starts_at"],
                ),
                "past": sorted((s for s in mine if s["phase"] in ENDED), key=lambda s: -s["starts_at"]),
            }
        )
    receipt, result, problem = p.request.query_params.get("receipt"), None, ""
    if receipt is not None:
        receipt = receipt.strip().upper()[:60]
        if not receipt:
            problem = p.t("index.lookup_empty")
        else:
            try:
                result = await live.sessions.receipt(receipt)
            except NotFound:
                problem = p.t("index.lookup_missing")
            except LiveError as exc:
                problem = exc.en if p.lang == "en" else exc.zh
    return p.render(
        "index.html",
        p.context(
            p.t("index.doc_title"),
            p.t("index.intro"),
            programmes=programmes,
            now=now,
            receipt=receipt or "",
            result=result,
            problem=problem,
        ),
    )


@page
async def search(p: Page) -> Response:
    """``/search?q=&programme_id=``: answered questions of every episode, and the archive."""
    live = _live(p)
    q = p.request.query_params.get("q", "").strip()
    programme_id = int_param(p.request, "programme_id")
    archive_list = await live.archives.finished(None, now_ms())
    results, problem = None, ""
    if q:
        try:
            results = await live.archives.search(q, programme_id, None)
        except LiveError as exc:
            problem = exc.en if p.lang == "en" else exc.zh
    words = terms(q)
    shown = [
        {
            **r,
            "question_marked": marked(r["question"], words),
            "answer_marked": marked(clip(r["answer"], words), words),
        }
        for r in results or []
    ]
    title = p.t("search.count", n=len(shown), q=q) if results is not None else p.t("search.doc_title")
    return p.render(
        "search.html",
        p.context(
            title,
            p.t("search.hint"),
            q=q,
            programme_id=programme_id,
            programmes=archive_list,
            results=shown if results is not None else None,
            problem=problem,
        ),
    )


@page
async def transcript(p: Page) -> Response:
    """``/s/{id}/transcript``: the published record; ``?unanswered=1`` (staff) adds the rest."""
    live = _live(p)
    sid = p.request.path_params["session_id"]
    unanswered = flag(p.request, "unanswered")
    if unanswered:
        await require_staff(p.request, sid)
    doc = archive.transcript(await live.archives.record(sid), include_unanswered=unanswered)
    return p.render("transcript.html", transcript_context(p.context, p.lang, doc))


def transcript_context(make: Callable[..., JSON], lang: str, doc: JSON, **more: Any) -> JSON:
    """What the transcript template needs, on the site (``make`` = :meth:`Page.context`) and in
    a bundle (:mod:`live.archive_html`)."""
    s = doc["session"]
    t = partial(i18n.t, lang)
    title = f"{s['title'] or ''} · {t('transcript.badge')}"
    about = " · ".join(
        x
        for x in (
            s["programme"]["title"],
            _guest(s),
            i18n.window(lang, s["starts_at"], s["ends_at"], s["timezone"]) if s.get("starts_at") else "",
            t("transcript.summary", n=doc["answered"]),
        )
        if x
    )
    return make(
        title,
        about,
        brand=s["programme"]["title"] or t("site.name"),
        doc=doc,
        s=s,
        answered=[i for i in doc["items"] if i["answer"]],
        waiting=[i for i in doc["items"] if not i["answer"]],
        studio=archive.studio(doc),
        satisfaction=satisfaction_text(lang, doc["satisfaction"]),
        ctx={"tz": s["timezone"], "guest": s["guest_name"], "post": s["guest_post"]},
        **more,
    )


@page
async def board(p: Page) -> Response:
    """``/p/{slug}/commitments?show=``: the programme's commitments, overdue by the server's clock."""
    data = await _live(p).board.board(p.request.path_params["slug"], now_ms())
    show = p.request.query_params.get("show", "total")
    show = show if show in BOARD_FILTERS else "total"
    items = [
        e
        for e in data["commitments"]
        if show == "total"
        or (e["overdue"] if show == "overdue" else e["question"]["commitment"]["status"] == show)
    ]
    prog = data["programme"]
    first = data["commitments"][0]["session"]["timezone"] if data["commitments"] else None
    return p.render(
        "commitments.html",
        p.context(
            f"{p.t('board.title')} - {prog['title']}",
            prog.get("description") or p.t("board.intro"),
            brand=prog["title"],
            board=data,
            show=show,
            filters=BOARD_FILTERS,
            items=items,
            tz=first or "Asia/Shanghai",
        ),
    )


@page
async def viewer(p: Page) -> Response:
    """``/s/{id}``: the session's heading and state now; after the window, every outcome.

    The questions and answers of a session still running are the script's (the live stream):
    see docs/pages.md. A worker not ready yet, or one whose database is away, still serves the
    page, without the session (its script retries the live connection, whose first message
    carries it): a citizen who opens the link during an outage sees the page wait, not an error."""
    sid = p.request.path_params["session_id"]
    shell = p.context(
        p.t("viewer.doc_title"),
        p.t("index.intro"),
        reload=False,
        info=None,
        sid=sid,
        phase=None,
        ended=False,
        section=None,
        tz="Asia/Shanghai",
        ctx={},
    )
    if p.live is None:
        return p.render("viewer.html", shell)
    try:
        row = await p.live.sessions.row(sid)
        if row is None:
            raise NotFound("session_not_found", "该期访谈不存在", "This session does not exist", id=sid)
        info, now = {**dict.fromkeys(SESSION_FIELDS), **row.info}, now_ms()
        state = phase(info, now)
        programmes = await p.live.programmes.all()
        section = None
        if state in ENDED:
            section = outcomes.section(await (await p.live.rooms.get(sid)).settled())
    except Unavailable:
        return p.render("viewer.html", shell)
    programme = next((x["title"] for x in programmes if x["id"] == row.programme_id), "")
    title = f"{info.get('title') or ''} - {programme}" if programme else str(info.get("title") or "")
    response = p.render(
        "viewer.html",
        p.context(
            title,
            _about(p, info),
            reload=False,
            brand=programme,
            sid=sid,
            info=info,
            phase=state,
            ended=state in ENDED,
            tz=info.get("timezone") or "Asia/Shanghai",
            section=section,
            ctx={
                "tz": info.get("timezone") or "Asia/Shanghai",
                "guest": info.get("guest_name"),
                "post": info.get("guest_post"),
            },
        ),
    )
    media = stream.origins(row.info)  # the broadcast's hosts may serve media (live/stream_http.py)
    if media:
        response.headers["content-security-policy"] = content_security_policy(media=media)
    return response
