"""A round's draft: events applied ahead of their commit must come off without a trace.

A room decides a whole round of requests against a draft of its state and
rolls the draft back when the append fails (a full disk, another worker's
write). If the rollback missed anything, the next snapshot would show a
question that was never stored. This drives ``decide`` and ``apply`` with
random commands, drafts a random tail of them, rolls it back, and compares
with a deep copy taken before.
"""

from __future__ import annotations

from copy import deepcopy

from hypothesis import given, settings
from hypothesis import strategies as st

from live.closing import carry_in
from live.events import Event, NewEvent
from live.exceptions import LiveError
from live.review import decide, release_due
from live.state import Draft, Question, State, apply

NOW = 1_800_000_000_000
INFO = {
    "title": "区长在线",
    "starts_at": NOW - 1000,
    "ends_at": NOW + 3_600_000,
    "moderation": "pre",
    "guest_name": "区长",
    "answer_review": "both",
}

qid = st.integers(1, 3)
ask = st.tuples(
    st.just("ask"),
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(["路灯", "公交", "学校"]),
    st.sampled_from(["1", "2", "3", "4"]),
)
SEED = [("ask", "a", "路灯", "1"), ("ask", "b", "公交", "1"), ("approve", 1), ("approve", 2)]
command = st.one_of(
    ask,
    ask,
    st.tuples(st.sampled_from(["approve", "answering"]), qid),
    st.tuples(st.sampled_from(["hide", "reject"]), qid),
    st.tuples(st.just("answer"), qid, st.sampled_from(["好的", "下周"])),
    st.tuples(st.just("edit"), qid, st.sampled_from(["改过的问题"])),
    st.tuples(st.just("merge"), qid, qid),
    st.tuples(st.just("tally"), qid, st.integers(0, 9)),
    st.tuples(st.sampled_from(["release", "withdraw", "clock"]), qid),
    st.tuples(st.sampled_from(["close", "open", "set_moderation"]), st.sampled_from(["pre", "post"])),
    st.tuples(st.just("remark"), st.sampled_from(["各位网友好", "谢谢"])),  # the studio's posts (issue 21)
    st.tuples(st.sampled_from(["announce", "withdraw_post"]), qid),
)


def events_for(state: State, cmd: tuple) -> list[NewEvent]:
    kind = cmd[0]
    if kind == "tally":
        return (
            [NewEvent("votes.tallied", {"votes": {str(cmd[1]): cmd[2]}})] if cmd[1] in state.questions else []
        )
    args: dict = {}
    device = ""
    if kind == "ask":
        device, args = cmd[1], {"text": cmd[2], "name": "", "client_id": cmd[3]}
    elif kind in ("approve", "hide", "answering", "reject"):
        args = {"question_id": cmd[1]}
    elif kind in ("answer", "edit"):
        args = {"question_id": cmd[1], "text": cmd[2]}
    elif kind == "merge":
        args = {"question_id": cmd[1], "into": cmd[2]}
    elif kind == "set_moderation":
        args = {"mode": cmd[1]}
    elif kind == "remark":
        args = {"text": cmd[1]}
    elif kind == "announce":
        args = {"question_id": cmd[1]}
    elif kind == "withdraw_post":
        args = {"post_id": cmd[1]}
    elif kind in ("release", "withdraw"):
        device, args = "second", {"question_id": cmd[1]}
    elif kind == "clock":
        q = state.questions.get(cmd[1])
        hold = q.held["seq"] if q is not None and q.held is not None else 0
        return release_due(state, cmd[1], hold, NOW + 3_600_000).events
    try:
        return decide(state, kind, args, device, "staff", NOW).events
    except LiveError:
        return []


def fold(state: State, cmd: tuple, draft: Draft | None = None) -> None:
    for e in events_for(state, cmd):
        event = Event(state.session_id, state.seq + 1, e.type, e.data, NOW, e.public, e.private)
        if draft is None:
            apply(state, event)
        else:
            draft.apply(event)


@settings(max_examples=300, deadline=None)
@given(st.lists(command, max_size=25), st.lists(command, min_size=1, max_size=15))
def test_rollback_leaves_exactly_the_committed_state(committed: list, drafted: list) -> None:
    state = State(1)
    apply(state, Event(1, 1, "session.created", {"session": INFO}, NOW))
    for cmd in [*SEED, *committed]:
        fold(state, cmd)
    before = deepcopy(state)
    draft = Draft(state)
    for cmd in drafted:
        fold(state, cmd, draft)
    draft.rollback()
    assert state == before
    assert state.snapshot(staff=True) == before.snapshot(staff=True)
    for cmd in drafted:  # and the same commands then decide as they would have
        fold(state, cmd)
        fold(before, cmd)
    assert state == before


def test_a_carried_in_question_is_found_by_its_kept_receipt_until_rolled_back() -> None:
    """The receipt index (an asker of an earlier episode rates by the number they hold) is kept
    by the fold, and a rolled-back carry-in takes its entry off with the question."""
    state = State(2)
    apply(state, Event(2, 1, "session.created", {"session": INFO}, NOW))
    asked = [Question(n, f"问题{n}", "", "approved", NOW) for n in (5, 6)]
    receipts = {5: "1-5-AAAAAA", 6: "1-6-BBBBBB"}

    def carried(state: State, questions: list[Question]) -> list[Event]:
        new = carry_in(state, 1, questions, receipts, {}, "staff", NOW).events
        return [
            Event(2, state.seq + n, e.type, e.data, NOW, e.public, e.private) for n, e in enumerate(new, 1)
        ]

    for event in carried(state, asked[:1]):
        apply(state, event)
    assert state.by_receipt == {"1-5-AAAAAA": 1}
    before = deepcopy(state)
    draft = Draft(state)
    for event in carried(state, asked[1:]):
        draft.apply(event)
    assert state.by_receipt == {"1-5-AAAAAA": 1, "1-6-BBBBBB": 2}
    draft.rollback()
    assert state == before
