"""The programme service: the columns (栏目) and the listing of their sessions.

Programmes are staff configuration, not events: creating or renaming one
changes no session's log. The pages and the API reach them only through
:class:`Programmes`, which is handed the store's :class:`~live.store.Catalog`
and nothing else.
"""

from __future__ import annotations

import re

from .events import JSON
from .exceptions import BadRequest
from .store import Catalog, SessionRow

SLUG = re.compile(r"[a-z0-9-]{1,50}")
"""A programme's short name (英文短名): it is in addresses (``/p/{slug}/commitments``) and in
the names of exported files, so it is lowercase ASCII letters, digits and hyphens."""


def check_slug(slug: object) -> str:
    """``slug`` if it keeps :data:`SLUG`; else ``bad_slug``, whose message states the rule."""
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        raise BadRequest(
            "bad_slug",
            "英文短名只能用小写英文字母 a-z、数字和连字符（-），1 至 50 个字符，例如 quzhang-online",
            "The short name may only use lowercase letters a-z, digits and hyphens (-), "
            "1 to 50 characters, e.g. district-online",
            field="slug",
        )
    return slug


class Programmes:
    def __init__(self, store: Catalog) -> None:
        self.store = store

    async def create(self, slug: object, title: str, description: str) -> int:
        """A new programme's id; a slug that breaks :data:`SLUG` is refused (``bad_slug``), and
        one already taken (``programme_exists``)."""
        return await self.store.create_programme(check_slug(slug), title, description)

    async def update(self, programme_id: int, fields: JSON) -> None:
        await self.store.update_programme(programme_id, fields)

    async def all(self) -> list[JSON]:
        """Every programme, oldest first."""
        return await self.store.list_programmes()

    async def sessions(self, programme_id: int | None = None) -> list[SessionRow]:
        """The sessions of one programme (of all, with None), oldest first."""
        return await self.store.list_sessions(programme_id)
