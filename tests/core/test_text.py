"""Text helpers: the fast NFKC and the search document."""
from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from qingting.core.text import nfkc, search_document

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


def test_search_document_bigrams_words_and_order():
    # punctuation separates runs (no 车失 across the comma), full-width latin folded, duplicates once
    assert search_document("刹车，失灵！ＡＢＣ　１２３", "刹车 TS20240101-000001") == "刹车 失灵 abc 123 ts20240101 000001"
    assert search_document("", None) == ""
