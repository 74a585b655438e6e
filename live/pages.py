"""The public pages, rendered on the server with their content in the first response.

A link shared in a WeChat group is previewed from its HTML, with no script run; search
engines, web archives, screen readers and a slow phone all start from the same HTML. So
each public page is a Jinja2 template (``live/templates/``, through Starlette's
:class:`~starlette.templating.Jinja2Templates`, autoescaped: whatever a person typed is
text) filled here from the same services the JSON API reads: the programme page with its
live, upcoming and past episodes and the receipt lookup (``/?receipt=``), the search
(``/search?q=``), the transcript (访谈实录), the commitment board, and a session's viewer
page (its head, heading, its published questions and answers while it runs, every question's
outcome once the window is over, this device's own questions, and an ask form that also works
as a plain form post: :func:`ask`); the replay and the big screen have their head here, their content is their
scripts'. Every page has a real ``<title>``, description and Open Graph tags, per session
where it is a session's. Its words come from the scripts' own language files (:mod:`live.i18n`), in the
reader's language (``?lang=``, the ``live_lang`` cookie, ``Accept-Language``; zh-CN first).

What each thing looks like (an answer, a question in the viewer's lists, one of my questions,
an outcome, a transcript entry, a commitment, a receipt) is one macro in ``templates/parts.html``; the static
bundle's pages (:mod:`live.archive_html`) render the same transcript template, and the live
pages' scripts fill ``<template>``s the same macros render. Scripts then only add what needs
one (the live stream, rating a reply, staff tools): see ``docs/pages.md``. The staff pages are
templates here too (:func:`staff`), on one base, the same for every reader.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from . import archive, i18n, lists, metrics, outcomes, stream_http
from .archive_http import flag, int_param, require_staff
from .auth import DEVICE_COOKIE, Actor, Role
from .events import JSON, now_ms
from .exceptions import BadRequest, Forbidden, LiveError, NotFound, Unavailable
from .protocol import check_text, command
from .ratings import LEVELS
from .services import Services
from .startup import not_ready
from .state import ENDED, OUTCOMES, State, phase

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
COOKIE_AGE = 400 * 24 * 3600
"""The device cookie's life: the most a browser keeps one."""
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
        self.path = request.url.path
        """The page's own address (the language switch's and the canonical one)."""
        self._device: str | None = None
        self.minted = ""

    def device(self) -> str | None:
        """This browser's device (its signed cookie), minted now if it has none; None while the
        worker is not ready. A page's forms carry a token bound to it (``Devices.form_token``)."""
        if self._device is None and self.live is not None:
            self._device = self.live.devices.verify(self.request.cookies.get(DEVICE_COOKIE))
            if self._device is None:
                self._device, self.minted = self.live.devices.mint()
        return self._device

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
            "canonical": self.base + self.path,
            "path": self.path,
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
        self.device()  # the device a citizen asks, votes and rates as
        if self.minted:
            response.set_cookie(
                DEVICE_COOKIE, self.minted, max_age=COOKIE_AGE, httponly=True, samesite="lax", secure=secure
            )
        return response

    def error(self, exc: LiveError) -> Response:
        message = exc.en if self.lang == "en" else exc.zh
        return self.render(
            "error.html", self.context(message, message, message=message, code=exc.code), exc.status
        )


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


def _item_context(info: JSON, sid: int) -> JSON:
    """What the item macros (templates/parts.html) need of a session: its timezone, who answers
    (the guest and their post) and its id, for its photos' addresses."""
    return {
        "tz": info.get("timezone") or "Asia/Shanghai",
        "guest": info.get("guest_name"),
        "post": info.get("guest_post"),
        "sid": sid,
    }


def _posts_a_form(response: Response) -> Response:
    """The viewer page, whose ask form is posted without script: its ``Referrer-Policy`` is
    ``same-origin`` where every other page's is ``no-referrer``, under which Chromium sends a
    form post with ``Origin: null``, and the cross-site guard (:mod:`live.middleware`) rightly
    refuses that. Cross-origin requests (a broadcast's media) still carry no referrer."""
    response.headers["referrer-policy"] = "same-origin"
    return response


async def _viewer(p: Page, asking: JSON | None = None, status: int = 200) -> Response:
    """``/s/{id}``: the session's heading and state now; while it runs, its published questions
    and answers; after the window, every outcome; and this device's own questions (我的问题,
    :meth:`Sessions.mine`), so one asked through the plain form is there with what became of it
    when its asker comes back. ``asking``: the ask form as a form post left it (:func:`ask`):
    its fields and the refusal, or the receipt (``done``).

    The script takes the page over: it adopts the items rendered here (same markup, same
    ``data-key``) and keeps them current from the live stream (docs/pages.md). A worker not
    ready yet, or one whose database is away, still serves the page, without the session (its
    script retries the live connection, whose first message carries it): a citizen who opens
    the link during an outage sees the page wait, not an error."""
    sid = p.request.path_params["session_id"]
    asking = asking or {}
    device = p.device()
    form = {
        "text": "",
        "name": "",
        "contact": "",
        **asking.get("fields", {}),
        "csrf": p.live.devices.form_token(device) if p.live and device else "",
    }
    error = asking.get("error")
    common = {
        "sid": sid,
        "form": form,
        "ask_error": (error.en if p.lang == "en" else error.zh) if error else "",
        "ask_error_code": error.code if error else "",
        "done": asking.get("done"),
        "reload": False,
    }
    shell = p.context(
        p.t("viewer.doc_title"),
        p.t("index.intro"),
        info=None,
        phase=None,
        ended=False,
        section=None,
        tz="Asia/Shanghai",
        ctx={},
        ask_state="",
        mine=[],
        **lists.NO_LISTS,
        **common,
    )
    if p.live is None:
        return _posts_a_form(p.render("viewer.html", shell, status))
    try:
        row = await p.live.sessions.row(sid)
        if row is None:
            raise NotFound("session_not_found", "该期访谈不存在", "This session does not exist", id=sid)
        info, now = {**dict.fromkeys(SESSION_FIELDS), **row.info}, now_ms()
        state = phase(info, now)
        programmes = await p.live.programmes.all()
        settled = await (await p.live.rooms.get(sid)).settled()
        section, shown = None, lists.NO_LISTS
        fresh = device is None or p.minted  # a device minted just now has asked and voted nothing
        if state in ENDED:
            section = outcomes.section(settled)
        else:
            votes = [] if fresh else await p.live.sessions.device_votes(sid, str(device))
            shown = lists.live_lists(settled, device, votes)
        mine = [] if fresh else p.live.sessions.mine(settled, str(device))[::-1]  # newest first
    except Unavailable:
        return _posts_a_form(p.render("viewer.html", shell, status))
    programme = next((x["title"] for x in programmes if x["id"] == row.programme_id), "")
    title = f"{info.get('title') or ''} - {programme}" if programme else str(info.get("title") or "")
    tz = info.get("timezone") or "Asia/Shanghai"
    ask_state = ""  # why the form is not there yet (as viewer.js's tick says it)
    if state == "upcoming":
        ask_state = p.t(
            "viewer.ask_upcoming",
            time=i18n.date_time(p.lang, info.get("collect_from") or info["starts_at"], tz),
        )
    elif state == "collecting":
        ask_state = p.t("viewer.ask_collecting")
    response = p.render(
        "viewer.html",
        p.context(
            title,
            _about(p, info),
            brand=programme,
            info=info,
            phase=state,
            ended=state in ENDED,
            tz=tz,
            section=section,
            ctx=_item_context(info, sid),
            ask_state=ask_state,
            mine=mine,
            **shown,
            **common,
        ),
        status,
    )
    return _posts_a_form(stream_http.allow_media(response, row.info))  # its broadcast's media too


@page
async def viewer(p: Page) -> Response:
    return await _viewer(p)


FORM = "application/x-www-form-urlencoded"


async def _form(request: Request) -> dict[str, str]:
    """A plain HTML form's fields (the first of each name); none unless it is form-encoded."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        return {}
    try:
        pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("invalid_text", "内容包含无法读取的字符", "The form is not UTF-8 text") from None
    out: dict[str, str] = {}
    for name, value in pairs:
        out.setdefault(name, value)
    return out


async def ask(request: Request) -> Response:
    """``POST /s/{id}/ask``: the viewer page's ask form with scripts off (docs/protocol.md).

    A plain form post, form-encoded: ``text``, ``name``, ``contact`` and ``csrf``, the token
    the page's form carries for this browser's device cookie (:meth:`Devices.form_token`);
    without a valid one, a ``403 bad_csrf_token`` page. The question goes the one way every
    question goes, :meth:`Sessions.handle` with the cookie's device and the request's
    address, so the same limits, screening and idempotency hold: its ``client_id`` is the
    text's hash, so a form sent again (a reload, the back button) is the question stored
    first, without its secret. The answer is the viewer page again: the receipt number and
    the secret (查询码), shown this once; or the refusal in words with the form still filled,
    with the refusal's status. ``GET`` goes back to the page.
    """
    p = Page(request)
    sid = request.path_params["session_id"]
    p.path = f"/s/{sid}"  # the language switch and the canonical address: the page itself
    if request.method != "POST":
        return RedirectResponse(f"/s/{sid}#ask", status_code=303)
    try:
        live = _live(p)
        form = await _form(request)
        device = live.devices.verify(request.cookies.get(DEVICE_COOKIE))
        if device is None or not live.devices.form_token_ok(device, form.get("csrf", "")):
            raise Forbidden(
                "bad_csrf_token",
                "表单已失效或不是从本站提交的，请重新打开本页后再提交",
                "This form has expired or was not sent from this site: open the page again and resubmit",
            )
    except LiveError as exc:
        metrics.refused(exc.code, "http")
        return p.error(exc)
    fields = {name: form.get(name, "") for name in ("text", "name", "contact")}
    client_id = "form:" + hashlib.sha256(fields["text"].encode()).hexdigest()[:32]
    ip = request.client.host if request.client else ""  # the same per-IP limits as elsewhere
    try:
        check_text(fields)
        cmd = command({"type": "ask", "client_id": client_id, **fields})
        result = await live.sessions.handle(sid, Actor(Role.VIEWER, device, ip), cmd)
    except LiveError as exc:
        metrics.refused(exc.code, "http")
        asking: JSON = {"fields": fields, "error": exc}
        status = exc.status
    else:
        asking, status = {"done": result}, 200
    try:
        return await _viewer(p, asking, status)
    except LiveError as exc:
        return p.error(exc)


async def _session_page(
    p: Page,
    name: str,
    title: Callable[[JSON, str], str],
    media: bool = False,
    content: Callable[[State], JSON] | None = None,
) -> Response:
    """A session's page whose live content is its script's (the replay, the big screen): its
    head is the session's (``title(info, programme)``, its description, Open Graph), and with
    ``media`` its broadcast's hosts may serve media. ``content(state)``: what the page renders
    of the session's settled state in its first response, beside ``section``, every outcome once
    the window is over, and ``ended``, whether it is. Not ready, or the database away: the page
    without its session (its script retries); no such session: a 404 page."""
    sid = p.request.path_params["session_id"]
    empty = {"section": None, "ended": False, **(content(State(0)) if content else {})}
    shell = p.context(
        p.t("site.name"), p.t("index.intro"), reload=False, sid=sid, info=None, tz=None, ctx={}, **empty
    )
    if p.live is None:
        return p.render(name, shell)
    try:
        row = await p.live.sessions.row(sid)
        if row is None:
            raise NotFound("session_not_found", "该期访谈不存在", "This session does not exist", id=sid)
        programmes = await p.live.programmes.all()
        info = {**dict.fromkeys(SESSION_FIELDS), **row.info}
        shown = empty
        if content is not None:
            settled = await (await p.live.rooms.get(sid)).settled()
            ended = phase(info, now_ms()) in ENDED
            section = outcomes.section(settled) if ended else None
            shown = {"section": section, "ended": ended, **content(settled)}
    except Unavailable:
        return p.render(name, shell)
    programme = next((x["title"] for x in programmes if x["id"] == row.programme_id), "")
    tz = info.get("timezone") or "Asia/Shanghai"
    context = p.context(
        title(info, programme),
        _about(p, info),
        reload=False,
        brand=programme,
        sid=sid,
        info=info,
        tz=tz,
        ctx=_item_context(info, sid),
        **shown,
    )
    response = p.render(name, context)
    return stream_http.allow_media(response, row.info) if media else response


@page
async def replay(p: Page) -> Response:
    """``/s/{id}/replay``: the session played back from its log (replay.js); its first
    response shows where the replay opens, at the end: the final record, the questions left
    open, the chapters and, once the window is over, every outcome (live/lists.py)."""

    def title(info: JSON, programme: str) -> str:  # as replay.js names it
        return f"{p.t('replay.badge')} · {info.get('title') or ''}" + (f" - {programme}" if programme else "")

    return await _session_page(p, "replay.html", title, media=True, content=lists.replay_lists)


@page
async def screen(p: Page) -> Response:
    """``/s/{id}/screen``: the big screen (screen.js); framed only where configured (live.middleware)."""
    return await _session_page(
        p, "screen.html", lambda info, _: f"{p.t('screen.doc_title')} - {info.get('title') or ''}"
    )


def staff(name: str) -> Callable[[Request], Awaitable[Response]]:
    """A staff page: ``templates/{name}.html`` on ``templates/staff.html``, the head and top bar
    they share. Its key is in the fragment, which the server never sees, and its words are its
    script's (staff strings), so all it says of the reader is the language the server would
    render a page in (``?lang=``, the cookie, ``Accept-Language``: ``<html data-lang>``), which
    the script takes unless this device chose one. Like every page it mints the device cookie a
    browser lacks (a worker not ready yet serves it without: the page's stream brings one).
    """

    async def endpoint(request: Request) -> Response:
        p = Page(request)
        return p.render(f"{name}.html", {"lang": p.lang, "html_lang": i18n.t(p.lang, "lang.html")})

    return endpoint
