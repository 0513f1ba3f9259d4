"""Long periods read month rollups and monthly tallies: they must agree with the exact fact-based answers."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone

from qingting.analytics import queries
from qingting.analytics.models import ComplaintFact
from qingting.analytics.scope import Period, parse_scope

from .conftest import make


def _month_end(day: dt.date) -> dt.date:
    return queries._next_month(day) - dt.timedelta(days=1)


def test_segments_split_whole_months_and_edges():
    months, edges = queries.segments(Period(dt.date(2026, 1, 15), dt.date(2026, 4, 10), ""))
    assert months == [dt.date(2026, 2, 1), dt.date(2026, 3, 1)]
    assert edges == [(dt.date(2026, 1, 15), dt.date(2026, 1, 31)), (dt.date(2026, 4, 1), dt.date(2026, 4, 10))]
    assert queries.segments(Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31), "")) == \
        ([dt.date(2026, m, 1) for m in range(1, 13)], [])
    assert queries.segments(Period(dt.date(2026, 1, 5), dt.date(2026, 1, 20), "")) == \
        ([], [(dt.date(2026, 1, 5), dt.date(2026, 1, 20))])


def test_unaligned_period_counts_mix_month_and_day_rows(history, people):
    today = timezone.localdate()
    start, end = today - dt.timedelta(days=44), today - dt.timedelta(days=3)  # cuts through months
    scope = parse_scope(people["manager"], {"start": start.isoformat(), "end": end.isoformat(), "grain": "month"})
    exact = ComplaintFact.objects.filter(day__gte=start, day__lte=end).count()
    assert 0 < exact < len(history)
    assert queries.kpis(scope)["n"] == exact
    assert queries.volume(scope)["total"] == exact
    phone = parse_scope(people["manager"], {"start": start.isoformat(), "end": end.isoformat(), "channel": "phone"})
    assert queries.kpis(phone)["n"] == ComplaintFact.objects.filter(day__gte=start, day__lte=end, channel="phone").count()


def _close(a, b, rel=0.026):
    if a is None or b is None:
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b)) + 1


def test_tallies_answer_like_the_facts(history, people, monkeypatch):
    today = timezone.localdate()
    start = (today - dt.timedelta(days=150)).replace(day=1)
    params = {"start": start.isoformat(), "end": _month_end(today).isoformat()}
    scope = parse_scope(people["manager"], params)
    assert queries.uses_tally(scope) and queries.uses_tally(scope, percentiles=True)
    long = {name: fn(scope) for name, fn in (("top", queries.top_items), ("mix", queries.mix),
                                             ("root", queries.pareto_root_causes), ("dur", queries.durations),
                                             ("agents", queries.agents))}
    monkeypatch.setattr(queries, "LONG_PERIOD_DAYS", 100_000)
    monkeypatch.setattr(queries, "uses_tally", lambda scope, percentiles=False: False)
    exact = {name: fn(scope) for name, fn in (("top", queries.top_items), ("mix", queries.mix),
                                              ("root", queries.pareto_root_causes), ("dur", queries.durations),
                                              ("agents", queries.agents))}
    assert long["top"] == exact["top"] and long["top"]["series"]
    assert {k: sorted(map(str, v)) for k, v in long["mix"].items()} == \
        {k: sorted(map(str, v)) for k, v in exact["mix"].items()}
    assert [(r["name"], r["n"]) for r in long["root"]] == [(r["name"], r["n"]) for r in exact["root"]]
    for kind in ("first_response", "resolution"):
        a, b = long["dur"][kind], exact["dur"][kind]
        assert a["n"] == b["n"] and _close(a["avg_s"], b["avg_s"], 0.001)
        assert _close(a["p50_s"], b["p50_s"]) and _close(a["p90_s"], b["p90_s"]), (a, b)
    assert exact["dur"]["resolution"]["n"] >= 2
    key = lambda r: r["username"]
    for a, b in zip(sorted(long["agents"], key=key), sorted(exact["agents"], key=key), strict=True):
        assert (a["open"], a["handled"], a["reopened"]) == (b["open"], b["handled"], b["reopened"])
        assert _close(a["median_s"], b["median_s"])


def test_cached_dashboard_sees_a_new_complaint(history, people):
    scope = parse_scope(people["manager"], {})
    before = queries.dashboard_cached(scope)["kpis"]["n"]
    assert queries.dashboard_cached(scope)["kpis"]["n"] == before
    make(people["manager"], days_ago=1)
    assert queries.dashboard_cached(scope)["kpis"]["n"] == before + 1
