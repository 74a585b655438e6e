"""How long the blocked-word filter takes per question, with ten thousand words loaded.

Baseline in the same run: the loop a first version would write, ``any(word in
text ...)`` over the already-normalised text, which is what the automaton
replaces. Prints one JSON object.

    python -m bench.wordfilter [--words 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from live.wordfilter import WordFilter, fold

QUESTIONS = [
    "小区门口的道路施工已经三个月了，什么时候能完工？",
    "老城区停车难，晚上下班回家经常找不到车位，区里有没有增加停车位的计划？请问相关部门能否尽快答复。",
    "Is there an English service line for foreign residents who need help with residence permits?",
    "孩子明年上小学，学区划分什么时候公布？" * 5,
]


def _words(n: int, rng: random.Random) -> list[str]:
    return ["".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(2, 5))) for _ in range(n)]


def _time(fn, text: str, repeat: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(repeat):
        fn(text)
    return (time.perf_counter() - start) / repeat * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=500)
    args = parser.parse_args()
    rng = random.Random(7)
    words = [*_words(args.words, rng), "敏感词"]
    f = WordFilter(words)
    folded = ["".join(fold(c) for c in w) for w in words]

    def naive(text: str) -> bool:
        key = "".join(fold(c) for c in text)
        return any(w in key for w in folded)

    results = {}
    for q in QUESTIONS:
        f.check(q)
        ours = [_time(f.check, q, args.repeat) for _ in range(args.runs)]
        base = [_time(naive, q, max(1, args.repeat // 20)) for _ in range(args.runs)]
        results[f"{len(q)} chars"] = {
            "automaton_us": round(statistics.median(ours), 1),
            "automaton_range_us": [round(min(ours), 1), round(max(ours), 1)],
            "naive_loop_us": round(statistics.median(base), 1),
            "ratio_to_naive": round(statistics.median(ours) / statistics.median(base), 4),
        }
    print(
        json.dumps(
            {"scenario": "wordfilter", "words": len(words), "runs": args.runs, "per_question": results},
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
