"""The set-based sweep: many deadlines in one batch behave like the single-row path did —
events on the timeline, outbox rows, one escalation per complaint with the same event shape
as a manual escalation, hooks run, closed complaints left alone."""
import datetime as dt

import pytest
from django.utils import timezone

from qingting.complaints import hooks
from qingting.complaints import services as complaint_services
from qingting.complaints.models import Complaint, Event
from qingting.notify.models import Delivery
from qingting.sla import services
from qingting.sla.models import Deadline

pytestmark = pytest.mark.django_db


def _customer(i):
    return {"name": f"客户{i}", "mobile": f"1390000{i:04d}"}  # different customers: no repeat escalation


def _due(complaints, now, *, warned=True):
    ids = Deadline.objects.filter(complaint__in=complaints, kind="first_response")
    ids.update(at_risk_at=now - dt.timedelta(hours=2), due_at=now - dt.timedelta(minutes=1),
               warned_at=now if warned else None)


def test_a_batch_breaches_escalates_each_complaint_once_and_writes_outbox_rows(new_complaint, people):
    sup = people["supervisor"]
    sup.email = "sup@example.com"
    sup.save()
    now = timezone.now()
    many = [new_complaint(priority="P3", subject=f"批量超时 {i}", assignee="agent_a", customer=_customer(i)) for i in range(7)]
    # a complaint whose two deadlines breach in the same batch is still escalated once
    Deadline.objects.filter(complaint=many[0]).update(at_risk_at=now - dt.timedelta(hours=2),
                                                      due_at=now - dt.timedelta(minutes=1), warned_at=now)
    _due(many, now)
    versions = {c.pk: Complaint.objects.get(pk=c.pk).version for c in many}
    seen = []
    hook = hooks.register("updated", lambda c, changes, actor: seen.append((c.pk, set(changes))))
    try:
        counts = services.sweep_deadlines(now=now, batch=3)  # several batches
    finally:
        hooks.on_updated.remove(hook)
    breached = Deadline.objects.filter(complaint__in=many, state="breached").count()
    assert counts["breached"] == breached and breached >= 7
    assert counts["escalated"] == 7
    assert Event.objects.filter(complaint__in=many, kind="deadline.breached").count() == breached
    for c in many:
        c.refresh_from_db()
        assert c.escalation_level == 1 and c.escalated_to == sup
        assert c.version == versions[c.pk] + 1
        esc = Event.objects.get(complaint=c, kind="complaint.escalated")
        assert esc.before == {"escalation_level": 0, "escalated_to": None}
        assert esc.after == {"escalation_level": 1, "escalated_to": sup.username, "trigger": "sla_breach"}
        assert esc.actor is None and "超出办理时限" in esc.note
    assert sorted(pk for pk, _ in seen) == sorted(c.pk for c in many)
    assert all(ch == {"escalation_level", "escalated_to"} for _, ch in seen)
    # outbox: breach notices to the supervisor (the agent has no address here) and the escalation notices
    assert Delivery.objects.filter(event="deadline.breached", address="sup@example.com").count() == breached
    assert Delivery.objects.filter(event="complaint.escalated", address="sup@example.com").count() == 7
    # a second sweep finds nothing
    assert services.sweep_deadlines(now=now + dt.timedelta(minutes=1))["breached"] == 0
    assert Event.objects.filter(complaint__in=many, kind="complaint.escalated").count() == 7


def test_escalate_many_matches_single_escalation_and_skips_closed(new_complaint, people):
    a, b, closed = (new_complaint(priority="P3", subject=f"升级 {i}", customer=_customer(i)) for i in range(3))
    Complaint.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    complaint_services.escalate_for_sla(b.pk, trigger="sla_breach", reason="先升一级")  # b is at level 1
    done = complaint_services.escalate_many_for_sla(
        [(a.pk, "sla_breach", "甲"), (b.pk, "sla_unhandled", "乙"), (closed.pk, "sla_breach", "丙"),
         (a.pk, "sla_breach", "重复")])
    assert done == {a.pk: people["supervisor"], b.pk: people["manager"]}
    a.refresh_from_db(), b.refresh_from_db(), closed.refresh_from_db()
    assert (a.escalation_level, a.escalated_to) == (1, people["supervisor"])
    assert (b.escalation_level, b.escalated_to) == (2, people["manager"])
    assert closed.escalation_level == 0
    assert Event.objects.filter(complaint=a, kind="complaint.escalated").count() == 1
    last = Event.objects.filter(complaint=b, kind="complaint.escalated").order_by("id").last()
    assert last.before == {"escalation_level": 1, "escalated_to": people["supervisor"].username}
    assert last.after == {"escalation_level": 2, "escalated_to": "manager", "trigger": "sla_unhandled"}
    assert last.note == "乙"


def test_the_warning_batch_writes_events_and_notifies_the_assignee(new_complaint, people):
    agent = people["agent"]
    agent.email = "agent@example.com"
    agent.save()
    now = timezone.now()
    cs = [new_complaint(priority="P3", subject=f"预警 {i}", assignee="agent_a", customer=_customer(i)) for i in range(4)]
    Deadline.objects.filter(complaint__in=cs, kind="first_response").update(
        at_risk_at=now - dt.timedelta(minutes=1), due_at=now + dt.timedelta(hours=1), warned_at=None)
    assert services.sweep_deadlines(now=now, batch=3)["at_risk"] == 4
    assert Event.objects.filter(complaint__in=cs, kind="deadline.at_risk").count() == 4
    assert Delivery.objects.filter(event="deadline.at_risk", address="agent@example.com").count() == 4
    assert services.sweep_deadlines(now=now)["at_risk"] == 0
