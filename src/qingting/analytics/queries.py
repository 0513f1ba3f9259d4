"""The dashboard's metrics. Every function takes a `Scope` (already checked against the user).

Counts and rates come from `Rollup` unless the scope filters on product/brand/series (then
from `ComplaintFact`): month rows for the whole months of the period, day rows for the rest,
"lite" rows (channel = priority = ALL) unless the scope filters on channel or priority.
Products, mixes and root causes come from the monthly `Tally` when the period is whole months
and the scope is filtered at most by department (exact counts), else from `ComplaintFact`.
Durations and agents come from `ComplaintFact` unless such a period is also longer than
`LONG_PERIOD_DAYS`: then from the tallies (percentiles from a 5 % histogram, within ±2.5 %;
counts and averages stay exact).
A rate whose denominator is zero is `None` (shown as "—"), never 0 %.
"""
from __future__ import annotations

import datetime as dt
import logging
import statistics

from django.apps import apps
from django.db import connection
from django.db.models import Avg, Count, Q, Sum

from qingting.accounts.models import Department, User
from qingting.complaints.models import Category

from .facts import bucket_value
from .models import (
    ALL,
    CSAT_FIELDS,
    GRAIN_DAY,
    GRAIN_MONTH,
    SLA_FIELDS,
    ComplaintFact,
    Rollup,
    Tally,
    VolumeFigure,
)
from .scope import Period, Scope

PARETO_LIMIT = 15
log = logging.getLogger(__name__)
LONG_PERIOD_DAYS = 62  # longer periods of whole months read the monthly tallies instead of the facts


def rate(num, den) -> float | None:
    if not den:
        return None
    return round(100.0 * (num or 0) / den, 1)


def _facts(scope: Scope):
    return ComplaintFact.objects.filter(scope.fact_q())


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), 1 if day.month == 12 else day.month + 1, 1)


def segments(period: Period) -> tuple[list[dt.date], list[tuple[dt.date, dt.date]]]:
    """The whole calendar months inside the period (their 1st days) and the day ranges left over."""
    months, m = [], (period.start if period.start.day == 1 else _next_month(period.start))
    while _next_month(m) - dt.timedelta(days=1) <= period.end:
        months.append(m)
        m = _next_month(m)
    if not months:
        return [], [(period.start, period.end)]
    edges = []
    if period.start < months[0]:
        edges.append((period.start, months[0] - dt.timedelta(days=1)))
    last = _next_month(months[-1])
    if last <= period.end:
        edges.append((last, period.end))
    return months, edges


def _rollups(scope: Scope, *, daily: bool = False):
    """Rollup rows covering the scope: month rows for whole months (unless `daily`), day rows for the rest."""
    months, edges = ([], [(scope.period.start, scope.period.end)]) if daily else segments(scope.period)
    when = Q(pk__in=[])
    if months:
        when |= Q(grain=GRAIN_MONTH, day__gte=months[0], day__lte=months[-1])
    for a, b in edges:
        when |= Q(grain=GRAIN_DAY, day__gte=a, day__lte=b)
    dims = scope.dims_q(items=False)
    if not scope.channels and not scope.priorities:
        dims &= Q(channel=ALL, priority=ALL)  # the lite rows: every channel and priority summed
    return Rollup.objects.filter(when, dims)


def uses_tally(scope: Scope, *, percentiles: bool = False) -> bool:
    """Periods of whole months, filtered at most by department, read counts from the monthly tallies
    (exact); percentiles (histogram, approximate) only when the period is longer than LONG_PERIOD_DAYS."""
    if scope.channels or scope.priorities or scope.category is not None or scope.uses_item_filter:
        return False
    months, edges = segments(scope.period)
    if not months or edges:
        return False
    return scope.period.days > LONG_PERIOD_DAYS if percentiles else True


def _tally(scope: Scope, *kinds: str):
    months, _ = segments(scope.period)
    qs = Tally.objects.filter(kind__in=kinds, month__gte=months[0], month__lte=months[-1], n__gt=0)
    if scope.department_ids is not None:
        qs = qs.filter(department_id__in=scope.department_ids)
    return qs


def _tally_counts(scope: Scope, *kinds: str) -> dict[str, list[tuple[str, int]]]:
    """{kind: [(key, n), …] most frequent first} summed over the period's months."""
    out: dict[str, list] = {k: [] for k in kinds}
    for kind, key, n in _tally(scope, *kinds).values_list("kind", "key").annotate(t=Sum("n")).values_list(
            "kind", "key", "t"):
        out[kind].append((key, n))
    for rows in out.values():
        rows.sort(key=lambda r: (-r[1], r[0]))
    return out


def _hist_quantile(buckets: list[tuple[str, int]], q: float) -> float | None:
    """The q-quantile read from histogram buckets, interpolated between ranks like percentile_cont."""
    buckets = sorted((k, n) for k, n in buckets if n > 0)
    total = sum(n for _, n in buckets)
    if not total:
        return None
    pos = q * (total - 1)
    lo, frac = int(pos), pos - int(pos)

    def at(rank: int) -> float:
        seen = 0
        for key, n in buckets:
            seen += n
            if seen > rank:
                return bucket_value(key)
        return bucket_value(buckets[-1][0])

    v_lo = at(lo)
    return v_lo if frac == 0 or lo + 1 >= total else v_lo + (at(lo + 1) - v_lo) * frac


def _counts_source(scope: Scope, *, daily: bool = False):
    """(queryset, count expressions) — rollups when possible, facts when filtering on items."""
    if scope.uses_item_filter:
        qs = _facts(scope)
        return qs, {"n": Count("day"), "closed": Count("day", filter=Q(closed=True)),
                    "reopened": Count("day", filter=Q(reopened=True)), "escalated": Count("day", filter=Q(escalated=True)),
                    "malicious": Count("day", filter=Q(malicious=True)), "repeat": Count("day", filter=Q(repeat=True))}
    qs = _rollups(scope, daily=daily)
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
    qs, exprs = _counts_source(scope, daily=scope.grain != "month")
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
    if uses_tally(scope):
        rows = _tally_counts(scope, "root")["root"]
        total = sum(n for _, n in rows)
        rows = rows[:PARETO_LIMIT]
    else:
        qs = _facts(scope).filter(closed=True).exclude(root_cause_key="")
        grouped = qs.values_list("root_cause_key").annotate(n=Count("root_cause_key"))
        if connection.vendor == "postgresql":
            sql, params = grouped.order_by().query.sql_with_params()
            with connection.cursor() as cur:  # one scan: the top keys and the total (a window over the groups)
                cur.execute(f"SELECT k, n, SUM(n) OVER () FROM ({sql}) AS t(k, n) ORDER BY n DESC, k LIMIT %s",
                            [*params, PARETO_LIMIT])
                fetched = cur.fetchall()
            rows = [(k, n) for k, n, _ in fetched]
            total = int(fetched[0][2]) if fetched else 0
        else:
            rows = list(grouped.order_by("-n", "root_cause_key")[:PARETO_LIMIT + 1])
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


def _grouped_counts(qs, keys: tuple[str, ...]) -> dict[str, list[tuple[str, int]]]:
    """{key: [(value, n), …] most frequent first} for several columns of a fact queryset.

    PostgreSQL: one scan with GROUPING SETS; elsewhere one GROUP BY per column."""
    out: dict[str, list] = {k: [] for k in keys}
    if connection.vendor == "postgresql":
        sql, params = qs.values(*keys).query.sql_with_params()
        cols = ", ".join(f"c{i}" for i in range(len(keys)))
        which = " ".join(f"WHEN GROUPING(c{i}) = 0 THEN {i}" for i in range(len(keys)))
        value = "COALESCE(" + ", ".join(f"c{i}" for i in range(len(keys))) + ")"
        with connection.cursor() as cur:
            cur.execute(f"SELECT CASE {which} END, {value}, COUNT(*) FROM ({sql}) AS t({cols}) "
                        f"GROUP BY GROUPING SETS ({', '.join(f'(c{i})' for i in range(len(keys)))})", params)
            for i, v, n in cur.fetchall():
                out[keys[i]].append((v if v is not None else "", n))
    else:
        for key in keys:
            out[key] = list(qs.values_list(key).annotate(n=Count("day")).values_list(key, "n"))
    for rows in out.values():
        rows.sort(key=lambda r: (-r[1], r[0]))
    return out


def top_items(scope: Scope, *, limit: int = 10) -> dict:
    """Top brands/series and products (from the complaint's `about`)."""
    keys = ("series", "product", "brand")
    rows = _tally_counts(scope, *keys) if uses_tally(scope) else _grouped_counts(_facts(scope), keys)
    return {key: [{"name": k, "n": n} for k, n in rows[key] if k][:limit] for key in keys}


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
    if uses_tally(scope, percentiles=True):
        hist = _tally_counts(scope, "frt", "res")
        sums = _rollups(scope).aggregate(frt_n=Sum("frt_n"), frt_sum=Sum("frt_sum"), res_n=Sum("res_n"),
                                         res_sum=Sum("res_sum"))
        out = {}
        for name, kind in (("first_response", "frt"), ("resolution", "res")):
            n, total = sums[f"{kind}_n"] or 0, sums[f"{kind}_sum"] or 0
            out[name] = {"n": n, "p50_s": _num(_hist_quantile(hist[kind], 0.5)),
                         "p90_s": _num(_hist_quantile(hist[kind], 0.9)), "avg_s": _num(total / n) if n else None,
                         "approx": True}
        return out
    qs = _facts(scope)
    if connection.vendor == "postgresql":  # one scan for both (ordered-set aggregates ignore NULLs)
        sql, params = qs.values("first_response_s", "resolution_s").query.sql_with_params()
        parts = []
        for v in ("f", "r"):
            parts += [f"COUNT({v})", f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {v})",
                      f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {v})", f"AVG({v})"]
        with connection.cursor() as cur:
            cur.execute(f"SELECT {', '.join(parts)} FROM ({sql}) AS t(f, r)", params)
            row = cur.fetchone()
        return {name: {"n": row[i], "p50_s": _num(row[i + 1]), "p90_s": _num(row[i + 2]), "avg_s": _num(row[i + 3])}
                for name, i in (("first_response", 0), ("resolution", 4))}
    return {"first_response": _percentiles(qs, "first_response_s"), "resolution": _percentiles(qs, "resolution_s")}


SLA_KINDS = {"first_response": "首次响应", "resolution": "办结", "other": "其他时限"}
SLA_GROUPS = {"frt": "first_response", "res": "resolution", "oth": "other"}


def _sla_csat_sums(scope: Scope) -> dict:
    if scope.uses_item_filter:
        qs = _facts(scope)
        exprs = {f: Sum(f) for f in SLA_FIELDS}
        exprs.update({f"csat_{i}": Count("day", filter=Q(csat_stars=i)) for i in range(1, 6)})
    else:
        qs = _rollups(scope)
        exprs = {f: Sum(f) for f in (*SLA_FIELDS, *CSAT_FIELDS)}
    return {k: v or 0 for k, v in qs.aggregate(**exprs).items()}


def sla(scope: Scope, *, sums: dict | None = None) -> dict:
    """SLA compliance of the period's complaints' deadlines (qingting.sla), from the rollups.

    The facts hold each complaint's deadline counts by kind group (first response, resolution,
    other) and state; the sync job follows the SLA sweep. `available: False` without the app."""
    if not apps.is_installed("qingting.sla"):
        return {"available": False}
    sums = sums if sums is not None else _sla_csat_sums(scope)
    kinds = []
    for group, kind in SLA_GROUPS.items():
        met, breached, opened = (sums[f"sla_{group}_{s}"] for s in ("met", "breached", "open"))
        if met or breached or opened:
            kinds.append({"kind": kind, "name": SLA_KINDS[kind], "met": met, "breached": breached, "open": opened,
                          "compliance": rate(met, met + breached)})
    met = sum(k["met"] for k in kinds)
    breached = sum(k["breached"] for k in kinds)
    return {"available": True, "met": met, "breached": breached, "compliance": rate(met, met + breached),
            "kinds": kinds, "link": scope.queue_link()}


def csat(scope: Scope, *, sums: dict | None = None) -> dict:
    """Satisfaction (qingting.intake surveys of the period's complaints): average stars and distribution."""
    if not apps.is_installed("qingting.intake"):
        return {"available": False}
    sums = sums if sums is not None else _sla_csat_sums(scope)
    rows = {i: sums[f"csat_{i}"] for i in range(1, 6)}
    n = sum(rows.values())
    avg = round(sum(s * c for s, c in rows.items()) / n, 2) if n else None
    return {"available": True, "n": n, "avg": avg, "dist": [{"stars": s, "n": rows.get(s, 0)} for s in range(1, 6)],
            "satisfied_rate": rate(rows.get(4, 0) + rows.get(5, 0), n)}


EMOTIONS = {"anger": "愤怒", "anxiety": "焦虑", "disappointment": "失望", "grievance": "委屈", "calm": "平静"}
PERSONAS = {"ordinary": "普通客户", "influential": "有宣传能力者", "rational": "理智型", "emotional": "情绪型", "demanding": "要求苛刻型",
            "professional": "专业型", "elderly": "老年客户", "vulnerable": "弱势客户", "repeat": "重复投诉者"}


def mix(scope: Scope) -> dict:
    keys = ("emotion", "persona")
    rows = _tally_counts(scope, *keys) if uses_tally(scope) else _grouped_counts(_facts(scope), keys)
    return {key: [{"key": k, "name": names.get(k, k) if k else "未识别", "n": n} for k, n in rows[key]]
            for key, names in (("emotion", EMOTIONS), ("persona", PERSONAS))}


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
    base = ComplaintFact.objects.filter(scope.dims_q(items=True))
    # open load: the partial index fact_open_load (closed = false) holds assignee and department
    open_load = dict(base.filter(closed=False, assignee_id__gt=0).values_list("assignee_id").annotate(n=Count("assignee_id"))
                     .values_list("assignee_id", "n"))
    handled_qs = base.filter(closed=True, closed_day__gte=scope.period.start, closed_day__lte=scope.period.end,
                             assignee_id__gt=0)
    if uses_tally(scope, percentiles=True):
        handled, hist = {}, {}
        rows = (_tally(scope, "handled", "hreopen", "hres", "hstars").values_list("kind", "assignee_id", "key")
                .annotate(t=Sum("n")).values_list("kind", "assignee_id", "key", "t"))
        stars: dict[int, list] = {}
        for kind, a, key, n in rows:
            if kind == "hres":
                hist.setdefault(a, []).append((key, n))
            elif kind == "hstars":
                acc = stars.setdefault(a, [0, 0])
                acc[0] += int(key) * n
                acc[1] += n
            else:
                h = handled.setdefault(a, [0, 0])
                h[0 if kind == "handled" else 1] += n
        handled = {a: tuple(v) for a, v in handled.items()}
        medians = {a: _num(_hist_quantile(b, 0.5)) for a, b in hist.items()}
        sat = {a: s / c for a, (s, c) in stars.items() if c}
    elif connection.vendor == "postgresql":  # one index-only scan: counts, median and stars per agent
        sql, params = handled_qs.values("assignee_id", "reopened", "resolution_s", "csat_stars").query.sql_with_params()
        handled, medians, sat = {}, {}, {}
        with connection.cursor() as cur:
            cur.execute("SELECT a, COUNT(*), COUNT(*) FILTER (WHERE r), percentile_cont(0.5) WITHIN GROUP (ORDER BY v), "
                        f"AVG(s) FILTER (WHERE s > 0) FROM ({sql}) AS t(a, r, v, s) GROUP BY a", params)
            for a, n, r, med, avg in cur.fetchall():
                handled[a], medians[a] = (n, r), _num(med)
                if avg is not None:
                    sat[a] = avg
    else:
        handled = {a: (n, r) for a, n, r in handled_qs.values_list("assignee_id").annotate(
            n=Count("assignee_id"), r=Count("assignee_id", filter=Q(reopened=True))).values_list("assignee_id", "n", "r")}
        medians = _median_by(handled_qs, "assignee_id", "resolution_s")
        sat = dict(handled_qs.filter(csat_stars__gt=0).values_list("assignee_id").annotate(a=Avg("csat_stars"))
                   .values_list("assignee_id", "a"))
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
    from django.utils import timezone

    from qingting.complaints.models import Complaint

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
    sums = _sla_csat_sums(scope) if apps.is_installed("qingting.sla") or apps.is_installed("qingting.intake") else {}
    return {"period": {"start": scope.period.start.isoformat(), "end": scope.period.end.isoformat(),
                       "label": scope.period.label, "days": scope.period.days,
                       "previous": {"start": scope.period.previous().start.isoformat(),
                                    "end": scope.period.previous().end.isoformat()}},
            "filters": scope.params, "kpis": kpis(scope), "volume": volume(scope),
            "pareto_l1": pareto_categories(scope, level=1), "pareto_l2": pareto_categories(scope, level=2),
            "pareto_root": pareto_root_causes(scope), "heatmap": heatmap(scope), "top_items": top_items(scope),
            "durations": durations(scope), "sla": sla(scope, sums=sums), "csat": csat(scope, sums=sums),
            "mix": mix(scope), "per_10k": rate_per_10k(scope), "queue_link": scope.queue_link()}


PAYLOAD_TTL = 60  # seconds a computed dashboard may be served again when no complaint changed meanwhile


def dashboard_cached(scope: Scope) -> dict:
    """`dashboard(scope)` cached for PAYLOAD_TTL seconds, keyed by the scope and the data version.

    The complaint hooks bump the version (`facts.bump_version`) when a fact changes, so a cached
    payload is never older than the last change the hooks saw; the TTL bounds what the periodic
    sync picks up later. The key holds the visible departments, so users share a payload only
    when they see the same complaints.
    """
    import hashlib
    import json

    from django.core.cache import cache

    from .facts import data_version

    ident = json.dumps([data_version(), scope.params, scope.period.start.isoformat(), scope.period.end.isoformat(),
                        scope.grain, scope.department_ids], sort_keys=True, default=str)
    key = "analytics:dashboard:" + hashlib.sha1(ident.encode()).hexdigest()
    try:
        data = cache.get(key)
    except Exception:
        log.warning("analytics payload cache read failed", exc_info=True)
        data = None
    if data is None:
        data = dashboard(scope)
        try:
            cache.set(key, data, PAYLOAD_TTL)
        except Exception:
            log.warning("analytics payload cache write failed", exc_info=True)
    return data


DASHBOARD_QUERIES = {
    "kpis": kpis, "volume": volume, "pareto_l1": lambda s: pareto_categories(s, level=1),
    "pareto_l2": lambda s: pareto_categories(s, level=2), "pareto_root": pareto_root_causes, "heatmap": heatmap,
    "top_items": top_items, "durations": durations, "sla": sla, "csat": csat, "mix": mix, "per_10k": rate_per_10k,
    "agents": agents,
}
