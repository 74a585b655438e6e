"""The files in deploy/ work as shipped.

``deploy/live.service`` passes ``systemd-analyze verify`` without a single complaint (its
``ExecStart`` pointed at the installed ``live``, since verify checks that the program
exists); every variable it and ``deploy/live.env`` set, the commented-out alternatives
included, is a setting of ``live/settings.py`` or one ``docs/settings.md`` lists as read
from the environment, and its value parses; ``LimitNOFILE`` covers the connection cap; the
database and the metrics directory lie in the directories systemd makes for the unit. Then
the unit's own command runs with exactly its environment (paths moved under ``tmp_path``):
it serves, writes its metrics to the multiprocess directory, and stops cleanly on SIGTERM.

No systemd runs as PID 1 on the test machines, so the sandboxing itself (``ProtectSystem=``
and the rest) is checked by verify, not by starting the unit.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from live.guard import RESERVED_FILES
from live.settings import SETTINGS, Settings

from .conftest import TIMEOUT, free_port

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "live.service"
ENV_FILE = ROOT / "deploy" / "live.env"
INSTALLED = "/opt/live/bin/live"
"""Where docs/deploy.md installs the program, as the unit's ExecStart names it."""


def directives(unit: Path = UNIT) -> list[tuple[str, str]]:
    """(key, value) of every line in the unit, in order; keys may repeat (Environment=)."""
    out = []
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.append((key, value))
    return out


def directive(key: str) -> str:
    [value] = [v for k, v in directives() if k == key]
    return value


def env_file(commented: bool = False) -> list[tuple[str, str]]:
    """The env file's assignments; with ``commented``, the commented-out examples too."""
    out = []
    for line in ENV_FILE.read_text().splitlines():
        if commented:
            line = line.removeprefix("#")
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            out.append((match[1], match[2].strip().strip('"')))
    return out


def unit_env() -> dict[str, str]:
    """What the service's process gets: the unit's Environment= lines, then the env file."""
    env = dict(v.split("=", 1) for k, v in directives() if k == "Environment")
    return {**env, **dict(env_file())}


def environment_names_documented() -> set[str]:
    """The variables docs/settings.md lists as read from the environment but not settings."""
    doc = (ROOT / "docs" / "settings.md").read_text()
    section = doc.split("## Not settings", 1)[1]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", section, re.M))


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    live = shutil.which("live")
    assert live is not None, "the live command is not installed (pip install -e .)"
    unit = tmp_path / "live.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED, live))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    # verify only warns (and exits 0) about a value it cannot parse: what this test reads
    broken = tmp_path / "broken" / "live.service"
    broken.parent.mkdir()
    broken.write_text(unit.read_text().replace("Restart=on-failure", "Restart=sometimes"))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert "sometimes" in done.stdout + done.stderr


def test_the_unit_and_its_env_file_set_only_real_settings() -> None:
    settings = {s.env for s in SETTINGS}
    known = settings | environment_names_documented()
    named = [k for k, _ in env_file(commented=True)] + list(unit_env())
    assert set(named) - known == set(), "not a setting, nor documented in docs/settings.md"
    assert {"LIVE_DB", "LIVE_BUS", "LIVE_PUBLIC_URL"} <= set(named)
    for name, value in env_file(commented=True):  # every alternative parses as its setting
        if name in settings:
            Settings.from_env({name: value})
    shipped = Settings.from_env(unit_env())
    assert int(directive("LimitNOFILE")) >= shipped.max_connections + RESERVED_FILES


def test_the_unit_runs_as_its_own_user_in_its_own_directories() -> None:
    """Not root, restarted when it fails; and since ProtectSystem=strict leaves only the
    unit's own directories writable, the database and the metrics directory are in them."""
    assert directive("User") == directive("Group") == "live"
    assert directive("Restart") == "on-failure"
    env = unit_env()
    state = [f"/var/lib/{d}/" for d in directive("StateDirectory").split()]
    runtime = [f"/run/{d}" for d in directive("RuntimeDirectory").split()]
    assert directive("ProtectSystem") == "strict"
    assert env["LIVE_DB"].startswith(tuple(state))
    assert env["PROMETHEUS_MULTIPROC_DIR"] in runtime, "the metrics directory is not made by systemd"
    assert directive("WorkingDirectory") + "/" in state


def test_the_units_command_serves_with_its_environment(tmp_path: Path) -> None:
    moved = {"/var/lib/": f"{tmp_path}/state/", "/run/": f"{tmp_path}/run/"}

    def here(path: str) -> str:
        for prefix, local in moved.items():
            path = path.replace(prefix, local)
        return path

    for d in directive("StateDirectory").split():
        Path(here(f"/var/lib/{d}")).mkdir(parents=True)
    for d in directive("RuntimeDirectory").split():
        Path(here(f"/run/{d}")).mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: here(v) for k, v in unit_env().items()} | {"LIVE_HOST": "127.0.0.1", "LIVE_PORT": str(port)}
    program, *args = directive("ExecStart").split()
    assert program == INSTALLED
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "live", *args],
            cwd=here(directive("WorkingDirectory")),
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=TIMEOUT)
        assert metrics.status_code == 200 and "live_http_requests_total" in metrics.text
        assert Path(env["LIVE_DB"]).is_file()
        assert list(Path(env["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db")), "no multiprocess metrics"
        proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises the SIGTERM it handled once it has shut down; systemd counts
        # that, like status 0, as a clean exit (Restart=on-failure leaves it stopped)
        assert proc.wait(TIMEOUT) in (0, -signal.SIGTERM), log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)
