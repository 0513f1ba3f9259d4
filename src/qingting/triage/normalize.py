"""Text normalisation with an offset map back to the original text.

Steps (in this order): HTML residue (tags, entities) removed, whitespace runs collapsed
to one space, full-width → half-width, traditional → simplified Chinese (OpenCC
``tw2sp``, which also converts Taiwan vocabulary).  Every character of the normalised
text keeps the range of original characters it came from, so evidence found in the
normalised text can be highlighted in the original.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass

import numpy as np

from .opencc_skip import convert_pieces, convert_text, spots
from .textcodes import text_codes

MAX_CHARS = 20_000  # analysis window; longer input is truncated (and the result says so)

_FW = {i: i - 0xFEE0 for i in range(0xFF01, 0xFF5F)}
_FW[0x3000] = 0x20  # ideographic space
_FW[0x00A0] = 0x20
WIDTH_TABLE = str.maketrans(_FW)
_NARROW = {chr(k): chr(v) for k, v in _FW.items()}
_WIDE = re.compile("[\uff01-\uff5e\u3000\xa0]")  # a quick test before the (slower) translate


_last_fold: tuple = ("", "")


def fold_width(text: str) -> str:
    """Full-width ASCII forms, the ideographic and no-break spaces → half-width.  The
    last result is reused: normalize() and find_pii() fold the same text in a row."""
    global _last_fold
    last = _last_fold
    if last[0] is text:
        return last[1]
    folded = text
    if _WIDE.search(text):
        # A complaint holds a few distinct full-width characters (，！？：（）): replacing
        # each is several times faster than translate(), which maps every character.
        wide = set(_WIDE.findall(text))
        if len(wide) > 8:
            folded = text.translate(WIDTH_TABLE)
        else:
            for c in wide:
                folded = folded.replace(c, _NARROW[c])
    _last_fold = (text, folded)
    return folded

# One pass over the residue we strip: tags, entities, whitespace runs.
_RESIDUE = re.compile(r"<(?:/?[A-Za-z][^<>]{0,300}|!--.{0,2000}?--)>|&(?:#\d{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z]{2,8});|\s{2,}|[\t\r\n\f\v\u200b\u200c\u200d\ufeff]", re.S)
_SEGMENT = re.compile(r"[^\s，。！？；、,.!?;:：]+|[\s，。！？；、,.!?;:：]+")

_converter = None


def _opencc():
    global _converter
    if _converter is None:
        try:
            import opencc

            _converter = opencc.OpenCC("tw2sp")
        except Exception:  # pragma: no cover - OpenCC missing: keep text as is
            _converter = False
    return _converter


@dataclass(frozen=True)
class Normalized:
    text: str  # normalised text
    original: str  # the (possibly truncated) original text
    starts: tuple[int, ...] | None  # per normalised char: start offset in original; None = identity
    ends: tuple[int, ...] | None
    truncated: bool
    original_length: int

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a span [start, end) of the normalised text to the original text."""
        if self.starts is None:
            return start, end
        n = len(self.text)
        if 0 <= start < end <= n:  # the usual span (no clamping: quicker than min/max)
            return self.starts[start], self.ends[end - 1]
        if n == 0:
            return 0, 0
        start = min(max(start, 0), n - 1)
        end = min(max(end, start + 1), n)
        return self.starts[start], self.ends[end - 1]


def _strip_residue(text: str):
    """Remove HTML residue and collapse whitespace; return (text, starts, ends) or (text, None, None)."""
    plain = "<" not in text and "&" not in text
    # Without tags and entities only whitespace is left to strip.  Every whitespace
    # character but the ASCII space is unprintable, so a printable text has some only if
    # it has two spaces in a row (a quicker test than the full pattern).
    if plain and text.isprintable() and "  " not in text:
        return text, None, None
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _RESIDUE.finditer(text):
        a, b = m.span()
        if a > pos:
            out.append(text[pos:a])
            starts.extend(range(pos, a))
            ends.extend(range(pos + 1, a + 1))
        tok = m.group()
        if tok[0] == "&":
            rep = html.unescape(tok)
            if rep == tok:
                rep = tok
            rep = rep.replace("\xa0", " ")
        elif tok[0] == "<":
            tag = tok[1:4].lower()
            rep = " " if tag in ("br", "/p", "p>", "p ", "div", "/di", "li>", "tr>", "/tr", "td>") else ""
        else:
            rep = " "
        for ch in rep:
            out.append(ch)
            starts.append(a)
            ends.append(b)
        pos = b
    if plain and pos == 0:
        # Nothing to strip.  The pattern is scanned once here rather than searched first
        # and then scanned again (a scan took ≈ 4.5 µs of a car complaint's 150 characters).
        return text, None, None
    if pos < len(text):
        out.append(text[pos:])
        starts.extend(range(pos, len(text)))
        ends.extend(range(pos + 1, len(text) + 1))
    joined = "".join(out)
    if "  " not in joined:
        return joined, starts, ends
    # Entities and removed tags can leave new runs of spaces: collapse them too.
    chars, s2, e2 = [], [], []
    for ch, a, b in zip(joined, starts, ends):
        if ch == " " and chars and chars[-1] == " ":
            e2[-1] = b
            continue
        chars.append(ch)
        s2.append(a)
        e2.append(b)
    return "".join(chars), s2, e2


def _convert(text: str, starts, ends):
    conv = _opencc()
    if not conv:
        return text, starts, ends
    at = spots(text, conv)  # where OpenCC may change something; None: not known
    if at == []:
        return text, starts, ends
    try:
        # Only the pieces that may change ...
        new = convert_pieces(text, conv, at) if at is not None else None
        if new is None:  # ... or the whole text when that shortcut is off.
            new = convert_text(conv, text)
    except Exception:  # pragma: no cover - defensive: OpenCC on odd input
        return text, starts, ends
    if len(new) == len(text):
        return new, starts, ends
    # Length changed (vocabulary conversion such as 記憶體→内存): convert per segment and
    # map each converted segment onto its source segment proportionally.
    if starts is None:
        starts = list(range(len(text)))
        ends = list(range(1, len(text) + 1))
    out: list[str] = []
    ns: list[int] = []
    ne: list[int] = []
    nxt = 0  # the next spot
    for m in _SEGMENT.finditer(text):
        a, b = m.span()
        seg = m.group()
        if at is not None:  # a segment without a spot stays as it is
            while nxt < len(at) and at[nxt] < a:
                nxt += 1
            if nxt == len(at) or at[nxt] >= b:
                cseg = seg
            else:
                cseg = convert_text(conv, seg)
        else:
            cseg = convert_text(conv, seg)
        out.append(cseg)
        if len(cseg) == len(seg):
            ns.extend(starts[a:b])
            ne.extend(ends[a:b])
        else:
            k = len(seg)
            for i in range(len(cseg)):
                j = min(k - 1, (i * k) // max(1, len(cseg)))
                ns.append(starts[a + j])
                ne.append(ends[b - 1] if i == len(cseg) - 1 else ends[a + j])
    return "".join(out), ns, ne


def normalize(text, max_chars: int = MAX_CHARS) -> Normalized:
    """Normalise ``text`` (never raises: non-strings are turned into strings)."""
    if text is None:
        text = ""
    elif not isinstance(text, str):
        try:
            text = text.decode("utf-8", "replace") if isinstance(text, (bytes, bytearray)) else str(text)
        except Exception:
            text = ""
    original_length = len(text)
    truncated = original_length > max_chars
    if truncated:
        text = text[:max_chars]
    # Lone surrogates cannot be encoded by OpenCC; replace them (same length).
    try:
        text.encode("utf-8")
        safe = text
    except UnicodeEncodeError:
        safe = text.encode("utf-8", "replace").decode("utf-8", "replace")
        if len(safe) != len(text):
            safe = "".join(ch if not 0xD800 <= ord(ch) <= 0xDFFF else "\ufffd" for ch in text)
    stripped, starts, ends = _strip_residue(safe)
    folded = fold_width(stripped)
    converted, starts, ends = _convert(folded, starts, ends)
    # Trim leading/trailing spaces.
    lead = len(converted) - len(converted.lstrip())
    trail = len(converted.rstrip())
    if lead or trail != len(converted):
        if starts is None:
            starts = list(range(len(converted)))
            ends = list(range(1, len(converted) + 1))
        converted = converted[lead:trail]
        starts = starts[lead:trail]
        ends = ends[lead:trail]
    return Normalized(
        text=converted,
        original=text,
        starts=tuple(starts) if starts is not None else None,
        ends=tuple(ends) if ends is not None else None,
        truncated=truncated,
        original_length=original_length,
    )


_LATIN = re.compile(r"[A-Za-z]{2,}")
# Starts and ends (exclusive) of the CJK blocks counted: a code point is CJK when an odd
# number of these bounds are ≤ it.
_CJK_BOUNDS = np.array([0x3400, 0x4DC0, 0x4E00, 0xA000, 0xF900, 0xFB00], dtype=np.uint64)
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")  # the same blocks


def lower(text: str) -> str:
    """Lower-cased, character for character (offsets keep); the same object when nothing
    changes, so that arrays cached for it (text_codes) are reused."""
    low = text.lower()
    if len(low) != len(text):  # a few characters (e.g. İ) lower-case to two
        low = "".join((c.lower()[:1] or c) for c in text)
    return text if low == text else low


def detect_language(text: str) -> str:
    """'zh', 'en', 'mixed' or 'unknown' (no letters at all)."""
    sample = text[:4000]
    latin_words = _LATIN.findall(sample)
    if not latin_words:  # the usual Chinese complaint: no need to count the CJK characters
        return "zh" if _CJK.search(sample) else "unknown"
    cjk = int(np.count_nonzero(np.searchsorted(_CJK_BOUNDS, text_codes(text)[0][:4000], side="right") & 1))
    latin = sum(len(w) for w in latin_words)
    if cjk == 0 and latin == 0:
        return "unknown"
    if cjk == 0:
        return "en"
    if latin == 0:
        return "zh"
    # An English word counts ~ like two Chinese characters of content.
    if latin <= cjk * 0.5 or len(latin_words) <= 3 and cjk >= 10:
        return "zh"
    if cjk <= 2 and len(latin_words) >= 8:
        return "en"
    return "mixed"
