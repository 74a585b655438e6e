"""docs/ is a contract: where the code and the documents (or a second copy) disagree, fail.

Error codes: every code the server can send is in docs/protocol.md's table with its HTTP
status, and every code there is one the server can send. The browser speaks the server's
protocol version.
"""

from __future__ import annotations

import re
from pathlib import Path

from live import exceptions
from live.protocol import PROTOCOL

ROOT = Path(__file__).resolve().parent.parent
CLASSES = {
    cls.__name__: cls.status
    for cls in vars(exceptions).values()
    if isinstance(cls, type) and issubclass(cls, exceptions.LiveError)
}
NAMES = "|".join(CLASSES)
RAISED = re.compile(rf"\b({NAMES})\(\s*\"(\w+)\"")
BARE = re.compile(rf"\b({NAMES})\(\s*(?:\)|[a-z_]+=)")
COUNTED = re.compile(r"metrics\.refused\(\s*\"(\w+)\"")


def codes_in_code() -> dict[str, set[int]]:
    """Each error code the package can produce, with the HTTP statuses it comes with."""
    found: dict[str, set[int]] = {}
    for path in (ROOT / "live").rglob("*.py"):
        text = path.read_text()
        for cls, code in RAISED.findall(text):
            found.setdefault(code, set()).add(CLASSES[cls])
        for cls in BARE.findall(text):  # a class's own default code
            found.setdefault(getattr(exceptions, cls).code, set()).add(CLASSES[cls])
        for code in COUNTED.findall(text):
            found.setdefault(code, set())
    return found


def codes_in_docs() -> tuple[dict[str, int], set[str]]:
    """The error table of docs/protocol.md, and the codes it names as counted only."""
    doc = (ROOT / "docs" / "protocol.md").read_text()
    table = dict((code, int(status)) for code, status in re.findall(r"^\| `(\w+)` \| (\d{3}) \|", doc, re.M))
    counted = set(re.findall(r"`(\w+)`, a[^`]*(?:handshake|connection closed)", doc))
    return table, counted


def test_every_error_code_is_documented() -> None:
    found = codes_in_code()
    table, counted = codes_in_docs()
    assert counted == {"origin_not_allowed", "header_timeout"}
    assert set(found) - counted == set(table), (
        f"in the code, not in docs/protocol.md: {sorted(set(found) - counted - set(table))}; "
        f"documented but never sent: {sorted(set(table) - set(found))}"
    )
    for code, statuses in found.items():
        if code in table:
            assert statuses <= {table[code]}, f"{code}: docs say {table[code]}, code {statuses}"


def test_the_browser_speaks_the_servers_protocol() -> None:
    js = (ROOT / "static" / "js" / "live.js").read_text()
    assert re.search(r"export const PROTOCOL = (\d+);", js)[1] == str(PROTOCOL)  # type: ignore[index]


async def test_a_request_with_an_invalid_id_is_refused_not_run(tmp_path: Path) -> None:
    """An ``id`` the reply could not echo used to be dropped while the request still ran."""
    import json

    from websockets.asyncio.client import connect

    from .attack import running, state

    with running(tmp_path) as srv:
        sid = srv.create_session()["id"]
        async with connect(f"{srv.ws}/ws/{sid}") as ws:
            await ws.send(json.dumps({"type": "hello", "protocol": PROTOCOL}))
            while json.loads(await ws.recv()).get("type") != "snapshot":
                pass
            for bad in ([1], "x" * 65, True, 2**60):
                await ws.send(
                    json.dumps({"type": "ask", "id": bad, "client_id": "c", "text": "编号不对的问题"})
                )
                reply = json.loads(await ws.recv())
                assert (reply["type"], reply["code"], reply["re"]) == ("error", "bad_id", None)
        assert state(srv, sid)["questions"] == []


# uvicorn's private attributes that live.fastws and live.guard rely on ---------------------------

WS_ATTRIBUTES = (
    "loop",
    "queue",
    "writable",
    "conn",
    "transport",
    "handshake_complete",
    "close_sent",
    "disconnected",
    "read_paused",
    "close_timer",
)
"""Set by ``WebSocketsSansIOProtocol.__init__``; read or replaced by :mod:`live.fastws`."""
WS_METHODS = (
    "connection_made",
    "connection_lost",
    "data_received",
    "handle_connect",
    "send_receive_event_to_app",
    "send",
)
HTTP_ATTRIBUTES = ("loop", "config", "transport", "flow", "cycle")
"""Set by ``H11Protocol.__init__``; read by :mod:`live.guard`."""
HTTP_METHODS = ("connection_made", "connection_lost", "on_response_complete", "handle_websocket_upgrade")


def test_uvicorn_still_has_what_fastws_and_guard_use() -> None:
    """Each private attribute and method of uvicorn's protocols that our subclasses use.

    They are not uvicorn's public API, so pyproject.toml pins uvicorn to the releases this
    (with the server tests that run through both subclasses) has passed on.
    """
    import asyncio
    import inspect

    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from uvicorn.server import ServerState

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("never called")

    async def made() -> tuple[object, object]:
        config = uvicorn.Config(app, ws="websockets-sansio", http="h11")
        config.load()
        return (
            WebSocketsSansIOProtocol(config=config, server_state=ServerState(), app_state={}),
            H11Protocol(config=config, server_state=ServerState(), app_state={}),
        )

    ws, http = asyncio.run(made())
    for name in WS_ATTRIBUTES:
        assert hasattr(ws, name), f"uvicorn's WebSocket protocol lost {name}"
    for name in HTTP_ATTRIBUTES:
        assert hasattr(http, name), f"uvicorn's h11 protocol lost {name}"
    for cls, names in ((WebSocketsSansIOProtocol, WS_METHODS), (H11Protocol, HTTP_METHODS)):
        for name in names:
            assert callable(getattr(cls, name, None)), f"{cls.__name__}.{name} is gone"
    handshake = inspect.getsource(WebSocketsSansIOProtocol.handle_connect)
    assert "self.request = " in handshake and "self.response = " in handshake
    assert "self.response_complete" in inspect.getsource(RequestResponseCycle.__init__)
    assert "forwarded_allow_ips" in inspect.signature(uvicorn.Config).parameters
    from live.fastws import INVALID_UTF8

    assert f"self.logger.exception({INVALID_UTF8!r})".replace("'", '"') in inspect.getsource(
        WebSocketsSansIOProtocol.send_receive_event_to_app
    ), "uvicorn logs invalid UTF-8 differently: live.fastws.ClientFaults no longer matches it"


def test_no_heading_of_the_docs_says_it_is_unfinished() -> None:
    """A heading of a contract that says it is still being built ("being implemented by the lead;
    build against this") tells a reader not to trust it: once built, it says what holds."""
    for path in (ROOT / "docs").glob("*.md"):
        headings = re.findall(r"^#+ .*$", path.read_text(), re.M)
        assert headings, path
        unfinished = [
            h for h in headings if re.search(r"being implemented|build against|\bTODO\b|\bWIP\b", h, re.I)
        ]
        assert unfinished == [], f"{path.name}: {unfinished}"
