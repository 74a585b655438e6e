"""Every setting, declared once.

Each :class:`Setting` carries its name, default and help text; the same list
feeds the environment reader, the CLI and ``docs/settings.md`` (a test checks
that every setting is documented there), so a setting cannot exist in one
place and be missing from another.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "LIVE_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", "Interface to listen on."),
    Setting("port", 8000, "TCP port to listen on (the Procfile passes $PORT)."),
    Setting("db", "live.db", "Store: a SQLite file path, sqlite:///path or postgresql://..."),
    Setting("bus", "memory", "Bus: memory (one process) or redis://host:port/db."),
    Setting("workers", 1, "Number of uvicorn worker processes (needs a shared db and bus)."),
    Setting("public_url", "", "Base URL printed in links and allowed as WebSocket Origin."),
    Setting("admin_token", "", "Admin token; if empty one is generated on first start."),
    Setting("timezone", "Asia/Shanghai", "Default timezone of new sessions."),
    Setting("max_message_bytes", 65536, "Largest WebSocket frame a client may send."),
    Setting("max_question_chars", 500, "Longest question text."),
    Setting("max_answer_chars", 10000, "Longest answer text."),
    Setting("max_name_chars", 40, "Longest display name."),
    Setting("send_queue", 256, "Frames that may wait for one slow viewer before it is dropped."),
    Setting("tally_interval", 0.3, "Seconds between coalesced vote-tally events."),
    Setting("ping_interval", 20.0, "Seconds between WebSocket pings (dead-peer detection)."),
    Setting("ping_timeout", 20.0, "Seconds to wait for a pong before dropping a peer."),
    Setting("log_level", "info", "Log level: debug, info, warning, error."),
    Setting("screen_frame_ancestors", "",
            "Origins (space-separated) allowed to embed the big-screen page /s/{id}/screen."),
    Setting("questions_per_minute", 5, "Questions one device may ask per minute."),
    Setting("questions_per_minute_ip", 30, "Questions one IP address may ask per minute (NAT)."),
    Setting("votes_per_minute", 60, "Votes and withdrawals one device may cast per minute."),
    Setting("votes_per_minute_ip", 600, "Votes one IP address may cast per minute."),
    Setting("frames_per_second", 20, "Frames of one type one connection may send per second."),
)


def _coerce(value: str, default: Any) -> Any:
    if isinstance(default, bool):
        return value.lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return value


@dataclass(frozen=True)
class Settings:
    """The running configuration; build it with :meth:`from_env`."""

    host: str = "127.0.0.1"
    port: int = 8000
    db: str = "live.db"
    bus: str = "memory"
    workers: int = 1
    public_url: str = ""
    admin_token: str = ""
    timezone: str = "Asia/Shanghai"
    max_message_bytes: int = 65536
    max_question_chars: int = 500
    max_answer_chars: int = 10000
    max_name_chars: int = 40
    send_queue: int = 256
    tally_interval: float = 0.3
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    log_level: str = "info"
    screen_frame_ancestors: str = ""
    questions_per_minute: int = 5
    questions_per_minute_ip: int = 30
    votes_per_minute: int = 60
    votes_per_minute_ip: int = 600
    frames_per_second: int = 20

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``LIVE_*`` variables, then explicit overrides (the CLI's flags)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for s in SETTINGS:
            if s.env in environ and environ[s.env] != "":
                try:
                    values[s.name] = _coerce(environ[s.env], s.default)
                except ValueError as exc:
                    raise SystemExit(f"{s.env}={environ[s.env]!r}: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The environment that recreates these settings in a worker process."""
        return {s.env: str(getattr(self, s.name)) for s in SETTINGS}


assert {s.name for s in SETTINGS} == {f.name for f in fields(Settings)}
