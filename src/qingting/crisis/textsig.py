"""Text signatures for the early-warning detector: the topic terms of a complaint text (its
similar-text groups), the key that tells two copies of one text apart from two texts, and
readable keywords. Pure Python: no Django import.

Terms are content words (segmented with jieba — the Rust build ``rjieba`` when installed),
without function words, numbers and very common words of general Chinese; Latin words of
≥ 2 letters. Without a segmenter: CJK character bigrams.
"""

from __future__ import annotations

import re
import unicodedata
from importlib import resources
from typing import Any, Iterable

__all__ = ["join_keywords", "normalise", "pick_terms", "raw_terms", "text_key", "text_terms"]

MAX_TEXT_CHARS = 4000      # terms are taken from this much of a text (bounded time)
MAX_TERMS_PER_DOC = 300

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CJK_WORD = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,8}$")
_LATIN_WORD = re.compile(r"^[a-z][a-z0-9\-]{1,30}$")
_SPACE = re.compile(r"\s+")
_NUMERALS = set("零一二三四五六七八九十百千万亿两几半多余个次年月日天号周点分秒公里块元毛")
# parts of speech (jieba dictionary tags) that never name a topic: pronouns, adverbs,
# prepositions, conjunctions, particles, numerals, measure words, time, direction, interjections
_FUNCTION_POS = {"r", "rr", "rz", "d", "p", "c", "u", "uj", "ul", "uz", "ud", "ug", "uv", "m",
                 "mq", "q", "t", "tg", "f", "y", "e", "o", "zg", "x", "k", "h", "b", "z"}
# full-width punctuation common in Chinese text, replaced by its NFKC form before the (fast)
# normalisation check: most texts are then already normalised and skip the slow path
_WIDE = (("，", ","), ("：", ":"), ("；", ";"), ("！", "!"), ("？", "?"), ("（", "("), ("）", ")"),
         ("\u3000", " "))
_WORD_CACHE_MAX = 300_000

_COMMON: frozenset[str] | None = None
_CUT: Any = None
_TERMS: set[str] = set()         # segmented words seen that are topic terms (given _COMMON) …
_NOT_TERMS: set[str] = set()     # … and that are not


def normalise(text: str) -> str:
    """NFKC and lower case (full-width letters, digits and punctuation become ASCII)."""
    if not text:
        return ""
    for wide, narrow in _WIDE:
        if wide in text:
            text = text.replace(wide, narrow)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text.lower()


def _common_words(freq_cutoff: int) -> frozenset[str]:
    """Words of the segmenter's dictionary that are function words or so frequent in
    general Chinese that they cannot name a complaint topic (出现, 问题, 这次 …)."""
    global _COMMON
    if _COMMON is not None:
        return _COMMON
    out: set[str] = set()
    try:
        path = resources.files("jieba").joinpath("dict.txt")
        with path.open("r", encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 2:
                    continue
                word, freq = parts[0], parts[1]
                pos = parts[2] if len(parts) > 2 else ""
                if pos in _FUNCTION_POS or (freq.isdigit() and int(freq) > freq_cutoff):
                    out.add(word)
    except Exception:  # no dictionary: rely on the stop terms and the document-share cap
        pass
    _COMMON = frozenset(out)
    return _COMMON


def _segmenter() -> Any:
    global _CUT
    if _CUT is None:
        try:
            import rjieba
            _CUT = rjieba.cut
        except Exception:
            try:
                import jieba
                jieba.setLogLevel(60)
                _CUT = jieba.lcut
            except Exception:
                _CUT = False
    return _CUT


def _is_term(word: str, common: frozenset[str]) -> bool:
    if _CJK_WORD.match(word):
        return word not in common and not all(ch in _NUMERALS for ch in word)
    return bool(_LATIN_WORD.match(word)) and not word.isdigit()


def raw_terms(text: str, common_word_freq: int = 3000) -> set[str]:
    """Distinct topic terms of a text before stop terms: content words (segmented with jieba,
    words the dictionary does not know such as 异响 included), without function words, numbers
    and very common words; Latin words of ≥ 2 letters. Without a segmenter: CJK bigrams.
    Bounded work on huge input."""
    if not text:
        return set()
    t = normalise(text[:MAX_TEXT_CHARS])
    cut = _segmenter()
    if not cut:
        return {run[i:i + 2] for run in _CJK_RUN.findall(t) for i in range(len(run) - 1)}
    words = set(cut(t))
    out = words & _TERMS
    unknown = words - out - _NOT_TERMS
    if unknown:
        common = _common_words(common_word_freq)
        if len(_TERMS) + len(_NOT_TERMS) > _WORD_CACHE_MAX:
            _TERMS.clear()
            _NOT_TERMS.clear()
        for w in unknown:
            if _is_term(w, common):
                _TERMS.add(w)
                out.add(w)
            else:
                _NOT_TERMS.add(w)
    return out


def pick_terms(raw: Iterable[str], stop: frozenset[str] = frozenset()) -> set[str]:
    """The terms that make similar-text groups: without the stop terms, at most
    MAX_TERMS_PER_DOC of them."""
    out = set(raw) - stop
    if len(out) > MAX_TERMS_PER_DOC:
        out = set(sorted(out)[:MAX_TERMS_PER_DOC])
    return out


def text_terms(text: str, stop: frozenset[str] = frozenset(), common_word_freq: int = 3000) -> set[str]:
    """The similar-text terms of a text: `raw_terms` without the stop terms (capped)."""
    return pick_terms(raw_terms(text, common_word_freq), stop)


def text_key(text: str) -> str:
    """The text without case, width and white-space differences (the same complaint filed twice)."""
    return _SPACE.sub("", normalise(text))[:400]


def join_keywords(picked: Iterable[str], snippets: Iterable[str], top: int) -> list[str]:
    """Terms in order of importance, overlapping ones joined into their longest readable form
    when they appear together in the texts ("刹车" + "车片" → "刹车片")."""
    texts = [normalise(s) for s in snippets]
    merged: list[str] = []
    for term in picked:
        joined = False
        for i, m in enumerate(merged):
            for cand in (m + term[1:] if m[-1:] == term[:1] else None,
                         term + m[1:] if term[-1:] == m[:1] else None):
                if cand and sum(cand in x for x in texts) >= max(1, 0.6 * sum(m in x for x in texts)):
                    merged[i] = cand
                    joined = True
                    break
            if joined:
                break
        if not joined and not any(term in m for m in merged):
            merged.append(term)
    return merged[:top]
