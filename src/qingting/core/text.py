"""Small text helpers shared by search, numbering and display (no Django)."""
from __future__ import annotations

import re
import unicodedata
from hashlib import md5
from operator import add

import numpy as np

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


# CJK ideographs (the _CJK ranges) as a table over all code points, for search_key_array.
_IS_CJK = np.zeros(0x110000, dtype=bool)
for _lo, _hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)):
    _IS_CJK[_lo:_hi + 1] = True
_NO_KEYS = np.empty(0, dtype=np.int64)


def _key_array(text: str) -> np.ndarray:
    """The keys of one text, unsorted, maybe repeated. The CJK keys come from the code point
    array in a few vector steps (the Python loop over bigrams cost twice as much)."""
    text = normalise(text)
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
    cjk = _IS_CJK[cps]
    edge = np.zeros(len(cps) + 1, dtype=bool)  # edge[i]: characters i-1 and i are both CJK
    np.logical_and(cjk[:-1], cjk[1:], out=edge[1:-1])
    pairs = cps[:-1][edge[1:-1]]
    pairs <<= _CJK_KEY_SHIFT
    pairs |= cps[1:][edge[1:-1]]
    lone = cps[cjk & ~edge[:-1] & ~edge[1:]]  # a run of one character
    lone <<= _CJK_KEY_SHIFT
    words = _WORD.findall(text)
    if words:
        return np.concatenate((pairs, lone, np.fromiter(map(token_key, set(words)), dtype=np.int64, count=-1)))
    return np.concatenate((pairs, lone))


def search_key_array(*parts: str) -> np.ndarray:
    """The distinct search keys of the parts, sorted (int64): `token_key` of each of their
    `search_tokens`. The parts are read as one text, a line each (a line break ends every
    token and normalises to itself); a part is cut to SEARCH_TEXT_MAX on its own first."""
    parts = [p if len(p) <= SEARCH_TEXT_MAX else normalise(p)[:SEARCH_TEXT_MAX] for p in parts if p]
    return np.unique(_key_array("\n".join(parts))) if parts else _NO_KEYS


def search_keys(*parts: str) -> list[int]:
    """`search_key_array` as a list of ints."""
    return search_key_array(*parts).tolist()


def query_keys(q: str) -> list[int]:
    """The keys a search for `q` must all find, in the query's order (at most 32). A lone
    Chinese character beside other words ("4S店", "车 异响") is left out: the index keeps such
    a character only where it stands alone in the text, so "4S店" would miss "4S店说…"; the
    other keys still narrow it."""
    keys = [token_key(t) for t in dict.fromkeys(search_tokens(q))]
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
