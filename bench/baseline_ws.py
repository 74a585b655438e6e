"""The yardstick: a minimal broadcast server on the bare ``websockets`` library.

``python -m bench.baseline_ws --port P`` speaks just enough of our protocol
(``docs/protocol.md``) for the same load generator to drive it unchanged:
``hello`` gets a ``welcome`` and a snapshot (or, with ``since``/``epoch``, the
missed events from an in-memory list), ``answer`` and ``ask`` append an event
and fan it out with :func:`websockets.asyncio.server.broadcast`, votes are
acknowledged and tallied every ``--tally-interval`` seconds, ``ping`` gets a
``pong``. Each event is serialised once, like ours. It stores nothing durably
and checks nothing, which is the point: every figure of the real server is
reported as a ratio to this one, run on the same machine in the same run.
It runs on the same event loop as ours (uvloop where it is installed, as
uvicorn picks it), so the ratios measure our code, not the loop under it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import time
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class Hub:
    def __init__(self) -> None:
        self.viewers: set[ServerConnection] = set()
        self.log: list[str] = []
        self.epoch = "baseline"
        self.devices = itertools.count(1)
        self.questions = itertools.count(1)
        self.votes: dict[int, set[str]] = {}
        self.dirty = False
        self.presence = -1

    def append(self, kind: str, data: dict[str, Any]) -> str:
        frame = dumps({"seq": len(self.log) + 1, "type": kind, "at": int(time.time() * 1000), "data": data})
        self.log.append(frame)
        broadcast(self.viewers, frame)
        return frame

    async def handler(self, ws: ServerConnection) -> None:
        try:
            hello = json.loads(await ws.recv())
        except (ConnectionClosed, ValueError):
            return
        device = hello.get("device") or f"d{next(self.devices)}"
        since, seq = hello.get("since"), len(self.log)
        resume = since is not None and hello.get("epoch") == self.epoch and since <= seq
        await ws.send(
            dumps(
                {
                    "type": "welcome",
                    "session_id": 1,
                    "epoch": self.epoch,
                    "role": "viewer",
                    "device": device,
                    "seq": seq,
                    "mode": "resume" if resume else "snapshot",
                }
            )
        )
        if resume:
            if since < seq:
                await ws.send("[" + ",".join(self.log[since:]) + "]")
        else:
            await ws.send(dumps({"type": "snapshot", "seq": seq, "questions": []}))
        self.viewers.add(ws)
        try:
            async for message in ws:
                try:
                    msg = json.loads(message)
                except ValueError:
                    broadcast([ws], dumps({"type": "error", "re": None, "code": "invalid_json"}))
                    continue
                self.handle(ws, device, msg)
        except ConnectionClosed:
            pass
        finally:
            self.viewers.discard(ws)

    def handle(self, ws: ServerConnection, device: str, msg: dict[str, Any]) -> None:
        kind, rid = msg.get("type"), msg.get("id")
        result: dict[str, Any] = {}
        if kind == "answer":
            self.append(
                "question.answered",
                {
                    "id": msg["question_id"],
                    "answer": {"text": msg["text"], "at": int(time.time() * 1000), "by": "李明"},
                },
            )
            result = {"question_id": msg["question_id"]}
        elif kind == "ask":
            qid = next(self.questions)
            self.append("question.asked", {"question": {"id": qid, "status": "pending"}})
            result = {"question_id": qid, "status": "pending"}
        elif kind in ("vote", "unvote"):
            voters = self.votes.setdefault(msg["question_id"], set())
            before = len(voters)
            (voters.add if kind == "vote" else voters.discard)(device)
            self.dirty = self.dirty or len(voters) != before
            result = {"question_id": msg["question_id"], "voted": kind == "vote"}
        elif kind == "ping":
            broadcast([ws], dumps({"type": "pong", "re": rid}))
            return
        broadcast([ws], dumps({"type": "ack", "re": rid, "result": result}))

    async def tick(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if len(self.viewers) != self.presence:
                self.presence = len(self.viewers)
                broadcast(self.viewers, dumps({"type": "presence", "viewers": self.presence}))
            if self.dirty:
                self.dirty = False
                self.append("votes.tallied", {"votes": {str(q): len(v) for q, v in self.votes.items()}})


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tally-interval", type=float, default=0.3)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    hub = Hub()
    ticker = asyncio.create_task(hub.tick(args.tally_interval))
    async with serve(
        hub.handler, "127.0.0.1", args.port, compression=None, backlog=4096, ping_interval=20, ping_timeout=20
    ) as server:
        print(f"listening on {args.port}", flush=True)
        await server.serve_forever()
    ticker.cancel()


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
