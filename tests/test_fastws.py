"""The read budget of ``live.fastws``: reads past it wait their turn, in order, none lost."""

from __future__ import annotations

import asyncio

from live.fastws import READS_PER_PASS, Admission


class Reader:
    """Stands in for a connection: records when its deferred read is parsed."""

    def __init__(self, i: int, parsed: list[int]) -> None:
        self.i = i
        self.parsed = parsed

    def parse_unparsed(self) -> None:
        self.parsed.append(self.i)


async def test_reads_past_the_budget_wait_for_later_iterations_in_arrival_order() -> None:
    loop = asyncio.get_running_loop()
    admission = Admission()
    parsed: list[int] = []
    n = 2 * READS_PER_PASS + 50
    admitted = [admission.admit(Reader(i, parsed)) for i in range(n)]  # type: ignore[arg-type]
    assert admitted == [True] * READS_PER_PASS + [False] * (n - READS_PER_PASS)
    assert parsed == []

    ticks: list[int] = []

    def tick() -> None:  # a timer due meanwhile runs between the iterations that parse
        ticks.append(len(parsed))

    loop.call_soon(tick)
    for _ in range(4):
        await asyncio.sleep(0)
    assert parsed == list(range(READS_PER_PASS, n))
    assert ticks and 0 < ticks[0] < n - READS_PER_PASS
    assert not admission.active and admission.used == 0
    assert admission.admit(Reader(n, parsed))  # type: ignore[arg-type]


async def test_a_new_read_waits_behind_those_already_waiting() -> None:
    admission = Admission()
    parsed: list[int] = []
    for i in range(READS_PER_PASS + 1):
        admission.admit(Reader(i, parsed))  # type: ignore[arg-type]
    admission.used = 0  # even with budget to spare, the queue goes first
    assert not admission.admit(Reader(-1, parsed))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert parsed == [READS_PER_PASS, -1]
