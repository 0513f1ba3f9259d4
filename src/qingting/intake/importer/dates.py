"""Dates as they appear in real spreadsheets, to aware datetimes (Asia/Shanghai when naive).

Accepted: 2024/1/6, 2024-01-06, 2024-01-06 12:09(:30), 2024-01-06T12:09:30+08:00, 20240106,
20240106120930, 2024年1月6日( 12:09), 2024.1.6, Excel serial numbers (45297, 45297.5) and
datetime/date values from openpyxl. Anything else is a ValueError with a Chinese explanation.
"""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_YMD = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]+(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2})(?:\.\d+)?)?\s*[分秒]?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?$")
_SERIAL = re.compile(r"^\d{4,5}(?:\.\d+)?$")


def _tz(value: str | None, tz):
    if not value:
        return tz
    if value == "Z":
        return dt.timezone.utc
    sign = 1 if value[0] == "+" else -1
    digits = value[1:].replace(":", "")
    return dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def parse_datetime(value, tz=DEFAULT_TZ) -> dt.datetime:
    """Parse one cell; raise ValueError (message in Chinese and English) when it is not a date."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=tz)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_serial(float(value), tz)
    text = str(value or "").strip()
    if not text:
        raise ValueError("日期为空 / empty date")
    if len(text) > 40:
        raise ValueError("无法识别的日期 / not a date")
    m = _YMD.match(text)
    if m:
        y, mo, d, h, mi, s, off = m.groups()
        return _build(y, mo, d, h, mi, s, _tz(off, tz), text)
    m = _COMPACT.match(text)
    if m:
        y, mo, d, h, mi, s = m.groups()
        return _build(y, mo, d, h, mi, s, tz, text)
    if _SERIAL.match(text):
        return _from_serial(float(text), tz)
    raise ValueError(f"无法识别的日期「{text}」（支持 2024/1/6、2024-01-06 12:09、20240106、2024年1月6日、Excel 日期序号）"
                     f" / unrecognised date")


def _build(y, mo, d, h, mi, s, tz, text) -> dt.datetime:
    try:
        return dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=tz)
    except ValueError:
        raise ValueError(f"日期不存在「{text}」 / invalid calendar date") from None


def _from_serial(serial: float, tz) -> dt.datetime:
    # Excel's day 60 is the fictitious 1900-02-29; serials from 61 on count from 1899-12-30.
    if not 61 <= serial < 2958466:
        raise ValueError(f"Excel 日期序号超出范围（{serial:g}） / Excel serial out of range")
    moment = _EXCEL_EPOCH + dt.timedelta(days=serial)
    moment = moment.replace(microsecond=0) + dt.timedelta(seconds=round(moment.microsecond / 1e6))
    return moment.replace(tzinfo=tz)
