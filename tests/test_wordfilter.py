"""The blocked-word filter: spelling tricks that must not get past it."""

from __future__ import annotations

import pytest

from live.wordfilter import WordFilter, normalise


@pytest.fixture(scope="module")
def words() -> WordFilter:
    return WordFilter(["敏感词", "badword", "發票代開"])


@pytest.mark.parametrize(
    "text",
    [
        "这是敏感词",
        "这是敏 感 词",
        "这是敏.感-词",
        "這是敏感詞",
        "敏\u200b感\u200d词",
        "ＢＡＤＷＯＲＤ",
        "BadWord",
        "bаdwоrd",  # Cyrillic а and о
        "b a d w o r d",
        "发票代开",
        "發票代開",
    ],
)
def test_tricks_are_caught(words: WordFilter, text: str) -> None:
    hits = words.check(text)
    assert hits is not None, text
    start, end = hits.spans[0]
    assert 0 <= start < end <= len(text)


@pytest.mark.parametrize("text", ["正常的问题", "敏捷开发", "bad news", "感谢"])
def test_innocent_text_passes(words: WordFilter, text: str) -> None:
    assert words.check(text) is None


def test_spans_point_into_the_original_text(words: WordFilter) -> None:
    text = "请问 敏 感 词 和 BADWORD 有什么区别"
    hits = words.check(text)
    assert hits is not None
    assert [text[a:b] for a, b in hits.spans] == ["敏 感 词", "BADWORD"]
    assert hits.words == ["敏感词", "badword"]


def test_normalise_keeps_an_origin_for_every_character() -> None:
    key, origin = normalise("Ａ b")
    assert len(origin) == 2 and origin == [0, 2]
    assert key


def test_empty_list_matches_nothing() -> None:
    assert WordFilter([]).check("敏感词") is None
