"""The stream's own route (:class:`live.app.App`, in front of Starlette) and the handshake's refusals.

A viewer's handshake no longer reads the session row (the worker's room answers for it) and
only a staff token does, so each way a hello can be refused is checked here on both backends.
"""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from .conftest import ADMIN, TIMEOUT, LiveServer


@pytest.mark.parametrize("path", ["/ws/abc", "/ws/1/more", "/ws/", "/s/1", "/nowhere"])
async def test_a_websocket_anywhere_else_is_refused_before_the_handshake(
    server: LiveServer, path: str
) -> None:
    server.create_session()
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{server.ws}{path}", open_timeout=TIMEOUT)
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("token", [None, ADMIN])
async def test_a_missing_session_is_refused_to_viewers_and_staff(
    server: LiveServer, token: str | None
) -> None:
    s = server.create_session()
    async with server.client(s["id"]):  # the room of an existing session is loaded
        pass
    missing = server.client(s["id"] + 1000, token=token)
    with pytest.raises(ConnectionError):
        await missing.connect()
    assert (await missing.next_event())["code"] == "session_not_found"
    assert missing.close_code == 4404


async def test_a_wrong_token_is_refused_and_a_right_one_grants_its_role(server: LiveServer) -> None:
    s = server.create_session()
    wrong = server.client(s["id"], token="not-a-staff-key")
    with pytest.raises(ConnectionError):
        await wrong.connect()
    assert (await wrong.next_event())["code"] == "bad_token"
    assert wrong.close_code == 4401
    for token, role in (
        (s["presenter_token"], "presenter"),
        (s["moderator_token"], "moderator"),
        (ADMIN, "admin"),
        (None, "viewer"),
    ):
        async with server.client(s["id"], token=token) as c:
            assert c.welcome["role"] == role
