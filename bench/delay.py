"""``python -m bench.delay [--ms 1] [--listen 6380] [--to 127.0.0.1:6379]``: a far-away Redis.

A TCP proxy that holds every chunk for ``--ms`` milliseconds in each direction,
in order. Why: on one machine Redis answers in ~0.08 ms, so a design that waits
for it once per event, or twice per request, costs nothing measurable here and
a great deal in a deployment whose Redis is on another host. The bench has no
other way to delay loopback (``tc netem`` is not available on these machines).
The loop's timers have a granularity of about 1 ms, so the round trip comes
out at about ``2 * ms`` plus the hop (a PING: 2.3 ms at ``--ms 1``); measure it
rather than trust the flag.

Run it beside the bench, then point our server at it::

    python -m bench.delay --ms 1 &
    python -m bench ingest --targets live --bus redis://127.0.0.1:6380/0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Forward what ``reader`` gets to ``writer``, each chunk ``delay`` seconds later, in order."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def forward() -> None:
        while True:
            due, data = await queue.get()
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            if not data:
                writer.close()
                return
            writer.write(data)

    forwarding = loop.create_task(forward())
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, data))
    queue.put_nowait((loop.time() + delay, b""))
    await forwarding


async def serve(listen: int, host: str, port: int, delay: float) -> None:
    async def connected(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(host, port)
        await asyncio.gather(
            _pipe(client_r, server_w, delay), _pipe(server_r, client_w, delay), return_exceptions=True
        )

    server = await asyncio.start_server(connected, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.delay", description=__doc__.splitlines()[0])
    parser.add_argument("--ms", type=float, default=1.0, help="delay each way, milliseconds")
    parser.add_argument("--listen", type=int, default=6380, help="port to listen on (127.0.0.1)")
    parser.add_argument("--to", default="127.0.0.1:6379", help="host:port to forward to")
    args = parser.parse_args(argv)
    host, port = args.to.rsplit(":", 1)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.listen, host, int(port), args.ms / 1000))


if __name__ == "__main__":
    main()
