"""Deadlines of complaints (Django side): set on creation and at steps, met, paused and
resumed, extended with approval, recomputed on a priority change, swept (warning, breach,
escalation). Time is frozen by passing fixed `now` values to the services."""
from __future__ import annotations

import datetime as dt

import pytest

from qingting.complaints import services as complaint_services
from qingting.complaints.models import Complaint, Event
from qingting.core.errors import Conflict, PermissionDenied
from qingting.sla import queries, services
from qingting.sla.models import Deadline, DeadlineExtension

CN = dt.timezone(dt.timedelta(hours=8))
pytestmark = pytest.mark.django_db


def at(*args):
    return dt.datetime(*args, tzinfo=CN)


def events(c, prefix="deadline."):
    return list(Event.objects.filter(complaint=c, kind__startswith=prefix).order_by("id").values_list("kind", flat=True))


def dl(c, kind):
    return Deadline.objects.exclude(state="cancelled").get(complaint=c, kind=kind)


def test_national_day_first_response_via_api_and_backdated_count(api_for):
    """P3 received Wed 2026-09-30 17:00 (last working day before the National Day week):
    1 business day of first response ends 17:00 on Thu 10-08; 5 working days of resolution
    count the 调休 Saturday 10-10 and end Tue 10-13 18:00."""
    st, body = api_for("agent").post("/api/v1/complaints", {
        "subject": "空调不制冷", "description": "新车空调不制冷，4S店说要等配件。", "channel": "phone", "priority": "P3",
        "received_at": "2026-09-30T17:00:00+08:00", "customer": {"name": "李女士", "mobile": "13900139000"}})
    assert st == 201, body
    by_kind = {d["kind"]: d for d in body["deadlines"]}
    assert set(by_kind) == {"first_response", "resolution"}
    assert dt.datetime.fromisoformat(by_kind["first_response"]["due_at"].replace("Z", "+00:00")) == at(2026, 10, 8, 17)
    assert dt.datetime.fromisoformat(by_kind["resolution"]["due_at"].replace("Z", "+00:00")) == at(2026, 10, 13, 18)
    assert by_kind["first_response"]["policy"] == "enterprise_general"
    # backdated: already overdue when registered → live state is breached, remaining negative
    assert by_kind["first_response"]["state"] == "breached"
    assert by_kind["first_response"]["remaining"]["seconds"] < 0
    st, again = api_for("agent").get(f"/api/v1/complaints/{body['number']}")
    assert [d["kind"] for d in again["deadlines"]] == [d["kind"] for d in body["deadlines"]]


def test_spring_festival_and_regulatory_15_calendar_vs_7_working_days(new_complaint):
    """The same start (Fri 2026-02-13, eve of the 2026 Spring Festival break) under the bank
    preset (15 calendar days) and the 12315 preset (7 working days)."""
    bank = new_complaint(profile="finance", priority="P3")
    reg = new_complaint(channel="regulator", description="消费者通过12315平台投诉：商品质量问题")
    start = at(2026, 2, 13, 10)
    services.start_deadlines(bank, "accepted", start)
    services.start_deadlines(reg, "accepted", start)
    assert dl(bank, "resolution").policy_code == "bank_insurance"
    assert dl(bank, "resolution").due_at == at(2026, 2, 28, 23, 59, 59)
    assert dl(reg, "contact").policy_code == "samr_12315"
    # 12315 mediation: 45 working days from 02-13 (holiday 02-15..02-23, make-up 02-14 and 02-28)
    assert dl(reg, "resolution").due_at.astimezone(CN).date() > dt.date(2026, 4, 15)
    # the 7-working-day contact deadline counts from the (recent) received_at; compute the pure way
    from qingting.sla import config
    from qingting.sla.clock import Target, compute_due

    cal = config.calendar("standard")
    seven = compute_due(Target(kind="contact", amount=7, unit="working_days", day_end="midnight"), start, cal)
    fifteen = compute_due(Target(kind="resolution", amount=15, unit="calendar_days"), start, cal)
    # make-up Saturdays 02-14 and 02-28 count, 02-15..02-23 are off: day 7 is Mon 03-02
    assert seven == at(2026, 3, 2, 23, 59, 59)
    assert fifteen == at(2026, 2, 28, 23, 59, 59)


def test_first_step_and_message_meet_first_response(new_complaint, people):
    c = new_complaint(priority="P2")
    assert set(Deadline.objects.filter(complaint=c).values_list("kind", flat=True)) == {"first_response", "resolution"}
    complaint_services.add_message(c.number, actor=people["agent"], body="您好，我们已收到您的投诉，正在处理。")
    d = dl(c, "first_response")
    assert d.state == "met" and d.met_at is not None
    assert "deadline.met" in events(c)
    # an inbound message does not meet anything; resolution still running
    assert dl(c, "resolution").state == "running"


def test_leaving_accept_meets_first_response_and_close_meets_resolution(new_complaint, people):
    c = new_complaint(profile="finance")
    assert not Deadline.objects.filter(complaint=c, kind="resolution").exists()  # bank: starts at 受理
    complaint_services.transition_complaint(c.number, actor=people["agent"], to="soothe")
    res = dl(c, "resolution")
    assert res.policy_code == "bank_insurance" and res.state == "running"
    # close straight away (supervisor override) meets the resolution deadline
    Complaint.objects.filter(pk=c.pk).update(step=c.variant.steps.get(code="negotiate"))
    complaint_services.transition_complaint(c.number, actor=people["supervisor"], to="close", data={
        "root_cause": "配件缺货", "lessons_learned": "提前备货", "override_reason": "客户已电话确认接受",
        "customer_answer": "accept"})
    res.refresh_from_db()
    assert res.state == "met" and res.met_at is not None


def test_reopen_restarts_the_resolution_clock_and_a_second_close_meets_it(new_complaint, people):
    c = new_complaint(profile="finance")
    complaint_services.transition_complaint(c.number, actor=people["agent"], to="soothe")
    first = dl(c, "resolution")
    Complaint.objects.filter(pk=c.pk).update(step=c.variant.steps.get(code="negotiate"))
    close = {"root_cause": "配件缺货", "lessons_learned": "提前备货", "override_reason": "客户已电话确认接受",
             "customer_answer": "accept"}
    complaint_services.transition_complaint(c.number, actor=people["supervisor"], to="close", data=dict(close))
    complaint_services.transition_complaint(c.number, actor=people["supervisor"], to="confirm",
                                            data={"reason": "客户反映问题复发"})
    resolutions = list(Deadline.objects.filter(complaint=c, kind="resolution").order_by("id"))
    assert [d.state for d in resolutions] == ["met", "running"]
    again = resolutions[1]
    assert again.pk != first.pk and again.starts_at > first.starts_at and again.due_at >= first.due_at
    started = Event.objects.filter(complaint=c, kind="deadline.started").order_by("-id").first()
    assert started.after["deadline_id"] == again.pk and "重新打开" in started.note
    Complaint.objects.filter(pk=c.pk).update(step=c.variant.steps.get(code="negotiate"))
    complaint_services.transition_complaint(c.number, actor=people["supervisor"], to="close", data=dict(close))
    again.refresh_from_db()
    assert again.state == "met"
    assert Deadline.objects.filter(complaint=c, kind="resolution").count() == 2


def test_pause_and_resume_with_reason(new_complaint, people):
    c = new_complaint(profile="finance")
    start = at(2026, 3, 2, 10)  # Monday
    (d,) = services.start_deadlines(c, "accepted", start)
    assert d.due_at == at(2026, 3, 17, 23, 59, 59)
    agent = people["agent"]
    with pytest.raises(Conflict):  # the bank target may pause for appraisal/mediation only
        services.pause_deadline(c.number, d.pk, actor=agent, reason="customer", now=at(2026, 3, 4, 9))
    services.pause_deadline(c.number, d.pk, actor=agent, reason="appraisal", note="送第三方检测", now=at(2026, 3, 4, 9))
    d.refresh_from_db()
    assert d.state == "paused"
    row = services.deadlines_for(c, now=at(2026, 3, 6, 9))[0]
    assert row["state"] == "paused" and row["provisional"] and row["paused_reason"] == "外部鉴定/检测/评估"
    with pytest.raises(Conflict):
        services.pause_deadline(c.number, d.pk, actor=agent, reason="appraisal", now=at(2026, 3, 5, 9))
    # five days later the report is back: the 15-calendar-day deadline moves by 5 days
    services.resume_deadline(c.number, d.pk, actor=agent, note="检测报告已出", now=at(2026, 3, 9, 9))
    d.refresh_from_db()
    assert d.state == "running" and d.paused_since is None
    assert d.due_at == at(2026, 3, 22, 23, 59, 59)
    assert events(c)[-2:] == ["deadline.paused", "deadline.resumed"]
    resumed = Event.objects.filter(complaint=c, kind="deadline.resumed").get()
    assert resumed.after["paused_for_seconds"] == 5 * 86400 and resumed.after["reason"] == "appraisal"


def test_extension_with_approval(new_complaint, people):
    c = new_complaint(profile="finance")
    (d,) = services.start_deadlines(c, "accepted", at(2026, 3, 2, 10))
    agent, sup = people["agent"], people["supervisor"]
    # step 1: complex case, to 30 days — no approval needed
    e1 = services.request_extension(c.number, d.pk, actor=agent, amount=15, reason="情况复杂", now=at(2026, 3, 10, 9))
    assert e1.status == "approved" and e1.approver is None
    d.refresh_from_db()
    assert d.due_at == at(2026, 4, 1, 23, 59, 59)
    # step 2 needs an approval: asked by the agent it waits; more than the rule allows is refused
    with pytest.raises(Conflict):
        services.request_extension(c.number, d.pk, actor=agent, amount=31, reason="特别复杂", now=at(2026, 3, 20, 9))
    e2 = services.request_extension(c.number, d.pk, actor=agent, amount=30, reason="需总行审批", now=at(2026, 3, 20, 9))
    assert e2.status == "pending" and e2.needs_approval
    d.refresh_from_db()
    assert d.due_at == at(2026, 4, 1, 23, 59, 59)  # not counted before approval
    with pytest.raises(PermissionDenied):
        services.decide_extension(c.number, e2.pk, actor=agent, approve=True, now=at(2026, 3, 21, 9))
    services.decide_extension(c.number, e2.pk, actor=sup, approve=True, note="同意", now=at(2026, 3, 21, 9))
    d.refresh_from_db()
    assert d.due_at == at(2026, 5, 1, 23, 59, 59)
    ext_event = Event.objects.filter(complaint=c, kind="deadline.extended").order_by("id").last()
    assert ext_event.after["approved_by"] == sup.username and ext_event.after["needs_approval"] is True
    assert Event.objects.filter(complaint=c, kind="deadline.extension_notice", customer_visible=True).count() == 2
    with pytest.raises(Conflict):  # no third extension
        services.request_extension(c.number, d.pk, actor=sup, amount=1, reason="再延", now=at(2026, 4, 2, 9))
    assert DeadlineExtension.objects.filter(deadline=d, status="approved").count() == 2


def test_priority_change_recomputes_and_p1_escalates(new_complaint, people):
    received = at(2026, 11, 2, 10)  # Monday
    c = new_complaint(priority="P3", received_at=received.isoformat())
    assert dl(c, "first_response").due_at == at(2026, 11, 3, 10)  # 1 business day
    complaint_services.update_complaint(c.number, actor=people["agent"], changes={"priority": "P1"})
    fr = dl(c, "first_response")
    assert fr.due_at == at(2026, 11, 2, 11) and fr.target["unit"] == "calendar_hours"
    assert dl(c, "resolution").due_at == at(2026, 11, 3, 10)  # P1: 24 calendar hours
    ev = Event.objects.filter(complaint=c, kind="deadline.recomputed").order_by("id").first()
    assert ev.before["due_at"].startswith("2026-11-03T02:00") and ev.note == "priority"
    c.refresh_from_db()
    esc = Event.objects.get(complaint=c, kind="complaint.escalated")
    assert esc.after["trigger"] == "p1" and c.escalated_to == people["supervisor"]


def test_p1_and_repeat_escalate_at_creation(new_complaint, people):
    c = new_complaint(priority="P1")
    c.refresh_from_db()
    assert c.escalation_level == 1 and c.escalated_to == people["supervisor"]
    again = new_complaint(priority="P4", subject="又是同样的问题")  # same customer mobile within 30 days
    assert Event.objects.get(complaint=again, kind="complaint.escalated").after["trigger"] == "repeat"


def test_sweep_warns_once_breaches_and_escalates_twice(new_complaint, people):
    received = at(2026, 11, 2, 10)
    c = new_complaint(priority="P2", received_at=received.isoformat())
    fr = dl(c, "first_response")  # 4 business hours: due 15:30 (lunch 12:00-13:30)
    assert fr.due_at == at(2026, 11, 2, 15, 30) and fr.at_risk_at == at(2026, 11, 2, 14, 30)
    assert services.sweep_deadlines(now=at(2026, 11, 2, 14, 0))["at_risk"] == 0
    assert services.sweep_deadlines(now=at(2026, 11, 2, 14, 40))["at_risk"] == 1
    assert services.sweep_deadlines(now=at(2026, 11, 2, 14, 50))["at_risk"] == 0  # never twice
    assert events(c).count("deadline.at_risk") == 1
    sup = people["supervisor"]
    panel = queries.panel_for(sup, now=at(2026, 11, 2, 14, 50))
    assert [(r["number"], r["state"]) for r in panel] == [(c.number, "at_risk")]
    counts = services.sweep_deadlines(now=at(2026, 11, 2, 15, 31))
    assert counts["breached"] == 1 and counts["escalated"] == 1
    c.refresh_from_db()
    assert c.escalated_to == sup and c.escalation_level == 1
    esc = Event.objects.filter(complaint=c, kind="complaint.escalated").get()
    assert esc.after["trigger"] == "sla_breach" and esc.actor is None
    assert services.sweep_deadlines(now=at(2026, 11, 2, 15, 40))["breached"] == 0
    # in the supervisor's queue: escalated to them, and on the panel as breached
    assert c in Complaint.objects.filter(escalated_to=sup)
    assert queries.panel_for(sup, now=at(2026, 11, 2, 16))[0]["state"] == "breached"
    # still unhandled 4 hours later: the next level up (manager)
    assert services.sweep_deadlines(now=at(2026, 11, 2, 19, 0))["escalated_again"] == 0
    assert services.sweep_deadlines(now=at(2026, 11, 2, 19, 32))["escalated_again"] == 1
    c.refresh_from_db()
    assert c.escalated_to == people["manager"] and c.escalation_level == 2
    assert services.sweep_deadlines(now=at(2026, 11, 3, 9))["escalated_again"] == 0


def test_pause_api_and_preview_api(api_for, new_complaint):
    c = new_complaint(priority="P3")
    res = dl(c, "resolution")
    client = api_for("agent")
    st, body = client.post(f"/api/v1/complaints/{c.number}/deadlines/{res.pk}/pause", {"reason": "mediation"})
    assert st == 409 and body["error"]["code"] == "pause_not_allowed"
    st, body = client.post(f"/api/v1/complaints/{c.number}/deadlines/{res.pk}/pause", {"reason": "customer",
                                                                                          "note": "等客户提供发票"})
    assert st == 200 and body["state"] == "paused"
    st, body = client.post(f"/api/v1/complaints/{c.number}/deadlines/{res.pk}/resume", {})
    assert st == 200 and body["state"] == "running"
    st, body = api_for("other_agent").get(f"/api/v1/complaints/{c.number}/deadlines")
    assert st == 404  # another store's agent cannot see it
    st, body = client.get("/api/v1/sla/preview?priority=P2&received_at=2026-11-02T10:00:00%2B08:00")
    assert st == 200 and body["policy"]["code"] == "enterprise_general"
    fr = next(d for d in body["deadlines"] if d["kind"] == "first_response")
    assert fr["due_at"].startswith("2026-11-02T15:30")


def test_promise_deadline(new_complaint, people):
    c = new_complaint()
    d = services.add_promise(c.number, actor=people["agent"], name="refund_48h", now=at(2026, 11, 20, 10))
    assert d.due_at == at(2026, 11, 22, 10)
    services.complete_deadline(c.number, d.pk, actor=people["agent"], now=at(2026, 11, 21, 9))
    d.refresh_from_db()
    assert d.state == "met"
