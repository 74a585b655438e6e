"""Where a question came from (来源渠道): the web page, or a call or message that staff enter.

A 区长在线 evening takes questions by hotline (热线), SMS (短信), WeChat (微信) and the 12345
line as well as on its page. Staff type those in on the moderator page with their channel and
the caller's optional contact, as an ``ask`` with ``channel``: the same decision, the same
``question.asked`` event, the same queue and receipt numbers (docs/protocol.md, "Every
channel"). A question asked on the page is channel ``web``, the only one a citizen may give.

The one table of channels and their names is in the pages' string files, every page's
``static/js/lang/zh.js`` and ``en.js``: the lines ``'channel.<id>': '<name>'``, in order,
``web`` first. The pages show a question's channel with ``t('channel.' + q.channel)`` and list
the choices from the same keys; the server reads the same file (:mod:`live.i18n`) for its own
formats and pages (the transcript's Markdown and CSV, a bundle, the statistics), so a channel
or a name is added or changed in one place.
"""

from __future__ import annotations

from functools import cache

from . import i18n
from .exceptions import BadRequest

WEB = "web"
"""The channel of a question asked on the page; a question without ``channel`` on the wire is one."""


@cache
def names(lang: str = "zh") -> dict[str, str]:
    """Each channel's name in ``lang`` (``zh`` or ``en``), in the table's order."""
    return {key[8:]: value for key, value in i18n.strings(lang).items() if key.startswith("channel.")}


def channels() -> tuple[str, ...]:
    """Every channel, ``web`` first."""
    return tuple(names("zh"))


def label(channel: str, lang: str = "zh") -> str:
    return names(lang).get(channel, channel)


def check(channel: object) -> str:
    """A channel named in a request: one of the table's (``web`` when none), else ``bad_channel``."""
    if channel is None or channel == "":
        return WEB
    if channel not in channels():
        raise BadRequest(
            "bad_channel",
            "来源渠道无效",
            f"channel is one of {', '.join(channels())}",
            field="channel",
        )
    return str(channel)
