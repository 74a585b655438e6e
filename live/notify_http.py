"""HTTP for the messages sent to askers: the staff list of a session's notifications.

Staff of the session (or the admin) only, checked on the server like every staff view;
the contact each message went to is masked even there (:func:`live.notify.mask`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .exceptions import Forbidden
from .routes import request_role, services


async def notifications(request: Request) -> Response:
    sid = request.path_params["session_id"]
    if not (await request_role(request, sid)).staff:
        raise Forbidden("staff_only", "需要工作人员权限", "Staff only: send a staff key")
    live = services(request)
    await live.rooms.get(sid)  # session_not_found for a session that does not exist
    return JSONResponse(await live.notifier.listing(sid))
