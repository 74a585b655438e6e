"""Hostile input: fuzzed and malformed frames, invalid UTF-8, oversized frames, a flood.

The promise: the server stays up, the connection that sent a bad frame stays open (except
where the WebSocket protocol itself says to close: 1009 for a frame over the limit, 1007 for
invalid UTF-8), every refusal is a structured error with a stable code and a message in
Chinese and English, and nobody else notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from live.exceptions import LiveError
from live.protocol import PROTOCOL, SCHEMAS, Command, parse

from .attack import full_log, running, state
from .conftest import TIMEOUT, LiveServer

CODE = re.compile(r"^[a-z][a-z_]*$")

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**53 - 2)
    | st.floats(allow_nan=True)
    | st.text(max_size=300)
    | st.text(alphabet="<>&\"'\\/\u0000\u202e\ufeff", max_size=50)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
fields = st.sampled_from(sorted({f for schema in SCHEMAS.values() for f in schema} | {"id", "x"}))
objects = st.builds(
    lambda kind, body: {"type": kind, **body},
    st.sampled_from([*SCHEMAS, "nope", "", "HELLO", "__proto__"]) | values,
    st.dictionaries(fields, values, max_size=5),
)
frames = (
    objects.map(json.dumps)
    | values.map(json.dumps)
    | st.text(max_size=500)
    | st.integers(1, 1500).map(lambda n: "[" * n + "]" * n)
    | st.integers(1, 1500).map(lambda n: '{"a":' * n + "1" + "}" * n)
)


def _clear(error: LiveError | dict[str, Any]) -> None:
    body = error.to_dict() if isinstance(error, LiveError) else error
    assert CODE.match(body["code"]) and body["code"] != "internal", body
    assert body["message"]["zh"] and body["message"]["en"], body


# the parser, directly -------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(frame=frames)
def test_parse_returns_a_valid_command_or_a_clear_error(frame: str) -> None:
    try:
        command = parse(frame)
    except LiveError as err:
        _clear(err)
        return
    assert isinstance(command, Command) and command.type in SCHEMAS
    schema = SCHEMAS[command.type]
    assert set(command.args) <= set(schema)
    for name, value in command.args.items():
        types, _, limit = schema[name]
        if types is bool:
            assert isinstance(value, bool)
            continue
        assert isinstance(value, types) and not isinstance(value, bool), (name, value)
        if isinstance(value, int):
            assert 0 <= value <= limit
        if isinstance(value, str):
            assert len(value) <= limit


# the live endpoint ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running(tmp_path_factory.mktemp("fuzz")) as server:
        yield server


@pytest.fixture(scope="module")
def session(srv: LiveServer) -> dict[str, Any]:
    return srv.create_session(moderation="post")


async def _open(srv: LiveServer, sid: int, **hello: Any) -> ClientConnection:
    ws = await connect(f"{srv.ws}/ws/{sid}", compression=None, max_size=None, open_timeout=TIMEOUT)
    await ws.send(json.dumps({"type": "hello", "protocol": PROTOCOL, **hello}))
    await _replies_until(ws, lambda f: f.get("type") == "snapshot")
    return ws


async def _replies_until(ws: ClientConnection, last: Any) -> list[dict[str, Any]]:
    """Frames that answer requests (not events, presence or snapshots), up to ``last``."""
    got = []
    async with asyncio.timeout(TIMEOUT):
        while True:
            data = json.loads(await ws.recv())
            for frame in data if isinstance(data, list) else [data]:
                if last(frame):
                    return got
                if frame.get("type") in ("ack", "error", "pong") and "data" not in frame:
                    got.append(frame)


_marks = itertools.count()


async def _one_reply_each(ws: ClientConnection, frame: str) -> dict[str, Any]:
    mark = f"mark-{next(_marks)}"
    await ws.send(frame)
    await ws.send(json.dumps({"type": "ping", "id": mark}))
    replies = await _replies_until(ws, lambda f: f.get("re") == mark and f.get("type") == "pong")
    assert len(replies) == 1, (frame[:200], replies)
    return replies[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(frames, min_size=1, max_size=8))
def test_fuzzed_frames_each_get_one_clear_reply(
    srv: LiveServer, session: dict[str, Any], batch: list[str]
) -> None:
    async def run() -> None:
        viewer = await _open(srv, session["id"])
        admin = await _open(srv, session["id"], token="test-admin-token")
        try:
            for frame in batch:
                for ws in (viewer, admin):
                    reply = await _one_reply_each(ws, frame)
                    if reply["type"] == "error":
                        _clear(reply)
        finally:
            await viewer.close()
            await admin.close()

    asyncio.run(run())


def test_after_the_fuzzing_the_log_is_whole_and_the_server_never_failed(
    srv: LiveServer, session: dict[str, Any]
) -> None:
    """Runs after the fuzz test in this module: whatever the fuzzer did, it did through the log."""
    log = full_log(srv, session["id"])
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert state(srv, session["id"])["seq"] == log[-1]["seq"]
    text = srv.log.read_text()
    assert "unexpected error" not in text and "Exception in ASGI application" not in text


HOSTILE = [
    ('{"type":"vote","question_id":1e999}', "wrong_type"),
    ('{"type":"vote","question_id":-1}', "out_of_range"),
    ('{"type":"vote","question_id":9007199254740993}', "out_of_range"),
    ('{"type":"vote","question_id":' + "9" * 5000 + "}", "invalid_json"),
    ('{"type":"vote","question_id":true}', "wrong_type"),
    ('{"type":"vote","question_id":[1]}', "wrong_type"),
    ('{"type":"ask","client_id":"x","text":{"$gt":""}}', "wrong_type"),
    ('{"type":"ask","client_id":"' + "x" * 65 + '","text":"q"}', "too_long"),
    ('{"type":["vote"]}', "unknown_type"),
    ('{"type":"constructor"}', "unknown_type"),
    ('{"type":"vote","question_id":1,"question_id":"2"}', "wrong_type"),
    ('"just a string"', "not_an_object"),
    ("null", "not_an_object"),
    ("NaN", "not_an_object"),
    ("\ufeff{}", "invalid_json"),
    ("{" * 10_000, "invalid_json"),
    ('{"type":"hello"}', "already_hello"),
]


async def test_hostile_frames_are_refused_clearly_and_the_connection_carries_on(
    srv: LiveServer, session: dict[str, Any]
) -> None:
    ws = await _open(srv, session["id"])
    try:
        for raw, code in HOSTILE:
            reply = await _one_reply_each(ws, raw)
            assert reply["type"] == "error" and reply["code"] == code, (raw[:60], reply)
            _clear(reply)
        await ws.send(b"\x00\x01binary")
        before = await _replies_until(ws, lambda f: f.get("code") == "binary_frame")
        assert before == [] and (await _one_reply_each(ws, '{"type":"ping"}'))["type"] == "pong"
    finally:
        await ws.close()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b'{"type":"ping","x":"\xff\xfe"}', 1007),
        (b'{"type":"ping","x":"\xed\xa0\x80"}', 1007),
        ("x" * 65_537, 1009),
    ],
    ids=["invalid_utf8", "utf16_surrogate", "over_64KiB"],
)
async def test_invalid_utf8_or_oversized_frames_close_only_that_connection(
    srv: LiveServer, session: dict[str, Any], payload: bytes | str, code: int
) -> None:
    bad = await _open(srv, session["id"])
    other = await _open(srv, session["id"])
    try:
        await bad.send(payload, text=True)
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(TIMEOUT):
                while True:
                    await bad.recv()
        assert bad.close_code == code
        assert (await _one_reply_each(other, '{"type":"ping"}'))["type"] == "pong"
        assert "Traceback" not in srv.log.read_text(), "a client's bad frame logged as a server error"
    finally:
        await other.close()
    at_limit = await _open(srv, session["id"])
    try:
        pad = 65_536 - len('{"type":"ping","id":"big","x":""}')
        await at_limit.send('{"type":"ping","id":"big","x":"' + "x" * pad + '"}')
        assert (await _replies_until(at_limit, lambda f: f.get("re") == "big")) == []
    finally:
        await at_limit.close()


# a flood from one client -----------------------------------------------------------------------


async def test_a_flood_of_10000_messages_leaves_heartbeats_and_everyone_else_served(tmp_path: Any) -> None:
    """Past the limits every frame is refused with a clear error, heartbeats still get pongs,
    and a client that keeps flooding is cut off (1008) while everyone else is served."""
    with running(tmp_path, **{"LIVE_VOTES_PER_MINUTE": "60", "LIVE_FRAMES_PER_SECOND": "20"}) as srv:
        s = srv.create_session(moderation="post")
        sid = s["id"]
        async with srv.client(sid) as asker:
            qid = (await asker.request("ask", client_id="q", text="洪水之前的问题"))["question_id"]
        other = srv.client(sid)
        await other.connect()
        mod = srv.client(sid, token=s["moderator_token"])
        await mod.connect()

        # Over the per-type budget but under the flood cut-off: refused clearly, pings answered.
        eager = await _open(srv, sid)
        replies: dict[str, dict[str, Any]] = {}
        for i in range(60):
            await eager.send(json.dumps({"type": "vote", "id": f"v{i}", "question_id": qid}))
            if i % 10 == 0:
                await eager.send(json.dumps({"type": "ping", "id": f"p{i}"}))
        await eager.send(json.dumps({"type": "ping", "id": "last"}))
        for frame in await _replies_until(eager, lambda f: f.get("re") == "last" and f["type"] == "pong"):
            replies[frame["re"]] = frame
        await eager.close()
        assert len(replies) == 60 + 6, "a request went unanswered"
        for rid, frame in replies.items():
            if rid.startswith("p") or rid == "last":
                assert frame["type"] == "pong", f"heartbeat {rid} was refused: {frame}"
            elif frame["type"] == "error":
                _clear(frame)
                assert frame["code"] == "rate_limited" and frame["details"]["retry_after"] > 0
            else:
                assert frame["type"] == "ack" and frame["result"]["question_id"] == qid
        assert any(f["type"] == "error" for f in replies.values()), "the budget never bit"

        # 10,000 frames as fast as the socket takes them: cut off, with a last clear error.
        flooder = await _open(srv, sid)
        codes: list[str] = []
        try:
            for i in range(10_000):
                await flooder.send(json.dumps({"type": "vote", "id": f"f{i}", "question_id": qid}))
        except ConnectionClosed:
            pass
        with contextlib.suppress(ConnectionClosed):
            async for message in flooder:
                data = json.loads(message)
                codes += [f.get("code", f["type"]) for f in (data if isinstance(data, list) else [data])]
        assert flooder.close_code == 1008, flooder.close_code
        assert "flooding" in codes and codes[-1] == "flooding"
        assert (await other.request("ping"))["type"] == "pong"
        await mod.request("extend", ends_at=other.welcome["server_time"] + 3 * 3_600_000)
        await other.wait_for(lambda e: e["type"] == "session.extended")
        await other.close()
        await mod.close()
        async with srv.client(sid) as after:
            assert (await after.request("ping"))["type"] == "pong"
            assert after.snapshot is not None
            votes = {q["id"]: q["votes"] for q in after.snapshot["questions"]}
            assert votes[qid] <= 2, "two devices (eager, flooder) added more than one vote each"


def _masked(payload: bytes) -> bytes:
    """A client text frame with a zero mask key (RFC 6455 5.3: clients must mask)."""
    n = len(payload)
    size = bytes((0x80 | n,)) if n < 126 else bytes((0x80 | 126,)) + n.to_bytes(2, "big")
    return b"\x81" + size + b"\0\0\0\0" + payload


async def test_a_flooder_that_never_answers_the_close_is_disconnected_soon(
    srv: LiveServer, session: dict[str, Any]
) -> None:
    """uvicorn waits 10 s for a close reply, reading all the while; a flooder never replies.

    The server stops reading it and ends the connection after a short grace, in which the
    client can still read the last error and the close frame.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(
        f"GET /ws/{session['id']} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    received = bytearray(await reader.readuntil(b"\r\n\r\n"))
    writer.write(_masked(b'{"type":"hello","protocol":%d}' % PROTOCOL))

    async def read_all() -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                received.extend(chunk)

    reading = asyncio.create_task(read_all())
    loop = asyncio.get_running_loop()
    started = loop.time()
    burst = _masked(b"{not json") * 200
    with contextlib.suppress(ConnectionError):
        while not reading.done() and loop.time() - started < 9:
            writer.write(burst)
            await writer.drain()
            await asyncio.sleep(0.005)
    await asyncio.wait_for(reading, 10)
    writer.close()
    assert loop.time() - started < 9, "the server kept reading the flood until uvicorn's timeout"
    assert b'"code":"flooding"' in received
    assert b"\x88\x0a\x03\xf0flooding" in received, "no close frame with 1008 before the end"
