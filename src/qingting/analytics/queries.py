"""The dashboard's metrics. Every function takes a `Scope` (already checked against the user).

Counts and rates come from `DailyRollup` unless the scope filters on product/brand/series
(then from `ComplaintFact`); durations, products, mixes and agents from `ComplaintFact`.
A rate whose denominator is zero is `None` (shown as "—"), never 0 %.
"""
from __future__ import annotations

import datetime as dt
import statistics

from django.apps import apps
from django.db import connection
from django.db.models import Avg, Count, Q, Sum

from qingting.accounts.models import Department, User
from qingting.complaints.models import Category

from .models import ComplaintFact, DailyRollup, VolumeFigure
from .scope import Period, Scope

PARETO_LIMIT = 15


def rate(num, den) -> float | None:
    if not den:
        return None
    return round(100.0 * (num or 0) / den, 1)


def _facts(scope: Scope):
    return ComplaintFact.objects.filter(scope.fact_q())


def _rollups(scope: Scope):
    return DailyRollup.objects.filter(scope.rollup_q())


def _counts_source(scope: Scope):
    """(queryset, count expressions) — rollups when possible, facts when filtering on items."""
    if scope.uses_item_filter:
        qs = _facts(scope)
        return qs, {"n": Count("pk"), "closed": Count("pk", filter=Q(closed=True)),
                    "reopened": Count("pk", filter=Q(reopened=True)), "escalated": Count("pk", filter=Q(escalated=True)),
                    "malicious": Count("pk", filter=Q(malicious=True)), "repeat": Count("pk", filter=Q(repeat=True))}
    qs = _rollups(scope)
    return qs, {m: Sum(m) for m in ("n", "closed", "reopened", "escalated", "malicious", "repeat")}


def kpis(scope: Scope) -> dict:
    qs, exprs = _counts_source(scope)
    row = {k: (v or 0) for k, v in qs.aggregate(**exprs).items()}
    prev_qs, _ = _counts_source(scope.with_period(scope.period.previous()))
    prev_n = prev_qs.aggregate(n=exprs["n"])["n"] or 0
    n = row["n"]
    return {"n": n, "prev_n": prev_n, "change": rate(n - prev_n, prev_n), "closed": row["closed"],
            "open": n - row["closed"], "closed_rate": rate(row["closed"], n), "reopen_rate": rate(row["reopened"], n),
            "escalation_rate": rate(row["escalated"], n), "malicious_rate": rate(row["malicious"], n),
            "repeat_rate": rate(row["repeat"], n), "reopened": row["reopened"], "escalated": row["escalated"],
            "malicious": row["malicious"], "repeat": row["repeat"]}


def _daily(scope: Scope) -> dict[dt.date, int]:
    qs, exprs = _counts_source(scope)
    return {d: n for d, n in qs.values_list("day").annotate(n=exprs["n"]).values_list("day", "n")}


def _bucket(day: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def _buckets(period: Period, grain: str) -> list[dt.date]:
    out, day = [], period.start
    while day <= period.end:
        b = _bucket(day, grain)
        if not out or out[-1] != b:
            out.append(b)
        day += dt.timedelta(days=1)
    return out


def volume(scope: Scope) -> dict:
    """Volume per day/week/month, with the previous period aligned bucket by bucket."""
    prev_scope = scope.with_period(scope.period.previous())
    cur, prev = _daily(scope), _daily(prev_scope)
    grain = scope.grain
    cur_b, prev_b = _buckets(scope.period, grain), _buckets(prev_scope.period, grain)
    cur_counts = dict.fromkeys(cur_b, 0)
    for d, n in cur.items():
        cur_counts[_bucket(d, grain)] = cur_counts.get(_bucket(d, grain), 0) + n
    prev_counts = dict.fromkeys(prev_b, 0)
    for d, n in prev.items():
        prev_counts[_bucket(d, grain)] = prev_counts.get(_bucket(d, grain), 0) + n
    prev_list = [prev_counts[b] for b in prev_b]
    # align from the end of each period's first bucket: bucket i of this period vs bucket i of the previous
    points = []
    for i, b in enumerate(cur_b):
        end = min(b + _grain_len(b, grain), scope.period.end)
        points.append({"bucket": b.isoformat(), "label": _label(b, grain), "n": cur_counts[b],
                       "prev": prev_list[i] if i < len(prev_list) else None,
                       "link": scope.queue_link(received_after=max(b, scope.period.start).isoformat(),
                                                received_before=end.isoformat())})
    return {"grain": grain, "points": points, "total": sum(cur.values()), "prev_total": sum(prev.values())}


def _grain_len(b: dt.date, grain: str) -> dt.timedelta:
    if grain == "week":
        return dt.timedelta(days=6)
    if grain == "month":
        nxt = dt.date(b.year + (b.month == 12), 1 if b.month == 12 else b.month + 1, 1)
        return nxt - b - dt.timedelta(days=1)
    return dt.timedelta(0)


def _label(b: dt.date, grain: str) -> str:
    if grain == "month":
        return f"{b:%Y-%m}"
    if grain == "week":
        return f"{b:%m-%d}周"
    return f"{b:%m-%d}"


def _pareto(rows: list[tuple], total: int) -> list[dict]:
    out, cum = [], 0
    for item in rows:
        cum += item["n"]
        item["share"] = rate(item["n"], total)
        item["cum"] = rate(cum, total)
        item["vital"] = (cum - item["n"]) < 0.8 * total if total else False
        out.append(item)
    return out


def _category_names() -> dict[int, tuple[str, str]]:
    return {pk: (code, name) for pk, code, name in Category.objects.values_list("id", "code", "name")}


def pareto_categories(scope: Scope, *, level: int = 1) -> list[dict]:
    col = "category1_id" if level == 1 else "category_id"
    qs, exprs = _counts_source(scope)
    rows = list(qs.values_list(col).annotate(n=exprs["n"]).filter(n__gt=0).order_by("-n").values_list(col, "n"))
    total = sum(n for _, n in rows)
    names = _category_names()
    items = []
    for cid, n in rows[:PARETO_LIMIT]:
        code, name = names.get(cid, ("", "未分类"))
        items.append({"key": code, "name": name, "n": n,
                      "link": scope.queue_link(category=code) if code else scope.queue_link()})
    rest = sum(n for _, n in rows[PARETO_LIMIT:])
    if rest:
        items.append({"key": "", "name": "其他", "n": rest, "link": scope.queue_link()})
    return _pareto(items, total)


def pareto_root_causes(scope: Scope) -> list[dict]:
    qs = _facts(scope).filter(closed=True).exclude(root_cause_key="")
    rows = list(qs.values_list("root_cause_key").annotate(n=Count("pk")).order_by("-n")[:PARETO_LIMIT + 1])
    total = qs.count() if len(rows) > PARETO_LIMIT else sum(n for _, n in rows)
    items = [{"key": k, "name": k, "n": n, "link": scope.queue_link(step="close")} for k, n in rows[:PARETO_LIMIT]]
    rest = total - sum(i["n"] for i in items)
    if rest > 0:
        items.append({"key": "", "name": "其他", "n": rest, "link": scope.queue_link(step="close")})
    return _pareto(items, total)


def heatmap(scope: Scope, *, top: int = 15) -> dict:
    """Department × level-1 category counts (the busiest departments and categories)."""
    qs, exprs = _counts_source(scope)
    rows = list(qs.values_list("department_id", "category1_id").annotate(n=exprs["n"]).filter(n__gt=0)
                .values_list("department_id", "category1_id", "n"))
    dept_tot, cat_tot = {}, {}
    for d, c, n in rows:
        dept_tot[d] = dept_tot.get(d, 0) + n
        cat_tot[c] = cat_tot.get(c, 0) + n
    depts = [d for d, _ in sorted(dept_tot.items(), key=lambda x: -x[1])[:top]]
    cats = [c for c, _ in sorted(cat_tot.items(), key=lambda x: -x[1])[:top]]
    dnames = {pk: (code, name) for pk, code, name in Department.objects.filter(pk__in=depts)
              .values_list("id", "code", "name")}
    cnames = _category_names()
    di, ci = {d: i for i, d in enumerate(depts)}, {c: i for i, c in enumerate(cats)}
    cells = [[ci[c], di[d], n] for d, c, n in rows if d in di and c in ci]
    return {"departments": [{"key": dnames.get(d, ("", ""))[0], "name": dnames.get(d, ("", "未指定部门"))[1]} for d in depts],
            "categories": [{"key": cnames.get(c, ("", ""))[0], "name": cnames.get(c, ("", "未分类"))[1]} for c in cats],
            "cells": cells, "max": max((n for *_, n in cells), default=0),
            "link": scope.queue_link()}


def top_items(scope: Scope, *, limit: int = 10) -> dict:
    """Top brands/series and products (from the complaint's `about`)."""
    qs = _facts(scope)
    out = {}
    for key in ("series", "product", "brand"):
        rows = list(qs.exclude(**{key: ""}).values_list(key).annotate(n=Count("pk")).order_by("-n")[:limit])
        out[key] = [{"name": k, "n": n} for k, n in rows]
    return out


def _percentiles(qs, column: str) -> dict:
    qs = qs.filter(**{f"{column}__isnull": False})
    if connection.vendor == "postgresql":
        sql, params = qs.values(column).query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute(f"SELECT COUNT(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY v), "
                        f"percentile_cont(0.9) WITHIN GROUP (ORDER BY v), AVG(v) FROM ({sql}) AS t(v)", params)
            n, p50, p90, avg = cur.fetchone()
    else:
        values = sorted(qs.values_list(column, flat=True))
        n = len(values)
        p50 = statistics.median(values) if values else None
        p90 = _quantile(values, 0.9) if values else None
        avg = sum(values) / n if n else None
    return {"n": n, "p50_s": _num(p50), "p90_s": _num(p90), "avg_s": _num(avg)}


def _num(v):
    return None if v is None else round(float(v), 1)


def _quantile(values: list, q: float) -> float:
    """Linear interpolation, the same as PostgreSQL's percentile_cont."""
    if len(values) == 1:
        return float(values[0])
    pos = q * (len(values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def durations(scope: Scope) -> dict:
    qs = _facts(scope)
    return {"first_response": _percentiles(qs, "first_response_s"), "resolution": _percentiles(qs, "resolution_s")}


def _complaint_ids(scope: Scope):
    return _facts(scope).values("complaint_id")


SLA_KINDS = {"first_response": "首次响应", "resolution": "办结", "follow_up": "回访", "acknowledge": "受理确认"}


def sla(scope: Scope) -> dict:
    """SLA compliance from sla.Deadline once that app is installed; `available: False` before."""
    if not apps.is_installed("qingting.sla"):
        return {"available": False}
    try:
        Deadline = apps.get_model("sla", "Deadline")
    except LookupError:
        return {"available": False}
    rows = (Deadline.objects.filter(complaint_id__in=_complaint_ids(scope))
            .values_list("kind", "state").annotate(n=Count("pk")).values_list("kind", "state", "n"))
    kinds: dict[str, dict] = {}
    for kind, state, n in rows:
        k = kinds.setdefault(kind, {"kind": kind, "name": SLA_KINDS.get(kind, kind), "met": 0, "breached": 0, "open": 0})
        if state == "met":
            k["met"] += n
        elif state == "breached":
            k["breached"] += n
        else:
            k["open"] += n
    met = sum(k["met"] for k in kinds.values())
    breached = sum(k["breached"] for k in kinds.values())
    for k in kinds.values():
        k["compliance"] = rate(k["met"], k["met"] + k["breached"])
    return {"available": True, "met": met, "breached": breached, "compliance": rate(met, met + breached),
            "kinds": sorted(kinds.values(), key=lambda k: k["kind"]), "link": scope.queue_link()}


def csat(scope: Scope) -> dict:
    """Satisfaction from intake.SatisfactionSurvey once installed (average stars and distribution)."""
    if not apps.is_installed("qingting.intake"):
        return {"available": False}
    try:
        Survey = apps.get_model("intake", "SatisfactionSurvey")
    except LookupError:
        return {"available": False}
    rows = dict(Survey.objects.filter(complaint_id__in=_complaint_ids(scope)).values_list("stars")
                .annotate(n=Count("pk")).values_list("stars", "n"))
    n = sum(rows.values())
    avg = round(sum(s * c for s, c in rows.items()) / n, 2) if n else None
    return {"available": True, "n": n, "avg": avg, "dist": [{"stars": s, "n": rows.get(s, 0)} for s in range(1, 6)],
            "satisfied_rate": rate(rows.get(4, 0) + rows.get(5, 0), n)}


EMOTIONS = {"anger": "愤怒", "anxiety": "焦虑", "disappointment": "失望", "grievance": "委屈", "calm": "平静"}
PERSONAS = {"ordinary": "普通客户", "influential": "有宣传能力者", "rational": "理智型", "emotional": "情绪型", "demanding": "要求苛刻型",
            "professional": "专业型", "elderly": "老年客户", "vulnerable": "弱势客户", "repeat": "重复投诉者"}


def mix(scope: Scope) -> dict:
    qs = _facts(scope)
    out = {}
    for key, names in (("emotion", EMOTIONS), ("persona", PERSONAS)):
        rows = qs.values_list(key).annotate(n=Count("pk")).order_by("-n")
        out[key] = [{"key": k, "name": names.get(k, k) if k else "未识别", "n": n} for k, n in rows]
    return out


def rate_per_10k(scope: Scope) -> dict:
    """Complaints per 10,000 units sold, when every month of the period has a figure for the scope."""
    months, day = [], scope.period.start.replace(day=1)
    while day <= scope.period.end:
        months.append(day)
        day = dt.date(day.year + (day.month == 12), 1 if day.month == 12 else day.month + 1, 1)
    figures = VolumeFigure.objects.filter(month__in=months)
    figures = figures.filter(department=scope.department) if scope.department else figures.filter(department__isnull=True)
    rows = {f.month: f for f in figures}
    if scope.channels or scope.category or scope.priorities or scope.uses_item_filter:
        return {"available": False, "reason": "按渠道/类别/优先级/产品筛选时不计算"}
    whole = scope.period.start.day == 1 and (scope.period.end + dt.timedelta(days=1)).day == 1
    if not whole:
        return {"available": False, "reason": "期间需为整月"}
    if len(rows) < len(months):
        return {"available": False, "reason": "未录入该范围每个月的销量"}
    qs, exprs = _counts_source(scope)
    n = qs.aggregate(n=exprs["n"])["n"] or 0
    units = sum(f.units for f in rows.values())
    label = next(iter(rows.values())).unit_label
    return {"available": True, "n": n, "units": units, "unit_label": label,
            "per_10k": round(n * 10000 / units, 2) if units else None}


def agents(scope: Scope) -> list[dict]:
    """Each agent's open load, handled (closed in the period), median handling time, CSAT, reopened."""
    base = ComplaintFact.objects.filter(scope.dims_q(items=True)).exclude(assignee_id=0)
    open_load = dict(base.filter(closed=False).values_list("assignee_id").annotate(n=Count("pk"))
                     .values_list("assignee_id", "n"))
    handled_qs = base.filter(closed=True, closed_day__gte=scope.period.start, closed_day__lte=scope.period.end)
    handled = {a: (n, r) for a, n, r in handled_qs.values_list("assignee_id").annotate(
        n=Count("pk"), r=Count("pk", filter=Q(reopened=True))).values_list("assignee_id", "n", "r")}
    medians = _median_by(handled_qs, "assignee_id", "resolution_s")
    sat = {}
    if apps.is_installed("qingting.intake"):
        try:
            Survey = apps.get_model("intake", "SatisfactionSurvey")
            sat = dict(Survey.objects.filter(complaint_id__in=handled_qs.values("complaint_id"))
                       .values_list("complaint__assignee_id").annotate(a=Avg("stars"))
                       .values_list("complaint__assignee_id", "a"))
        except LookupError:
            sat = {}
    ids = set(open_load) | set(handled)
    users = {u.pk: u for u in User.objects.filter(pk__in=ids).select_related("department")}
    out = []
    for uid in ids:
        u = users.get(uid)
        n, reopened = handled.get(uid, (0, 0))
        out.append({"username": u.username if u else str(uid), "name": u.label if u else str(uid),
                    "department": u.department.name if u and u.department_id else "",
                    "open": open_load.get(uid, 0), "handled": n, "median_s": medians.get(uid),
                    "csat": round(float(sat[uid]), 2) if sat.get(uid) is not None else None,
                    "reopened": reopened, "reopen_rate": rate(reopened, n),
                    "link": "/?" + f"assignee={u.username}" if u else ""})
    return sorted(out, key=lambda r: (-r["handled"], -r["open"], r["name"]))


def _median_by(qs, group: str, column: str) -> dict:
    qs = qs.filter(**{f"{column}__isnull": False})
    if connection.vendor == "postgresql":
        sql, params = qs.values(group, column).query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute(f"SELECT g, percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM ({sql}) AS t(g, v) GROUP BY g",
                        params)
            return {g: _num(v) for g, v in cur.fetchall()}
    groups: dict = {}
    for g, v in qs.values_list(group, column):
        groups.setdefault(g, []).append(v)
    return {g: _num(statistics.median(vs)) for g, vs in groups.items()}


def improvement(scope: Scope, *, top: int = 5) -> list[dict]:
    """Top level-2 problems of the period, their corrective actions, and whether volume fell afterwards."""
    from qingting.complaints.models import Complaint
    from django.utils import timezone

    problems = [p for p in pareto_categories(scope, level=2) if p["key"]][:top]
    today = timezone.localdate()
    after_end = min(scope.period.end + dt.timedelta(days=scope.period.days), today)
    after = Period(scope.period.end + dt.timedelta(days=1), after_end, "之后")
    cats = {c.code: c for c in Category.objects.filter(code__in=[p["key"] for p in problems])}
    out = []
    for p in problems:
        cat = cats.get(p["key"])
        cscope = scope.with_period(scope.period)
        cscope.category = cat
        actions = []
        ids = _facts(cscope).filter(closed=True).exclude(root_cause_key="").order_by("-closed_day") \
            .values_list("complaint_id", flat=True)[:3]
        for c in Complaint.objects.filter(pk__in=list(ids)).only("number", "root_cause", "lessons_learned", "closed_at"):
            actions.append({"number": c.number, "root_cause": c.root_cause[:200], "lessons": c.lessons_learned[:200],
                            "closed_at": c.closed_at.date().isoformat() if c.closed_at else None})
        per_day_before = p["n"] / scope.period.days
        if after.days > 0 and after.start <= today:
            qs, exprs = _counts_source(cscope.with_period(after))
            n_after = qs.aggregate(n=exprs["n"])["n"] or 0
            per_day_after = n_after / after.days
            trend = rate(per_day_after - per_day_before, per_day_before)
        else:
            n_after, per_day_after, trend = None, None, None
        out.append({"key": p["key"], "name": p["name"], "n": p["n"], "share": p["share"], "actions": actions,
                    "after_days": after.days if n_after is not None else 0, "n_after": n_after,
                    "per_day_before": round(per_day_before, 2),
                    "per_day_after": round(per_day_after, 2) if per_day_after is not None else None,
                    "change": trend, "fell": (trend is not None and trend < 0), "link": p["link"]})
    return out


def dashboard(scope: Scope) -> dict:
    """Everything the dashboard page draws (one call per block, each timed by the benchmark)."""
    return {"period": {"start": scope.period.start.isoformat(), "end": scope.period.end.isoformat(),
                       "label": scope.period.label, "days": scope.period.days,
                       "previous": {"start": scope.period.previous().start.isoformat(),
                                    "end": scope.period.previous().end.isoformat()}},
            "filters": scope.params, "kpis": kpis(scope), "volume": volume(scope),
            "pareto_l1": pareto_categories(scope, level=1), "pareto_l2": pareto_categories(scope, level=2),
            "pareto_root": pareto_root_causes(scope), "heatmap": heatmap(scope), "top_items": top_items(scope),
            "durations": durations(scope), "sla": sla(scope), "csat": csat(scope), "mix": mix(scope),
            "per_10k": rate_per_10k(scope), "queue_link": scope.queue_link()}


DASHBOARD_QUERIES = {
    "kpis": kpis, "volume": volume, "pareto_l1": lambda s: pareto_categories(s, level=1),
    "pareto_l2": lambda s: pareto_categories(s, level=2), "pareto_root": pareto_root_causes, "heatmap": heatmap,
    "top_items": top_items, "durations": durations, "sla": sla, "csat": csat, "mix": mix, "per_10k": rate_per_10k,
    "agents": agents,
}
