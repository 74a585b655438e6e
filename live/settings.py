"""Every setting, declared once.

Each field of :class:`Settings` carries its name, type, default and help text;
:data:`SETTINGS`, derived from those fields, feeds the environment reader, the
CLI and ``docs/settings.md`` (a test checks that every setting is documented
there), so a setting cannot exist in one place and be missing from another.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "LIVE_" + self.name.upper()


def setting(default: Any, help: str) -> Any:
    """A field of :class:`Settings` with its help text: the one place a setting is declared."""
    return field(default=default, metadata={"help": help})


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

    host: str = setting("127.0.0.1", "Interface to listen on.")
    port: int = setting(8000, "TCP port to listen on (the Procfile passes $PORT).")
    db: str = setting("live.db", "Store: a SQLite file path, sqlite:///path or postgresql://...")
    bus: str = setting(
        "memory",
        "Bus: memory (one process), redis://host:port/db or redis+sentinel://host:26379,.../service/db.",
    )
    workers: int = setting(1, "Number of uvicorn worker processes (needs a shared db and bus).")
    public_url: str = setting("", "Base URL printed in links and allowed as WebSocket Origin.")
    admin_token: str = setting("", "Admin token; if empty one is generated on first start.")
    timezone: str = setting("Asia/Shanghai", "Default timezone of new sessions.")
    max_message_bytes: int = setting(65536, "Largest WebSocket frame a client may send.")
    max_body_bytes: int = setting(
        1048576, "Largest HTTP request body; a larger one gets 413 before it is read in full."
    )
    header_timeout: float = setting(
        10.0, "Seconds a connection has to send a request's headers (after each response too)."
    )
    body_timeout: float = setting(30.0, "Seconds a client has to send a request's body (else 408).")
    max_connections: int = setting(
        15000, "Open connections (HTTP and WebSocket) per worker; past it new ones get 503."
    )
    max_connections_per_ip: int = setting(
        256, "Open connections per client address and worker; past it 429 (trusted proxies exempt)."
    )
    max_question_chars: int = setting(500, "Longest question text.")
    max_answer_chars: int = setting(10000, "Longest answer text.")
    max_name_chars: int = setting(40, "Longest display name.")
    max_remark_chars: int = setting(2000, "Longest remark of the host's (主持人).")
    max_photo_bytes: int = setting(
        10485760, "Largest studio photo upload (bytes); its route alone takes a body this large."
    )
    send_queue: int = setting(256, "Frames that may wait for one slow viewer before it is dropped.")
    tally_interval: float = setting(0.15, "Least seconds between coalesced vote-tally events of a session.")
    ping_interval: float = setting(20.0, "Seconds between WebSocket pings (dead-peer detection).")
    ping_timeout: float = setting(20.0, "Seconds to wait for a pong before dropping a peer.")
    log_level: str = setting("info", "Log level: debug, info, warning, error.")
    screen_frame_ancestors: str = setting(
        "", "Origins (space-separated) allowed to embed the big-screen page /s/{id}/screen."
    )
    questions_per_minute: int = setting(5, "Questions one device may ask per minute.")
    questions_per_minute_ip: int = setting(30, "Questions one IP address may ask per minute (NAT).")
    votes_per_minute: int = setting(60, "Votes and withdrawals one device may cast per minute.")
    votes_per_minute_ip: int = setting(600, "Votes one IP address may cast per minute.")
    frames_per_second: int = setting(20, "Frames of one type one connection may send per second.")
    smtp_url: str = setting(
        "",
        "SMTP server for e-mail to askers: smtp://[user:password@]host[:port] or smtps://...; empty: none.",
    )
    smtp_from: str = setting("", "Sender of those e-mails, e.g. 区长在线 <noreply@example.gov.cn>.")
    webhook_url: str = setting("", "URL that gets a signed POST per message to a phone (an SMS gateway).")
    webhook_secret: str = setting("", "Shared secret of the webhook's HMAC-SHA256 signature.")
    notify_timeout: float = setting(10.0, "Seconds one attempt to deliver a message may take.")
    notify_backoff: float = setting(
        30.0, "Seconds before a failed message is tried again (doubling, 1 h at most)."
    )
    notify_attempts: int = setting(12, "Attempts at one message before it is given up.")
    notify_delay: float = setting(
        60.0, "Seconds a message waits before it is sent; a correction replaces it."
    )
    rating_days: int = setting(
        30, "Days after a session ends (or a later written answer) that askers may rate and follow up."
    )
    secret_tries_per_minute_ip: int = setting(
        10, "Ratings and follow-ups by receipt number and secret one IP address may try per minute."
    )
    secret_tries_per_hour: int = setting(
        10, "Ratings and follow-ups by receipt number and secret tried per receipt number per hour."
    )

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

    def to_env(self) -> dict[str, str]:
        """The environment that recreates these settings in a worker process."""
        return {s.env: str(getattr(self, s.name)) for s in SETTINGS}


SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f.name, f.default, f.metadata["help"]) for f in fields(Settings)
)
