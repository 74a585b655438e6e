"""The benchmark harness keeps working, and the fan-out fast path is really in use.

No timed assertions here (the numbers live in ``docs/benchmarks.md``): the smoke
run checks that every scenario produces its figures for our server and the
baseline, that nothing acknowledged went missing and that no viewer missed or
got a duplicate event. The second test pins what :mod:`live.fastws` relies on in
uvicorn, so an upgrade that breaks the pre-built frame path fails here instead
of silently making fan-out slower.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import uvicorn
from websockets.asyncio.client import connect

from live.connection import encode_frame, prebuilt_writer
from live.fastws import FanoutWebSocketProtocol

from .conftest import TIMEOUT, free_port

ROOT = Path(__file__).resolve().parent.parent
FIGURES = {
    "fanout": (
        "last_viewer_median_ms",
        "last_viewer_p99_ms",
        "cpu_us_per_frame",
        "rss_kib_per_viewer",
        "delivered",
    ),
    "ingest": ("questions_per_s", "votes_per_s", "questions_acked", "votes_acked"),
    "votestorm": (
        "votes_acked",
        "max_frames_per_viewer_second",
        "tally_out_late_p99_ms",
        "tally_everywhere_late_p99_ms",
        "final_tally",
    ),
    "reconnect": ("all_caught_up_s", "reconnected", "caught_up"),
    "isolation": ("clean_p99_ms", "noisy_p99_ms", "p99_vs_clean"),
    "writes": (
        "lone_bytes_per_question",
        "lone_wal_pages_per_question",
        "floor_bytes_per_row",
        "lone_vs_floor",
    ),
}
SELF_MEASURED = {"writes"}
"""Scenarios of our server alone, against a baseline they measure themselves (bare SQLite)."""


def median(group: dict[str, Any], kind: str, figure: str) -> Any:
    return group[kind][figure]["median"]


async def test_quick_bench_runs_every_scenario_with_nothing_missed() -> None:
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bench", "all", "--quick", "--json", "--targets", "live,websockets"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20 * TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {r["scenario"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(results) == set(FIGURES)
    for scenario, figures in FIGURES.items():
        for label, group in results[scenario]["results"].items():
            for kind in ("live",) if scenario in SELF_MEASURED else ("live", "websockets"):
                for figure in figures:
                    assert median(group, kind, figure) is not None, (scenario, label, kind, figure)
            assert scenario in SELF_MEASURED or "live" in group["ratio_to_websockets"]
        assert results[scenario]["targets"], scenario
        assert results[scenario]["machine"]["send_floor"]["us_per_send_median"] > 0, scenario

    for group in results["fanout"]["results"].values():
        for kind in ("live", "websockets"):
            n, broadcasts = median(group, kind, "viewers"), median(group, kind, "broadcasts")
            assert median(group, kind, "delivered") == n * broadcasts, kind
            for figure in ("missed", "duplicates", "incomplete_broadcasts"):
                assert median(group, kind, figure) == 0, (kind, figure)
    ingest = results["ingest"]["results"][""]
    assert median(ingest, "live", "questions_acked") > 0
    assert median(ingest, "live", "acked_but_missing") == 0
    for group in results["votestorm"]["results"].values():
        n = median(group, "live", "viewers")
        assert median(group, "live", "votes_acked") == median(group, "live", "final_tally") == n
        assert median(group, "live", "tally_everywhere_never") == 0
    for group in results["reconnect"]["results"].values():
        for kind in ("live", "websockets"):
            assert median(group, kind, "caught_up") == median(group, kind, "viewers"), kind
            for figure in ("behind", "missed", "duplicates", "snapshot_instead_of_resume"):
                assert median(group, kind, figure) == 0, (kind, figure)
    for group in results["isolation"]["results"].values():
        assert median(group, "live", "missed") == 0
        assert median(group, "live", "incomplete_broadcasts") == 0
    for group in results["writes"]["results"].values():
        assert median(group, "live", "lone_bytes_per_question") > median(group, "live", "row_bytes")


async def test_quick_ingest_on_a_redis_a_round_trip_away() -> None:
    """The scale-out path as the bench measures it: our server on the Redis bus (and the
    Redis rate limiter), reached through ``bench.delay``; nothing acknowledged goes missing."""
    port = free_port()
    delay = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.delay", "--ms", "1", "--listen", str(port), cwd=ROOT
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            await asyncio.sleep(0.05)
        bus = f"redis://127.0.0.1:{port}/0"
        proc = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bench", "ingest", "--quick", "--json", "--targets", "live", "--bus", bus],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10 * TIMEOUT,
        )
    finally:
        delay.terminate()
        await delay.wait()
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["live_bus"] == bus
    ingest = result["results"][""]
    assert median(ingest, "live", "questions_acked") > 0
    assert median(ingest, "live", "votes_acked") > 0
    assert median(ingest, "live", "acked_but_missing") == 0


async def test_prebuilt_frames_reach_the_client_through_uvicorn() -> None:
    """The extension exists under FanoutWebSocketProtocol, writes whole frames in order
    with ASGI sends, and refuses once the connection is closing."""
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        write = prebuilt_writer(scope)
        seen["write"] = write is not None
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "first"})
        assert write is not None
        seen["wrote"] = write(encode_frame("second, pre-built: 二"))
        await send({"type": "websocket.send", "text": "third"})
        await receive()  # the client's message
        await send({"type": "websocket.close", "code": 1000})
        seen["after_close"] = write(encode_frame("never"))

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="error",
            ws=FanoutWebSocketProtocol,
            ws_per_message_deflate=False,
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(TIMEOUT):
            while not server.started:
                await asyncio.sleep(0.02)
            async with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
                got = [await ws.recv() for _ in range(3)]
                await ws.send("bye")
                with contextlib.suppress(Exception):
                    await ws.recv()
        assert got == ["first", "second, pre-built: 二", "third"]
        assert seen == {"write": True, "wrote": True, "after_close": False}
    finally:
        server.should_exit = True
        await serving
