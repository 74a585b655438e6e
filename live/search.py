"""Search every answered question of every episode, and suggest "already answered?" matches.

The index itself is kept by the store, in the same transaction as the events
that change it (see :mod:`live.store.index`); this module only turns what a
person typed into a query and ranks what comes back. Queries are folded as the
index's keys are (Traditional to Simplified, case), and any punctuation or
symbol separates terms, so 停車, 「停车」 and 停车/泊位 find what 停车 finds.

*Search* splits the query into terms. Terms of three characters or more go to
FTS5 (``trigram``: any substring, Chinese or English, case-insensitive); a
shorter term (two Chinese characters are a whole word, 停车) is matched as a
plain substring over the answered rows, which are few enough to scan.

*Suggestions* must survive rephrasing, which a substring search does not:
"老城区停车难" and "晚上回家找不到停车位" share no three-character run. So both
texts become sets of features (every pair of adjacent Chinese characters, and
each Latin word), common question words are dropped, and candidates are scored
by the Dice overlap of those sets with the question, plus a smaller share for
features the answer covers. The store pre-selects candidates that share any
feature, so scoring stays cheap however long the archive grows.
"""

from __future__ import annotations

import re
from typing import Protocol

from .events import JSON
from .exceptions import BadRequest, NotFound
from .store import Catalog, Search
from .store.index import fold

MIN_PHRASE = 3
MAX_QUERY = 200
MAX_TERMS = 8
MAX_FEATURES = 32
CANDIDATES = 40
SUGGEST_LIMIT = 3
THRESHOLD = 0.2

_SPLIT = re.compile(r"[\W_]+")
"""Anything but letters and digits (any script) separates terms: 「停车」, 停车/泊位, 停车-."""
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS = (
    "请问 问一 一下 什么 么时 时候 怎么 么办 为什 如何 哪些 是否 能否 可以 有没 没有 我们 我想 想问 "
    "谢谢 你好 您好 区长 这个 那个 问题 一个 的问 现在 目前 还是 就是 已经 大家 是不 不是 会不 不会 "
    "the a an is are was were be to of in on for and or do does did can could will would there "
    "this that what when where how why which who any have has my our your it i we you"
)
STOP = frozenset(_STOP_WORDS.split())
"""Features that say "this is a question", not what it is about."""


def terms(query: str) -> tuple[list[str], list[str]]:
    """``(phrases, substrings)``: FTS5 phrases of >= 3 characters, and shorter terms, folded as
    the index's keys are (停車 finds 停车)."""
    words = list(dict.fromkeys(w for w in _SPLIT.split(fold(query)) if w))[:MAX_TERMS]
    return ([w for w in words if len(w) >= MIN_PHRASE], [w for w in words if len(w) < MIN_PHRASE])


def features(text: str) -> set[str]:
    """Adjacent Chinese character pairs (or a lone character) and Latin words, minus STOP,
    folded as the index's keys are."""
    text = fold(text)
    out: set[str] = set()
    for run in _CJK_RUN.findall(text):
        out.update([run] if len(run) == 1 else (run[i : i + 2] for i in range(len(run) - 1)))
    out.update(w.removesuffix("s") if len(w) > 3 else w for w in _WORD.findall(text) if len(w) > 1)
    return out - STOP


def score(query: set[str], question: str, answer: str) -> float:
    """Dice overlap with the question, plus up to 0.3 for query features the answer covers."""
    q = features(question)
    if not query or not q:
        return 0.0
    dice = 2 * len(query & q) / (len(query) + len(q))
    return dice + 0.3 * len(query & features(answer)) / len(query)


def result(row: JSON) -> JSON:
    """The shape every search and suggestion result has; ``link`` opens the replay there."""
    info = row["info"]
    return {
        "session_id": row["session_id"],
        "programme_id": row["programme_id"],
        "episode": info.get("episode"),
        "title": info.get("title", ""),
        "timezone": info.get("timezone", ""),
        "question_id": row["question_id"],
        "name": row["name"],
        "question": row["question"],
        "answer": row["answer"],
        "at": row["at"],
        "link": f"/s/{row['session_id']}/replay#q{row['question_id']}",
    }


def _limit(raw: str | None, default: int, most: int) -> int:
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= most:
        raise BadRequest(
            "bad_query",
            f"limit 必须是 1 到 {most} 的整数",
            f"limit must be an integer from 1 to {most}",
            field="limit",
        )
    return int(raw)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _query(raw: str | None) -> str:
    q = _CONTROL.sub(" ", raw or "").strip()
    if not q:
        raise BadRequest("missing_field", "请输入要搜索的内容", "Type something to search for", field="q")
    if len(q) > MAX_QUERY:
        raise BadRequest(
            "too_long", f"搜索内容不能超过 {MAX_QUERY} 字", f"At most {MAX_QUERY} characters", field="q"
        )
    return q


async def search(
    store: Search, raw_query: str | None, programme_id: int | None, raw_limit: str | None
) -> list[JSON]:
    phrases, substrings = terms(_query(raw_query))
    if not phrases and not substrings:
        return []
    rows = await store.search_answered(phrases, substrings, programme_id, _limit(raw_limit, 20, 100))
    return [result(r) for r in rows]


class SuggestStore(Catalog, Search, Protocol):
    """What suggestions read: the session (its programme and start), and the index."""


async def suggest(store: SuggestStore, session_id: int, raw_query: str | None) -> list[JSON]:
    """Up to three answered questions, from this session or earlier ones of its programme."""
    text = _CONTROL.sub(" ", raw_query or "").strip()[:1000]
    wanted = features(text)
    row = await store.get_session(session_id)
    if row is None:
        raise NotFound("session_not_found", "访谈不存在", "No such session", id=session_id)
    if not wanted:
        return []
    folded = fold(text)
    ranked = sorted(wanted, key=lambda f: (-len(f), folded.find(f)))[:MAX_FEATURES]
    until = row.info.get("starts_at") or 0
    rows = await store.similar_answered(ranked, row.programme_id, until, CANDIDATES)
    scored = sorted(
        ((score(wanted, r["question"], r["answer"]), r) for r in rows),
        key=lambda pair: (-pair[0], -(pair[1]["at"] or 0)),
    )
    return [{**result(r), "score": round(s, 3)} for s, r in scored[:SUGGEST_LIMIT] if s >= THRESHOLD]
