"""Small text helpers shared by search, numbering and display (no Django)."""
from __future__ import annotations

import re
import unicodedata

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[0-9a-z]+")
SEARCH_TEXT_MAX = 20_000


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lower case."""
    return unicodedata.normalize("NFKC", text or "").lower()


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
            tokens.extend(run[i:i + 2] for i in range(len(run) - 1))
    tokens.extend(_WORD.findall(text))
    return tokens


def search_document(*parts: str) -> str:
    seen: dict[str, None] = {}
    for part in parts:
        for token in search_tokens(part or ""):
            seen.setdefault(token, None)
    return " ".join(seen)


def query_tokens(q: str) -> list[str]:
    out: list[str] = []
    for token in search_tokens(q):
        if token not in out:
            out.append(token)
    return out[:32]


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
