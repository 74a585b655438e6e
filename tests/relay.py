"""A TCP relay between a server and PostgreSQL or Redis, that a test can cut or black-hole.

A real network fault between one server and its dependency, leaving the dependency
itself (and anyone else's tests on it) alone: :meth:`TcpRelay.cut` resets every
connection and refuses new ones, as a dead path does; :meth:`TcpRelay.blackhole`
keeps every connection open and silently drops what passes, as a partition that
drops packets does (no FIN, no RST, no reply).
"""

from __future__ import annotations

import asyncio


class TcpRelay:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.dropping = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        self.dropping = False
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and reset every open one, as a dead network path does."""
        assert self._server is not None
        self._server.close()
        for writer in tuple(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self._server = None

    def blackhole(self, on: bool = True) -> None:
        """Drop every byte in both directions while ``on``; connections stay open."""
        self.dropping = on

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.dropping:
            await reader.read()  # a partitioned path: the handshake never completes
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.dropping:
                    continue
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
