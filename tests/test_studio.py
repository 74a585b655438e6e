"""The studio (issue 21, points 2 and 3): the host's lines and photos, over real connections.

On both engines: the host's remark and the question it reads out reach a viewer through the one
feed, in order with the answers, and the transcript reads as a published 访谈实录 (a run of
[主持人] and [嘉宾] lines); who may not post is refused. A photo with GPS and a camera serial in
its EXIF comes back with no metadata at all (read with Pillow), upright; a non-image named .jpg,
a decompression bomb and an oversized file are refused with structured errors while the server
carries on; a withdrawn photo is gone. And a photo travels: ``live export`` from SQLite,
``live import`` into PostgreSQL, and ``live bundle`` (``live copy-to``: ``test_pgcopy.py``).
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import zlib
from pathlib import Path

import httpx
import pytest
from PIL import Image

from live.client import ServerError

from .attack import UNLIMITED, fetch, full_log
from .conftest import TIMEOUT, Backend, LiveServer, fresh_pg_database
from .test_operations import live_cli

LIMIT = 300_000
"""The photo size cap the photo tests' server runs with (``LIVE_MAX_PHOTO_BYTES``)."""


def upload(
    srv: LiveServer, sid: int, token: str | None, data: bytes, name: str = "a.jpg", **form: str
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(
        f"{srv.http}/api/sessions/{sid}/photos",
        headers=headers,
        files={"photo": (name, data, "image/jpeg")},
        data=form,
        timeout=TIMEOUT,
    )


def jpeg_with_gps(size: tuple[int, int] = (40, 20)) -> bytes:
    """A JPEG such as a phone writes: GPS position, make, model, body serial, turned on its side."""
    im = Image.new("RGB", size, (200, 30, 30))
    for x in range(size[0] // 2):
        for y in range(size[1]):
            im.putpixel((x, y), (20, 60, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 15"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to show
    exif[0xA431] = "SERIAL-123456"  # BodySerialNumber (in the Exif IFD, read below)
    exif.get_ifd(0x8825).update({1: "N", 2: (31.0, 14.0, 2.0), 3: "E", 4: (121.0, 28.0, 5.0)})  # GPSInfo
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif, comment=b"taken at home")
    data = out.getvalue()
    assert b"SERIAL-123456" in data and b"taken at home" in data
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825), "the test photo has no GPS to strip"
    return data


def png_bomb() -> bytes:
    """A few bytes declaring a 10,000 x 10,000 image: refused before its pixels are decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 10_000, 10_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_host_lines_reach_a_viewer_and_the_transcript_in_order(server: LiveServer) -> None:
    s = server.create_session()
    sid = s["id"]
    async with (
        server.client(sid, token=s["host_token"]) as host,
        server.client(sid) as citizen,
        server.client(sid) as watcher,
        server.client(sid, token=s["moderator_token"]) as mod,
        server.client(sid, token=s["presenter_token"]) as official,
    ):
        assert host.welcome["role"] == "host"
        opening = (await host.request("remark", text="  各位网友，大家晚上好！\r\n欢迎收看。  "))["post_id"]
        asked = [
            (await citizen.request("ask", client_id=f"s{i}", text=text, name=name))["question_id"]
            for i, (text, name) in enumerate((("路什么时候修？", "王先生"), ("公交能否加密？", "李女士")))
        ]
        with pytest.raises(ServerError) as refused:
            await host.request("announce", question_id=asked[0])  # not published yet
        assert (refused.value.code, refused.value.details["status"]) == ("not_announceable", "pending")
        for qid in asked:
            await mod.request("approve", question_id=qid)
        await host.request("announce", question_id=asked[0])
        await official.request("answer", question_id=asked[0], text="六月底前修好。")
        await official.request("answer", question_id=asked[1], text="正在研究。")
        with pytest.raises(ServerError) as refused:
            await host.request("announce", question_id=asked[0])  # answered already
        assert refused.value.code == "not_announceable"
        mistake = (await mod.request("remark", text="说错的话"))["post_id"]  # a moderator may host
        await host.request("withdraw_post", post_id=mistake)
        await host.request("remark", text="本期访谈到此结束，谢谢！")
        for who, client in (("citizen", citizen), ("official", official)):
            with pytest.raises(ServerError) as refused:
                await client.request("remark", text="我也说两句")
            assert refused.value.code == "forbidden", who
        with pytest.raises(ServerError) as refused:
            await host.request("remark", text="长" * 2001)
        assert (refused.value.code, refused.value.details["limit"]) == ("text_too_long", 2000)
        await watcher.wait_seq(fetch(server, "GET", f"/api/sessions/{sid}").json()["seq"])
        seen = [(e["type"], e["data"]) for e in watcher.events]

    said = [
        ("remark", d["post"].get("text"))
        if t == "host.remarked"
        else ("announce", d["post"]["question_id"])
        if t == "host.announced"
        else ("withdrawn", d["post"]["id"])
        if t == "post.withdrawn"
        else ("answer", d["question"]["id"])
        for t, d in seen
        if t.startswith(("host.", "post.")) or t == "question.answered"
    ]
    assert said == [
        ("remark", "各位网友，大家晚上好！\n欢迎收看。"),
        ("announce", asked[0]),
        ("answer", asked[0]),
        ("answer", asked[1]),
        ("remark", "说错的话"),
        ("withdrawn", mistake),
        ("remark", "本期访谈到此结束，谢谢！"),
    ], "the viewer heard the host's lines in order with the answers, through the one feed"
    posts = {d["post"]["id"]: d["post"] for t, d in seen if t == "host.remarked"}
    assert [d["post"] for t, d in seen if t == "post.withdrawn"] == [
        {"id": mistake, "kind": "remark", "at": posts[mistake]["at"], "withdrawn": True}
    ], "a withdrawn post leaves only that it was withdrawn"
    snap = fetch(server, "GET", f"/api/sessions/{sid}").json()
    assert [p["id"] for p in snap["posts"]] == [opening, 2, 4], "the snapshot holds the posts that stand"

    doc = fetch(server, "GET", f"/api/sessions/{sid}/transcript").json()
    assert [(line["kind"], line["role"], line.get("id")) for line in doc["lines"]] == [
        ("remark", "host", None),
        ("announce", "host", asked[0]),
        ("answer", "guest", asked[0]),
        ("question", "citizen", asked[1]),
        ("answer", "guest", asked[1]),
        ("remark", "host", None),
    ]
    assert "说错的话" not in json.dumps(doc, ensure_ascii=False)
    md = fetch(server, "GET", f"/api/sessions/{sid}/transcript", params={"format": "md"}).text
    run = [line for line in md.splitlines() if line.startswith("**\\[")]
    assert [line.split("**")[1] for line in run] == [
        "\\[主持人\\]",
        "\\[主持人\\]",
        "\\[嘉宾\\]",
        "\\[网友 李女士\\]",
        "\\[嘉宾\\]",
        "\\[主持人\\]",
    ]
    assert "下面请看网友“王先生”的提问：路什么时候修？" in run[1] and "六月底前修好。" in run[2]
    en = fetch(server, "GET", f"/api/sessions/{sid}/transcript", params={"format": "csv", "lang": "en"}).text
    assert "\r\n\r\nTime,Speaker,Content,Link\r\n" in en and ",[Host],Thank" not in en
    assert en.count(",[Host],") == 3 and en.count(",[Guest],") == 2 and ",[Citizen 李女士]," in en


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_a_photo_comes_back_without_its_metadata_and_bad_ones_are_refused(backend: Backend) -> None:
    srv = await asyncio.to_thread(
        LiveServer(backend.db, backend.bus, env={**backend.env, "LIVE_MAX_PHOTO_BYTES": str(LIMIT)}).start
    )
    try:
        s = srv.create_session()
        sid = s["id"]
        async with srv.client(sid) as watcher:
            sent = jpeg_with_gps()
            r = upload(srv, sid, s["host_token"], sent, caption="访谈现场")
            assert r.status_code == 200, r.text
            result = r.json()["result"]
            assert (result["width"], result["height"]) == (20, 40), "turned upright by its orientation"
            await watcher.wait_seq(2)
            [posted] = [e["data"]["post"] for e in watcher.events if e["type"] == "photo.posted"]
        assert posted["caption"] == "访谈现场" and posted["url"] == f"photos/{result['photo']}.jpg"
        got = httpx.get(f"{srv.http}/s/{sid}/{posted['url']}", timeout=TIMEOUT)
        assert got.headers["content-type"] == "image/jpeg"
        assert "immutable" in got.headers["cache-control"]
        assert len(got.content) == posted["bytes"]
        back = Image.open(io.BytesIO(got.content))
        assert back.format == "JPEG" and back.size == (20, 40)
        assert dict(back.getexif()) == {} and "exif" not in back.info and "comment" not in back.info
        assert "icc_profile" not in back.info and "xmp" not in back.info
        for secret in (b"Exif", b"SERIAL-123456", b"PhoneMaker", b"taken at home"):
            assert secret not in got.content, secret
        assert back.getpixel((10, 5))[2] > 150 and back.getpixel((10, 35))[0] > 150, (
            "the pixels survive, turned"
        )

        refusals = [
            (upload(srv, sid, s["host_token"], b"GIF89a not really a photo" * 10, "a.jpg"), 400, "bad_photo"),
            (upload(srv, sid, s["host_token"], png_bomb(), "bomb.png"), 400, "bad_photo"),
            (upload(srv, sid, s["host_token"], sent[: len(sent) // 2], "cut.jpg"), 400, "bad_photo"),
            (
                upload(srv, sid, s["host_token"], b"\xff" * (LIMIT + 10)),
                413,
                "photo_too_large",
            ),  # in the form
            (
                upload(srv, sid, s["host_token"], b"\xff" * (LIMIT * 2)),
                413,
                "photo_too_large",
            ),  # by its length
            (upload(srv, sid, None, sent), 403, "forbidden"),
            (upload(srv, sid, s["presenter_token"], sent), 403, "forbidden"),
        ]
        for n, (r, status, code) in enumerate(refusals):
            assert (r.status_code, r.json()["code"]) == (status, code), (n, r.text)
            assert set(r.json()["message"]) == {"zh", "en"}
        assert refusals[-3][0].json()["details"]["limit"] == LIMIT
        assert fetch(srv, "GET", "/healthz").json() == {"ok": True}, "the server carries on"
        again = upload(srv, sid, s["moderator_token"], sent, caption="")  # a moderator too
        assert again.status_code == 200, again.text

        async with srv.client(sid, token=s["moderator_token"]) as mod:
            done = await mod.request("withdraw_post", post_id=posted["id"])
        assert done == {"post_id": posted["id"], "photo": result["photo"]}
        gone = httpx.get(f"{srv.http}/s/{sid}/{posted['url']}", timeout=TIMEOUT)
        assert (gone.status_code, gone.json()["code"]) == (404, "photo_not_found")
        snap = fetch(srv, "GET", f"/api/sessions/{sid}").json()
        assert [p["kind"] for p in snap["posts"]] == ["photo"] and result["photo"] not in json.dumps(snap)
    finally:
        srv.kill()


async def test_a_photo_travels_by_export_import_and_in_a_bundle(tmp_path: Path) -> None:
    """From SQLite into PostgreSQL by ``live export`` / ``live import`` (base64 rows): the image
    and its post come along byte for byte. ``live bundle`` holds it as a file its pages show,
    which ``live verify`` checks. (``live copy-to`` carries it too: ``tests/test_pgcopy.py``'s
    installation has a photo, whose table and address it compares.)"""
    a = LiveServer(str(tmp_path / "a.db"), env=UNLIMITED).start()
    try:
        s = a.create_session()
        sid = s["id"]
        r = upload(a, sid, s["host_token"], jpeg_with_gps((64, 48)), caption="现场")
        assert r.status_code == 200, r.text
        photo = r.json()["result"]["photo"]
        image = httpx.get(f"{a.http}/s/{sid}/photos/{photo}.jpg", timeout=TIMEOUT).content
        async with a.client(sid, token=s["moderator_token"]) as mod:
            await mod.request("close")
        log = full_log(a, sid)
        exported = tmp_path / "session.jsonl"
        live_cli("export", str(sid), str(exported), "--db", a.db)
        live_cli("bundle", str(sid), str(tmp_path / "bundle"), "--db", a.db)
    finally:
        a.stop()
    bundle = tmp_path / "bundle"
    assert (bundle / "photos" / f"{photo}.jpg").read_bytes() == image, "a bundle holds the photo as a file"
    assert f'<img src="photos/{photo}.jpg"' in (bundle / "index.html").read_text()
    assert json.loads((bundle / "manifest.json").read_text())["files"][f"photos/{photo}.jpg"]
    assert "ok: bundle" in live_cli("verify", str(bundle))
    async with fresh_pg_database() as url:
        printed = live_cli("import", str(exported), "--db", url)
        assert "/host#key=" in printed, "new staff links, the host's among them"
        b = LiveServer(url, env=UNLIMITED).start()
        try:
            new_id = int(printed.split("imported as session ")[1].split(".")[0])
            moved = httpx.get(f"{b.http}/s/{new_id}/photos/{photo}.jpg", timeout=TIMEOUT)
            assert moved.content == image
            assert [e["data"] for e in full_log(b, new_id)] == [e["data"] for e in log]
            key = printed.split("/host#key=")[1].split()[0]
            async with b.client(new_id, token=key) as host:
                assert host.welcome["role"] == "host"
        finally:
            b.kill()
