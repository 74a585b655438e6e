"""The broadcast beside the Q&A (issue 21): a session's stream and recording, set by an admin.

Against a real server: the stream reaches a connected viewer as ``session.updated`` (the one
feed), the session's viewer and replay pages, and only they, let in media from the stream's
origin, and every malformed stream is refused with ``bad_stream`` naming the field.
"""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from .conftest import TIMEOUT, TZ, LiveServer

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
CDN = "https://live.example.gov.cn:8443"
VOD = "http://vod.example.gov.cn"


def csp(srv: LiveServer, path: str) -> str:
    return httpx.get(f"{srv.http}{path}", timeout=TIMEOUT).headers["content-security-policy"]


async def test_a_stream_is_checked_seen_live_and_let_in_by_the_csp(server: LiveServer) -> None:
    s = server.create_session()
    other = server.create_session()
    sid = s["id"]
    refusals(server, sid)
    assert "media-src" not in csp(server, f"/s/{sid}")
    async with server.client(sid) as viewer:
        with server.admin() as admin:
            r = admin.patch(
                f"/api/sessions/{sid}",
                json={
                    "stream": {"url": f"{CDN}/live/ep32.m3u8?token=a%20b", "kind": "audio"},
                    "recording": {"url": f"{VOD}/ep32.mp4", "starts_at": "2030-05-01T19:30:05"},
                },
            )
            assert r.status_code == 200, r.text
        event = await viewer.wait_for(lambda f: f.get("type") == "session.updated")
    info = event["data"]["session"]
    assert info["stream"] == {"url": f"{CDN}/live/ep32.m3u8?token=a%20b", "kind": "audio"}
    at = datetime(2030, 5, 1, 19, 30, 5, tzinfo=TZ)  # read in the session's timezone
    assert info["recording"] == {"url": f"{VOD}/ep32.mp4", "starts_at": int(at.timestamp() * 1000)}

    for path in (f"/s/{sid}", f"/s/{sid}/replay"):
        policy = csp(server, path)
        assert f"connect-src 'self' {CDN} {VOD};" in policy, policy
        assert f"media-src 'self' blob: {CDN} {VOD};" in policy, policy
        assert policy.endswith("frame-ancestors 'none'")
    for path in (f"/s/{other['id']}", f"/s/{sid}/presenter", f"/s/{sid}/screen", "/"):
        assert "example.gov.cn" not in csp(server, path), path

    with server.admin() as admin:
        r = admin.patch(f"/api/sessions/{sid}", json={"stream": None, "recording": None})
        assert r.status_code == 200 and r.json()["session"]["stream"] is None
    assert "media-src" not in csp(server, f"/s/{sid}")


BAD = [
    ({"stream": {"url": "ftp://live.example.gov.cn/a.m3u8"}}, "stream.url"),
    ({"stream": {"url": "javascript:alert(1)//.m3u8"}}, "stream.url"),
    ({"stream": {"url": "https://user:pw@live.example.gov.cn/a.m3u8"}}, "stream.url"),
    ({"stream": {"url": "https://live.example.gov.cn/a.m3u8 'unsafe-inline'"}}, "stream.url"),
    ({"stream": {"url": "https://live.example.gov.cn:99999/a.m3u8"}}, "stream.url"),
    ({"stream": {"url": "https:///a.m3u8"}}, "stream.url"),
    ({"stream": {"url": "https://live.example.gov.cn/" + "a" * 2000}}, "stream.url"),
    ({"stream": {"url": "https://live.example.gov.cn/a.m3u8", "kind": "tv"}}, "stream.kind"),
    ({"stream": {"url": "https://live.example.gov.cn/a.m3u8", "poster": "x"}}, "stream"),
    ({"recording": {"url": "https://vod.example.gov.cn/a.mp4"}}, "recording.starts_at"),
    (
        {"recording": {"url": "https://vod.example.gov.cn/a.mp4", "starts_at": 1_800_000_000}},
        "recording.starts_at",
    ),
    ({"recording": {"url": "data:video/mp4,", "starts_at": 1_800_000_000_000}}, "recording.url"),
]
"""Each malformed stream or recording, and the field its refusal names."""


def refusals(srv: LiveServer, sid: int) -> None:
    with srv.admin() as admin:
        for body, field in BAD:
            r = admin.patch(f"/api/sessions/{sid}", json=body)
            assert r.status_code == 400, (body, r.text)
            err = r.json()
            assert (err["code"], err["details"]["field"]) == ("bad_stream", field), body
            assert err["message"]["zh"] and err["message"]["en"]
        assert admin.get(f"/api/sessions/{sid}").json()["session"].get("stream") is None
