"""Export (visibility, masking, formula injection), the signed webhook, customer profile and merge."""
from __future__ import annotations

import csv
import io
import json
import time

import pytest
from django.test import Client
from django.urls import reverse

from qingting.complaints import services
from qingting.complaints.models import Complaint, Customer, Event
from qingting.intake import webhooks
from qingting.intake.models import SatisfactionSurvey, WebhookSource


def create(actor, mobile="13812345678", subject="发动机异响", email=""):
    c, _ = services.create_complaint(actor=actor, subject=subject, description="详细情况：" + subject, channel="phone",
                                     customer={"name": "王先生", "mobile": mobile, "email": email})
    return c


def export_rows(user, fmt="csv"):
    client = Client()
    client.force_login(user)
    resp = client.get(reverse("intake:export"), {"format": fmt})
    assert resp.status_code == 200
    if fmt == "csv":
        text = b"".join(resp.streaming_content).decode("utf-8-sig")
        return list(csv.reader(io.StringIO(text)))
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content)), read_only=True)
    return [list(r) for r in wb.active.iter_rows(values_only=True)]


def test_export_masks_for_agents_and_neutralises_formulas(people):
    create(people["agent"], subject="=HYPERLINK(\"http://evil.example\",\"点我\")", email="wang@example.com")
    create(people["other_agent"], mobile="13900001111", subject="B 店的投诉")
    rows = export_rows(people["agent"])
    assert rows[0][0] == "投诉编号" and len(rows) == 2, "only what the agent may see"
    row = rows[1]
    assert row[4] == "138****5678" and row[5] == "w***@example.com"
    assert row[6].startswith("'=HYPERLINK"), "formula neutralised"
    sup = export_rows(people["supervisor"])
    assert sup[1][4] == "13812345678" and sup[1][5] == "wang@example.com"
    mgr = export_rows(people["manager"], "xlsx")
    assert len(mgr) == 3 and all(not str(r[6]).startswith("=") for r in mgr[1:])
    assert export_rows(people["auditor"])[1][4].count("*") == 4


def _post(client, code, payload, secret, ts=None):
    body = json.dumps(payload, ensure_ascii=False).encode()
    ts = str(int(time.time()) if ts is None else ts)
    return client.post(f"/api/v1/intake/webhooks/{code}", body, content_type="application/json",
                       HTTP_X_QINGTING_TIMESTAMP=ts, HTTP_X_QINGTING_SIGNATURE=webhooks.sign(secret, ts, body))


def test_webhook_signed_replay_and_idempotent(db, org):
    WebhookSource.objects.create(code="orders", name="订单系统", secret="s3cret", channel="api", department=org["store_a"])
    client = Client()
    payload = {"external_id": "ORD-1", "subject": "订单少发货", "description": "订单 ORD-1 少发一件",
               "customer": {"name": "李女士", "mobile": "13700137000"}}
    base = int(time.time())  # distinct timestamps: the same second twice would be a replay
    resp = _post(client, "orders", payload, "s3cret", ts=base)
    assert resp.status_code == 201, resp.content
    c = Complaint.objects.get(number=resp.json()["number"])
    assert c.department.code == "store-a" and c.created_by.username == "webhook"
    again = _post(client, "orders", payload, "s3cret", ts=base - 1)
    assert again.status_code == 200, again.content
    assert again.json()["number"] == c.number, "same external id → same complaint"
    assert Complaint.objects.count() == 1
    assert _post(client, "orders", dict(payload, description="别的内容"), "s3cret", ts=base - 2).status_code == 409
    assert _post(client, "orders", payload, "wrong").status_code == 401
    assert _post(client, "orders", payload, "s3cret", ts=time.time() - 3600).status_code == 401
    assert _post(client, "nope", payload, "s3cret").status_code == 401
    body = json.dumps(payload).encode()
    ts = str(base - 3)
    sig = webhooks.sign("s3cret", ts, body)
    first = client.post("/api/v1/intake/webhooks/orders", body, content_type="application/json",
                        HTTP_X_QINGTING_TIMESTAMP=ts, HTTP_X_QINGTING_SIGNATURE=sig)
    again = client.post("/api/v1/intake/webhooks/orders", body, content_type="application/json",
                        HTTP_X_QINGTING_TIMESTAMP=ts, HTTP_X_QINGTING_SIGNATURE=sig)
    assert first.status_code in (200, 201) and again.status_code == 409, "a replayed delivery is refused"


def test_customer_profile_and_merge(people):
    a = create(people["agent"], mobile="13812345678")
    b = create(people["agent"], mobile="13987654321", subject="车门生锈", email="wang@example.com")
    SatisfactionSurvey.objects.create(complaint=a, stars=4)
    client = Client()
    client.force_login(people["agent"])
    page = client.get(reverse("intake:customer", args=[a.customer_id])).content.decode()
    assert a.number in page and "138****5678" in page and "4 星" in page
    assert client.post(reverse("intake:customer_merge", args=[a.customer_id]),
                       {"merge_id": b.customer_id}).status_code == 302
    assert Customer.objects.filter(pk=b.customer_id).exists(), "agents may not merge"
    client.force_login(people["supervisor"])
    client.post(reverse("intake:customer_merge", args=[a.customer_id]), {"merge_id": b.customer_id})
    assert not Customer.objects.filter(pk=b.customer_id).exists()
    b.refresh_from_db()
    keep = Customer.objects.get(pk=a.customer_id)
    assert b.customer_id == keep.pk and keep.email == "wang@example.com"
    assert {"kind": "mobile", "value": "13987654321"} in keep.other_contacts
    for c in (a, b):
        assert Event.objects.filter(complaint=c, kind="customer.merged").count() == 1
    page = client.get(reverse("intake:customer", args=[keep.pk])).content.decode()
    assert a.number in page and b.number in page and "13812345678" in page
    hidden = Client()
    hidden.force_login(people["other_agent"])
    assert hidden.get(reverse("intake:customer", args=[keep.pk])).status_code == 404


def test_customers_are_found_by_contact_through_the_partial_indexes(people):
    """Mobile and e-mail are indexed only where they are not empty: a lookup finds the customer
    by exact contact, never the customers without one, and uses the index on PostgreSQL."""
    from django.db import connection

    with_contact = create(people["agent"], mobile="13812345678", email="wang@example.com").customer
    for i in range(3):
        Customer.objects.create(name=f"匿名{i}")
    assert list(Customer.objects.with_mobile("13812345678")) == [with_contact]
    assert list(Customer.objects.with_email("wang@example.com")) == [with_contact]
    assert not Customer.objects.with_mobile("").exists() and not Customer.objects.with_email("").exists()
    assert services.find_customer({"mobile": "", "email": ""}) is None
    assert list(Customer.objects.with_mobile_in(["13812345678", ""])) == [with_contact]
    assert list(Customer.objects.with_email_in(["wang@example.com", ""])) == [with_contact]
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:  # plans on a table this small would rather scan it
            cur.execute("SET LOCAL enable_seqscan = off")
        plans = [Customer.objects.with_mobile("13812345678").order_by("id")[:1].explain(),
                 Customer.objects.with_email("wang@example.com").explain(),
                 Customer.objects.with_mobile_in(["13812345678"]).explain()]
        assert "customer_mobile" in plans[0] and "customer_email" in plans[1] and "customer_mobile" in plans[2]
