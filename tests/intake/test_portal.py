"""Customer portal: submit with a photo, tracking code, status by code + check, messages, survey, abuse."""
from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qingting.complaints.models import Attachment, Complaint, Event, Message, Step
from qingting.intake import services
from qingting.intake.models import SatisfactionSurvey

from .conftest import png_bytes

FORM = {"name": "张女士", "mobile": "138 0013 8000", "email": "", "subject": "",
        "description": "上周在贵店保养后发动机异响，店员态度很差，要求给个说法。", "profile": "general"}


def submit(client, files=(), **extra):
    data = dict(FORM, **extra)
    if files:
        data["attachments"] = list(files)
    return client.post(reverse("intake:submit"), data)


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=False)


def test_submit_with_photo_gives_tracking_code_and_status(db, client, settings):
    settings.QINGTING_HOTLINE = "400-123-4567"
    resp = submit(client, [SimpleUploadedFile("IMG_0001.jpg", png_bytes(), content_type="image/jpeg")])
    assert resp.status_code == 302 and resp["Location"].endswith(reverse("intake:done"))
    page = client.get(resp["Location"]).content.decode()
    code = re.search(r'id="tracking-code">([A-Z0-9-]+)<', page).group(1)
    assert "400-123-4567" in page
    # the SLA's first deadline when the SLA app is installed, else the configured text
    assert re.search(r"我们将在 \d{4}年\d{2}月\d{2}日 \d{2}:\d{2} 前与您联系", page) or "1 个工作日" in page, page
    c = Complaint.objects.get(tracking_code=code)
    assert c.channel == "web" and c.customer.mobile == "13800138000" and c.created_by.username == "portal"
    att = Attachment.objects.get(complaint=c)
    assert att.content_type == "image/png", "type from the bytes, not the .jpg name"
    assert att.customer_visible and att.created_at
    # a new browser needs code + last four digits
    other = Client()
    assert other.get(reverse("intake:track", args=[code])).status_code == 302
    resp = other.post(reverse("intake:status"), {"code": code.lower().replace("-", ""), "check": "8000"})
    assert resp.status_code == 302
    status = other.get(resp["Location"]).content.decode()
    assert c.step.customer_text in status and "附件已上传" in status


def test_wrong_check_and_unknown_code_answer_the_same(db, client):
    submit(client)
    c = Complaint.objects.get()
    wrong = Client().post(reverse("intake:status"), {"code": c.tracking_code, "check": "1234"})
    unknown = Client().post(reverse("intake:status"), {"code": "ABCD-EFGH-JKLM", "check": "8000"})
    assert wrong.status_code == unknown.status_code == 404
    assert "查询码或验证信息不正确" in wrong.content.decode() and "查询码或验证信息不正确" in unknown.content.decode()


def test_guessing_the_check_is_rate_limited_per_code(db, client):
    submit(client)
    c = Complaint.objects.get()
    for guess in range(5):
        Client(REMOTE_ADDR=f"10.0.0.{guess}").post(reverse("intake:status"), {"code": c.tracking_code,
                                                                              "check": f"{guess:04d}"})
    resp = Client(REMOTE_ADDR="10.0.1.1").post(reverse("intake:status"), {"code": c.tracking_code, "check": "8000"})
    assert resp.status_code == 429, "even the right answer waits once the code is under attack"


def test_fake_photo_and_too_many_files_refused(db, client):
    exe = SimpleUploadedFile("photo.jpg", b"MZ\x90\x00" + b"\x00" * 100, content_type="image/jpeg")
    resp = submit(client, [exe])
    assert resp.status_code == 422 and "不是支持的类型" in resp.content.decode()
    assert Complaint.objects.count() == 0
    files = [SimpleUploadedFile(f"{i}.png", png_bytes(), content_type="image/png") for i in range(6)]
    assert submit(client, files).status_code == 422
    assert Complaint.objects.count() == 0


def test_honeypot_and_rate_limits(db, client):
    assert submit(client, website="http://spam.example").status_code == 400
    assert Complaint.objects.count() == 0
    for i in range(3):
        assert submit(Client(REMOTE_ADDR=f"10.1.0.{i}")).status_code == 302
    assert submit(Client(REMOTE_ADDR="10.1.0.9")).status_code == 429, "per contact"
    assert Complaint.objects.count() == 3


def test_csrf_is_enforced(db):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(reverse("intake:submit"), FORM).status_code == 403


def test_customer_adds_message(db, client):
    submit(client)
    c = Complaint.objects.get()
    resp = client.post(reverse("intake:track", args=[c.tracking_code]), {"action": "message", "body": "补充：已经第二次了"})
    assert resp.status_code == 302
    m = Message.objects.get(complaint=c)
    assert m.direction == "in" and m.body == "补充：已经第二次了"
    assert "补充：已经第二次了" in client.get(resp["Location"]).content.decode()


def _resolve(c, step_code, closed=False):
    c.step = Step.objects.get(variant=c.variant, code=step_code)
    c.closed_at = timezone.now() if closed else None
    c.customer_answer = "accept"
    c.save()


def test_survey_after_resolution_unsatisfied_reopens(db, client, settings):
    submit(client)
    c = Complaint.objects.get()
    resp = client.post(reverse("intake:track", args=[c.tracking_code]), {"action": "survey", "stars": "5"})
    assert resp.status_code == 400 and not SatisfactionSurvey.objects.exists(), "survey opens only after resolution"
    _resolve(c, "close", closed=True)
    assert "请为本次处理评价" in client.get(reverse("intake:track", args=[c.tracking_code])).content.decode()
    resp = client.post(reverse("intake:track", args=[c.tracking_code]),
                       {"action": "survey", "stars": "1", "reasons": ["问题没解决", "not-a-reason"], "comment": "还是异响"})
    assert resp.status_code == 302
    s = SatisfactionSurvey.objects.get(complaint=c)
    assert s.stars == 1 and s.reasons == ["问题没解决"] and s.comment == "还是异响"
    c.refresh_from_db()
    assert c.closed_at is None and c.reopen_count == 1 and c.step.code == "confirm"
    assert Event.objects.filter(complaint=c, kind="step.reopened").exists()
    again = client.post(reverse("intake:track", args=[c.tracking_code]), {"action": "survey", "stars": "5"})
    assert again.status_code == 400 and SatisfactionSurvey.objects.count() == 1, "one answer per complaint"


def test_unsatisfied_flags_for_supervisor_when_configured(db, client, settings):
    settings.QINGTING_SURVEY_UNSATISFIED = "flag"
    submit(client)
    c = Complaint.objects.get()
    _resolve(c, "close", closed=True)
    services.submit_survey(c, stars=2, comment="不满意")
    c.refresh_from_db()
    assert c.closed_at is not None
    assert Event.objects.filter(complaint=c, kind="survey.flagged").exists()


def test_satisfied_survey_changes_nothing(db, client):
    submit(client)
    c = Complaint.objects.get()
    _resolve(c, "follow_up")
    services.submit_survey(c, stars=4, reasons=["态度好"])
    c.refresh_from_db()
    assert c.step.code == "follow_up"
