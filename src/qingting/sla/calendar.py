"""Business calendars: which days are working days, and business hours on them.

Pure Python (no Django import). A :class:`BusinessCalendar` is a value built from plain
settings (the lead's ``BusinessCalendar`` model row maps 1:1 onto the keyword arguments
of the constructor, see :meth:`BusinessCalendar.from_config`).

Which days are working days (工作日), by ``mode``:

``"statutory"`` (default, 法定工作日)
    PRC statutory holidays and adjusted working days (调休) from the ``chinesecalendar``
    package (``import chinese_calendar``); per-date administrator overrides win over the
    package; for a year the package does not know (1.11.0 covers 2004–2026) an
    administrator enters the year's schedule: the holidays and make-up working days as
    overrides, plus the year in ``declared_years`` ("I entered the whole year"), after
    which the remaining days of that year follow Monday–Friday. Any other date raises
    :class:`CalendarCoverageError` (中英文说明) — never a silent guess.
``"weekly"`` (每周固定营业, e.g. a store open every day 08:30–20:00)
    A day is a working day when its weekday has business hours; per-date overrides
    (company days off, special opening days) still apply. Never raises coverage errors.

Business hours are given per weekday (several intervals per day are allowed, e.g.
``"09:00-12:00,13:30-18:00"``). In statutory mode a make-up working day that falls on a
weekday without hours (a 调休 Saturday) uses ``makeup_hours`` (default: the first
weekday, Monday→Friday, that has hours). ``special_hours`` sets the hours of one date
(e.g. 除夕 closes at 14:00).

Performance: everything is answered from per-year tables built once per calendar and
year (per-day intervals as UTC microseconds, prefix sums of business time and of the
number of working days), so ``add_business_time``, ``business_time_between`` and
``add_working_days`` cost a few bisects, not a walk over the days.

All datetimes must be timezone-aware; results are aware datetimes in the calendar's
time zone. Durations are :class:`datetime.timedelta`.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "BusinessCalendar",
    "CalendarConfigError",
    "CalendarCoverageError",
    "CoverageWarning",
    "parse_hours",
    "WEEKDAY_CODES",
]

WEEKDAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_MODES = ("statutory", "weekly")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_US = dt.timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_MAX_YEARS_AHEAD = 50  # a computation that walks further is a configuration mistake


class CalendarConfigError(ValueError):
    """An impossible calendar configuration or argument (message in Chinese and English)."""


class CalendarCoverageError(LookupError):
    """Asked about a date that no source (package or administrator) covers."""

    def __init__(self, calendar_code: str, day: dt.date, detail: str = ""):
        self.calendar_code = calendar_code
        self.day = day
        self.year = day.year
        msg = (
            f"工作日历“{calendar_code}”没有 {day.year} 年的放假与调休安排（查询日期 {day.isoformat()}）"
            f"{'：' + detail if detail else ''}。请管理员在日历设置中录入 {day.year} 年的节假日和调休工作日。"
            f" / Calendar '{calendar_code}' does not know the holiday schedule of {day.year} "
            f"(date asked: {day.isoformat()}); an administrator must enter the {day.year} holidays and "
            "make-up working days."
        )
        super().__init__(msg)


@dataclass(frozen=True)
class CoverageWarning:
    """Returned by :meth:`BusinessCalendar.coverage_warning` when next year is unknown."""

    calendar_code: str
    year: int
    message: str

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


# --------------------------------------------------------------------------- parsing

_HM = re.compile(r"^\s*(\d{1,2})[:：](\d{2})\s*$")
Interval = tuple[dt.time, dt.time]


def _parse_hm(text: str, where: str) -> int:
    """'09:30' -> minutes since midnight; '24:00' allowed as an end."""
    m = _HM.match(text)
    if not m:
        raise CalendarConfigError(
            f"{where}：无法识别的时间“{text}”，应为 HH:MM / {where}: cannot read time '{text}', expected HH:MM"
        )
    h, mi = int(m.group(1)), int(m.group(2))
    if mi > 59 or h > 24 or (h == 24 and mi):
        raise CalendarConfigError(f"{where}：时间“{text}”超出范围 / {where}: time '{text}' out of range")
    return h * 60 + mi


def _minutes(t: dt.time | str, where: str) -> int:
    if isinstance(t, str):
        return _parse_hm(t, where)
    if isinstance(t, dt.time):
        if t.second or t.microsecond:
            raise CalendarConfigError(f"{where}：营业时间精确到分钟 / {where}: business hours are whole minutes")
        return t.hour * 60 + t.minute
    raise CalendarConfigError(f"{where}：无法识别的时间 {t!r} / {where}: cannot read time {t!r}")


def parse_hours(spec, where: str = "hours") -> tuple[tuple[int, int], ...]:
    """Parse business hours of one day into sorted ``(start_minute, end_minute)`` pairs.

    Accepts ``"09:00-12:00,13:30-18:00"`` (``-``, ``–``, ``—``, ``~`` or ``至`` between;
    ``,``, ``，``, ``;`` or ``、`` between intervals), ``""``/``None``/``[]`` for closed,
    or a sequence of ``(start, end)`` pairs of ``datetime.time`` or ``"HH:MM"`` strings.
    Refuses intervals that end before (or when) they start and overlapping intervals.
    """
    if spec is None:
        return ()
    pairs: list[tuple[object, object]] = []
    if isinstance(spec, str):
        text = spec.strip()
        if not text or text in ("closed", "休息", "-"):
            return ()
        for part in re.split(r"[,，;；、]", text):
            part = part.strip()
            if not part:
                continue
            bits = re.split(r"\s*(?:-|–|—|~|～|至)\s*", part)
            if len(bits) != 2:
                raise CalendarConfigError(
                    f"{where}：无法识别的营业时段“{part}”，应为 09:00-18:00 / "
                    f"{where}: cannot read business hours '{part}', expected e.g. 09:00-18:00"
                )
            pairs.append((bits[0], bits[1]))
    else:
        try:
            for item in spec:
                a, b = item
                pairs.append((a, b))
        except (TypeError, ValueError):
            raise CalendarConfigError(
                f"{where}：营业时间应为“09:00-18:00”或 (开始, 结束) 列表 / "
                f"{where}: business hours must be '09:00-18:00' or a list of (start, end) pairs"
            ) from None
    out = []
    for a, b in pairs:
        s, e = _minutes(a, where), _minutes(b, where)
        if s >= 24 * 60:
            raise CalendarConfigError(f"{where}：开始时间不能是 24:00 / {where}: a start cannot be 24:00")
        if e <= s:
            raise CalendarConfigError(
                f"{where}：营业时段 {_fmt(s)}–{_fmt(e)} 的结束时间不晚于开始时间 / "
                f"{where}: business hours {_fmt(s)}–{_fmt(e)} end before they start"
            )
        out.append((s, e))
    out.sort()
    for (s1, e1), (s2, e2) in zip(out, out[1:]):
        if s2 < e1:
            raise CalendarConfigError(
                f"{where}：营业时段 {_fmt(s1)}–{_fmt(e1)} 与 {_fmt(s2)}–{_fmt(e2)} 重叠 / "
                f"{where}: business hours {_fmt(s1)}–{_fmt(e1)} and {_fmt(s2)}–{_fmt(e2)} overlap"
            )
    # merge touching intervals (12:00-13:00,13:00-14:00 == 12:00-14:00)
    merged: list[tuple[int, int]] = []
    for s, e in out:
        if merged and merged[-1][1] == s:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return tuple(merged)


def _fmt(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _to_date(value, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise CalendarConfigError(f"{where}：应为日期而不是时间 / {where}: expected a date, not a datetime")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise CalendarConfigError(f"{where}：无法识别的日期 {value!r}（应为 YYYY-MM-DD）/ {where}: cannot read date {value!r}")


# --------------------------------------------------------------------------- tables


class _Year:
    """Per-year lookup tables (covered days only: a table stops at the first uncovered day)."""

    __slots__ = ("year", "base", "n", "iv", "secs", "cum", "wcum", "uncovered", "full")

    def __init__(self, year, base, iv, uncovered):
        self.year = year
        self.base = base  # ordinal of Jan 1
        self.iv = iv  # per day: tuple of (start_us, end_us)
        self.n = len(iv)
        self.uncovered = uncovered  # first uncovered date or None
        self.full = uncovered is None
        secs = [sum(e - s for s, e in day) for day in iv]
        self.secs = secs
        cum = [0] * (self.n + 1)
        wcum = [0] * (self.n + 1)
        for i, s in enumerate(secs):
            cum[i + 1] = cum[i] + s
            wcum[i + 1] = wcum[i] + (1 if s else 0)
        self.cum = cum
        self.wcum = wcum


def _us(t: dt.datetime) -> int:
    return (t - _EPOCH) // _US


class BusinessCalendar:
    """A business calendar. See the module docstring for the rules.

    Parameters (all keyword):
        code, name: identifiers for messages and the admin page.
        timezone: IANA name, default ``"Asia/Shanghai"``.
        mode: ``"statutory"`` or ``"weekly"``.
        hours: business hours. Either one spec for the working days (statutory mode:
            Monday–Friday and 调休 days; weekly mode: all seven days), or a mapping weekday →
            spec, weekday as ``0..6`` or ``"mon".."sun"``. Default ``"09:00-18:00"``.
        makeup_hours: hours on a 调休 working day whose weekday has no hours.
        holidays: dates that are not working days (administrator overrides).
        workdays: dates that are working days (administrator overrides).
        special_hours: mapping date → hours spec for that one date (implies working day
            when not empty, a day off when empty).
        declared_years: years whose full schedule the administrator entered.
        use_package: consult ``chinesecalendar`` (statutory mode); default True.
    """

    def __init__(
        self,
        *,
        code: str = "standard",
        name: str = "标准工作日历",
        timezone: str = "Asia/Shanghai",
        mode: str = "statutory",
        hours=None,
        makeup_hours=None,
        holidays: Iterable = (),
        workdays: Iterable = (),
        special_hours: Mapping | None = None,
        declared_years: Iterable[int] = (),
        use_package: bool = True,
    ):
        self.code = str(code)
        self.name = str(name)
        if mode not in _MODES:
            raise CalendarConfigError(
                f"mode：未知的日历模式“{mode}”，应为 statutory 或 weekly / mode: unknown calendar mode '{mode}'"
            )
        self.mode = mode
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise CalendarConfigError(
                f"timezone：未知时区“{timezone}” / timezone: unknown time zone '{timezone}'"
            ) from None
        self.timezone = timezone
        self.weekly = self._parse_weekly(hours)
        if makeup_hours is not None:
            self.makeup = parse_hours(makeup_hours, "makeup_hours")
        else:
            self.makeup = next((h for h in self.weekly[:5] if h), ()) or next((h for h in self.weekly if h), ())
        if not any(self.weekly) and not self.makeup:
            raise CalendarConfigError(
                "hours：日历没有任何营业时间，一年中没有工作日 / hours: the calendar has no business hours, "
                "so no working day in any year"
            )
        if mode == "weekly" and not any(self.weekly):
            raise CalendarConfigError(
                "hours：每周模式的日历至少需要一天营业 / hours: a weekly calendar needs at least one open weekday"
            )
        self.holidays = frozenset(_to_date(d, "holidays") for d in holidays)
        self.workdays = frozenset(_to_date(d, "workdays") for d in workdays)
        both = self.holidays & self.workdays
        if both:
            d = min(both)
            raise CalendarConfigError(
                f"{d.isoformat()} 同时被设为假日和工作日 / {d.isoformat()} is set both as a holiday and a working day"
            )
        self.special = {}
        for k, v in (special_hours or {}).items():
            d = _to_date(k, "special_hours")
            self.special[d] = parse_hours(v, f"special_hours[{d.isoformat()}]")
        self.declared_years = frozenset(int(y) for y in declared_years)
        self.use_package = bool(use_package) and mode == "statutory"
        self.standard_day = dt.timedelta(minutes=sum(e - s for s, e in (self.makeup or ())))
        if not self.standard_day:
            self.standard_day = dt.timedelta(minutes=max(sum(e - s for s, e in h) for h in self.weekly))
        self._years: dict[int, _Year] = {}
        self._pkg_cache: dict[dt.date, bool | None] = {}
        self._bounds_cache: dict[dt.date, tuple[int, int]] = {}
        # Validate declared years now: an administrator's schedule with no working day is refused.
        for y in sorted(self.declared_years):
            self._year(y)

    # ---------------------------------------------------------------- construction

    def _parse_weekly(self, hours) -> tuple[tuple[tuple[int, int], ...], ...]:
        if hours is None:
            hours = "09:00-18:00"
        if isinstance(hours, Mapping):
            week: list[tuple] = [()] * 7
            for k, v in hours.items():
                if isinstance(k, int) and 0 <= k <= 6:
                    i = k
                elif isinstance(k, str) and k.strip().lower()[:3] in WEEKDAY_CODES:
                    i = WEEKDAY_CODES.index(k.strip().lower()[:3])
                else:
                    raise CalendarConfigError(
                        f"hours：未知的星期“{k}”，应为 mon…sun / hours: unknown weekday '{k}', expected mon..sun"
                    )
                week[i] = parse_hours(v, f"hours.{WEEKDAY_CODES[i]}")
            return tuple(week)
        day = parse_hours(hours, "hours")
        if self.mode == "statutory":
            return (day,) * 5 + ((), ())
        return (day,) * 7  # weekly mode: one spec means open every day of the week

    @classmethod
    def from_config(cls, config: Mapping) -> "BusinessCalendar":
        """Build from a plain mapping (a TOML table or a DB row's fields)."""
        allowed = {
            "code", "name", "timezone", "mode", "hours", "makeup_hours", "holidays", "workdays",
            "special_hours", "declared_years", "use_package",
        }
        unknown = set(config) - allowed - {"name_en", "description"}
        if unknown:
            raise CalendarConfigError(
                f"未知的日历设置项：{', '.join(sorted(unknown))} / unknown calendar settings: {', '.join(sorted(unknown))}"
            )
        return cls(**{k: v for k, v in config.items() if k in allowed})

    def to_config(self) -> dict:
        """The inverse of :meth:`from_config` (plain JSON-able values)."""
        return {
            "code": self.code,
            "name": self.name,
            "timezone": self.timezone,
            "mode": self.mode,
            "hours": {
                WEEKDAY_CODES[i]: ",".join(f"{_fmt(s)}-{_fmt(e)}" for s, e in h) for i, h in enumerate(self.weekly)
            },
            "makeup_hours": ",".join(f"{_fmt(s)}-{_fmt(e)}" for s, e in self.makeup),
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "workdays": sorted(d.isoformat() for d in self.workdays),
            "special_hours": {
                d.isoformat(): ",".join(f"{_fmt(s)}-{_fmt(e)}" for s, e in h) for d, h in sorted(self.special.items())
            },
            "declared_years": sorted(self.declared_years),
            "use_package": self.use_package,
        }

    def __repr__(self) -> str:
        return f"BusinessCalendar(code={self.code!r}, mode={self.mode!r}, timezone={self.timezone!r})"

    # ---------------------------------------------------------------- day rules

    def _package_says(self, d: dt.date) -> bool | None:
        """True/False from chinesecalendar, None when it does not cover the date."""
        try:
            return self._pkg_cache[d]
        except KeyError:
            pass
        import chinese_calendar  # local: keeps module import cheap, package is a dependency

        try:
            v: bool | None = bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            v = None
        self._pkg_cache[d] = v
        return v

    def _day_minutes(self, d: dt.date) -> tuple[tuple[int, int], ...] | None:
        """Business intervals of ``d`` in minutes, ``()`` for a day off, None if unknown."""
        if d in self.special:
            return self.special[d]
        if d in self.holidays:
            return ()
        wd = d.weekday()
        if d in self.workdays:
            return self.weekly[wd] or self.makeup
        if self.mode == "weekly":
            return self.weekly[wd]
        working = self._package_says(d) if self.use_package else None
        if working is None:
            if d.year not in self.declared_years:
                return None
            working = wd < 5
        if not working:
            return ()
        return self.weekly[wd] or self.makeup

    def _year(self, year: int) -> _Year:
        t = self._years.get(year)
        if t is not None:
            return t
        if not 1 <= year <= 9998:
            raise CalendarConfigError(f"年份 {year} 超出范围 / year {year} out of range")
        first = dt.date(year, 1, 1)
        ndays = (dt.date(year + 1, 1, 1) - first).days
        tz = self.tz
        iv: list[tuple[tuple[int, int], ...]] = []
        uncovered = None
        for i in range(ndays):
            d = first + dt.timedelta(days=i)
            mins = self._day_minutes(d)
            if mins is None:
                uncovered = d
                break
            day = []
            for s, e in mins:
                su = _us(dt.datetime.combine(d, dt.time(s // 60, s % 60), tzinfo=tz))
                if e == 1440:
                    nd = d + dt.timedelta(days=1)
                    eu = _us(dt.datetime(nd.year, nd.month, nd.day, tzinfo=tz))
                else:
                    eu = _us(dt.datetime.combine(d, dt.time(e // 60, e % 60), tzinfo=tz))
                if eu > su:
                    day.append((su, eu))
            iv.append(tuple(day))
        t = _Year(year, first.toordinal(), iv, uncovered)
        if t.full and t.wcum[-1] == 0:
            raise CalendarConfigError(
                f"工作日历“{self.code}”在 {year} 年没有任何工作日，请检查假日设置 / "
                f"calendar '{self.code}' has no working day in {year}; check its holidays"
            )
        self._years[year] = t
        return t

    def _day(self, d: dt.date) -> tuple[_Year, int]:
        t = self._year(d.year)
        i = d.toordinal() - t.base
        if i >= t.n:
            raise CalendarCoverageError(self.code, d)
        return t, i

    # ---------------------------------------------------------------- public: days

    def is_working_day(self, d: dt.date) -> bool:
        """True when ``d`` is a working day (has business hours). Raises
        :class:`CalendarCoverageError` when no source covers the date."""
        if isinstance(d, dt.datetime):
            d = self.local_date(d)
        t, i = self._day(d)
        return t.secs[i] > 0

    def business_hours_on(self, d: dt.date) -> tuple[tuple[dt.time, dt.time], ...]:
        """Business intervals of ``d`` as ``(start, end)`` times (``end`` 24:00 is ``time.max``)."""
        mins = self._day_minutes(d)
        if mins is None:
            raise CalendarCoverageError(self.code, d)
        return tuple(
            (dt.time(s // 60, s % 60), dt.time.max if e == 1440 else dt.time(e // 60, e % 60)) for s, e in mins
        )

    def covers(self, year: int) -> bool:
        """True when every day of ``year`` is known."""
        try:
            return self._year(year).full
        except CalendarConfigError:
            return True  # known, but badly configured: not a coverage problem

    def coverage_warning(self, today: dt.date) -> CoverageWarning | None:
        """From December on, warn when next year's schedule is unknown (also warn, any
        month, when the current year itself is not fully known)."""
        if isinstance(today, dt.datetime):
            today = self.local_date(today)
        years = [today.year] + ([today.year + 1] if today.month == 12 else [])
        for y in years:
            if not self.covers(y):
                msg = (
                    f"工作日历“{self.name}”尚未录入 {y} 年的法定节假日和调休安排，跨入 {y} 年的办理时限将无法计算。"
                    f"国务院办公厅通常在 11 月前后发布次年安排，请管理员及时录入。"
                    f" / Calendar '{self.code}' does not know the {y} holidays and make-up working days yet; "
                    f"deadlines reaching into {y} cannot be computed until an administrator enters them."
                )
                return CoverageWarning(self.code, y, msg)
        return None

    def nth_working_day_after(self, d: dt.date, n: int) -> dt.date:
        """The ``n``-th working day strictly after ``d`` (``n`` ≥ 1); ``d`` itself never counts."""
        if n < 1:
            raise CalendarConfigError(f"工作日数必须 ≥ 1，收到 {n} / working days must be ≥ 1, got {n}")
        t, i = self._day(d)
        target = t.wcum[i + 1] + n
        for _ in range(_MAX_YEARS_AHEAD + 1):
            if target <= t.wcum[t.n]:
                j = bisect_left(t.wcum, target)  # first prefix reaching target: day j-1
                return dt.date.fromordinal(t.base + j - 1)
            if not t.full:
                raise CalendarCoverageError(self.code, t.uncovered)
            target -= t.wcum[t.n]
            t = self._year(t.year + 1)
            if not t.n:
                raise CalendarCoverageError(self.code, t.uncovered)
        raise CalendarConfigError("工作日数过大 / too many working days")

    def working_days_between(self, a: dt.date, b: dt.date) -> int:
        """Number of working days ``d`` with ``a < d <= b`` (0 when ``b <= a``)."""
        if b <= a:
            return 0
        ta, ia = self._day(a)
        tb, ib = self._day(b)
        if ta is tb:
            return tb.wcum[ib + 1] - ta.wcum[ia + 1]
        total = ta.wcum[ta.n] - ta.wcum[ia + 1]
        for y in range(ta.year + 1, tb.year):
            ty = self._year(y)
            if not ty.full:
                raise CalendarCoverageError(self.code, ty.uncovered)
            total += ty.wcum[ty.n]
        return total + tb.wcum[ib + 1]

    # ---------------------------------------------------------------- public: moments

    def _check(self, t: dt.datetime, what: str) -> None:
        if not isinstance(t, dt.datetime):
            raise TypeError(f"{what} must be a datetime, got {type(t).__name__}")
        if t.tzinfo is None or t.utcoffset() is None:
            raise CalendarConfigError(
                f"{what}：需要带时区的时间 / {what}: a timezone-aware datetime is required (got a naive one)"
            )

    def local_date(self, t: dt.datetime) -> dt.date:
        self._check(t, "time")
        return t.astimezone(self.tz).date()

    def _from_us(self, u: int) -> dt.datetime:
        return (_EPOCH + u * _US).astimezone(self.tz)

    def _locate(self, u: int) -> tuple[_Year, int]:
        """Year table and day index holding the UTC-µs instant ``u``."""
        d = self._from_us(u).date()
        return self._day(d)

    @staticmethod
    def _pos_in_day(t: _Year, i: int, u: int) -> int:
        """Business µs of day ``i`` elapsed at instant ``u`` (counted from Jan 1)."""
        acc = t.cum[i]
        for s, e in t.iv[i]:
            if u <= s:
                break
            acc += (e if u >= e else u) - s
        return acc

    def next_business_moment(self, t: dt.datetime) -> dt.datetime:
        """``t`` itself when inside business hours, else the start of the next business interval."""
        self._check(t, "t")
        u = _us(t)
        yt, i = self._locate(u)
        for s, e in yt.iv[i]:
            if s <= u < e:
                return t.astimezone(self.tz)
            if u < s:
                return self._from_us(s)
        d = dt.date.fromordinal(yt.base + i)
        nd = self.nth_working_day_after(d, 1)
        t2, j = self._day(nd)
        return self._from_us(t2.iv[j][0][0])

    def add_business_time(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The moment when ``duration`` of business time has passed since ``start``.

        Time outside business hours does not count; a start outside business hours
        effectively starts at the next business moment. A result that falls exactly on
        the end of an interval is that end (18:00, not 09:00 the next working day).
        ``duration == 0`` returns ``start``.
        """
        self._check(start, "start")
        if not isinstance(duration, dt.timedelta):
            raise TypeError("duration must be a timedelta")
        if duration < dt.timedelta(0):
            raise CalendarConfigError(f"时长不能为负：{duration} / duration must not be negative: {duration}")
        return self._from_us(self._add_business_us(_us(start), duration // _US))

    def _add_business_us(self, u: int, amount: int) -> int:
        if amount == 0:
            return u
        t, i = self._locate(u)
        p = self._pos_in_day(t, i, u) + amount
        for _ in range(_MAX_YEARS_AHEAD + 1):
            total = t.cum[t.n]
            if p <= total:
                j = bisect_left(t.cum, p) - 1  # cum[j] < p <= cum[j+1]
                rem = p - t.cum[j]
                for s, e in t.iv[j]:
                    length = e - s
                    if rem <= length:
                        return s + rem
                    rem -= length
                raise AssertionError("business table inconsistent")  # pragma: no cover
            if not t.full:
                raise CalendarCoverageError(self.code, t.uncovered)
            p -= total
            t = self._year(t.year + 1)
        raise CalendarConfigError("时长过长 / duration too long")

    def business_time_between(self, a: dt.datetime, b: dt.datetime) -> dt.timedelta:
        """Business time in ``[a, b]``; negative when ``b < a``."""
        self._check(a, "a")
        self._check(b, "b")
        return self._between_us(_us(a), _us(b)) * _US

    def _between_us(self, ua: int, ub: int) -> int:
        if ub < ua:
            return -self._between_us(ub, ua)
        ta, ia = self._locate(ua)
        tb, ib = self._locate(ub)
        pa = self._pos_in_day(ta, ia, ua)
        pb = self._pos_in_day(tb, ib, ub)
        if ta is tb:
            return pb - pa
        total = ta.cum[ta.n] - pa
        for y in range(ta.year + 1, tb.year):
            ty = self._year(y)
            if not ty.full:
                raise CalendarCoverageError(self.code, ty.uncovered)
            total += ty.cum[ty.n]
        return total + pb

    def add_working_days(self, start: dt.datetime, n: int, *, day_end: str = "close") -> dt.datetime:
        """End of the ``n``-th working day after the day of ``start``.

        The start day never counts, whatever the hour and whether or not it is a working
        day (期间开始的当日不计入, 民法典第二百零一条): received Monday 08:00 or Monday
        23:00 or on a Sunday, ``n=1`` ends on the next working day. ``day_end="close"``
        ends at the close of business that day (e.g. 18:00); ``"midnight"`` at 23:59:59.
        ``n == 0`` returns ``start``.
        """
        self._check(start, "start")
        if n == 0:
            return start.astimezone(self.tz)
        d = self.nth_working_day_after(self.local_date(start), int(n))
        return self.end_of_day(d, day_end)

    def end_of_day(self, d: dt.date, day_end: str = "close") -> dt.datetime:
        """Close of business on ``d`` (or 23:59:59 for ``"midnight"`` or a day without hours)."""
        if day_end not in ("close", "midnight"):
            raise CalendarConfigError(f"day_end 应为 close 或 midnight，收到 {day_end!r} / day_end must be close or midnight")
        if day_end == "close":
            t, i = self._day(d)
            if t.iv[i]:
                return self._from_us(t.iv[i][-1][1])
        return dt.datetime.combine(d, dt.time(23, 59, 59), tzinfo=self.tz)

    def add_calendar_time(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """``start + duration`` in elapsed (absolute) time, returned in the calendar's zone."""
        self._check(start, "start")
        if duration < dt.timedelta(0):
            raise CalendarConfigError(f"时长不能为负：{duration} / duration must not be negative: {duration}")
        return (start.astimezone(dt.timezone.utc) + duration).astimezone(self.tz)

    def add_calendar_days(
        self, start: dt.datetime, n: int, *, roll_to_working_day: bool = False
    ) -> dt.datetime:
        """23:59:59 local on the ``n``-th day after the day of ``start`` (start day not
        counted). With ``roll_to_working_day`` a last day that is not a working day moves
        to the next working day (期间最后一日是法定休假日的，以休假日结束的次日为最后一日,
        民法典第二百零三条)."""
        self._check(start, "start")
        if n < 0:
            raise CalendarConfigError(f"天数不能为负：{n} / days must not be negative: {n}")
        if n == 0:
            return start.astimezone(self.tz)
        d = self.local_date(start) + dt.timedelta(days=int(n))
        if roll_to_working_day and not self.is_working_day(d):
            d = self.nth_working_day_after(d, 1)
        return self.end_of_day(d, "midnight")

    # ---------------------------------------------------------------- helpers for clock.py

    def day_segments_us(self, d: dt.date) -> tuple[tuple[int, int], ...]:
        """Business intervals of ``d`` as UTC µs pairs (internal, used by the clock)."""
        t, i = self._day(d)
        return t.iv[i]

    def day_bounds_us(self, d: dt.date) -> tuple[int, int]:
        """Local midnight of ``d`` and of the next day, as UTC µs (needs no holiday data)."""
        b = self._bounds_cache.get(d)
        if b is None:
            nd = d + dt.timedelta(days=1)
            b = (
                _us(dt.datetime(d.year, d.month, d.day, tzinfo=self.tz)),
                _us(dt.datetime(nd.year, nd.month, nd.day, tzinfo=self.tz)),
            )
            if len(self._bounds_cache) > 20_000:
                self._bounds_cache.clear()
            self._bounds_cache[d] = b
        return b
