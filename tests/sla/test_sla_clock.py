"""Deadline clock: due moments, pause/resume, extensions, states, remaining time."""

import datetime as dt

import pytest

from qingting.sla.calendar import BusinessCalendar, CalendarConfigError
from qingting.sla.clock import (
    Extension,
    Pause,
    Target,
    budget_of,
    compute_at_risk_at,
    compute_due,
    evaluate,
)
from qingting.sla.presets import PresetError, check_extension, load_presets

CN = dt.timezone(dt.timedelta(hours=8))


def at(y, m, d, hh=0, mm=0, ss=0):
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=CN)


@pytest.fixture(scope="module")
def presets():
    return load_presets()


@pytest.fixture(scope="module")
def office(presets):
    return presets.calendars["standard"]  # 09:00-12:00, 13:30-18:00, PRC holidays


# ---------------------------------------------------------------- the acceptance case


def test_p3_received_before_national_day_gets_first_response_on_2026_10_08(presets, office):
    facts = {"priority": "P3", "channel": "phone"}
    policy = presets.select_policy(facts)
    assert policy.code == "enterprise_general"
    rule = next(t for t in policy.targets_for(facts) if t.kind == "first_response")
    assert (rule.target.amount, rule.target.unit) == (1, "business_days")
    cal = presets.calendars[policy.calendar]
    due = compute_due(rule.target, at(2026, 9, 30, 17), cal)
    # 1 business day = 7.5 h: 17:00-18:00 on 09-30, then 6.5 h on 10-08 (first working day after the holiday)
    assert due == at(2026, 10, 8, 17)


def test_priority_change_recomputes_from_the_same_start(presets, office):
    start = at(2026, 11, 2, 10)  # Monday
    pol = presets.policy("enterprise_general")

    def due_for(priority):
        rule = next(t for t in pol.targets_for({"priority": priority}) if t.kind == "first_response")
        return compute_due(rule.target, start, office)

    assert due_for("P3") == at(2026, 11, 3, 10)  # 7.5 business hours
    assert due_for("P2") == at(2026, 11, 2, 15, 30)  # 4 business hours (lunch excluded)
    assert due_for("P1") == at(2026, 11, 2, 11)  # 1 calendar hour
    assert due_for("P4") == at(2026, 11, 4, 10)


def test_15_calendar_days_vs_7_working_days_from_the_same_start(office):
    start = at(2026, 9, 24, 10)  # Thursday before Mid-Autumn and National Day
    bank = Target("resolution", 15, "calendar_days")
    samr = Target("contact", 7, "working_days", day_end="midnight")
    assert compute_due(bank, start, office) == at(2026, 10, 9, 23, 59, 59)
    # 09-28, 09-29, 09-30, 10-08, 10-09, 10-10 (调休 Saturday), 10-12
    assert compute_due(samr, start, office) == at(2026, 10, 12, 23, 59, 59)
    # in an ordinary fortnight the working-day deadline comes first
    start = at(2026, 11, 2, 10)
    assert compute_due(bank, start, office).date() == dt.date(2026, 11, 17)
    assert compute_due(samr, start, office).date() == dt.date(2026, 11, 11)


def test_business_target_crossing_spring_festival(office):
    t = Target("first_response", 2, "business_days")
    assert compute_due(t, at(2026, 2, 13, 15), office) == at(2026, 2, 24, 15)  # 02-14 counts, 02-15..23 off


# ---------------------------------------------------------------- pause and resume


def test_pause_and_resume_in_business_time(office):
    t = Target("first_response", 4, "business_hours")
    start = at(2026, 11, 2, 10)
    assert compute_due(t, start, office) == at(2026, 11, 2, 15, 30)
    paused = Pause(at(2026, 11, 2, 11), at(2026, 11, 3, 10), reason="customer")
    # 1 h used before the pause; 3 h left from Tue 10:00: 10-12, then 13:30-14:30
    assert compute_due(t, start, office, pauses=[paused]) == at(2026, 11, 3, 14, 30)
    # a pause entirely outside business hours changes nothing for a business-time target
    night = Pause(at(2026, 11, 2, 19), at(2026, 11, 3, 8))
    assert compute_due(t, start, office, pauses=[night]) == at(2026, 11, 2, 15, 30)


def test_open_pause_freezes_remaining_and_state_is_paused(office):
    t = Target("first_response", 4, "business_hours")
    start = at(2026, 11, 2, 10)
    pause = Pause(at(2026, 11, 2, 11), None, reason="customer")
    st = evaluate(t, start, office, now=at(2026, 11, 2, 16), pauses=[pause])
    assert st.state == "paused" and st.provisional
    assert st.remaining.amount == pytest.approx(3.0) and st.remaining.unit == "business_hours"
    assert st.due_at == at(2026, 11, 3, 10)  # "if resumed now": 16-18 then 09-10
    later = evaluate(t, start, office, now=at(2026, 11, 4, 16), pauses=[pause])
    assert later.state == "paused" and later.remaining.amount == pytest.approx(3.0)
    resumed = evaluate(t, start, office, now=at(2026, 11, 4, 17), pauses=[Pause(pause.start, at(2026, 11, 4, 16))])
    assert resumed.state == "running" and resumed.remaining.amount == pytest.approx(2.0)


def test_pause_in_calendar_time(office):
    t = Target("first_response", 1, "calendar_hours")
    start = at(2026, 10, 1, 10)
    p = Pause(at(2026, 10, 1, 10, 30), at(2026, 10, 1, 10, 50))
    assert compute_due(t, start, office, pauses=[p]) == at(2026, 10, 1, 11, 20)
    # overlapping and duplicated pauses count once; pauses before the start are ignored
    ps = [p, Pause(at(2026, 10, 1, 10, 40), at(2026, 10, 1, 10, 50)), Pause(at(2026, 10, 1, 8), at(2026, 10, 1, 9))]
    assert compute_due(t, start, office, pauses=ps) == at(2026, 10, 1, 11, 20)


def test_pause_extends_working_day_deadline_by_whole_days(office):
    t = Target("resolution", 7, "working_days")
    start = at(2026, 11, 2, 10)
    assert compute_due(t, start, office) == at(2026, 11, 11, 18)
    one_day = Pause(at(2026, 11, 4, 9), at(2026, 11, 5, 9))  # exactly Wednesday's business hours
    assert compute_due(t, start, office, pauses=[one_day]) == at(2026, 11, 12, 18)
    an_hour = Pause(at(2026, 11, 4, 9), at(2026, 11, 4, 10))  # part of a day: rounded up to a day
    assert compute_due(t, start, office, pauses=[an_hour]) == at(2026, 11, 12, 18)
    weekend = Pause(at(2026, 11, 7, 9), at(2026, 11, 9, 0))  # no business hours paused
    assert compute_due(t, start, office, pauses=[weekend]) == at(2026, 11, 11, 18)


def test_bank_mediation_pause_excluded_from_calendar_days(office):
    t = Target("resolution", 15, "calendar_days")
    start = at(2026, 11, 2, 10)
    assert compute_due(t, start, office) == at(2026, 11, 17, 23, 59, 59)
    mediation = Pause(at(2026, 11, 5, 0), at(2026, 11, 15, 0), reason="mediation")  # 10 whole days
    assert compute_due(t, start, office, pauses=[mediation]) == at(2026, 11, 27, 23, 59, 59)


def test_breached_before_the_pause_stays_breached(office):
    t = Target("first_response", 1, "calendar_hours")
    st = evaluate(t, at(2026, 11, 2, 10), office, now=at(2026, 11, 2, 13), pauses=[Pause(at(2026, 11, 2, 12))])
    assert st.state == "breached"
    assert st.remaining.overdue and st.remaining.amount == pytest.approx(-2.0)


def test_bad_pauses_are_refused(office):
    t = Target("first_response", 1, "calendar_hours")
    with pytest.raises(CalendarConfigError, match="needs `now`"):
        compute_due(t, at(2026, 11, 2, 10), office, pauses=[Pause(at(2026, 11, 2, 11))])
    with pytest.raises(CalendarConfigError, match="ends before it starts"):
        compute_due(t, at(2026, 11, 2, 10), office, pauses=[Pause(at(2026, 11, 2, 11), at(2026, 11, 2, 10))])


# ---------------------------------------------------------------- extensions


def test_bank_extensions_with_approval(presets, office):
    rule = presets.policy("bank_insurance").targets[0]
    start = at(2026, 11, 2, 10)
    first = Extension(15, reason="情况复杂，需调取交易记录")
    assert check_extension(rule, [], first).step == 1 and not rule.extensions[0].approval
    assert compute_due(rule.target, start, office, extensions=[first]) == at(2026, 12, 2, 23, 59, 59)
    pending = Extension(30, reason="需总行审批", approved=False)
    with pytest.raises(PresetError, match="needs an approval"):
        check_extension(rule, [first], pending)
    assert budget_of(rule.target, [first, pending]) == 30  # not approved: does not count
    approved = Extension(30, reason="需总行审批", approved=True)
    assert check_extension(rule, [first], approved).notice
    due = compute_due(rule.target, start, office, extensions=[first, approved])
    assert due == at(2027, 1, 1, 23, 59, 59)  # 60 calendar days: computable without 2027's schedule
    with pytest.raises(PresetError, match="no further extension"):
        check_extension(rule, [first, approved], Extension(1, reason="再延"))
    with pytest.raises(PresetError, match="at most"):
        check_extension(rule, [], Extension(20, reason="太长"))


def test_extension_needs_a_reason_and_positive_amount():
    with pytest.raises(ValueError, match="needs a reason"):
        Extension(5, reason="  ")
    with pytest.raises(ValueError, match="positive"):
        Extension(-1, reason="x")


# ---------------------------------------------------------------- states and remaining


def test_state_met_and_breached_on_completion(office):
    t = Target("first_response", 4, "business_hours")
    start = at(2026, 11, 2, 10)
    met = evaluate(t, start, office, now=at(2026, 11, 5, 9), completed_at=at(2026, 11, 2, 15))
    assert met.state == "met" and met.remaining.amount == pytest.approx(0.5)
    late = evaluate(t, start, office, now=at(2026, 11, 5, 9), completed_at=at(2026, 11, 3, 10))
    assert late.state == "breached" and late.remaining.amount == pytest.approx(-3.5)
    exactly = evaluate(t, start, office, now=at(2026, 11, 5), completed_at=at(2026, 11, 2, 15, 30))
    assert exactly.state == "met"


def test_running_at_risk_and_breached(office):
    t = Target("first_response", 4, "business_hours", at_risk=0.75)
    start = at(2026, 11, 2, 10)
    assert compute_at_risk_at(t, start, office) == at(2026, 11, 2, 14, 30)  # 3 of 4 business hours
    early = evaluate(t, start, office, now=at(2026, 11, 2, 14))
    assert (early.state, early.at_risk) == ("running", False)
    risky = evaluate(t, start, office, now=at(2026, 11, 2, 14, 45))
    assert (risky.state, risky.at_risk) == ("running", True)
    assert risky.remaining.amount == pytest.approx(0.75) and risky.used == pytest.approx(0.8125)
    assert evaluate(t, start, office, now=at(2026, 11, 2, 15, 30)).state == "running"  # due moment itself
    gone = evaluate(t, start, office, now=at(2026, 11, 3, 10))
    assert gone.state == "breached" and not gone.at_risk
    assert gone.remaining.amount == pytest.approx(-3.5) and gone.remaining.text() == "已超时 3.5 工作小时"


def test_remaining_in_working_days(office):
    t = Target("resolution", 7, "working_days")
    start = at(2026, 9, 30, 17)
    st = evaluate(t, start, office, now=at(2026, 10, 9, 13, 30))
    # due end of 10-15; left: half of 10-09 (3 h of 7.5 → 4.5/7.5 = 0.6) + 10-10, 12, 13, 14, 15
    assert st.due_at == at(2026, 10, 15, 18)
    assert st.remaining.amount == pytest.approx(5.6)
    d = st.to_dict()
    assert d["kind"] == "resolution" and d["state"] == "running" and d["due_at"] == "2026-10-15T18:00:00+08:00"
    assert d["remaining"]["unit"] == "working_days" and d["remaining"]["text"] == "剩余 5.6 个工作日"


def test_backdated_start_counts_from_received_at(office):
    t = Target("first_response", 1, "calendar_hours")
    st = evaluate(t, at(2026, 11, 2, 9), office, now=at(2026, 11, 2, 12))
    assert st.state == "breached" and st.due_at == at(2026, 11, 2, 10)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"amount": -1, "unit": "business_hours"}, "must be positive"),
        ({"amount": 0, "unit": "business_hours"}, "must be positive"),
        ({"amount": 1.5, "unit": "working_days"}, "whole days"),
        ({"amount": 1, "unit": "fortnights"}, "unknown unit"),
        ({"amount": 1, "unit": "working_days", "day_end": "noon"}, "close or midnight"),
        ({"amount": 1, "unit": "working_days", "at_risk": 1.5}, "between 0 and 1"),
        ({"amount": "1", "unit": "working_days"}, "expected a number"),
    ],
)
def test_impossible_targets_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Target("resolution", **kwargs)
    with pytest.raises(ValueError, match="unknown deadline kind"):
        Target("lunch", 1, "calendar_hours")
