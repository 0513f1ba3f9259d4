"""Bad input is a clean 4xx, never a 500; periods parse as documented."""
from __future__ import annotations

import datetime as dt

import pytest

from qingting.analytics.scope import parse_period, parse_scope
from qingting.core.errors import Invalid, NotFound, PermissionDenied


def test_period_forms():
    p = parse_period("2026-10")
    assert (p.start, p.end) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert p.previous().start == dt.date(2026, 9, 1) and p.previous().end == dt.date(2026, 9, 30)
    q = parse_period("2026-Q1")
    assert (q.start, q.end) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert q.previous().start == dt.date(2025, 10, 1)
    y = parse_period("2025")
    assert y.days == 365
    r = parse_period(start="2026-02-10", end="2026-02-19")
    assert r.days == 10 and r.previous().end == dt.date(2026, 2, 9) and r.previous().days == 10


@pytest.mark.parametrize("kwargs", [
    {"value": "2026-13"}, {"value": "yesterday"}, {"value": "1900"}, {"value": "2026-10-99"},
    {"start": "2026-02-30"}, {"start": "not-a-date", "end": "2026-01-01"},
    {"start": "2026-03-01", "end": "2026-02-01"}, {"start": "2020-01-01", "end": "2026-01-01"},
    {"value": "2026-10", "start": "2026-01-01"},
])
def test_bad_periods_are_invalid(kwargs):
    with pytest.raises(Invalid):
        parse_period(**kwargs)


def test_scope_rejects_unknown_filters_and_values(people):
    m = people["manager"]
    for params in ({"colour": "red"}, {"channel": "pigeon"}, {"priority": "P9"}, {"category": "nope"},
                   {"department": "mars"}, {"grain": "hour"}, {"period": "2026-1x"}):
        with pytest.raises(Invalid):
            parse_scope(m, params)


def test_scope_follows_access(people, org):
    with pytest.raises(PermissionDenied):
        parse_scope(people["agent"], {})
    sup = parse_scope(people["supervisor"], {})
    assert set(sup.department_ids) == {org["store_a"].pk, org["team_a"].pk}
    with pytest.raises(NotFound):
        parse_scope(people["supervisor"], {"department": "store-b"})
    assert parse_scope(people["manager"], {}).department_ids is None
    assert parse_scope(people["manager"], {"department": "store-a"}).department_ids == [org["store_a"].pk, org["team_a"].pk] \
        or set(parse_scope(people["manager"], {"department": "store-a"}).department_ids) == {org["store_a"].pk, org["team_a"].pk}
