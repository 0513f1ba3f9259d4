"""Crisis cases through the services and the API: rules propose and managers confirm, statements
approved by role, closing needs the review, mass actions, the hotspot pipeline, the replay command."""
from __future__ import annotations

import datetime as dt
import os
import pathlib
import random
import subprocess
import sys

import pytest
from django.utils import timezone
from qingting.complaints.models import (
    Category,
    Complaint,
    ComplaintFlag,
    Event,
)
from qingting.crisis import services, warning
from qingting.crisis.models import (
    CrisisEvent,
    CrisisLink,
    CrisisProposal,
    Hotspot,
    ProposalStatus,
)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _factories import background, clone_complaints  # noqa: E402

pytestmark = pytest.mark.django_db
ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def crisis(people):
    return services.open_crisis(actor=people["manager"], title="甲A 刹车片异常磨损", crisis_type="product_quality",
                                severity="II", team={"spokesperson": "sup_a", "legal": "sup_b"})


def test_seeded_reference_data(db):
    from qingting.crisis.models import (
        CrisisType,
        EscalationRule,
        PlaybookItem,
        Severity,
    )

    assert set(CrisisType.objects.values_list("name", flat=True)) >= {"自然灾害", "人为事故", "法律纠纷", "传播危机",
                                                                      "产品质量事故"}
    assert list(Severity.objects.values_list("code", flat=True)) == ["I", "II", "III", "IV"]
    assert EscalationRule.objects.count() == 5 and PlaybookItem.objects.exists()


def test_open_crisis_builds_playbook_with_deadlines_per_severity(crisis, people):
    items = list(crisis.checklist.all())
    assert {i.step for i in items} >= {"assess", "strategy", "respond", "review"}
    holding = next(i for i in items if "初步声明" in i.title)
    assert holding.due_at == crisis.confirmed_at + dt.timedelta(hours=crisis.severity.holding_hours)
    assert any("质量" in i.department for i in items)  # product-quality items join the generic ones
    assert CrisisEvent.objects.filter(crisis=crisis, kind="crisis.opened").exists()
    with pytest.raises(PermissionError):
        CrisisEvent.objects.filter(crisis=crisis).delete()


def test_safety_rule_proposes_and_manager_confirms(people, new_complaint):
    base = new_complaint(profile="auto4s", about={"brand": "甲", "series": "甲A"})
    cs = [base] + clone_complaints(base, 3, about={"brand": "甲", "series": "甲A"}, prefix="S")
    ComplaintFlag.objects.bulk_create([ComplaintFlag(complaint=c, kind="signal", code="safety", score=0.9)
                                       for c in cs], ignore_conflicts=True)
    proposals = warning.evaluate_rules()
    p = next(p for p in proposals if p.rule.code == "safety-customers")
    assert p.status == ProposalStatus.PROPOSED and set(p.complaint_ids) == {c.pk for c in cs}
    assert warning.evaluate_rules() == []  # the same situation is not proposed twice
    from qingting.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.confirm_proposal(p.pk, actor=people["supervisor"])
    c = services.confirm_proposal(p.pk, actor=people["manager"])
    p.refresh_from_db()
    assert p.status == ProposalStatus.CONFIRMED and p.crisis == c and c.crisis_type.code == "product_quality"
    assert CrisisLink.objects.filter(crisis=c).count() == 4
    assert Event.objects.filter(kind="crisis.linked", complaint__in=cs).count() == 4


def test_decline_needs_a_reason(people, new_complaint, api_for):
    base = new_complaint()
    p = CrisisProposal.objects.create(dedupe_key="x", title="t", reason="r", complaint_ids=[base.pk])
    status, body = api_for("manager").post(f"/api/v1/crisis-proposals/{p.pk}/decline", {"reason": ""})
    assert status == 422 and body["error"]["fields"] == {"reason": "required"}
    status, body = api_for("manager").post(f"/api/v1/crisis-proposals/{p.pk}/decline", {"reason": "个例，已单独处理"})
    assert status == 200 and body["status"] == "declined"


def test_statement_roles_and_versions(crisis, people, api_for):
    n = crisis.number
    status, body = api_for("manager").post(f"/api/v1/crises/{n}/statements",
                                           {"kind": "holding", "title": "初步声明", "body": "x"})
    assert status == 403 and body["error"]["code"] == "wrong_role"  # the manager is commander, not spokesperson
    text = ("我们已成立专项小组，正在对甲A 车型免费检测刹车片，将于48小时内通报进展。请拨打热线400-800-1234预约。")
    status, s = api_for("supervisor").post(f"/api/v1/crises/{n}/statements", {"kind": "holding", "title": "初步声明",
                                                                              "body": text})
    assert status == 201 and s["version"] == 1 and s["check"]["findings"] == []
    status, body = api_for("supervisor").post(f"/api/v1/crises/{n}/statements/{s['id']}/approve")
    assert status == 403  # spokesperson may not approve
    status, body = api_for("manager").post(f"/api/v1/crises/{n}/statements/{s['id']}/approve")
    assert status == 409 and body["error"]["code"] == "not_reviewed"
    assert api_for("other_supervisor").post(f"/api/v1/crises/{n}/statements/{s['id']}/review", {})[0] == 200
    status, body = api_for("manager").post(f"/api/v1/crises/{n}/statements/{s['id']}/approve")
    assert status == 200 and body["status"] == "approved"
    status, body = api_for("supervisor").post(f"/api/v1/crises/{n}/statements/{s['id']}/publications",
                                              {"channel": "weibo"})
    assert status == 201
    assert crisis.communications.filter(stakeholder="public").exists()
    assert crisis.checklist.get(title__contains="发布初步声明").done_at is not None
    status, s2 = api_for("supervisor").post(f"/api/v1/crises/{n}/statements", {
        "kind": "holding", "title": "更新", "body": "这肯定是车主使用不当造成的，我们的刹车绝对安全。"})
    codes = {f["code"] for f in s2["check"]["findings"]}
    assert s2["version"] == 2 and {"blames_customer", "speculation_as_fact", "absolute_guarantee"} <= codes


def test_auditor_reads_but_cannot_write(crisis, api_for):
    assert api_for("auditor").get(f"/api/v1/crises/{crisis.number}")[0] == 200
    assert api_for("auditor").patch(f"/api/v1/crises/{crisis.number}", {"title": "x"})[0] == 403
    assert api_for("agent").get(f"/api/v1/crises/{crisis.number}")[0] == 403


def test_closing_needs_the_review(crisis, people, api_for):
    n = crisis.number
    mgr = api_for("manager")
    status, body = mgr.post(f"/api/v1/crises/{n}/transitions", {"to": "closed"})
    assert status == 409 and body["error"]["code"] == "review_required"
    assert {m["code"] for m in body["error"]["missing"]} == {"what_worked", "what_did_not", "corrective_actions"}
    assert mgr.post(f"/api/v1/crises/{n}/transitions", {"to": "assess"})[0] == 409  # backwards
    mgr.client.put(f"/api/v1/crises/{n}/review", data='{"what_worked": "4 小时内发布声明", "what_did_not": "自动关联晚"}',
                   content_type="application/json", **mgr.headers)
    status, body = mgr.post(f"/api/v1/crises/{n}/review/actions", {"title": "刹车片供应商审核", "owner": "sup_a",
                                                                   "due_date": "2026-12-31"})
    assert status == 201
    status, body = mgr.post(f"/api/v1/crises/{n}/transitions", {"to": "closed"})
    assert status == 200 and body["status"] == "closed" and body["closed_at"]
    assert mgr.post(f"/api/v1/crises/{n}/communications", {"stakeholder": "media", "summary": "x"})[0] == 409


def test_mass_message_refuses_missing_field(crisis, people, new_complaint, api_for):
    a = new_complaint(profile="auto4s", about={"brand": "甲", "series": "甲A"})
    b = new_complaint(profile="auto4s", about={"brand": "甲"}, customer={"name": "李女士", "mobile": "13900001111"})
    services.link_complaints(crisis.number, actor=people["manager"], numbers=[a.number, b.number])
    status, body = api_for("manager").post(f"/api/v1/crises/{crisis.number}/mass-actions", {
        "kind": "message", "params": {"template": "{name}您好，您的{series}可预约免费检测，单号 {number}。"}})
    assert status == 422 and body["error"]["code"] == "template_field_missing"
    assert body["error"]["fields"] == {"series": [b.number]} and "series" in body["error"]["message"]
    assert not Event.objects.filter(kind="message.sent", complaint__in=[a, b]).exists()  # nothing half-done


def test_mass_action_over_200_complaints(crisis, people, new_complaint):
    base = new_complaint(profile="auto4s", about={"brand": "甲", "series": "甲A"})
    cs = [base] + clone_complaints(base, 204, about={"brand": "甲", "series": "甲A"}, prefix="M")
    # one complaint the supervisor cannot see (store B) is reported, not silently skipped
    Complaint.objects.filter(pk=cs[-1].pk).update(department=people["other_agent"].department, assignee=None)
    services.link_complaints(crisis.number, actor=people["manager"], numbers=[c.number for c in cs])
    a = services.mass_action(crisis.number, actor=people["supervisor"], kind="message",
                             params={"template": "{name}您好：{crisis_title}，请拨打400-800-1234预约免费检测。"})
    assert a.total == 205 and a.succeeded == 204
    assert a.failures == [{"number": cs[-1].number, "code": "not_found", "reason": a.failures[0]["reason"],
                           "reason_en": a.failures[0]["reason_en"]}]
    assert Event.objects.filter(kind="message.sent", complaint__in=cs[:-1]).values("complaint").distinct().count() == 204
    o = services.mass_action(crisis.number, actor=people["manager"], kind="offer", params={"offer": "免费更换刹车片"})
    assert o.succeeded == 205 and Event.objects.filter(kind="crisis.offer").count() == 205
    assert CrisisLink.objects.filter(crisis=crisis, offer="免费更换刹车片").count() == 205


def test_new_complaint_matching_open_crisis_is_linked_with_banner(people, new_complaint, django_capture_on_commit_callbacks):
    c = services.open_crisis(actor=people["manager"], title="甲A 刹车", crisis_type="product_quality", severity="III",
                             match={"about": {"brand": "甲", "series": "甲A"}}, line_to_take="已安排免费检测，请客户预约。")
    with django_capture_on_commit_callbacks(execute=True):
        hit = new_complaint(profile="auto4s", about={"brand": "甲", "series": "甲A"})
        miss = new_complaint(profile="auto4s", about={"brand": "甲", "series": "甲B"})
    assert CrisisLink.objects.filter(crisis=c, complaint=hit, source="auto").exists()
    assert not CrisisLink.objects.filter(complaint=miss).exists()
    from qingting.crisis.queries import crisis_banner_for

    assert crisis_banner_for(hit)["crises"][0]["line"] == "已安排免费检测，请客户预约。"
    assert crisis_banner_for(miss) is None
    from django.template.loader import render_to_string

    assert "已安排免费检测" in render_to_string("crisis/_banner.html", {"crisis_banner": crisis_banner_for(hit)})


def test_burst_becomes_hotspot_and_crisis_from_it(people, new_complaint, api_for):
    base = new_complaint(profile="auto4s", about={"brand": "甲", "series": "甲A"})
    now = timezone.now()
    background(base, 12, now=now)
    brake = Category.objects.get(code="pq_brake")
    clone_complaints(base, 8, prefix="H", about={"brand": "丁", "series": "丁A"}, category=brake,
                     text="刹车片异常磨损，行驶中刹车异响", received=lambda i: now - dt.timedelta(minutes=10 * i))
    result = warning.sweep_hotspots()
    assert result["hotspots"] >= 1
    status, body = api_for("supervisor").get("/api/v1/hotspots")
    assert status == 200 and body["items"]
    h = next(x for x in body["items"] if x["group"].get("series") == "丁A")
    assert h["count"] >= 6 and sum(v for _, v in h["series"]) >= 6
    status, c = api_for("manager").post("/api/v1/crises", {"title": "丁A 刹车", "crisis_type": "product_quality",
                                                            "severity": "II", "hotspot": h["id"]})
    assert status == 201 and len(c["linked"]) >= 6
    assert c["match"]["about"]["series"] == "丁A"
    assert Hotspot.objects.get(pk=h["id"]).status == "crisis"
    # dismissing needs a reason
    other = Hotspot.objects.create(key="k", label="其他", profile="auto4s")
    assert api_for("supervisor").post(f"/api/v1/hotspots/{other.pk}/dismiss", {"reason": " "})[0] == 422
    status, body = api_for("supervisor").post(f"/api/v1/hotspots/{other.pk}/dismiss", {"reason": "季节性"})
    assert status == 200 and body["status"] == "dismissed" and body["status_reason"] == "季节性"


def test_pages_and_exports(crisis, people, client):
    client.force_login(people["manager"])
    for url in ("/crisis/", "/crisis/cases/", "/crisis/rules/", "/crisis/handbook/", f"/crisis/{crisis.number}/",
                "/crisis/new/"):
        assert client.get(url).status_code == 200, url
    r = client.get(f"/crisis/{crisis.number}/review.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert "总结复盘" in client.get(f"/crisis/{crisis.number}/review.md").content.decode()
    assert client.get("/crisis/handbook.pdf").content.startswith(b"%PDF")
    client.force_login(people["agent"])
    assert client.get("/crisis/").status_code == 403


def test_escalation_rules_are_changed_by_managers_through_the_service(people, client):
    from qingting.core.errors import Invalid, NotFound, PermissionDenied
    from qingting.crisis.models import EscalationRule

    rule = EscalationRule.objects.order_by("pk").first()
    data = {"name": rule.name, "min_count": 7, "within_hours": 12, "min_score": rule.min_score,
            "crisis_type": rule.crisis_type_id, "severity": rule.severity_id, "active": "on"}
    with pytest.raises(PermissionDenied):
        services.update_rule(rule.pk, data, actor=people["supervisor"])
    with pytest.raises(Invalid) as bad:
        services.update_rule(rule.pk, {**data, "min_count": "many"}, actor=people["manager"])
    assert "min_count" in bad.value.fields
    with pytest.raises(NotFound):
        services.update_rule("x", data, actor=people["manager"])
    rule.refresh_from_db()
    assert rule.min_count != 7
    client.force_login(people["supervisor"])
    assert client.post("/crisis/rules/", {"rule": rule.pk, **data}).status_code == 403
    client.force_login(people["manager"])
    assert client.post("/crisis/rules/", {"rule": rule.pk, **data}).status_code == 302
    rule.refresh_from_db()
    assert (rule.min_count, rule.within_hours) == (7, 12)


def test_replay_command_on_small_csv(tmp_path):
    rows = ["时间,内容,品牌,车系,问题"]
    start = dt.datetime(2024, 3, 1, 9)
    rnd = random.Random(1)
    for d in range(10):
        for k in range(8):
            b, s = rnd.choice([("甲", "甲A"), ("乙", "乙A"), ("丙", "丙A"), ("丁", "丁A")])
            rows.append(f"{start + dt.timedelta(days=d, hours=k):%Y-%m-%d %H:%M},一般问题{k},{b},{s},{rnd.choice(['异响', '漏油'])}")
    for k in range(7):
        rows.append(f"{start + dt.timedelta(days=10, hours=k):%Y-%m-%d %H:%M},刹车片磨损严重{k},戊,戊A,刹车")
    path = tmp_path / "small.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "qingting.settings"}
    out = subprocess.run([sys.executable, "-m", "qingting", "hotspots-replay", "--data", str(path), "--time-col", "时间",
                          "--text-col", "内容", "--about-cols", "品牌,车系", "--problem-col", "问题", "--json"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    alerts = json.loads(out.stdout)
    assert any(a["group"].get("车系") == "戊A" or "戊" in a["label"] for a in alerts), alerts
    bad = subprocess.run([sys.executable, "-m", "qingting", "hotspots-replay", "--data", str(path), "--time-col", "nope",
                          "--text-col", "内容"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert bad.returncode != 0 and "nope" in (bad.stderr + bad.stdout)


def test_statement_check_is_pure_and_never_raises():
    code = ("import sys; from qingting.crisis.statement_check import check_statement as c; "
            "r = c('x' * 200000); assert 'truncated' in [f['code'] for f in r['findings']]; "
            "assert c(None)['findings']; print('django' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_who_may_do_what_in_crisis_management(people):
    from qingting.accounts import access
    from qingting.core.errors import PermissionDenied

    may = {name: (access.may_view_crisis(u), access.may_manage_crisis(u), access.may_decide_crisis(u))
           for name, u in people.items()}
    assert may == {"agent": (False, False, False), "agent2": (False, False, False),
                   "supervisor": (True, True, False), "other_agent": (False, False, False),
                   "other_supervisor": (True, True, False), "manager": (True, True, True),
                   "auditor": (True, False, False)}
    with pytest.raises(PermissionDenied):
        access.require_crisis_manage(people["auditor"])
    access.require_crisis_lead(people["supervisor"], {"commander"})   # the crisis's commander leads it …
    access.require_crisis_lead(people["manager"], set())              # … and so does any manager
    with pytest.raises(PermissionDenied) as exc:
        access.require_crisis_lead(people["supervisor"], {"spokesperson"})
    assert exc.value.code == "wrong_role"
    with pytest.raises(PermissionDenied) as exc:
        access.require_crisis_team_role({"spokesperson"}, "legal", "法务", "审核声明", "Reviewing a statement")
    assert exc.value.fields == {"required_role": "legal"}
    access.require_statement_publisher({"liaison"})
    with pytest.raises(PermissionDenied):
        access.require_statement_publisher({"legal", "scribe"})
