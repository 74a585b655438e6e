"""``python -m bench.report < results.jsonl``: the JSON of ``python -m bench ... --json`` as
the markdown tables of ``docs/benchmarks.md`` (median over runs, [min-max] when runs > 1,
and ours as a ratio to the bare-``websockets`` baseline)."""

from __future__ import annotations

import json
import sys
from typing import Any

SKIP = {"viewers", "clients", "window", "seconds", "broadcasts", "tally_interval_s", "published_while_away"}


def cell(s: dict[str, Any]) -> str:
    if s.get("median") is None:
        return "-"

    def fmt(v: float) -> str:
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"

    text = fmt(s["median"])
    if s.get("runs", 1) > 1 and s["min"] != s["max"]:
        text += f" [{fmt(s['min'])}-{fmt(s['max'])}]"
    return text


def table(result: dict[str, Any]) -> str:
    lines = []
    for label, group in result["results"].items():
        kinds = [k for k in ("live", "websockets", "node") if k in group]
        title = f"### {result['scenario']}" + (f", N = {label}" if label else "")
        lines += [
            title,
            "",
            "| figure | " + " | ".join(kinds) + " | live / websockets |",
            "|---|" + "---|" * (len(kinds) + 1),
        ]
        for figure in group["live"]:
            if figure in SKIP:
                continue
            r = group.get("ratio_to_websockets", {}).get("live", {}).get(figure)
            row = [cell(group[k].get(figure, {})) for k in kinds]
            lines.append(f"| {figure} | " + " | ".join(row) + f" | {'-' if r is None else r} |")
        lines.append("")
    lines.append("| target | value | required | met |")
    lines.append("|---|---|---|---|")
    for name, t in result["targets"].items():
        value = "-" if t["value"] is None else f"{t['value']:.3g}"
        lines.append(f"| {name} | {value} | {t['target']} | {t['met']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    for line in sys.stdin:
        if line.strip():
            result = json.loads(line)
            floor = result["machine"].get("send_floor")  # absent from results before stop 15
            about = (
                ""
                if floor is None
                else (
                    f" send() floor {floor['us_per_send_median']:.2f} µs [{floor['us_per_send_min']:.2f}-"
                    f"{floor['us_per_send_max']:.2f}] at {floor['viewers']:,}"
                )
            )
            print(
                f"<!-- runs={result['runs']} seconds={result['seconds']} "
                f"loadavg={result['machine']['loadavg']}{about} -->"
            )
            print(table(result))


if __name__ == "__main__":
    main()
