"""Follow-up visits, the closed loop and the case library."""
import pytest

from qingting.complaints import services as cs
from qingting.complaints.models import Event
from qingting.resolution import services
from qingting.resolution.models import Case, FollowUp

pytestmark = pytest.mark.django_db


@pytest.fixture
def at_follow_up(at_act, api_for, people):
    def make(**kw):
        c = at_act(**kw)
        agent = api_for("agent")
        _, plan = agent.post(f"/api/v1/resolution/complaints/{c.number}/plans",
                             {"option": "repair", "description": "免费维修并提供代步车"})
        agent.post(f"/api/v1/resolution/plans/{plan['id']}/answer", {"answer": "accept"})
        cs.transition_complaint(c.number, actor=people["agent"], to="follow_up")
        c.refresh_from_db()
        return c

    return make


def test_entering_follow_up_schedules_a_visit_with_a_script(at_follow_up, people):
    c = at_follow_up()
    fu = FollowUp.objects.get(complaint=c)
    assert fu.state == "scheduled" and fu.assigned_to is None or fu.assigned_to == people["agent"]
    assert 2.9 < (fu.due_at - fu.created_at).total_seconds() / 86400 < 3.1
    script = services.call_script(c, fu)
    assert "张" in script  # filled with the customer's name
    assert Event.objects.filter(complaint=c, kind="followup.scheduled").exists()


def test_follow_up_dissatisfied_reopens(at_follow_up, api_for):
    c = at_follow_up()
    fu = FollowUp.objects.get(complaint=c)
    agent = api_for("agent")
    status, body = agent.post(f"/api/v1/resolution/followups/{fu.pk}", {"outcome": "不满意"})
    assert status == 422  # what the customer said is required
    status, body = agent.post(f"/api/v1/resolution/followups/{fu.pk}",
                              {"outcome": "not_satisfied", "notes": "车还是有异响"})
    assert status == 200, body
    assert body["reopened"] is True and body["step"] == "act"
    c.refresh_from_db()
    assert c.step.code == "act"
    ev = Event.objects.filter(complaint=c, kind="step.returned").last()
    assert "回访客户不满意" in ev.note
    assert agent.post(f"/api/v1/resolution/followups/{fu.pk}", {"outcome": "satisfied"})[0] == 409


def test_closed_complaint_dissatisfied_flags_supervisor(at_follow_up, api_for, people):
    c = at_follow_up()
    fu = FollowUp.objects.get(complaint=c)
    agent = api_for("agent")
    assert agent.post(f"/api/v1/resolution/followups/{fu.pk}", {"outcome": "satisfied"})[0] == 200
    status, body = agent.post(f"/api/v1/resolution/complaints/{c.number}/root-cause",
                              {"cause": "流程", "touchpoint": "reception", "detail": "配件计划不足",
                               "lessons": "延误要主动告知"})
    assert status == 422  # reception is a 4S touchpoint; this complaint is general
    status, body = agent.post(f"/api/v1/resolution/complaints/{c.number}/root-cause",
                              {"cause": "流程", "touchpoint": "aftersale", "detail": "配件计划不足",
                               "lessons": "延误要主动告知"})
    assert status == 200, body
    status, body = agent.post(f"/api/v1/resolution/complaints/{c.number}/close")
    assert status == 200 and body["step"] == "close", body
    c.refresh_from_db()
    assert c.root_cause.startswith("【流程 · 售后】") and c.lessons_learned == "延误要主动告知"
    # every closed complaint joins the library, masked
    case = Case.objects.get(complaint=c)
    assert "13800138000" not in case.problem + case.actions and case.source == "complaint"
    # a late visit that finds the customer unhappy: the agent cannot reopen, a supervisor is flagged
    fu2 = FollowUp.objects.create(complaint=c, assigned_to=people["agent"], due_at=fu.due_at, attempt=2)
    status, body = agent.post(f"/api/v1/resolution/followups/{fu2.pk}",
                              {"outcome": "not_satisfied", "notes": "又坏了"})
    assert status == 200 and body["reopened"] is False and body["flagged_to"] == "李主管"
    # a supervisor's visit reopens it
    fu3 = FollowUp.objects.create(complaint=c, assigned_to=people["supervisor"], due_at=fu.due_at, attempt=3)
    status, body = api_for("supervisor").post(f"/api/v1/resolution/followups/{fu3.pk}",
                                              {"outcome": "not_satisfied", "notes": "仍不满意"})
    assert body["reopened"] is True and body["step"] == "confirm"


def test_not_reached_schedules_retries_then_flags(at_follow_up, api_for):
    c = at_follow_up()
    agent = api_for("agent")
    for attempt in range(1, 5):
        fu = FollowUp.objects.get(complaint=c, state="scheduled")
        assert fu.attempt == attempt
        status, body = agent.post(f"/api/v1/resolution/followups/{fu.pk}", {"outcome": "未联系上"})
        assert status == 200
    assert body["retry"] is None and body["flagged_to"] == "李主管"
    status, due = agent.get("/api/v1/resolution/followups")
    assert status == 200 and due == []


def test_corrective_action_needs_done_then_supervisor_check(new_complaint, api_for):
    import datetime as dt
    c = new_complaint()
    agent, sup = api_for("agent"), api_for("supervisor")
    due = (dt.datetime.now() + dt.timedelta(days=7)).isoformat()
    status, a = agent.post(f"/api/v1/resolution/complaints/{c.number}/actions",
                           {"kind": "预防措施", "description": "配件安全库存", "owner": "sup_a", "due_at": due})
    assert status == 201, a
    assert sup.post(f"/api/v1/resolution/actions/{a['id']}/check", {"effective": True, "note": "ok"})[0] == 409
    assert agent.post(f"/api/v1/resolution/actions/{a['id']}/done")[0] == 200
    assert agent.post(f"/api/v1/resolution/actions/{a['id']}/check", {"effective": True, "note": "ok"})[0] == 403
    status, body = sup.post(f"/api/v1/resolution/actions/{a['id']}/check", {"effective": True, "note": "一月内无同类投诉"})
    assert status == 200 and body["effective"] is True


def test_add_to_library_masks_personal_data(new_complaint, api_for):
    c = new_complaint(description="张先生电话13800138000，身份证110101199003077571，说4S店维修拖延")
    status, case = api_for("agent").post(f"/api/v1/resolution/complaints/{c.number}/library")
    assert status == 201, case
    assert "13800138000" not in case["problem"] and "110101199003077571" not in case["problem"]
    assert "张先生" not in case["problem"]


def test_similar_cases_panel_returns_cases(new_complaint, api_for):
    assert Case.objects.filter(source="starter").count() >= 9
    c = new_complaint(subject="新车机油消耗过大", description="新车每跑一千公里就要补一升机油，怀疑发动机有问题",
                      profile="auto4s")
    status, body = api_for("agent").get(f"/api/v1/resolution/complaints/{c.number}/similar")
    assert status == 200, body
    assert body["backend"] == "tfidf-char12" and len(body["items"]) == 5
    assert body["items"][0]["case"]["code"] == "starter-oil-consumption"
    assert body["items"][0]["case"]["outcome"]
