"""``live``: serve, demo, migrate; backup, export, import (:mod:`.backup`); copy-to (:mod:`.pgcopy`);
verify, bundle (:mod:`.verify`).

``live demo`` builds a fresh demo database and serves it, printing every link
a newcomer needs, staff links included. ``live serve`` prints the links it can:
staff secrets are stored hashed, so presenter, moderator and host links are shown
when created (by the admin page or ``live demo``) and can be rotated there.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from urllib.parse import urlsplit

from . import pgcopy, verify
from .backup import add_commands, run
from .events import now_ms
from .middleware import configure_logging
from .serve import serve
from .services import Services, ensure_secrets
from .settings import SETTINGS, Settings
from .state import ENDED, phase
from .store import open_store, sqlite_file

DEMO_DB = "live-demo.db"
"""The demo's own file, in the current folder, unless ``--db`` or ``LIVE_DB`` names another."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="live", description="Live Q&A server (区长在线).")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (
        ("serve", "run the server"),
        ("demo", "create a demo database and run the server on it"),
        ("migrate", "create or upgrade the database schema, then exit"),
    ):
        p = sub.add_parser(name, help=help_, epilog="Every flag also reads LIVE_<NAME> from the environment.")
        p.add_argument("--db", help=_help("db", DEMO_DB if name == "demo" else None))
        if name != "migrate":
            p.add_argument("--host", help=_help("host"))
            p.add_argument("--port", type=_port, help=_help("port"))
            p.add_argument("--bus", help=_help("bus"))
            p.add_argument("--workers", type=int, help=_help("workers"))
            p.add_argument("--public-url", dest="public_url", help=_help("public_url"))
    add_commands(sub)
    pgcopy.add_command(sub)
    verify.add_commands(sub)
    return parser


def _port(text: str) -> int:
    """A TCP port: uvicorn would take 99999 modulo 65536 and listen somewhere else."""
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)")
    return int(text)


def _help(name: str, default: str | None = None) -> str:
    s = next(s for s in SETTINGS if s.name == name)
    return f"{s.help} [env {s.env}, default {default or s.default!r}]"


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def _base(settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}"


async def _prepare(settings: Settings, demo: bool) -> list[str]:
    """Migrate, ensure secrets, seed the demo; return the lines to print."""
    store = open_store(settings.db)
    await store.open()
    try:
        if demo:  # first of all, so that even a demo that fails half-way can be replaced
            from .demo import MARK

            await store.set_meta(MARK, "1")
        _, _, token = await ensure_secrets(store, settings)
        now = now_ms()
        current = [r for r in await store.list_sessions() if phase(r.info, now) not in ENDED]
    finally:
        await store.close()
    links: dict[str, dict[str, str]] = {}
    if demo:
        from .demo import seed

        live = await Services.start(settings)
        try:
            links = await seed(live)
        finally:
            await live.stop()
    base = _base(settings)
    admin = (
        f"{base}/admin#key={token}"
        if token
        else (f"{base}/admin  (admin token: LIVE_ADMIN_TOKEN, or the one printed on first start)")
    )
    lines = [f"  节目首页 Programme page : {base}/", f"  管理后台 Admin          : {admin}"]
    if not demo:
        for row in current:
            lines.append(
                f"  第{row.info.get('episode', '?')}期 {row.info.get('title', '')}: "
                f"{base}/s/{row.id}  (嘉宾/审核/主持链接见管理后台 staff links: admin page)"
            )
    for episode, item in links.items():
        sid = item["id"]
        lines += [
            f"  第{episode}期 Episode {episode}:",
            f"    观众 Viewer       : {base}/s/{sid}",
            f"    嘉宾 Presenter    : {base}/s/{sid}/presenter#key={item['presenter']}",
            f"    审核 Moderator    : {base}/s/{sid}/moderator#key={item['moderator']}",
            f"    主持 Host         : {base}/s/{sid}/host#key={item['host']}",
        ]
    return lines


def check_workers(settings: Settings) -> None:
    """Refuse a worker count the chosen bus and store cannot share state across.

    SQLite in WAL mode takes several processes on one host; the memory bus cannot
    reach another process, so viewers of one worker would never see the others' events.
    """
    if settings.workers < 1:
        raise SystemExit(f"--workers must be at least 1, not {settings.workers}")
    if settings.workers > 1 and settings.bus in ("memory", "memory://"):
        raise SystemExit(
            f"--workers {settings.workers} needs a bus that crosses processes: "
            "add --bus redis://127.0.0.1:6379/0 (the memory bus serves one process)"
        )
    if settings.workers > 1 and sqlite_file(settings.db) == ":memory:":
        raise SystemExit("--workers > 1 needs a database file or PostgreSQL, not :memory:")


async def _migrate(db: str) -> None:
    store = open_store(db)
    await store.open()
    await store.close()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    if args.command == "demo" and "db" not in overrides and not os.environ.get("LIVE_DB"):
        overrides["db"] = DEMO_DB
    if args.command in ("backup", "export", "import"):
        settings = Settings.from_env(db=args.db)
        run(args, settings.db, _base(settings), migrate=lambda: asyncio.run(_migrate(settings.db)))
        return
    if args.command == "copy-to":
        pgcopy.run(Settings.from_env(db=args.db).db, args.url)
        return
    if args.command in ("verify", "bundle"):
        settings = Settings.from_env(db=args.db)
        verify.run(args, settings.db, settings.public_url)
        return
    settings = Settings.from_env(**overrides)
    if args.command != "migrate":
        check_workers(settings)
    configure_logging(settings.log_level)
    if args.command == "demo":
        from .demo import reset

        reset(settings.db)
    lines = asyncio.run(_prepare(settings, demo=args.command == "demo"))
    if args.command == "migrate":
        print(f"database ready: {_without_password(settings.db)}", lines[1], sep="\n")
        return
    print("live is starting. Open:", *lines, sep="\n", flush=True)
    os.environ.update(settings.to_env())
    serve(settings)


if __name__ == "__main__":
    main(sys.argv[1:])
