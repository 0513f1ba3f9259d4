"""Business calendar: PRC holidays and 调休 from chinesecalendar, admin overrides, store hours."""

import datetime as dt

import pytest

from qingting.sla.calendar import BusinessCalendar, CalendarConfigError, CalendarCoverageError

CN = dt.timezone(dt.timedelta(hours=8))
H = dt.timedelta(hours=1)


def at(y, m, d, hh=0, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=CN)


@pytest.fixture(scope="module")
def office():
    return BusinessCalendar(hours="09:00-12:00,13:30-18:00")


# ---------------------------------------------------------------- statutory days (as chinesecalendar 1.11.0 says)


def test_2026_national_day_week_and_its_make_up_saturday(office):
    for day in range(1, 8):
        assert not office.is_working_day(dt.date(2026, 10, day)), f"10-{day} is a National Day holiday"
    assert office.is_working_day(dt.date(2026, 10, 8))
    assert office.is_working_day(dt.date(2026, 10, 10)), "Saturday 2026-10-10 is a 调休 working day"
    assert not office.is_working_day(dt.date(2026, 10, 11))
    assert office.is_working_day(dt.date(2026, 9, 20)), "Sunday 2026-09-20 is a 调休 working day"
    assert not office.is_working_day(dt.date(2026, 9, 25)), "Mid-Autumn Festival"


def test_make_up_saturday_uses_normal_working_hours(office):
    assert office.business_hours_on(dt.date(2026, 10, 10)) == office.business_hours_on(dt.date(2026, 10, 12))
    assert office.business_hours_on(dt.date(2026, 10, 3)) == ()


def test_working_days_cross_national_day(office):
    start = at(2026, 9, 30, 17)
    assert office.add_working_days(start, 1) == at(2026, 10, 8, 18)
    assert office.add_working_days(start, 3) == at(2026, 10, 10, 18)  # the make-up Saturday counts
    assert office.add_working_days(start, 4) == at(2026, 10, 12, 18)
    assert office.add_working_days(start, 7, day_end="midnight") == dt.datetime(2026, 10, 15, 23, 59, 59, tzinfo=CN)
    assert office.working_days_between(dt.date(2026, 9, 30), dt.date(2026, 10, 12)) == 4


def test_start_day_never_counts_for_working_days(office):
    # before opening, after closing, or on a holiday: 1 working day is the next working day
    assert office.add_working_days(at(2026, 11, 2, 7), 1) == at(2026, 11, 3, 18)
    assert office.add_working_days(at(2026, 11, 2, 23), 1) == at(2026, 11, 3, 18)
    assert office.add_working_days(at(2026, 11, 1, 10), 1) == at(2026, 11, 2, 18)  # Sunday


def test_business_time_crosses_spring_festival_2026(office):
    # Sat 2026-02-14 is a make-up working day, 02-15 .. 02-23 are the holiday
    assert office.add_business_time(at(2026, 2, 13, 16), 4 * H) == at(2026, 2, 14, 11)
    # 1 h left on the make-up Saturday, then 3 h on Tue 02-24: 09:00-12:00 ends exactly at 12:00
    assert office.add_business_time(at(2026, 2, 14, 17), 4 * H) == at(2026, 2, 24, 12)
    assert office.business_time_between(at(2026, 2, 14, 17), at(2026, 2, 24, 14)) == 4.5 * H


def test_business_time_between_is_signed_and_inverse_of_add(office):
    a, b = at(2026, 9, 30, 10), at(2026, 10, 8, 15)
    d = office.business_time_between(a, b)
    assert d == dt.timedelta(hours=6.5 + 4.5)  # 10:00-18:00 minus lunch, then 09:00-15:00 minus lunch
    assert office.business_time_between(b, a) == -d
    assert office.add_business_time(a, d) == b


def test_next_business_moment(office):
    assert office.next_business_moment(at(2026, 11, 2, 12, 30)) == at(2026, 11, 2, 13, 30)  # lunch break
    assert office.next_business_moment(at(2026, 11, 2, 10)) == at(2026, 11, 2, 10)
    assert office.next_business_moment(at(2026, 10, 1, 10)) == at(2026, 10, 8, 9)  # holiday
    assert office.next_business_moment(at(2026, 11, 2, 18)) == at(2026, 11, 3, 9)  # 18:00 is closed


def test_results_are_in_calendar_zone_for_utc_input(office):
    start = dt.datetime(2026, 9, 30, 9, 0, tzinfo=dt.timezone.utc)  # 17:00 in Shanghai
    due = office.add_business_time(start, 7.5 * H)
    assert due == at(2026, 10, 8, 17) and due.utcoffset() == dt.timedelta(hours=8)


def test_calendar_time_and_days(office):
    assert office.add_calendar_time(at(2026, 10, 1, 10), 90 * dt.timedelta(minutes=1)) == at(2026, 10, 1, 11, 30)
    assert office.add_calendar_days(at(2026, 9, 24, 10), 15) == dt.datetime(2026, 10, 9, 23, 59, 59, tzinfo=CN)
    # 民法典 203: a last day on a holiday rolls to the next working day
    rolled = office.add_calendar_days(at(2026, 9, 20, 10), 11, roll_to_working_day=True)
    assert rolled.date() == dt.date(2026, 10, 8)


# ---------------------------------------------------------------- coverage and administrator schedules


def test_year_without_source_raises_a_bilingual_error(office):
    with pytest.raises(CalendarCoverageError) as e:
        office.is_working_day(dt.date(2027, 3, 1))
    msg = str(e.value)
    assert "2027" in msg and "管理员" in msg and "administrator" in msg
    with pytest.raises(CalendarCoverageError):
        office.add_business_time(at(2026, 12, 31, 17), 2 * H)  # 1 h fits into 2026, the 2nd does not
    assert office.add_business_time(at(2026, 12, 31, 17), H) == at(2026, 12, 31, 18)


def test_admin_entered_2027_schedule():
    cal = BusinessCalendar(
        hours="09:00-18:00",
        holidays=["2027-01-01", *[f"2027-02-{d:02d}" for d in range(6, 13)]],
        workdays=["2027-01-02"],  # an administrator-entered make-up Saturday
        declared_years=[2027],
    )
    assert not cal.is_working_day(dt.date(2027, 1, 1))
    assert cal.is_working_day(dt.date(2027, 1, 2))
    assert not cal.is_working_day(dt.date(2027, 1, 3))  # ordinary Sunday
    assert cal.is_working_day(dt.date(2027, 3, 1))  # ordinary Monday
    assert cal.add_business_time(at(2026, 12, 31, 17), 2 * H) == at(2027, 1, 2, 10)
    assert cal.add_working_days(at(2027, 2, 5, 10), 1) == at(2027, 2, 15, 18)
    assert cal.coverage_warning(dt.date(2026, 12, 5)) is None


def test_per_date_overrides_alone_do_not_cover_a_year():
    cal = BusinessCalendar(holidays=["2027-01-01"])
    assert not cal.is_working_day(dt.date(2027, 1, 1))
    with pytest.raises(CalendarCoverageError):
        cal.is_working_day(dt.date(2027, 1, 4))


def test_coverage_warning_from_december(office):
    w = office.coverage_warning(dt.date(2026, 12, 1))
    assert w is not None and w.year == 2027 and "2027" in w.message
    assert office.coverage_warning(dt.date(2026, 11, 30)) is None
    assert office.coverage_warning(dt.date(2025, 12, 15)) is None  # 2026 is known


def test_company_day_off_and_special_hours():
    cal = BusinessCalendar(hours="09:00-18:00", holidays=["2026-11-06"], special_hours={"2026-11-05": "09:00-15:00"})
    assert not cal.is_working_day(dt.date(2026, 11, 6))
    assert cal.add_business_time(at(2026, 11, 5, 14), 2 * H) == at(2026, 11, 9, 10)


# ---------------------------------------------------------------- store open every day


def test_store_calendar_open_weekends_and_holidays():
    store = BusinessCalendar(code="store", mode="weekly", hours="08:30-20:00", holidays=["2026-02-16"])
    assert store.is_working_day(dt.date(2026, 10, 3))  # National Day Saturday: open
    assert store.is_working_day(dt.date(2027, 6, 5))  # weekly mode never needs a holiday schedule
    assert not store.is_working_day(dt.date(2026, 2, 16))  # 除夕 closed by the administrator
    assert store.add_business_time(at(2026, 10, 1, 19, 30), H) == at(2026, 10, 2, 9)
    assert store.add_working_days(at(2026, 10, 1, 10), 2) == at(2026, 10, 3, 20)
    assert store.coverage_warning(dt.date(2026, 12, 20)) is None


def test_weekly_hours_per_weekday():
    cal = BusinessCalendar(mode="weekly", hours={"mon": "09:00-18:00", "sat": "10:00-16:00"})
    assert cal.is_working_day(dt.date(2026, 11, 7)) and not cal.is_working_day(dt.date(2026, 11, 3))
    assert cal.add_business_time(at(2026, 11, 2, 17), 2 * H) == at(2026, 11, 7, 11)


# ---------------------------------------------------------------- impossible configurations


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"hours": "18:00-09:00"}, ["结束", "end before they start"]),
        ({"hours": "09:00-12:00,11:00-13:00"}, ["重叠", "overlap"]),
        ({"hours": "9点到18点"}, ["cannot read"]),
        ({"hours": "09:00-25:00"}, ["out of range"]),
        ({"hours": ""}, ["no business hours"]),
        ({"mode": "weekly", "hours": {"mon": ""}}, ["no business hours"]),
        ({"mode": "monthly"}, ["unknown calendar mode"]),
        ({"timezone": "Mars/Olympus"}, ["unknown time zone"]),
        ({"holidays": ["2026-10-10"], "workdays": ["2026-10-10"]}, ["both"]),
        ({"hours": {"funday": "09:00-18:00"}}, ["unknown weekday"]),
        ({"holidays": ["2026-13-01"]}, ["cannot read date"]),
    ],
)
def test_impossible_configurations_are_refused(kwargs, words):
    with pytest.raises(CalendarConfigError) as e:
        BusinessCalendar(**kwargs)
    for w in words:
        assert w in str(e.value)


def test_a_declared_year_without_any_working_day_is_refused():
    every_day = [dt.date(2027, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    with pytest.raises(CalendarConfigError, match="no working day in 2027"):
        BusinessCalendar(declared_years=[2027], holidays=every_day)


def test_bad_arguments(office):
    with pytest.raises(CalendarConfigError, match="negative"):
        office.add_business_time(at(2026, 11, 2, 10), -H)
    with pytest.raises(CalendarConfigError, match="timezone-aware"):
        office.add_business_time(dt.datetime(2026, 11, 2, 10), H)
    with pytest.raises(CalendarConfigError):
        office.nth_working_day_after(dt.date(2026, 11, 2), 0)


def test_config_round_trip(office):
    again = BusinessCalendar.from_config(office.to_config())
    assert again.add_business_time(at(2026, 9, 30, 17), 7.5 * H) == at(2026, 10, 8, 17)
    with pytest.raises(CalendarConfigError, match="unknown calendar settings"):
        BusinessCalendar.from_config({"hourz": "09:00-18:00"})
