"""The programme service: the columns (栏目) and the listing of their sessions.

Programmes are staff configuration, not events: creating or renaming one
changes no session's log. The pages and the API reach them only through
:class:`Programmes`, which is handed the store's :class:`~live.store.Catalog`
and nothing else.
"""

from __future__ import annotations

from .events import JSON
from .store import Catalog, SessionRow


class Programmes:
    def __init__(self, store: Catalog) -> None:
        self.store = store

    async def create(self, slug: str, title: str, description: str) -> int:
        """A new programme's id; a slug already taken is refused (``programme_exists``)."""
        return await self.store.create_programme(slug, title, description)

    async def update(self, programme_id: int, fields: JSON) -> None:
        await self.store.update_programme(programme_id, fields)

    async def all(self) -> list[JSON]:
        """Every programme, oldest first."""
        return await self.store.list_programmes()

    async def sessions(self, programme_id: int | None = None) -> list[SessionRow]:
        """The sessions of one programme (of all, with None), oldest first."""
        return await self.store.list_sessions(programme_id)
