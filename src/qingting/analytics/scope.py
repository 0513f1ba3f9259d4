"""Parsing a dashboard request: the period and the scope filters, checked against what the user may see.

Visibility comes from `accounts.access`: managers, auditors and admins see everything; a
supervisor sees their department's subtree; agents have no dashboard. Unknown filters,
malformed dates, reversed or over-long periods are a 422 (`Invalid`), never a 500.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from qingting.accounts import access
from qingting.accounts.models import Department, Role
from qingting.complaints.models import Category, Channel, Priority
from qingting.core.errors import Invalid, NotFound, PermissionDenied

MAX_DAYS = 731  # two years: longer periods are refused with a clear message
FILTER_KEYS = {"period", "start", "end", "grain", "department", "channel", "category", "priority", "brand",
               "series", "product"}
GRAINS = {"day": "日", "week": "周", "month": "月"}
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass
class Period:
    start: dt.date
    end: dt.date  # inclusive
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Period":
        end = self.start - dt.timedelta(days=1)
        if self.start.day == 1 and (self.end + dt.timedelta(days=1)).day == 1:
            # a whole number of calendar months: compare with the same number of months before
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
            y, m = self.start.year, self.start.month - months
            while m <= 0:
                y, m = y - 1, m + 12
            return Period(dt.date(y, m, 1), end, "上期")
        return Period(end - dt.timedelta(days=self.days - 1), end, "上期")


def _month_end(year: int, month: int) -> dt.date:
    nxt = dt.date(year + (month == 12), 1 if month == 12 else month + 1, 1)
    return nxt - dt.timedelta(days=1)


def _date(value: str, key: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise Invalid(f"{key} 日期格式不正确（应为 YYYY-MM-DD）", f"{key} must be a date (YYYY-MM-DD)",
                      code="invalid_filter", fields={key: "invalid date"}) from None
    if not 2000 <= day.year <= 2100:
        raise Invalid(f"{key} 超出范围（2000–2100 年）", f"{key} is out of range (2000–2100)", code="invalid_filter",
                      fields={key: "out of range"})
    return day


def parse_period(value: str | None = None, start: str | None = None, end: str | None = None,
                 today: dt.date | None = None) -> Period:
    """'2026-10', '2026-Q3', '2026', or start/end dates; default: the last 30 days."""
    today = today or timezone.localdate()
    if value and (start or end):
        raise Invalid("period 与 start/end 只能二选一", "Give either period or start/end, not both",
                      code="invalid_filter", fields={"period": "conflicts with start/end"})
    if value:
        raw = str(value).strip()
        if m := _MONTH.match(raw):
            y, mo = int(m.group(1)), int(m.group(2))
            if not (1 <= mo <= 12 and 2000 <= y <= 2100):
                raise Invalid(f"月份「{raw}」无效", f"Invalid month {raw!r}", code="invalid_filter",
                              fields={"period": "invalid month"})
            return Period(dt.date(y, mo, 1), _month_end(y, mo), f"{y} 年 {mo} 月")
        if m := _QUARTER.match(raw):
            y, q = int(m.group(1)), int(m.group(2))
            if not 2000 <= y <= 2100:
                raise Invalid(f"季度「{raw}」无效", f"Invalid quarter {raw!r}", code="invalid_filter",
                              fields={"period": "invalid"})
            return Period(dt.date(y, 3 * q - 2, 1), _month_end(y, 3 * q), f"{y} 年第 {q} 季度")
        if m := _YEAR.match(raw):
            y = int(m.group(1))
            if not 2000 <= y <= 2100:
                raise Invalid(f"年份「{raw}」无效", f"Invalid year {raw!r}", code="invalid_filter",
                              fields={"period": "invalid"})
            return Period(dt.date(y, 1, 1), dt.date(y, 12, 31), f"{y} 年")
        raise Invalid(f"期间「{raw[:40]}」格式不正确（例：2026-10、2026-Q3、2026）",
                      f"Invalid period {raw[:40]!r} (e.g. 2026-10, 2026-Q3, 2026)", code="invalid_filter",
                      fields={"period": "invalid"})
    if start or end:
        s = _date(start, "start") if start else None
        e = _date(end, "end") if end else today
        if s is None:
            s = e - dt.timedelta(days=29)
        if s > e:
            raise Invalid("开始日期晚于结束日期", "start is after end", code="invalid_filter",
                          fields={"start": "after end"})
        if (e - s).days + 1 > MAX_DAYS:
            raise Invalid(f"期间过长（最多 {MAX_DAYS} 天）", f"The period is too long (at most {MAX_DAYS} days)",
                          code="period_too_long", fields={"end": "too long"})
        return Period(s, e, f"{s:%Y-%m-%d} 至 {e:%Y-%m-%d}")
    return Period(today - dt.timedelta(days=29), today, "近 30 天")


@dataclass
class Scope:
    period: Period
    grain: str
    department: Department | None = None
    department_ids: list[int] | None = None  # None: every department (and none)
    channels: list[str] = field(default_factory=list)
    category: Category | None = None
    priorities: list[str] = field(default_factory=list)
    brand: str = ""
    series: str = ""
    product: str = ""
    params: dict = field(default_factory=dict)  # the cleaned filters, for links

    @property
    def uses_item_filter(self) -> bool:
        return bool(self.brand or self.series or self.product)

    def with_period(self, period: Period) -> "Scope":
        clone = Scope(**{**self.__dict__})
        clone.period = period
        return clone

    def fact_q(self, *, period: bool = True) -> Q:
        q = Q()
        if period:
            q &= Q(day__gte=self.period.start, day__lte=self.period.end)
        return q & self.dims_q(items=True)

    def rollup_q(self) -> Q:
        return Q(day__gte=self.period.start, day__lte=self.period.end) & self.dims_q(items=False)

    def dims_q(self, *, items: bool) -> Q:
        q = Q()
        if self.department_ids is not None:
            q &= Q(department_id__in=self.department_ids)
        if self.channels:
            q &= Q(channel__in=self.channels)
        if self.category is not None:
            q &= Q(category_id=self.category.pk) if self.category.parent_id else Q(category1_id=self.category.pk)
        if self.priorities:
            q &= Q(priority__in=self.priorities)
        if items:
            for key in ("brand", "series", "product"):
                if getattr(self, key):
                    q &= Q(**{key: getattr(self, key)})
        return q

    def queue_link(self, **override) -> str:
        """A link to the workbench queue (`/`) filtered like this scope (what the list supports)."""
        from urllib.parse import urlencode

        params = {"received_after": self.period.start.isoformat(), "received_before": self.period.end.isoformat()}
        if self.department is not None:
            params["department"] = self.department.code
        if self.channels:
            params["channel"] = ",".join(self.channels)
        if self.category is not None:
            params["category"] = self.category.code
        if self.priorities:
            params["priority"] = ",".join(self.priorities)
        params.update({k: v for k, v in override.items() if v not in (None, "")})
        return "/?" + urlencode(params)


def may_view_dashboard(user) -> bool:
    return access.role_of(user) in (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN, Role.AUDITOR)


def visible_department_ids(user) -> list[int] | None:
    """None: everything; else the ids of the departments whose complaints the user's dashboard covers.

    `user=None` is the system (management command, scheduled delivery): everything.
    """
    if user is None:
        return None
    if not may_view_dashboard(user):
        raise PermissionDenied("只有主管和管理层可以查看数据分析", "Only supervisors and managers may view analytics")
    if access.sees_everything(user):
        return None
    if not user.department_id:
        return []
    return list(Department.objects.filter(path__startswith=user.department.path).values_list("id", flat=True))


def _list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = str(value).split(",")
    return [v.strip() for v in items if v.strip()]


def parse_scope(user, params, *, today: dt.date | None = None, allow: set[str] | frozenset = frozenset()) -> Scope:
    """Validate the query string into a Scope for `user`. `allow` names extra keys a caller handles itself."""
    params = {k: (params.getlist(k) if hasattr(params, "getlist") else params[k]) for k in params}
    params = {k: (v[-1] if isinstance(v, list) and len(v) == 1 else v) for k, v in params.items()}
    visible = visible_department_ids(user)
    unknown = set(params) - FILTER_KEYS - set(allow)
    if unknown:
        names = "、".join(sorted(str(k)[:30] for k in unknown))
        raise Invalid(f"未知的筛选条件：{names}", f"Unknown filters: {names}", code="invalid_filter",
                      fields={str(k)[:30]: "unknown filter" for k in unknown})
    for key in FILTER_KEYS:
        if isinstance(params.get(key), list):
            if key in ("channel", "priority"):
                params[key] = ",".join(params[key])
            else:
                raise Invalid(f"{key} 只能出现一次", f"{key} may be given only once", code="invalid_filter",
                              fields={key: "repeated"})
    period = parse_period(params.get("period") or None, params.get("start") or None, params.get("end") or None,
                          today=today)
    grain = (params.get("grain") or "").strip() or ("day" if period.days <= 62 else "week" if period.days <= 200 else "month")
    if grain not in GRAINS:
        raise Invalid("粒度只能是 day、week 或 month", "grain must be day, week or month", code="invalid_filter",
                      fields={"grain": "invalid"})
    scope = Scope(period=period, grain=grain, department_ids=visible)
    cleaned = {"grain": grain}
    if params.get("period"):
        cleaned["period"] = str(params["period"]).strip()
    else:
        cleaned.update(start=period.start.isoformat(), end=period.end.isoformat())
    code = (params.get("department") or "").strip()
    if code:
        dept = Department.objects.filter(code=code[:64]).first()
        if dept is None:
            raise Invalid(f"部门「{code[:40]}」不存在", f"Unknown department {code[:40]!r}", code="invalid_filter",
                          fields={"department": "unknown"})
        ids = list(Department.objects.filter(path__startswith=dept.path).values_list("id", flat=True))
        if visible is not None:
            if dept.pk not in visible:
                raise NotFound(f"部门「{code[:40]}」不存在或无权查看", "Department not found or not visible to you")
            ids = [i for i in ids if i in set(visible)]
        scope.department, scope.department_ids = dept, ids
        cleaned["department"] = dept.code
    channels = _list(params.get("channel"))
    aliases = {c.value: c.value for c in Channel} | {c.label: c.value for c in Channel}
    bad = [c for c in channels if c not in aliases]
    if bad:
        raise Invalid(f"渠道无效：{'、'.join(b[:20] for b in bad)}", f"Unknown channel: {', '.join(b[:20] for b in bad)}",
                      code="invalid_filter", fields={"channel": "unknown"})
    scope.channels = sorted({aliases[c] for c in channels})
    if scope.channels:
        cleaned["channel"] = ",".join(scope.channels)
    prios = [p.upper() for p in _list(params.get("priority"))]
    bad = [p for p in prios if p not in Priority.values]
    if bad:
        raise Invalid("优先级只能是 P1–P4", "priority must be P1–P4", code="invalid_filter", fields={"priority": "unknown"})
    scope.priorities = sorted(set(prios))
    if scope.priorities:
        cleaned["priority"] = ",".join(scope.priorities)
    cat = (params.get("category") or "").strip()
    if cat:
        found = Category.objects.filter(code=cat[:64]).first() or Category.objects.filter(name=cat[:64]).first()
        if found is None:
            raise Invalid(f"投诉类别「{cat[:40]}」不存在", f"Unknown category {cat[:40]!r}", code="invalid_filter",
                          fields={"category": "unknown"})
        scope.category = found
        cleaned["category"] = found.code
    for key, limit in (("brand", 50), ("series", 50), ("product", 100)):
        value = (params.get(key) or "").strip()
        if len(value) > limit:
            raise Invalid(f"{key} 过长", f"{key} is too long", code="invalid_filter", fields={key: "too long"})
        setattr(scope, key, value)
        if value:
            cleaned[key] = value
    scope.params = cleaned
    return scope
