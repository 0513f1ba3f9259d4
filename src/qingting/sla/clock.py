"""Deadline arithmetic (pure Python, no Django): due moment, state and remaining time.

A :class:`Target` says how long something may take, in one of these units:

=====================  =================================================================
``calendar_minutes``   elapsed time (自然时间); pauses excluded in elapsed time
``calendar_hours``
``calendar_days``      N 自然日: ends 23:59:59 on the N-th day after the start day
                       (the start day is not counted, 民法典第二百零一条); with
                       ``roll_to_working_day`` a last day that is not a working day moves
                       to the next working day (第二百零三条)
``business_minutes``   business time (工作时间): only time inside the calendar's business
``business_hours``     hours counts; a start outside business hours starts at the next
``business_days``      business moment. ``business_days`` = N × the length of a standard
                       working day (e.g. 1 business day = 9 h of business time for
                       09:00–18:00; received 17:00 → 17:00 next working day)
``working_days``       N 工作日: ends at the close of business (``day_end="close"``, e.g.
                       18:00) or 23:59:59 (``day_end="midnight"``) of the N-th working day
                       after the start day. The start day never counts, whatever the hour
                       and whether it is a working day or not: received Monday 08:00,
                       Monday 20:00 or on Sunday, 1 working day ends on the next working
                       day (Tuesday / Tuesday / Monday).
=====================  =================================================================

Pauses (waiting for the customer, external appraisal, mediation …) stop the clock: the
paused time is excluded in the target's own measure — elapsed time for calendar units,
business time for business units. For day units a day is consumed in proportion to its
time that is not paused (for ``working_days`` its business hours, for ``calendar_days``
its 24 hours); the due day is the day on which the N-th day is used up, and the deadline
is the end of that day, so a pause extends a day-counted deadline by whole days,
rounded up. An open pause (``end=None``) runs until ``now``: while paused, ``due_at`` is
provisional ("if resumed now") and the remaining time stays what it was when the pause
began.

Extensions add to the budget in the target's unit (only approved ones count).

State: ``met`` (completed at or before ``due_at``), ``breached`` (completed late, or
not completed and ``now > due_at``; a deadline breached before a pause began stays
breached), ``paused`` (an open pause covers ``now``), else ``running``. ``remaining`` is
the measure between ``now`` (or the completion) and ``due_at`` in the target's unit,
negative when overdue. ``at_risk_at`` is the moment when ``at_risk`` (default 75 %) of
the budget is used — precompute and index it next to ``due_at`` so a sweep only
compares timestamps.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Sequence

from .calendar import _EPOCH, _US, BusinessCalendar, CalendarConfigError

__all__ = [
    "UNITS",
    "KINDS",
    "STATES",
    "Target",
    "Pause",
    "Extension",
    "Remaining",
    "DeadlineStatus",
    "budget_of",
    "compute_due",
    "compute_at_risk_at",
    "evaluate",
]

KINDS = {
    "first_response": ("首次响应", "First response"),
    "contact": ("联系/受理告知", "Contact / acknowledgement"),
    "resolution": ("办结", "Resolution decision"),
    "follow_up": ("回访", "Follow-up visit"),
    "promise": ("承诺事项", "Promise"),
}
STATES = {
    "running": ("计时中", "Running"),
    "paused": ("已暂停", "Paused"),
    "met": ("已达成", "Met"),
    "breached": ("已超时", "Breached"),
}


@dataclass(frozen=True)
class _Unit:
    measure: str  # calendar | business | calendar_days | working_days
    seconds: int  # per unit for time measures (business_days: 0 = calendar's standard day)
    zh: str
    en: str


UNITS: dict[str, _Unit] = {
    "calendar_minutes": _Unit("calendar", 60, "分钟", "minutes"),
    "calendar_hours": _Unit("calendar", 3600, "小时", "hours"),
    "calendar_days": _Unit("calendar_days", 0, "天", "days"),
    "business_minutes": _Unit("business", 60, "工作分钟", "business minutes"),
    "business_hours": _Unit("business", 3600, "工作小时", "business hours"),
    "business_days": _Unit("business", 0, "个营业日", "business days"),
    "working_days": _Unit("working_days", 0, "个工作日", "working days"),
}
_DAY_MEASURES = ("calendar_days", "working_days")
_MAX_DAYS = 366 * 30


class ClockError(CalendarConfigError):
    """A bad target, pause or extension (a ValueError; message in Chinese and English)."""


def _num(value, where: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        raise ClockError(f"{where}：应为数字，收到 {value!r} / {where}: expected a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ClockError(f"{where}：不是有限数字 / {where}: not a finite number")
    return value


@dataclass(frozen=True)
class Target:
    """How long one kind of step may take. See the module docstring for the units."""

    kind: str
    amount: float
    unit: str
    day_end: str = "close"
    roll_to_working_day: bool = False
    at_risk: float = 0.75
    name: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ClockError(
                f"kind：未知的时限类型“{self.kind}”，应为 {', '.join(KINDS)} / kind: unknown deadline kind '{self.kind}'"
            )
        if self.unit not in UNITS:
            raise ClockError(
                f"unit：未知的时间单位“{self.unit}”，应为 {', '.join(UNITS)} / unit: unknown unit '{self.unit}'"
            )
        _num(self.amount, "amount")
        if self.amount <= 0:
            raise ClockError(
                f"amount：时限必须大于 0，收到 {self.amount} / amount: a deadline must be positive, got {self.amount}"
            )
        if UNITS[self.unit].measure in _DAY_MEASURES and int(self.amount) != self.amount:
            raise ClockError(
                f"amount：按日计算的时限必须是整数天，收到 {self.amount} / amount: {self.unit} must be whole days"
            )
        if self.day_end not in ("close", "midnight"):
            raise ClockError(f"day_end：应为 close 或 midnight，收到 {self.day_end!r} / day_end must be close or midnight")
        _num(self.at_risk, "at_risk")
        if not 0 < self.at_risk < 1:
            raise ClockError(
                f"at_risk：预警比例应在 0 与 1 之间，收到 {self.at_risk} / at_risk must be between 0 and 1"
            )

    @property
    def measure(self) -> str:
        return UNITS[self.unit].measure

    def label(self) -> str:
        u = UNITS[self.unit]
        return f"{_fmt_amount(self.amount)} {u.zh}"


@dataclass(frozen=True)
class Pause:
    """The clock stopped from ``start`` to ``end`` (``None``: still paused)."""

    start: dt.datetime
    end: dt.datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class Extension:
    """More time, in the target's unit. Only approved extensions count."""

    amount: float
    reason: str
    approved: bool = True

    def __post_init__(self):
        _num(self.amount, "extension.amount")
        if self.amount <= 0:
            raise ClockError(
                f"延期时长必须大于 0，收到 {self.amount} / an extension must be positive, got {self.amount}"
            )
        if not str(self.reason or "").strip():
            raise ClockError("延期必须填写原因 / an extension needs a reason")


@dataclass(frozen=True)
class Remaining:
    """Time left in the target's own unit (negative when overdue)."""

    amount: float
    unit: str
    seconds: int  # elapsed seconds to due_at (negative when overdue), for sorting

    @property
    def overdue(self) -> bool:
        return self.seconds < 0 or self.amount < 0

    def text(self, lang: str = "zh") -> str:
        u = UNITS[self.unit]
        a = _fmt_amount(abs(round(self.amount, 2)))
        if lang == "en":
            return f"{a} {u.en} overdue" if self.overdue else f"{a} {u.en} left"
        return f"已超时 {a} {u.zh}" if self.overdue else f"剩余 {a} {u.zh}"

    def to_dict(self) -> dict:
        return {"amount": round(self.amount, 2), "unit": self.unit, "seconds": self.seconds, "text": self.text()}


@dataclass(frozen=True)
class DeadlineStatus:
    kind: str
    due_at: dt.datetime
    at_risk_at: dt.datetime
    state: str
    remaining: Remaining
    used: float  # fraction of the time used (> 1 when overdue)
    at_risk: bool
    budget: float  # amount incl. approved extensions, in the target's unit
    unit: str
    provisional: bool = False  # due_at moves while an open pause lasts

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "due_at": self.due_at.isoformat(),
            "state": self.state,
            "remaining": self.remaining.to_dict(),
            "at_risk": self.at_risk,
            "at_risk_at": self.at_risk_at.isoformat(),
            "used": round(self.used, 4),
            "budget": self.budget,
            "unit": self.unit,
        }


def _fmt_amount(x) -> str:
    if float(x) == int(x):
        return str(int(x))
    return f"{float(x):g}"


# --------------------------------------------------------------------------- helpers


def _us(t: dt.datetime) -> int:
    return (t - _EPOCH) // _US


def _check_dt(t, what: str) -> None:
    if not isinstance(t, dt.datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise ClockError(f"{what}：需要带时区的时间 / {what}: a timezone-aware datetime is required")


def budget_of(target: Target, extensions: Iterable[Extension] = ()) -> float:
    """The target's amount plus approved extensions (in the target's unit)."""
    total = target.amount
    for e in extensions:
        if not isinstance(e, Extension):
            raise ClockError("extensions 应为 Extension 列表 / extensions must be Extension values")
        if e.approved:
            if target.measure in _DAY_MEASURES and int(e.amount) != e.amount:
                raise ClockError(
                    f"按日计算的时限只能整天延期，收到 {e.amount} / {target.unit} extensions must be whole days"
                )
            total += e.amount
    return total


def _norm_pauses(pauses: Sequence[Pause], start_us: int, until_us: int | None) -> list[tuple[int, int]]:
    """Sorted, merged pause intervals in µs, clipped to ``start``; open ones end at ``until``."""
    out = []
    for p in pauses:
        _check_dt(p.start, "pause.start")
        s = _us(p.start)
        if p.end is None:
            if until_us is None:
                raise ClockError("有未结束的暂停时必须给出当前时间 now / an open pause needs `now`")
            e = until_us
        else:
            _check_dt(p.end, "pause.end")
            e = _us(p.end)
            if e < s:
                raise ClockError(
                    f"暂停的结束时间早于开始时间（{p.start.isoformat()} → {p.end.isoformat()}）/ "
                    "a pause ends before it starts"
                )
            if until_us is not None and e > until_us and s <= until_us:
                e = until_us  # a pause recorded past the completion ends with it
        if until_us is not None and s > until_us:
            continue
        s = max(s, start_us)
        if e <= s:
            continue
        out.append((s, e))
    out.sort()
    merged: list[tuple[int, int]] = []
    for s, e in out:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _subtract(segs, pauses) -> list[tuple[int, int]]:
    """Parts of ``segs`` not covered by ``pauses`` (both sorted lists of µs pairs)."""
    if not pauses:
        return list(segs)
    out = []
    for s, e in segs:
        cur = s
        for ps, pe in pauses:
            if pe <= cur:
                continue
            if ps >= e:
                break
            if ps > cur:
                out.append((cur, ps))
            cur = max(cur, pe)
            if cur >= e:
                break
        if cur < e:
            out.append((cur, e))
    return out


def _overlap(segs, a: int, b: int) -> int:
    total = 0
    for s, e in segs:
        lo, hi = max(s, a), min(e, b)
        if hi > lo:
            total += hi - lo
    return total


class _Clock:
    """One target on one calendar: measure and advance, with pauses (µs internally)."""

    __slots__ = ("t", "cal", "measure", "unit_us")

    def __init__(self, target: Target, cal: BusinessCalendar):
        self.t = target
        self.cal = cal
        u = UNITS[target.unit]
        self.measure = u.measure
        if target.unit == "business_days":
            self.unit_us = cal.standard_day // _US
        else:
            self.unit_us = u.seconds * 1_000_000

    # ---- time measures (calendar / business): amounts in µs
    def _adv(self, u: int, amt: int) -> int:
        if self.measure == "calendar":
            return u + amt
        return self.cal._add_business_us(u, amt)

    def _btw(self, a: int, b: int) -> int:
        if self.measure == "calendar":
            return b - a
        return self.cal._between_us(a, b)

    def advance_time(self, u0: int, amt: int, pauses) -> int:
        t, rem = u0, amt
        for s, e in pauses:
            if e <= t:
                continue
            if s <= t:
                t = e
                continue
            cand = self._adv(t, rem)
            if cand <= s:
                return cand
            rem -= self._btw(t, s)
            t = e
        return self._adv(t, rem)

    def measure_time(self, a: int, b: int, pauses) -> int:
        if b <= a:
            return 0
        total = self._btw(a, b)
        for s, e in pauses:
            lo, hi = max(s, a), min(e, b)
            if hi > lo:
                total -= self._btw(lo, hi)
        return total

    # ---- day measures: amounts as Fraction of days
    def _segs(self, d: dt.date):
        if self.measure == "working_days":
            return self.cal.day_segments_us(d)
        return (self.cal.day_bounds_us(d),)

    def _count_start(self, start_us: int) -> tuple[dt.date, int]:
        d0 = self.cal._from_us(start_us).date()
        return d0, self.cal.day_bounds_us(d0)[1]

    def _nth_day(self, d0: dt.date, n: int) -> dt.date:
        if self.measure == "working_days":
            return self.cal.nth_working_day_after(d0, n)
        return d0 + dt.timedelta(days=n)

    def _fast_point(self, d: dt.date, x: Fraction) -> tuple[dt.date, int]:
        """Without pauses: the day after ``d`` on which ``x`` (> 0) days are used up."""
        whole = math.floor(x)
        rem = x - whole
        if rem == 0:
            day = self._nth_day(d, whole)
            return day, self._segs(day)[-1][1]
        day = self._nth_day(d, whole + 1)
        segs = self._segs(day)
        return day, _walk(segs, rem * sum(e - s for s, e in segs))

    def _count_days(self, d: dt.date, last: dt.date) -> int:
        """Counted days in ``(d, last]``."""
        if last <= d:
            return 0
        if self.measure == "working_days":
            return self.cal.working_days_between(d, last)
        return (last - d).days

    def day_point(self, start_us: int, amount: Fraction, pauses) -> tuple[dt.date, int]:
        """Day on which ``amount`` days are used up, and the exact moment (µs).

        Days untouched by pauses are skipped with the calendar's prefix counts; only
        days that a pause touches are measured piece by piece.
        """
        d, _ = self._count_start(start_us)  # last day already accounted for
        consumed = Fraction(0)
        pi, npauses = 0, len(pauses)
        cal = self.cal
        one = dt.timedelta(days=1)
        for _ in range(_MAX_DAYS):
            if consumed >= amount:  # pragma: no cover - returned below before this happens
                break
            lo, hi = cal.day_bounds_us(d + one)
            while pi < npauses and pauses[pi][1] <= lo:
                pi += 1
            if pi == npauses:
                return self._fast_point(d, amount - consumed)
            ps = pauses[pi][0]
            if ps >= hi:  # whole days before the day the next pause starts on
                last = cal._from_us(ps).date() - one
                k = self._count_days(d, last)
                if k >= amount - consumed:
                    return self._fast_point(d, amount - consumed)
                consumed += k
                d = last
                continue
            d = d + one
            segs = self._segs(d)
            if not segs:
                continue
            length = sum(e - s for s, e in segs)
            avail = _subtract(segs, pauses[pi:])
            a = sum(e - s for s, e in avail)
            need = (amount - consumed) * length
            if need <= a:
                return d, _walk(avail, need)
            consumed += Fraction(a, length)
        raise ClockError("时限超过 30 年，请检查暂停记录 / deadline more than 30 years away; check the pauses")

    def measure_days(self, a: int, b: int, pauses) -> Fraction:
        """Days used in ``[a, b]`` (µs), pauses excluded (pauses are disjoint, so their
        share is subtracted from the unpaused measure)."""
        if b <= a:
            return Fraction(0)
        total = self._measure_days_plain(a, b)
        for s, e in pauses:
            lo, hi = max(s, a), min(e, b)
            if hi > lo:
                total -= self._measure_days_plain(lo, hi)
        return total

    def _measure_days_plain(self, a: int, b: int) -> Fraction:
        cal = self.cal
        da, db = cal._from_us(a).date(), cal._from_us(b).date()

        def part(d):
            segs = self._segs(d)
            if not segs:
                return 0
            length = sum(e - s for s, e in segs)
            used = _overlap(segs, a, b)
            return 1 if used == length else Fraction(used, length)

        if da == db:
            return Fraction(part(da))
        return part(da) + part(db) + self._count_days(da, db - dt.timedelta(days=1))

    # ---- unified
    def due_us(self, start_us: int, budget, pauses) -> int:
        if self.measure in _DAY_MEASURES:
            d, _ = self.day_point(start_us, Fraction(budget), pauses)
            if self.measure == "calendar_days":
                if self.t.roll_to_working_day and not self.cal.is_working_day(d):
                    d = self.cal.nth_working_day_after(d, 1)
                return _us(self.cal.end_of_day(d, "midnight"))
            return _us(self.cal.end_of_day(d, self.t.day_end))
        return self.advance_time(start_us, round(budget * self.unit_us), pauses)

    def at_risk_us(self, start_us: int, budget, pauses) -> int:
        frac = Fraction(str(self.t.at_risk))
        if self.measure in _DAY_MEASURES:
            return self.day_point(start_us, Fraction(budget) * frac, pauses)[1]
        return self.advance_time(start_us, round(budget * self.unit_us * float(frac)), pauses)


def _walk(segs, need) -> int:
    """Moment (µs) when ``need`` µs of ``segs`` are used (rounded up to the µs)."""
    need = math.ceil(need)
    for s, e in segs:
        length = e - s
        if need <= length:
            return s + need
        need -= length
    return segs[-1][1]


# --------------------------------------------------------------------------- public API


def compute_due(
    target: Target,
    start: dt.datetime,
    calendar: BusinessCalendar,
    *,
    pauses: Sequence[Pause] = (),
    extensions: Sequence[Extension] = (),
    now: dt.datetime | None = None,
) -> dt.datetime:
    """The due moment of ``target`` counted from ``start`` (aware datetime, calendar's zone).

    An open pause ends at ``now`` (required when a pause is open), giving the
    provisional due moment "if the clock resumed now".
    """
    _check_dt(start, "start")
    if now is not None:
        _check_dt(now, "now")
    clock = _Clock(target, calendar)
    s = _us(start)
    ps = _norm_pauses(pauses, s, None if now is None else _us(now)) if pauses else []
    return calendar._from_us(clock.due_us(s, budget_of(target, extensions), ps))


def compute_at_risk_at(
    target: Target,
    start: dt.datetime,
    calendar: BusinessCalendar,
    *,
    pauses: Sequence[Pause] = (),
    extensions: Sequence[Extension] = (),
    now: dt.datetime | None = None,
) -> dt.datetime:
    """The moment when ``target.at_risk`` of the budget is used."""
    _check_dt(start, "start")
    clock = _Clock(target, calendar)
    s = _us(start)
    ps = _norm_pauses(pauses, s, None if now is None else _us(now)) if pauses else []
    return calendar._from_us(clock.at_risk_us(s, budget_of(target, extensions), ps))


def evaluate(
    target: Target,
    start: dt.datetime,
    calendar: BusinessCalendar,
    *,
    now: dt.datetime,
    pauses: Sequence[Pause] = (),
    extensions: Sequence[Extension] = (),
    completed_at: dt.datetime | None = None,
) -> DeadlineStatus:
    """Due moment, state, remaining time and at-risk flag of one deadline at ``now``."""
    _check_dt(start, "start")
    _check_dt(now, "now")
    if completed_at is not None:
        _check_dt(completed_at, "completed_at")
    clock = _Clock(target, calendar)
    s = _us(start)
    n = _us(now)
    stop = _us(completed_at) if completed_at is not None else n
    ps = _norm_pauses(pauses, s, stop) if pauses else []
    budget = budget_of(target, extensions)
    due = clock.due_us(s, budget, ps)
    risk = clock.at_risk_us(s, budget, ps)
    open_pause = completed_at is None and any(p.end is None and _us(p.start) <= n for p in pauses)

    # the measure starts when the clock starts (day units: the day after the start day)
    base = clock._count_start(s)[1] if clock.measure in _DAY_MEASURES else s
    if clock.measure in _DAY_MEASURES:  # the due day is rounded up: measure what it really is
        total = float(clock.measure_days(base, due, ps))
    else:
        total = float(budget)
    ref = stop
    if ref <= due:
        lo = max(ref, base)
        rem = (
            float(clock.measure_days(lo, due, ps))
            if clock.measure in _DAY_MEASURES
            else clock.measure_time(lo, due, ps) / clock.unit_us
        )
    else:
        rem = -(
            float(clock.measure_days(due, ref, ()))
            if clock.measure in _DAY_MEASURES
            else clock.measure_time(due, ref, ()) / clock.unit_us
        )
    used = (total - rem) / total if total > 0 else (1.0 if ref >= due else 0.0)

    if completed_at is not None:
        state = "met" if stop <= due else "breached"
    elif n > due:
        state = "breached"
    elif open_pause:
        state = "paused"
    else:
        state = "running"
    at_risk = state in ("running", "paused") and stop >= risk
    return DeadlineStatus(
        kind=target.kind,
        due_at=calendar._from_us(due),
        at_risk_at=calendar._from_us(risk),
        state=state,
        remaining=Remaining(amount=rem, unit=target.unit, seconds=(due - ref) // 1_000_000),
        used=used,
        at_risk=at_risk,
        budget=budget,
        unit=target.unit,
        provisional=open_pause,
    )
