"""Personal data in complaint text: find spans, mask them.

Kinds: ``mobile`` (mainland 1[3-9]x, 11 digits), ``landline`` (area code with a separator,
or digits right after 电话/座机/tel; 400/800 service numbers), ``id_card`` (18-digit
resident ID, checksum and birth date verified), ``bank_card`` (13–19 digits passing Luhn,
spaces/dashes allowed between groups), ``email``, ``plate`` (mainland licence plates,
including new-energy 8-character plates), ``vin`` (17 characters, check digit verified,
or any 17-character VIN right after 车架号/VIN).

Offsets are into the text given (full-width digits and letters are recognised; the
folding is character for character, so offsets are those of the original).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .normalize import fold_width


@dataclass(frozen=True)
class PiiSpan:
    kind: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "start": self.start, "end": self.end, "text": self.text}


_ND = r"(?<![0-9A-Za-z])"  # not preceded by a digit/letter
_NA = r"(?![0-9A-Za-z])"

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])")
_ID = re.compile(_ND + r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]" + r"(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
_LANDLINE_SEP = re.compile(r"(?<![\d-])(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}[-—–])[ ]?[2-9]\d{6,7}(?:[-转]\d{1,5})?(?![\d])")
_SERVICE = re.compile(r"(?<!\d)[48]00[- ]?\d{3}[- ]?\d{4}(?!\d)")
_LANDLINE_CUE = re.compile(r"(?:电话|座机|固话|tel|Tel|TEL|联系方式|号码)[:：是为]?\s{0,2}(0\d{2,3}[- ]?[2-9]\d{6,7}|[2-9]\d{6,7})(?!\d)")
_CARD = re.compile(r"(?<![\d-])(?:\d{4}[ -]){3,4}\d{1,7}(?![\d-])|(?<!\d)\d{13,19}(?!\d)")
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = re.compile(r"(?<![A-Za-z0-9])[" + _PROVINCES + r"][A-HJ-NP-Za-hj-np-z][·• -]?(?:[DFdf][A-HJ-NP-Z0-9a-hj-np-z]\d{4}|\d{5}[DFdf]|[A-HJ-NP-Z0-9a-hj-np-z]{4}[A-HJ-NP-Z0-9a-hj-np-z挂学警港澳])(?![A-Za-z0-9])")
_VIN = re.compile(r"(?<![A-Za-z0-9])[A-HJ-NPR-Za-hj-npr-z0-9]{17}(?![A-Za-z0-9])")
_VIN_CUE = re.compile(r"(?:车架号|车辆识别代号|识别码|vin|VIN)(?:码|号)?[:：是为]?\s{0,2}$")

_DIGIT_RUN = re.compile(r"\d[\d \-()（）]{5,}[\dXx]")
_ALNUM17 = re.compile(r"[A-Za-z0-9]{17}")
_PLATE_HINT = re.compile(r"[" + _PROVINCES + r"][A-Za-z]")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_checksum_ok(s: str) -> bool:
    if len(s) != 18 or not s[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == s[17].upper()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_VIN_VAL = {**{str(i): i for i in range(10)},
            **dict(zip("ABCDEFGH", range(1, 9))), **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9,
            **dict(zip("STUVWXYZ", range(2, 10)))}
_VIN_W = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_checksum_ok(vin: str) -> bool:
    vin = vin.upper()
    try:
        total = sum(_VIN_VAL[c] * w for c, w in zip(vin, _VIN_W))
    except KeyError:
        return False
    check = total % 11
    return vin[8] == ("X" if check == 10 else str(check))


def find_pii(text, *, kinds: set[str] | None = None) -> list[PiiSpan]:
    """All personal-data spans in ``text`` (sorted, non-overlapping). Never raises."""
    if not isinstance(text, str) or not text:
        return []
    t = fold_width(text)
    found: list[PiiSpan] = []
    taken = bytearray(len(t))  # 1 where a span was already found: linear time on huge texts

    def add(kind, a, b):
        if (kinds is None or kind in kinds) and taken.find(1, a, b) == -1:
            found.append(PiiSpan(kind, a, b, text[a:b]))
            taken[a:b] = b"\x01" * (b - a)

    if "@" in t:
        for m in _EMAIL.finditer(t):
            add("email", *m.span())
    if _DIGIT_RUN.search(t):
        for m in _ID.finditer(t):
            if id_checksum_ok(m.group()):
                add("id_card", *m.span())
        for m in _MOBILE.finditer(t):
            add("mobile", *m.span())
        for m in _SERVICE.finditer(t):
            add("landline", *m.span())
        for m in _LANDLINE_SEP.finditer(t):
            add("landline", *m.span())
        for m in _CARD.finditer(t):
            digits = re.sub(r"\D", "", m.group())
            if 13 <= len(digits) <= 19 and luhn_ok(digits) and len(set(digits)) > 2:
                # An undelimited 13–15 digit run is usually an order number: require 16–19.
                if m.group().isdigit() and len(digits) < 16:
                    continue
                add("bank_card", *m.span())
        # A cued number has seven digits in a row, so it occurs only with a digit run.
        for m in _LANDLINE_CUE.finditer(t):
            add("landline", *m.span(1))
    if _PLATE_HINT.search(t):
        for m in _PLATE.finditer(t):
            add("plate", *m.span())
    for m in (_VIN.finditer(t) if _ALNUM17.search(t) else ()):
        v = m.group()
        if v.isdigit() or v.isalpha():
            continue
        if vin_checksum_ok(v) or _VIN_CUE.search(t[max(0, m.start() - 12):m.start()]):
            add("vin", *m.span())
    found.sort(key=lambda s: s.start)
    return found


def _mask(s: str, kind: str) -> str:
    n = len(s)
    if kind == "email":
        local, _, domain = s.partition("@")
        masked_local = local[:1] + "*" * (len(local) - 1) if len(local) > 1 else "*"
        return masked_local + "@" + domain  # same length as the original
    if kind in ("mobile", "landline"):
        keep_head, keep_tail = (3, 4) if n >= 11 else (2, 2)
    elif kind in ("id_card", "bank_card"):
        keep_head, keep_tail = 4, 4
    elif kind == "plate":
        keep_head, keep_tail = 2, 1
    elif kind == "vin":
        keep_head, keep_tail = 3, 4
    else:
        keep_head, keep_tail = 1, 1
    if n <= keep_head + keep_tail:
        return "*" * n
    middle = "".join("*" if ch.isalnum() else ch for ch in s[keep_head:n - keep_tail])
    return s[:keep_head] + middle + s[n - keep_tail:]


def mask_text(text, *, kinds: set[str] | None = None) -> str:
    """``text`` with every personal-data span masked (head/tail kept: 138****5678).

    Works on the whole text, however long (linear time); never raises."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    spans = find_pii(text, kinds=kinds)
    if not spans:
        return text
    out = []
    pos = 0
    for s in spans:
        out.append(text[pos:s.start])
        out.append(_mask(text[s.start:s.end], s.kind))
        pos = s.end
    out.append(text[pos:])
    return "".join(out)
