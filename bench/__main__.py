"""``python -m bench <scenario|all> [--quick] [--runs K] [--json]``.

Runs each scenario against our server and the baselines in the same
invocation, ``--runs`` times with the servers interleaved (so a noisy
neighbour hurts all of them alike), and prints one JSON object per scenario:
per target the median and range of every figure over the runs, every figure
of ours (and node's) as a ratio to the bare-``websockets`` baseline, and each
target of ``docs/benchmarks.md`` with whether it was met. ``--quick`` uses
small numbers so the whole harness runs in well under a minute (the smoke test
in ``tests/test_bench.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .fanout import SETTLE, fanout, isolation
from .floor import send_floor
from .stats import combine, ratio
from .storms import ingest, reconnect, votestorm
from .targets import BeforeTarget, LiveTarget, describe, node_available
from .writes import writes

BASE = "websockets"
SCENARIOS = ("fanout", "ingest", "votestorm", "reconnect", "isolation", "writes")


def plan(scenario: str, quick: bool, sizes: list[int] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(group label, keyword arguments) for each measurement a scenario makes."""
    settle = 0.5 if quick else SETTLE
    if sizes and scenario != "ingest":
        return [(str(n), {**kw, "n": n}) for n in sizes for _, kw in plan(scenario, quick)[:1]]
    if scenario == "fanout":
        sizes = [100] if quick else [1000, 5000, 10000]
        return [(str(n), {"n": n, "events": 5 if quick else 40, "settle": settle}) for n in sizes]
    if scenario == "ingest":
        return [("", {"clients": 10 if quick else 50, "seconds": 1.0 if quick else 5.0, "window": 8})]
    if scenario == "votestorm":
        return [(str(n), {"n": n, "settle": settle}) for n in ([100] if quick else [10000])]
    if scenario == "reconnect":
        return [(str(n), {"n": n, "away": 3 if quick else 10}) for n in ([100] if quick else [10000])]
    if scenario == "isolation":
        return [
            (str(n), {"n": n, "events": 5 if quick else 40, "settle": settle})
            for n in ([100] if quick else [2000])
        ]
    if scenario == "writes":
        return [
            (
                "",
                {"lone": 20, "clients": 5, "each": 10}
                if quick
                else {"lone": 200, "clients": 10, "each": 100},
            )
        ]
    raise ValueError(scenario)


def runner(scenario: str, swarms: int, tally: float) -> Callable[..., Awaitable[dict[str, Any]]]:
    if scenario == "fanout":
        return lambda kind, **kw: fanout(kind, swarms=swarms, **kw)
    if scenario == "ingest":
        return lambda kind, **kw: ingest(kind, swarms=swarms, **kw)
    if scenario == "votestorm":
        return lambda kind, **kw: votestorm(kind, swarms=swarms, tally_interval=tally, **kw)
    if scenario == "reconnect":
        return lambda kind, **kw: reconnect(kind, swarms=swarms, **kw)
    if scenario == "writes":
        return writes
    return lambda kind, **kw: isolation(kind, swarms=swarms, **kw)


def targets_met(scenario: str, groups: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets for this scenario, each with the measured value (medians over runs)."""
    out: dict[str, Any] = {}

    def add(name: str, value: float | None, limit: float, most: bool = True) -> None:
        met = None if value is None else (value <= limit if most else value >= limit)
        out[name] = {"value": value, "target": ("<= " if most else ">= ") + str(limit), "met": met}

    def med(group: str, kind: str, figure: str) -> float | None:
        return groups.get(group, {}).get(kind, {}).get(figure, {}).get("median")

    if scenario == "fanout":
        top = max(groups, key=int)
        ratios = groups[top].get("ratio_to_websockets", {}).get("live", {})
        add(f"cpu_per_frame_vs_websockets_at_{top}", ratios.get("cpu_us_per_frame"), 1.2)
        add(f"last_viewer_median_vs_websockets_at_{top}", ratios.get("last_viewer_median_ms"), 1.2)
        add(f"last_viewer_p99_vs_websockets_at_{top}", ratios.get("last_viewer_p99_ms"), 1.2)
        add(f"rss_kib_per_idle_viewer_at_{top}", med(top, "live", "rss_kib_per_viewer"), 16)
    elif scenario == "ingest":
        add("acked_questions_per_s", med("", "live", "questions_per_s"), 3000, most=False)
        add("acked_but_missing", med("", "live", "acked_but_missing"), 0)
    elif scenario == "votestorm":
        g = max(groups, key=int)
        add("max_frames_per_viewer_second", med(g, "live", "max_frames_per_viewer_second"), 10)
        for where in ("out", "presenter", "everywhere"):
            add(f"tally_{where}_late_p99_ms", med(g, "live", f"tally_{where}_late_p99_ms"), 250)
            add(f"tally_{where}_late_max_ms", med(g, "live", f"tally_{where}_late_max_ms"), 250)
    elif scenario == "reconnect":
        g = max(groups, key=int)
        add("all_caught_up_s", med(g, "live", "all_caught_up_s"), 10)
        add("missed", med(g, "live", "missed"), 0)
        add("duplicates", med(g, "live", "duplicates"), 0)
    elif scenario == "isolation":
        g = max(groups, key=int)
        add("noisy_p99_vs_clean", med(g, "live", "p99_vs_clean"), 2)
    elif scenario == "writes":
        add("lone_question_bytes_vs_sqlite_floor", med("", "live", "lone_vs_floor"), 2)
    return out


async def run_scenario(
    scenario: str,
    kinds: list[str],
    runs: int,
    quick: bool,
    swarms: int,
    tally: float,
    sizes: list[int] | None = None,
) -> dict[str, Any]:
    run = runner(scenario, swarms, tally)
    if scenario == "ingest":
        kinds = [k for k in kinds if k != "node"]  # node's baseline has no store to compare
    if scenario == "writes":
        kinds = ["live"]  # the baselines store nothing; this one measures itself against SQLite
    started = time.monotonic()
    groups: dict[str, Any] = {}
    for label, kwargs in plan(scenario, quick, sizes):
        per_kind: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
        for _ in range(runs):
            for kind in kinds:
                per_kind[kind].append(await run(kind, **kwargs))
        group: dict[str, Any] = {k: combine(v) for k, v in per_kind.items()}
        group["raw"] = per_kind
        if BASE in group:
            group["ratio_to_websockets"] = {
                k: {
                    fig: ratio(s["median"], group[BASE].get(fig, {}).get("median"))
                    for fig, s in group[k].items()
                }
                for k in kinds
                if k != BASE
            }
        groups[label] = group
    return {
        "scenario": scenario,
        "quick": quick,
        "runs": runs,
        "targets_run": kinds,
        "params": {label: kw for label, kw in plan(scenario, quick, sizes)},
        "results": groups,
        "targets": targets_met(scenario, groups),
        "seconds": round(time.monotonic() - started, 1),
        "machine": machine(),
    }


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=[*SCENARIOS, "all"])
    parser.add_argument("--quick", action="store_true", help="small numbers: the CI smoke run")
    parser.add_argument("--runs", type=int, default=1, help="repeat each measurement K times")
    parser.add_argument("--json", action="store_true", help="print JSON only (one object per line)")
    parser.add_argument(
        "--targets",
        default=None,
        help="comma-separated servers (default: live,websockets and node if installed)",
    )
    parser.add_argument(
        "--swarms", type=int, default=None, help="load-generator processes (default 1 in --quick, else 2)"
    )
    parser.add_argument(
        "--n", default=None, help="comma-separated viewer counts instead of the scenario's own"
    )
    parser.add_argument(
        "--tally-interval",
        type=float,
        default=0.15,
        help="LIVE_TALLY_INTERVAL for the servers (default: the server's 0.15 s)",
    )
    parser.add_argument(
        "--bus",
        default="memory",
        help="our server's bus, e.g. redis://127.0.0.1:6380/0 behind "
        "'python -m bench.delay' (default: memory)",
    )
    parser.add_argument(
        "--before",
        default=None,
        help="a checkout of our server before a change (git archive COMMIT | tar -x -C DIR): "
        "adds the target live-before, run from it, interleaved with live",
    )
    args = parser.parse_args(argv)
    LiveTarget.bus = args.bus
    kinds = (
        args.targets.split(",") if args.targets else ["live", BASE, *(["node"] if node_available() else [])]
    )
    if args.before:
        if not (Path(args.before) / "live" / "__init__.py").is_file():
            parser.error(f"--before {args.before}: not a checkout of live (no live/__init__.py)")
        BeforeTarget.source = Path(args.before).resolve()
        kinds += [] if "live-before" in kinds else ["live-before"]
    elif "live-before" in kinds:
        parser.error("the target live-before needs --before DIR")
    swarms = args.swarms or (1 if args.quick else 2)
    versions = describe(kinds)
    floor = send_floor(100 if args.quick else 10_000)
    for scenario in SCENARIOS if args.scenario == "all" else (args.scenario,):
        sizes = [int(n) for n in args.n.split(",")] if args.n else None
        result = asyncio.run(
            run_scenario(scenario, kinds, args.runs, args.quick, swarms, args.tally_interval, sizes)
        )
        result["versions"] = versions
        result["machine"]["send_floor"] = floor
        result["live_bus"] = args.bus
        if args.json:
            print(json.dumps(result, ensure_ascii=False), flush=True)
        else:
            print(
                json.dumps(
                    {k: v for k, v in result.items() if k != "results"}
                    | {
                        "results": {
                            g: {k: v for k, v in r.items() if k != "raw"}
                            for g, r in result["results"].items()
                        }
                    },
                    ensure_ascii=False,
                    indent=1,
                ),
                flush=True,
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
