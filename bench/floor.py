"""The machine's floor: what one ``send()`` of a pre-built frame costs here, measured in C.

Why: fan-out to 10,000 viewers is mostly that syscall, and machines of the same
size differ in it and in everything around it. The issue's orientation figures
came from a machine where it cost 5.2 µs per frame; this project's 2-core
machines have measured 7-9, and the same code's fan-out to 10,000 viewers took
0.16 s on one and 0.10 s on another (``docs/benchmarks.md``). So every
invocation measures the floor first and prints it with the machine, and a
table says which kind of machine it came from. ``bench/floor.c`` is built with
the system's C compiler in a temporary directory.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).with_name("floor.c")


def send_floor(n: int, rounds: int = 10) -> dict[str, Any]:
    """CPU µs per ``send()`` to ``n`` loopback viewers: median and range over ``rounds``."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError(
            "the bench measures the send() floor in C: install a C compiler (apt-get install gcc)"
        )
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        binary = Path(tmp) / "floor"
        for command in (
            [compiler, "-O2", "-o", str(binary), str(SOURCE)],
            [str(binary), str(n), str(rounds)],
        ):
            done = subprocess.run(command, capture_output=True, text=True, timeout=120)
            if done.returncode:
                raise RuntimeError(f"{' '.join(command)} failed: {done.stderr}")
    per_send = json.loads(done.stdout)["us_per_send"]
    return {
        "viewers": n,
        "rounds": rounds,
        "us_per_send_median": statistics.median(per_send),
        "us_per_send_min": min(per_send),
        "us_per_send_max": max(per_send),
    }
