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
CLASSES = {cls.__name__: cls.status for cls in vars(exceptions).values()
           if isinstance(cls, type) and issubclass(cls, exceptions.LiveError)}
NAMES = "|".join(CLASSES)
RAISED = re.compile(rf"\b({NAMES})\(\s*\"(\w+)\"")
BARE = re.compile(rf"\b({NAMES})\((?:\)|[a-z_]+=)")
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
    table = dict((code, int(status)) for code, status in
                 re.findall(r"^\| `(\w+)` \| (\d{3}) \|", doc, re.M))
    counted = set(re.findall(r"`(\w+)`, a[^`]*(?:handshake|connection closed)", doc))
    return table, counted


def test_every_error_code_is_documented() -> None:
    found = codes_in_code()
    table, counted = codes_in_docs()
    assert counted == {"origin_not_allowed", "header_timeout"}
    assert set(found) - counted == set(table), (
        f"in the code, not in docs/protocol.md: {sorted(set(found) - counted - set(table))}; "
        f"documented but never sent: {sorted(set(table) - set(found))}")
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
                await ws.send(json.dumps({"type": "ask", "id": bad, "client_id": "c",
                                          "text": "编号不对的问题"}))
                reply = json.loads(await ws.recv())
                assert (reply["type"], reply["code"], reply["re"]) == ("error", "bad_id", None)
        assert state(srv, sid)["questions"] == []
