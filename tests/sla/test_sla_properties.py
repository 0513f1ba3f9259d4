"""Property tests: due moments are monotone in the duration and pauses never bring them earlier."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from qingting.sla.calendar import BusinessCalendar
from qingting.sla.clock import Pause, Target, compute_due

CN = dt.timezone(dt.timedelta(hours=8))
OFFICE = BusinessCalendar(hours="09:00-12:00,13:30-18:00")
STORE = BusinessCalendar(mode="weekly", hours="08:30-20:00")

starts = st.builds(
    lambda minutes: dt.datetime(2025, 1, 1, tzinfo=CN) + dt.timedelta(minutes=minutes),
    st.integers(0, 540 * 24 * 60),  # 2025-01-01 .. mid 2026: results stay inside covered years
)
units = st.sampled_from(
    [("calendar_hours", 200), ("business_hours", 200), ("business_days", 20), ("working_days", 60), ("calendar_days", 60)]
)
cals = st.sampled_from([OFFICE, STORE])


@settings(max_examples=150, deadline=None)
@given(start=starts, unit=units, a=st.integers(1, 10_000), b=st.integers(1, 10_000), cal=cals)
def test_due_is_monotone_in_duration(start, unit, a, b, cal):
    name, top = unit
    x, y = sorted((1 + a % top, 1 + b % top))
    due_x = compute_due(Target("resolution", x, name), start, cal)
    due_y = compute_due(Target("resolution", y, name), start, cal)
    assert due_x <= due_y
    assert due_x >= start


@settings(max_examples=150, deadline=None)
@given(
    start=starts,
    unit=units,
    amount=st.integers(1, 10_000),
    pauses=st.lists(st.tuples(st.integers(-2000, 40_000), st.integers(0, 10_000)), max_size=4),
    cal=cals,
)
def test_pausing_never_makes_due_earlier(start, unit, amount, pauses, cal):
    name, top = unit
    target = Target("resolution", 1 + amount % top, name)
    ps = [
        Pause(start + dt.timedelta(minutes=s), start + dt.timedelta(minutes=s + length))
        for s, length in pauses
    ]
    base = compute_due(target, start, cal)
    with_pauses = compute_due(target, start, cal, pauses=ps)
    assert with_pauses >= base
    # adding one more pause on top never brings it earlier either
    if ps:
        assert compute_due(target, start, cal, pauses=ps[:-1]) <= with_pauses


@settings(max_examples=150, deadline=None)
@given(start=starts, minutes=st.integers(0, 200 * 60), cal=cals)
def test_business_time_add_and_between_agree(start, minutes, cal):
    d = dt.timedelta(minutes=minutes)
    due = cal.add_business_time(start, d)
    assert cal.business_time_between(start, due) == d
