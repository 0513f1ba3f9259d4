"""The REST API contract: create, walk, guards, visibility, bad input → 4xx and nothing half-written."""
import pytest

from qingting.complaints.models import Complaint, Customer, Event

from ..conftest import COMPLAINT

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_api(api_for):
    return api_for("agent")


def test_token_endpoint_gives_a_token_and_refuses_bad_passwords(client, people):
    ok = client.post("/api/v1/auth/token", {"username": "agent_a", "password": "Pass-word-2026"}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["token"].startswith("qt_")
    bad = client.post("/api/v1/auth/token", {"username": "agent_a", "password": "nope"}, content_type="application/json")
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad_credentials"


def test_token_endpoint_is_rate_limited(client, people, settings):
    from django.core.cache import cache

    cache.clear()
    settings.LOGIN_RATE_LIMIT = 3
    codes = [client.post("/api/v1/auth/token", {"username": "agent_a", "password": "wrong"},
                         content_type="application/json").status_code for _ in range(5)]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
    cache.clear()


def test_revoked_token_no_longer_works(client, people):
    from qingting.accounts.models import ApiToken

    token, raw = ApiToken.issue(people["agent"])
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at="2026-01-01T00:00:00Z")
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_create_answers_201_with_number_tracking_code_and_step(agent_api):
    status, body = agent_api.post("/api/v1/complaints", COMPLAINT)
    assert status == 201, body
    assert body["number"].startswith("TS") and len(body["tracking_code"]) == 14
    assert body["step"]["code"] == "accept" and body["priority"] in {"P1", "P2", "P3", "P4"}
    assert body["department"]["code"] == "team-a1"
    assert body["customer"]["mobile"] == "13800138000"


def test_chinese_channel_name_is_accepted_as_alias(agent_api):
    status, body = agent_api.post("/api/v1/complaints", {**COMPLAINT, "channel": "热线电话"})
    assert status == 201 and body["channel"] == "phone"


def test_walk_all_eight_steps_through_the_api(agent_api):
    _, c = agent_api.post("/api/v1/complaints", COMPLAINT)
    n = c["number"]
    walk = [
        {"to": "soothe"}, {"to": "apologize"},
        {"to": "confirm", "category": "as_repair_delay", "facts": "配件缺货未告知"},
        {"to": "act", "resolution_type": "维修", "action_plan": "三天内修好", "resolution_amount": 200},
        {"to": "negotiate", "customer_answer": "接受"},
        {"to": "follow_up"},
        {"to": "close", "root_cause": "缺件预警缺失", "lessons_learned": "缺件当天告知客户"},
    ]
    for body in walk:
        status, out = agent_api.post(f"/api/v1/complaints/{n}/transitions", body)
        assert status == 200, out
        assert out["step"]["code"] == body["to"]
    status, events = agent_api.get(f"/api/v1/complaints/{n}/events")
    assert status == 200
    assert [e["after"]["step"] for e in events if e["kind"] == "step.advanced"] == [b["to"] for b in walk]


def test_forbidden_transition_says_what_is_missing(agent_api):
    _, c = agent_api.post("/api/v1/complaints", COMPLAINT)
    n = c["number"]
    status, err = agent_api.post(f"/api/v1/complaints/{n}/transitions", {"to": "close"})
    assert status == 409 and err["error"]["code"] == "transition_not_allowed"
    agent_api.post(f"/api/v1/complaints/{n}/transitions", {"to": "soothe"})
    agent_api.post(f"/api/v1/complaints/{n}/transitions", {"to": "apologize"})
    status, err = agent_api.post(f"/api/v1/complaints/{n}/transitions", {"to": "confirm"})
    assert status == 422
    assert {m["code"] for m in err["error"]["missing"]} == {"category_confirmed", "facts_recorded"}
    assert "投诉类别" in err["error"]["message"]
    en = agent_api.post(f"/api/v1/complaints/{n}/transitions", {"to": "confirm"}, HTTP_ACCEPT_LANGUAGE="en")[1]
    assert "category" in en["error"]["message_en"]


def test_agent_of_another_department_gets_404(agent_api, api_for):
    _, c = agent_api.post("/api/v1/complaints", COMPLAINT)
    other = api_for("other_agent")
    assert other.get(f"/api/v1/complaints/{c['number']}")[0] == 404
    assert other.post(f"/api/v1/complaints/{c['number']}/transitions", {"to": "soothe"})[0] == 404
    assert other.get(f"/api/v1/complaints/{c['number']}/events")[0] == 404
    numbers = [i["number"] for i in other.get("/api/v1/complaints")[1]["items"]]
    assert c["number"] not in numbers


def test_auditor_reads_but_cannot_write(agent_api, api_for):
    _, c = agent_api.post("/api/v1/complaints", COMPLAINT)
    auditor = api_for("auditor")
    assert auditor.get(f"/api/v1/complaints/{c['number']}")[0] == 200
    assert auditor.post(f"/api/v1/complaints/{c['number']}/transitions", {"to": "soothe"})[0] == 403
    assert auditor.post("/api/v1/complaints", COMPLAINT)[0] == 403


def test_unauthenticated_is_401(client, people):
    assert client.get("/api/v1/complaints").status_code == 401


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe\xfa", b"[]", b"null"])
def test_malformed_bodies_are_4xx(agent_api, raw):
    status, body = agent_api.post("/api/v1/complaints", raw=raw)
    assert 400 <= status < 500 and "error" in body


@pytest.mark.parametrize("body,field", [
    ({"subject": 123, "description": ["x"], "channel": "phone"}, "subject"),
    ({**COMPLAINT, "channel": "pigeon"}, "channel"),
    ({**COMPLAINT, "priority": "P9"}, "priority"),
    ({**COMPLAINT, "description": "长" * 1_000_000}, None),
    ({**COMPLAINT, "received_at": "2999-01-01T00:00:00+08:00"}, "received_at"),
    ({**COMPLAINT, "customer": {"mobile": "12345678901"}}, "customer.mobile"),
    ({**COMPLAINT, "customer": {"email": "not-an-email"}}, "customer.email"),
    ({**COMPLAINT, "profile": "auto4s", "about": {"vin": "INVALIDVIN"}}, "about.vin"),
    ({**COMPLAINT, "profile": "auto4s", "about": {"mileage": -5}}, "about.mileage"),
    ({**COMPLAINT, "category": "no-such-category"}, "category"),
    ({**COMPLAINT, "unexpected": 1}, None),
    ({**COMPLAINT, "subject": "   "}, "subject"),
])
def test_bad_fields_are_4xx_and_nothing_is_written(agent_api, body, field):
    before = (Complaint.objects.count(), Customer.objects.count(), Event.objects.count())
    status, err = agent_api.post("/api/v1/complaints", body)
    assert 400 <= status < 500, err
    if isinstance(err, dict) and field:
        assert field in str(err["error"]["fields"]) or field in err["error"]["message_en"]
    assert (Complaint.objects.count(), Customer.objects.count(), Event.objects.count()) == before


def test_text_with_sql_html_emoji_and_nul_is_stored_safely(agent_api):
    text = "'; DROP TABLE complaints_complaint; -- <script>alert(1)</script> 😡🚗 \x00 end"
    status, c = agent_api.post("/api/v1/complaints", {**COMPLAINT, "description": text})
    assert status == 201
    assert "<script>" in c["description"] and "\x00" not in c["description"] and "😡" in c["description"]


def test_profile_fields_are_validated_and_stored(agent_api):
    about = {"vin": "lsvaa4182e2123456", "purchase_date": "2025-05-01", "mileage": "12000", "brand": "大众"}
    status, c = agent_api.post("/api/v1/complaints", {**COMPLAINT, "profile": "auto4s", "about": about})
    assert status == 201, c
    assert c["about"] == {"vin": "LSVAA4182E2123456", "purchase_date": "2025-05-01", "mileage": 12000, "brand": "大众"}


def test_list_filters_and_keyset_pagination(agent_api):
    numbers = []
    for i in range(5):
        numbers.append(agent_api.post("/api/v1/complaints", {**COMPLAINT, "subject": f"刹车失灵第{i}次",
                                                             "priority": "P1" if i % 2 else "P4"})[1]["number"])
    status, page = agent_api.get("/api/v1/complaints?limit=2")
    assert status == 200 and len(page["items"]) == 2 and page["next"]
    seen = [i["number"] for i in page["items"]]
    while page["next"]:
        page = agent_api.get(f"/api/v1/complaints?limit=2&cursor={page['next']}")[1]
        seen += [i["number"] for i in page["items"]]
    assert seen == list(reversed(numbers))  # newest first, no duplicates, none lost
    p1 = agent_api.get("/api/v1/complaints?priority=P1")[1]["items"]
    assert {i["priority"] for i in p1} == {"P1"} and len(p1) == 2
    found = agent_api.get("/api/v1/complaints?q=刹车失灵")[1]["items"]
    assert len(found) == 5
    assert agent_api.get("/api/v1/complaints?q=发动机异响")[1]["items"] == []
    assert len(agent_api.get("/api/v1/complaints?step=accept&channel=phone&received_after=2020-01-01")[1]["items"]) == 5


@pytest.mark.parametrize("query", ["priority=P9", "received_after=yesterday", "limit=100000", "cursor=garbage",
                                   "channel=fax", "category=nope", "department=nope", "escalated=maybe", "colour=red"])
def test_bad_list_filters_are_422(agent_api, query):
    status, err = agent_api.get(f"/api/v1/complaints?{query}")
    assert status == 422, err


def test_get_unknown_number_is_404(agent_api):
    assert agent_api.get("/api/v1/complaints/NO-SUCH-NUMBER")[0] == 404
    assert agent_api.post("/api/v1/complaints/NO-SUCH-NUMBER/transitions", {"to": "confirm"})[0] == 404


def test_patch_cannot_change_the_step(agent_api):
    _, c = agent_api.post("/api/v1/complaints", COMPLAINT)
    status, err = agent_api.patch(f"/api/v1/complaints/{c['number']}", {"step": "close"})
    assert status == 422
    status, out = agent_api.patch(f"/api/v1/complaints/{c['number']}", {"priority": "P1", "category": "sa_rude"})
    assert status == 200 and out["priority"] == "P1" and out["category"]["code"] == "sa_rude"
    assert out["step"]["code"] == "accept"


def test_idempotency_key(agent_api):
    h = {"HTTP_IDEMPOTENCY_KEY": "abc-123"}
    s1, c1 = agent_api.post("/api/v1/complaints", COMPLAINT, **h)
    s2, c2 = agent_api.post("/api/v1/complaints", COMPLAINT, **h)
    s3, _ = agent_api.post("/api/v1/complaints", {**COMPLAINT, "description": "另一件事"}, **h)
    assert (s1, s2, s3) == (201, 200, 409) and c1["number"] == c2["number"]
    assert Complaint.objects.count() == 1


def test_notes_messages_assign_escalate(agent_api, api_for, people):
    _, c = agent_api.post("/api/v1/complaints", COMPLAINT)
    n = c["number"]
    assert agent_api.post(f"/api/v1/complaints/{n}/notes", {"body": "客户下午三点再来电"})[0] == 201
    assert agent_api.post(f"/api/v1/complaints/{n}/messages", {"body": "您好，我们已受理"})[0] == 201
    assert len(agent_api.get(f"/api/v1/complaints/{n}/notes")[1]) == 1
    # an agent may take it, not give it to someone else
    assert agent_api.post(f"/api/v1/complaints/{n}/assign", {"assignee": "agent_a2"})[0] == 403
    assert agent_api.post(f"/api/v1/complaints/{n}/assign", {"assignee": "agent_a"})[1]["assignee"] == "agent_a"
    sup = api_for("supervisor")
    assert sup.post(f"/api/v1/complaints/{n}/assign", {"assignee": "agent_a2"})[1]["assignee"] == "agent_a2"
    # still visible to agent_a through the department rule; escalation goes to the direct supervisor
    status, out = agent_api.post(f"/api/v1/complaints/{n}/escalate", {"reason": "客户要求见主管"})
    assert status == 200 and out["escalated_to"] == "sup_a" and out["escalation_level"] == 1
    assert agent_api.post(f"/api/v1/complaints/{n}/escalate", {"reason": ""})[0] == 422


def test_healthz_and_openapi(client, db):
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/complaints/{number}/transitions" in spec["paths"]


def test_categories_and_departments(agent_api):
    cats = agent_api.get("/api/v1/categories?profile=auto4s")[1]
    assert {"product_quality", "pq_engine"} <= {c["code"] for c in cats}
    assert "pq_food" not in {c["code"] for c in cats}
    depts = agent_api.get("/api/v1/departments")[1]
    assert {"hq", "store-a", "team-a1", "store-b"} <= {d["code"] for d in depts}
