"""``python -m bench.flood PORT PATH``: one abusive client, in a process of its own.

It says hello, then writes pings and malformed frames as fast as its socket
takes them, reading and dropping every reply, until it gets SIGTERM; then it
prints how many frames it wrote. It runs apart from the bench's own process so
that its busy loop cannot delay the presenter whose latency is being measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys

from .viewer import KEY, frame


async def flood(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: ").encode() + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
                 + frame(b'{"type":"hello"}'))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    async def drop_replies() -> None:
        with contextlib.suppress(OSError):
            while await reader.read(65536):
                pass

    sink = asyncio.create_task(drop_replies())
    burst = b"".join(frame(json.dumps({"type": "ping", "id": i}).encode()) + frame(b"{not json")
                     for i in range(50))
    sent = 0
    try:
        while not stop.is_set() and not writer.is_closing():
            writer.write(burst)
            await writer.drain()
            sent += 100
    except OSError:
        pass
    finally:
        writer.close()
        sink.cancel()
    return sent


if __name__ == "__main__":
    print(asyncio.run(flood(int(sys.argv[1]), sys.argv[2])), flush=True)
