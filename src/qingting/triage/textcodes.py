"""Code arrays of a text, computed once and shared by the steps that read it."""
from __future__ import annotations

import numpy as np

_last_codes: tuple = ("", None)
_MULT = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of key × this
HASH_BITS = 16
_SHIFT = np.uint64(64 - HASH_BITS)
_PAIR_SHIFT = np.uint64(21)  # made once: a numpy scalar costs ≈ 0.3 µs to create


def text_codes(text: str):
    """(code points, character-pair keys, pair hashes) of ``text``: uint64 arrays (a pair
    key is the two code points packed 21 bits apart; its hash, pair_hash(), indexes a
    PairFilter).  The last text's arrays are reused: the OpenCC check, language detection,
    the matchers and the model read the same text in a row."""
    global _last_codes
    last = _last_codes
    if last[0] is text:
        return last[1]
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)
    pairs = (cp[:-1] << _PAIR_SHIFT) | cp[1:]
    codes = (cp, pairs, pair_hash(pairs))
    _last_codes = (text, codes)
    return codes


def pair_hash(keys: np.ndarray) -> np.ndarray:
    """HASH_BITS-bit hashes of pair keys (uint64 arrays; the multiplication wraps)."""
    return (keys * _MULT) >> _SHIFT


def pair_key(pair: str) -> int:
    """The key of a two-character string, as in text_codes()."""
    return (ord(pair[0]) << 21) | ord(pair[1])


class PairFilter:
    """The positions of a text whose character pair may be one of a set of pairs: a
    table of HASH_BITS-bit hashes (a one-hash Bloom filter, 64 KB) looked up for all of
    the text's pairs at once, with independent memory reads rather than the chains of a
    binary search.  The caller checks each position it returns (a few false ones)."""

    def __init__(self, pairs):
        keys = np.array(sorted(set(map(pair_key, pairs))), dtype=np.uint64)
        self.table = np.zeros(1 << HASH_BITS, dtype=bool)
        self.table[pair_hash(keys)] = True
        self.empty = not len(keys)

    def positions(self, text: str) -> list[int]:
        if self.empty or len(text) < 2:
            return []
        return self.table.take(text_codes(text)[2]).nonzero()[0].tolist()

    def positions_keys(self, text: str) -> tuple[list[int], list[int]]:
        """The positions, and the pair keys there."""
        if self.empty or len(text) < 2:
            return [], []
        codes = text_codes(text)
        at = self.table.take(codes[2]).nonzero()[0]
        return at.tolist(), codes[1].take(at).tolist()
