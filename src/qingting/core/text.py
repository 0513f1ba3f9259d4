"""Small text helpers shared by search, numbering and display (no Django)."""
from __future__ import annotations

import re
import unicodedata
from hashlib import md5
from operator import add

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[0-9a-z]+")
SEARCH_TEXT_MAX = 20_000


def _compat_table() -> tuple[dict[str, str], re.Pattern]:
    """Characters whose compatibility decomposition is already their NFKC form (full-width
    letters, digits and punctuation, CJK compatibility ideographs, ideographic space …)."""
    table = {}
    for lo, hi in ((0x2000, 0x2C00), (0x3000, 0x3400), (0xF900, 0xFB00), (0xFE30, 0xFE70), (0xFF00, 0xFFF0)):
        for cp in range(lo, hi):
            c = chr(cp)
            d = unicodedata.normalize("NFKD", c)
            if d != c and unicodedata.normalize("NFKC", c) == d:
                table[c] = d
    return table, re.compile("[" + "".join(re.escape(c) for c in sorted(table)) + "]")


_COMPAT, _COMPAT_RE = _compat_table()


def _compat(match: re.Match) -> str:
    return _COMPAT[match.group()]


def nfkc(text: str) -> str:
    """unicodedata.normalize("NFKC", text), three to four times faster on Chinese text.

    Chinese text is rarely NFKC-normalised only because of its full-width punctuation, so
    the full normalisation runs on nearly every complaint. Replacing such characters by
    their compatibility decomposition first leaves the NFKD form — hence the NFKC form —
    unchanged, and usually lets the normaliser's quick check accept the rest as it is.
    """
    return unicodedata.normalize("NFKC", _COMPAT_RE.sub(_compat, text))


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lower case."""
    return nfkc(text or "").lower()


def search_tokens(text: str) -> list[str]:
    """Tokens for the search index: CJK character bigrams (a lone character kept) and latin/digit words.

    Bigrams make any Chinese word of two or more characters findable without a
    dictionary: 刹车失灵 → 刹车 车失 失灵.
    """
    text = normalise(text)[:SEARCH_TEXT_MAX]
    tokens: list[str] = []
    for run in _CJK.findall(text):
        if len(run) == 1:
            tokens.append(run)
        else:
            tokens.extend(map(add, run, run[1:]))
    tokens.extend(_WORD.findall(text))
    return tokens


# Search keys: what the search index stores (a GIN index over bigint[] on PostgreSQL — about
# half the cost per complaint of a tsvector or text[] index, whose keys are strings). A CJK
# token is kept exactly: its code points, the first shifted by 21 bits (a bigram, or a lone
# character with 0 as the second). A latin/digit word is the first 8 bytes of its MD5 with
# bit 62 set, so it never meets a CJK key (those stay below 2**42). Keys are positive int64.
_CJK_KEY_SHIFT = 21
_WORD_KEY_BIT = 1 << 62
_WORD_KEY_MASK = _WORD_KEY_BIT - 1
_PAIR_MASK = (1 << _CJK_KEY_SHIFT) - 1  # a lone character's key has 0 here


def token_key(token: str) -> int:
    """The search key of one token of `search_tokens`."""
    if _CJK.fullmatch(token):
        first = ord(token[0]) << _CJK_KEY_SHIFT
        return first | ord(token[1]) if len(token) == 2 else first
    return _WORD_KEY_BIT | (int.from_bytes(md5(token.encode()).digest()[:8], "big") & _WORD_KEY_MASK)


def _text_keys(text: str, out: dict) -> None:
    text = normalise(text)[:SEARCH_TEXT_MAX]
    for run in _CJK.findall(text):
        codes = list(map(ord, run))
        if len(codes) == 1:
            out[codes[0] << _CJK_KEY_SHIFT] = None
        else:
            out.update(dict.fromkeys(map(_pair_key, codes, codes[1:])))
    for word in _WORD.findall(text):
        if word not in out:
            out[word] = None


def _pair_key(a: int, b: int) -> int:
    return (a << _CJK_KEY_SHIFT) | b


def search_keys(*parts: str) -> list[int]:
    """The distinct search keys of the parts (what `token_key` gives for each of their
    `search_tokens`), in order of first appearance."""
    found: dict = {}
    for part in parts:
        if part:
            _text_keys(part, found)
    return [k if isinstance(k, int) else token_key(k) for k in found]


def query_keys(q: str) -> list[int]:
    """The keys a search for `q` must all find (at most 32). A lone Chinese character beside
    other words ("4S店", "车 异响") is left out: the index keeps such a character only where it
    stands alone in the text, so "4S店" would miss "4S店说…"; the other keys still narrow it."""
    keys = search_keys(q)
    longer = [k for k in keys if k >= _WORD_KEY_BIT or k & _PAIR_MASK]
    return (longer or keys)[:32]


def mask_mobile(mobile: str) -> str:
    digits = re.sub(r"\D", "", mobile or "")
    if len(digits) >= 7:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * len(digits)


def normalise_mobile(raw: str) -> str:
    """Mainland mobile numbers to 11 digits (strips +86, spaces, dashes); others kept as digits."""
    digits = re.sub(r"\D", "", raw or "")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def normalise_email(raw: str) -> str:
    return (raw or "").strip().lower()
