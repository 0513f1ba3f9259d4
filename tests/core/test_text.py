"""Text helpers: the fast NFKC and the search keys."""
from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from qingting.core.text import nfkc, query_keys, search_keys, search_tokens, token_key

# Characters around the fast path's table: full-width forms, CJK punctuation and compatibility
# ideographs, half-width katakana with voiced marks, combining marks, Hangul jamo, symbols.
_ALPHABET = st.characters(codec="utf-8", categories=None, exclude_categories=("Cs",))
_NEAR = st.sampled_from([chr(c) for c in [*range(0x20, 0x80), *range(0x300, 0x340), 0x338, *range(0x1100, 0x1175, 7),
                                          *range(0x2000, 0x2070), 0x2026, 0x226E, *range(0x3000, 0x3040),
                                          *range(0x3099, 0x309D), *range(0x4E00, 0x4E10), *range(0xF900, 0xF908),
                                          *range(0xFE30, 0xFE70, 3), *range(0xFF00, 0xFFF0), 0xAC00]])


@settings(max_examples=400, deadline=None)
@given(st.text(st.one_of(_ALPHABET, _NEAR), max_size=60))
def test_nfkc_is_unicode_nfkc(text):
    assert nfkc(text) == unicodedata.normalize("NFKC", text)


def test_nfkc_on_typical_complaint_text():
    text = "４Ｓ店说“正常现象”，我不接受！！＜̸　ｶﾞ…"
    assert nfkc(text) == unicodedata.normalize("NFKC", text)
    assert nfkc("刹车，失灵！") == "刹车,失灵!"


def test_search_keys_are_the_distinct_token_keys():
    # punctuation separates runs (no 车失 across the comma), full-width latin folded, duplicates once
    tokens = ["刹车", "失灵", "abc", "123", "ts20240101", "000001"]
    assert search_tokens("刹车，失灵！ＡＢＣ　１２３") + search_tokens("刹车 TS20240101-000001") == \
        ["刹车", "失灵", "abc", "123", "刹车", "ts20240101", "000001"]
    assert search_keys("刹车，失灵！ＡＢＣ　１２３", "刹车 TS20240101-000001") == sorted(token_key(t) for t in tokens)
    assert search_keys("", None) == [] and query_keys("，！") == []


def test_token_keys_exact_for_chinese_hashed_for_words():
    assert token_key("刹车") == (ord("刹") << 21) | ord("车")
    assert token_key("车") == ord("车") << 21  # a lone character: never a bigram's key
    words = [token_key(w) for w in ("abc", "123", "ts20240101", "4s")]
    assert len(set(words)) == 4 and all(1 << 62 <= k < 1 << 63 for k in words)  # positive int64, apart from CJK
    assert token_key("abc") == 0x4000000000000000 | (0x900150983CD24FB0 & ((1 << 62) - 1))  # md5("abc")[:8], fixed
    # stored keys must never change: a change needs a migration that recomputes them
    assert search_keys("发动机异响 4S店") == sorted(token_key(t) for t in ("发动", "动机", "机异", "异响", "店", "4s"))


@settings(max_examples=300, deadline=None)
@given(st.text(st.one_of(_ALPHABET, _NEAR), max_size=60), st.text(st.one_of(_ALPHABET, _NEAR), max_size=30))
def test_search_keys_match_search_tokens(a, b):
    assert search_keys(a, b) == sorted({token_key(t) for t in search_tokens(a) + search_tokens(b)})


def test_query_leaves_out_lone_characters_beside_other_words():
    assert query_keys("4S店") == [token_key("4s")]
    assert query_keys("车 异响") == [token_key("异响")]
    assert query_keys("车") == [token_key("车")]  # alone, it is the query
