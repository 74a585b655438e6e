"""``python -m bench.flood PORT PATH``: one abusive client, in a process of its own.

It says hello, then writes pings and malformed frames as fast as its socket
takes them, reading and dropping every reply; when the server cuts it off it
connects again at once and goes on, until it gets SIGTERM. Then it prints how
many frames it wrote and how many connections it opened. It runs apart from
the bench's own process so that its busy loop cannot delay the presenter whose
latency is being measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys

from live.protocol import PROTOCOL

from .viewer import KEY, frame

BURST = b"".join(
    frame(json.dumps({"type": "ping", "id": i}).encode()) + frame(b"{not json") for i in range(50)
)


async def flood_once(port: int, path: str, stop: asyncio.Event) -> int:
    """One connection's flood, until the server closes it or ``stop`` is set."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: "
        ).encode()
        + KEY
        + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    # Frames sent before the 101 arrives are lost: uvicorn drops what follows the upgrade
    # request in the same read. So wait for it, or the flood would start as a bad hello.
    await reader.readuntil(b"\r\n\r\n")
    writer.write(frame(b'{"type":"hello","protocol":%d}' % PROTOCOL))

    async def drop_replies() -> None:
        with contextlib.suppress(OSError):
            while await reader.read(65536):
                pass

    sink = asyncio.create_task(drop_replies())
    sent = 0
    try:
        while not (stop.is_set() or sink.done() or writer.is_closing()):
            writer.write(BURST)
            await writer.drain()
            await asyncio.sleep(0)  # let a lost connection be noticed; drain() alone never yields
            sent += 100
    except OSError:
        pass
    finally:
        writer.close()
        sink.cancel()
    return sent


async def flood(port: int, path: str) -> tuple[int, int]:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    sent = connections = 0
    while not stop.is_set():
        connections += 1
        with contextlib.suppress(OSError):
            sent += await flood_once(port, path, stop)
    return sent, connections


if __name__ == "__main__":
    print(*asyncio.run(flood(int(sys.argv[1]), sys.argv[2])), flush=True)
