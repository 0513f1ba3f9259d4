"""The agent workbench pages: who sees which page, the step forms, intake, attachments, escaping.

Personas come from tests/conftest.py: agent (store A team), supervisor (store A), an agent of
store B (another department), manager, auditor.
"""
import io
import re
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from qingting.complaints import services
from qingting.complaints.models import Attachment, Complaint, Event

pytestmark = pytest.mark.django_db

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run in DOS mode"


@pytest.fixture(autouse=True)
def _attachments_dir(settings, tmp_path):
    settings.ATTACHMENTS_DIR = tmp_path / "attachments"


@pytest.fixture
def login(client, people):
    def as_(name):
        client.force_login(people[name])
        return client

    return as_


@pytest.fixture
def complaint(new_complaint, people):
    return new_complaint(assignee="agent_a")


def detail_url(c):
    return reverse("complaints:detail", args=[c.number])


def text_of(response) -> str:
    return response.content.decode()


# ------------------------------------------------------------------ access to pages

def test_anonymous_users_are_sent_to_login(client, complaint):
    for url in ("/", "/team/", "/complaints/", "/supervisor/", "/complaints/new/", detail_url(complaint)):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_login_page_renders_and_logs_in(client, people):
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and 'name="username"' in text_of(page)
    response = client.post("/accounts/login/", {"username": "agent_a", "password": "Pass-word-2026"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_login_throttling_shows_a_message(client, people, settings):
    from django.core.cache import cache

    cache.clear()
    settings.LOGIN_RATE_LIMIT = 2
    codes = [client.post("/accounts/login/", {"username": "agent_a", "password": "wrong"}).status_code
             for _ in range(3)]
    assert codes[-1] == 429
    assert "登录尝试过于频繁" in text_of(client.post("/accounts/login/", {"username": "agent_a", "password": "x"}))
    cache.clear()


def test_queues_render_for_every_role(login, complaint):
    for role in ("agent", "supervisor", "manager", "auditor", "other_agent"):
        client = login(role)
        for url in ("/", "/team/", "/complaints/"):
            assert client.get(url).status_code == 200, (role, url)


def test_my_queue_lists_assigned_complaints_and_other_departments_see_nothing(login, complaint):
    assert complaint.number in text_of(login("agent").get("/"))
    assert complaint.number in text_of(login("supervisor").get("/team/"))
    assert complaint.number in text_of(login("manager").get("/complaints/"))
    other = login("other_agent")
    assert complaint.number not in text_of(other.get("/complaints/"))
    assert complaint.number not in text_of(other.get("/team/"))


def test_queue_filters_and_keyset_more_link(login, new_complaint):
    for i in range(3):
        new_complaint(subject=f"第{i}件投诉", priority="P2")
    new_complaint(subject="低优先级的投诉", priority="P4")
    client = login("agent")
    page = text_of(client.get("/complaints/", {"priority": "P2", "limit": "2"}))
    assert "低优先级的投诉" not in page
    assert page.count('class="prio prio-p2"') == 2
    more = re.search(r'href="(\?[^"]*cursor=[^"]+)"', page)
    assert more, "a second page must be offered with a cursor link"
    second = text_of(client.get("/complaints/" + more.group(1).replace("&amp;", "&")))
    assert second.count('class="prio prio-p2"') == 1


@pytest.mark.parametrize("params", [{"priority": "P9"}, {"received_after": "yesterday"}, {"cursor": "garbage"},
                                    {"category": "no-such-category"}, {"department": "nowhere"}])
def test_bad_filters_show_a_message_not_a_500(login, complaint, params):
    response = login("agent").get("/complaints/", params)
    assert response.status_code == 422
    assert 'class="alert alert-error"' in text_of(response)


def test_detail_page_is_404_for_another_department(login, complaint):
    assert login("agent").get(detail_url(complaint)).status_code == 200
    assert login("supervisor").get(detail_url(complaint)).status_code == 200
    assert login("manager").get(detail_url(complaint)).status_code == 200
    assert login("auditor").get(detail_url(complaint)).status_code == 200
    assert login("other_agent").get(detail_url(complaint)).status_code == 404
    assert login("agent").get("/complaints/TS20990101-999999/").status_code == 404


def test_detail_shows_step_bar_timeline_and_forms(login, complaint):
    page = text_of(login("agent").get(detail_url(complaint)))
    assert complaint.tracking_code in page
    assert page.count('class="step ') == 8 and 'aria-current="step"' in page
    assert "登记投诉" in page  # complaint.created shown by its Chinese label
    assert 'name="to" value="soothe"' in page and 'name="to" value="apologize"' in page


def test_auditor_sees_detail_read_only(login, complaint):
    page = text_of(login("auditor").get(detail_url(complaint)))
    assert "只读" in page and 'name="to"' not in page
    assert login("auditor").get("/complaints/new/").status_code == 404
    assert login("auditor").get(reverse("complaints:edit", args=[complaint.number])).status_code == 404


def test_supervisor_page_only_for_supervising_roles(login, complaint, people):
    services.escalate_complaint(complaint.number, actor=people["agent"], reason="客户要求主管处理")
    page = login("supervisor")
    response = page.get("/supervisor/")
    assert response.status_code == 200
    body = text_of(response)
    assert complaint.number in body  # escalated to the store's supervisor
    assert "受理投诉" in body and "王专员" in body  # grouped by step and by agent
    assert login("manager").get("/supervisor/").status_code == 200
    assert login("agent").get("/supervisor/").status_code == 404
    assert login("auditor").get("/supervisor/").status_code == 404


# ------------------------------------------------------------------ new complaint

def test_new_complaint_form_creates_and_redirects(login, people):
    client = login("agent")
    assert client.get("/complaints/new/").status_code == 200
    response = client.post("/complaints/new/", {
        "mobile": "139 0013 9000", "name": "刘女士", "channel": "phone", "profile": "auto4s",
        "about_auto4s_vin": "LSVAU2180N2183294", "about_auto4s_mileage": "12000",
        "subject": "新车异响", "description": "新车提车一周底盘异响，要求检查。", "priority": "", "category": "",
    })
    assert response.status_code == 302
    c = Complaint.objects.get(subject="新车异响")
    assert response["Location"] == detail_url(c)
    assert c.assignee == people["agent"] and c.channel == "phone"
    assert c.customer.mobile == "13900139000"
    assert c.about == {"vin": "LSVAU2180N2183294", "mileage": 12000}
    assert c.department == people["agent"].department


def test_new_complaint_validation_rerenders_with_message(login):
    client = login("agent")
    response = client.post("/complaints/new/", {"mobile": "13900139000", "name": "刘女士", "channel": "phone",
                                                "profile": "auto4s", "about_auto4s_vin": "NOT-A-VIN",
                                                "subject": "异响", "description": "底盘异响"})
    assert response.status_code == 422
    body = text_of(response)
    assert "投诉对象字段有误" in body and 'value="NOT-A-VIN"' in body
    assert not Complaint.objects.filter(subject="异响").exists()
    empty = client.post("/complaints/new/", {"channel": "phone", "profile": "general", "subject": "", "description": ""})
    assert empty.status_code == 422 and "不能为空" in text_of(empty)


def test_customer_lookup_shows_recent_visible_complaints(login, complaint):
    body = text_of(login("agent").get("/complaints/lookup/", {"mobile": "138-0013-8000"}))
    assert "张先生" in body and complaint.number in body
    hidden = text_of(login("other_agent").get("/complaints/lookup/", {"mobile": "13800138000"}))
    assert complaint.number not in hidden and "张先生" not in hidden


# ------------------------------------------------------------------ step forms

def test_transition_form_missing_data_shows_the_guard_message(login, complaint, people):
    services.transition_complaint(complaint.number, actor=people["agent"], to="soothe")
    services.transition_complaint(complaint.number, actor=people["agent"], to="apologize")
    client = login("agent")
    response = client.post(reverse("complaints:transition", args=[complaint.number]),
                           {"to": "confirm", "category": "", "facts": ""})
    assert response.status_code == 422
    body = text_of(response)
    assert "进入「确认问题」前还缺少" in body and "需要记录核实的事实" in body
    assert Complaint.objects.get(pk=complaint.pk).step.code == "apologize"
    ok = client.post(reverse("complaints:transition", args=[complaint.number]),
                     {"to": "confirm", "category": "as_repair_delay", "facts": "送修 21 天未修复，已核实工单"})
    assert ok.status_code == 302
    c = Complaint.objects.get(pk=complaint.pk)
    assert c.step.code == "confirm" and c.category.code == "as_repair_delay" and c.category_confirmed


def test_step_forms_show_exactly_the_fields_the_step_needs(login, complaint, people):
    services.transition_complaint(complaint.number, actor=people["agent"], to="apologize", data={"note": "首次接触已安抚并致歉"})
    services.transition_complaint(complaint.number, actor=people["agent"], to="confirm",
                                  data={"category": "as_repair_delay", "facts": "已核实"})
    page = text_of(login("agent").get(detail_url(complaint)))
    form = re.search(r'data-transition="act">(.*?)</form>', page, re.S).group(1)
    names = set(re.findall(r'name="([a-z_]+)"', form)) - {"csrfmiddlewaretoken", "to", "expected_version"}
    assert names == {"resolution_type", "resolution_amount", "action_plan"}


def test_close_offers_override_reason_to_supervisors_only(login, complaint, people):
    agent = people["agent"]
    for to, data in (("apologize", {"note": "合并"}), ("confirm", {"category": "as_repair_delay", "facts": "已核实"}),
                     ("act", {"resolution_type": "repair", "action_plan": "免费返修"}),
                     ("negotiate", {"customer_answer": "accept"}), ("follow_up", {})):
        services.transition_complaint(complaint.number, actor=agent, to=to, data=data)
    agent_form = re.search(r'data-transition="close">(.*?)</form>', text_of(login("agent").get(detail_url(complaint))), re.S)
    assert agent_form and "override_reason" not in agent_form.group(1)
    sup_form = re.search(r'data-transition="close">(.*?)</form>', text_of(login("supervisor").get(detail_url(complaint))), re.S)
    assert 'name="root_cause"' in sup_form.group(1) and 'name="override_reason"' in sup_form.group(1)


def test_notes_messages_assign_take_and_escalate(login, complaint, people):
    client = login("agent2")
    n = complaint.number
    assert client.post(reverse("complaints:note", args=[n]), {"body": "客户下午三点后方便接电话"}).status_code == 302
    assert client.post(reverse("complaints:message", args=[n]), {"body": "您好，我们已安排技师检查", "direction": "out"}).status_code == 302
    assert client.post(reverse("complaints:message", args=[n]), {"body": "好的，谢谢", "direction": "in"}).status_code == 302
    assert client.post(reverse("complaints:take", args=[n])).status_code == 302
    assert Complaint.objects.get(pk=complaint.pk).assignee == people["agent2"]
    empty = client.post(reverse("complaints:note", args=[n]), {"body": "   "})
    assert empty.status_code == 422 and "备注不能为空" in text_of(empty)
    sup = login("supervisor")
    assert sup.post(reverse("complaints:assign", args=[n]), {"assignee": "agent_a"}).status_code == 302
    assert Complaint.objects.get(pk=complaint.pk).assignee == people["agent"]
    assert sup.post(reverse("complaints:escalate", args=[n]), {"reason": ""}).status_code == 422
    kinds = list(Event.objects.filter(complaint=complaint).values_list("kind", flat=True))
    for kind in ("note.added", "message.sent", "message.received", "complaint.assigned"):
        assert kind in kinds
    page = text_of(sup.get(detail_url(complaint)))
    assert "客户下午三点后方便接电话" in page and "回复客户" in page and "客户来信" in page


def test_other_department_cannot_post_to_the_complaint(login, complaint):
    client = login("other_agent")
    assert client.post(reverse("complaints:note", args=[complaint.number]), {"body": "x"}).status_code == 404
    assert client.post(reverse("complaints:transition", args=[complaint.number]), {"to": "soothe"}).status_code == 404


def test_edit_page_changes_plain_fields(login, complaint):
    client = login("agent")
    url = reverse("complaints:edit", args=[complaint.number])
    assert client.get(url).status_code == 200
    response = client.post(url, {"subject": "维修拖延三周", "description": complaint.description, "priority": "P1",
                                 "category": "as_repair_delay", "department": complaint.department.code,
                                 "expected_version": complaint.version})
    assert response.status_code == 302
    c = Complaint.objects.get(pk=complaint.pk)
    assert c.subject == "维修拖延三周" and c.priority == "P1" and c.category.code == "as_repair_delay"
    stale = client.post(url, {"subject": "又改了", "description": c.description, "priority": "P1",
                              "expected_version": complaint.version})
    assert stale.status_code == 422 and "已被他人修改" in text_of(stale)


# ------------------------------------------------------------------ escaping

def test_user_text_is_escaped_everywhere(login, new_complaint, people):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    c = new_complaint(subject=f"标题{evil}", description=f"内容{evil}", customer={"name": f"客户{evil}", "mobile": "13700137000"})
    services.add_note(c.number, actor=people["agent"], body=f"备注{evil}")
    client = login("agent")
    for url in (detail_url(c), "/complaints/", "/complaints/lookup/?mobile=13700137000"):
        body = text_of(client.get(url))
        assert "<script>alert" not in body and "<img src=x" not in body, url
        assert "&lt;script&gt;alert(" in body, url


# ------------------------------------------------------------------ attachments

def test_upload_list_and_download_an_attachment(login, complaint, settings):
    client = login("agent")
    response = client.post(reverse("complaints:upload", args=[complaint.number]),
                           {"file": SimpleUploadedFile("现场照片.png", PNG, content_type="image/png")})
    assert response.status_code == 302
    att = Attachment.objects.get(complaint=complaint)
    assert att.content_type == "image/png" and att.size == len(PNG) and len(att.sha256) == 64
    stored = settings.ATTACHMENTS_DIR / att.storage_name
    assert stored.read_bytes() == PNG and re.fullmatch(r"\d{4}/\d{2}/[0-9a-f]{32}", att.storage_name)
    assert Event.objects.filter(complaint=complaint, kind="attachment.added").exists()
    assert "现场照片.png" in text_of(client.get(detail_url(complaint)))
    download = client.get(reverse("complaints:download", args=[att.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == PNG


def test_download_is_404_for_another_department(login, complaint, people):
    att = services.add_attachment(complaint.number, actor=people["agent"],
                                  uploaded_file=SimpleUploadedFile("a.png", PNG))
    assert login("other_agent").get(reverse("complaints:download", args=[att.pk])).status_code == 404
    assert login("supervisor").get(reverse("complaints:download", args=[att.pk])).status_code == 200
    assert login("agent").get(reverse("complaints:download", args=[att.pk + 999])).status_code == 404


def test_fake_jpg_that_is_an_executable_is_rejected(login, complaint, settings):
    response = login("agent").post(reverse("complaints:upload", args=[complaint.number]),
                                   {"file": SimpleUploadedFile("invoice.jpg", WINDOWS_EXE, content_type="image/jpeg")})
    assert response.status_code == 422 and "不支持的文件类型" in text_of(response)
    assert not Attachment.objects.exists()
    leftovers = [p for p in settings.ATTACHMENTS_DIR.rglob("*") if p.is_file()] if settings.ATTACHMENTS_DIR.exists() else []
    assert leftovers == []


@pytest.mark.parametrize("name,content,ok", [
    ("note.txt", "客户来电记录：车辆异响。\n".encode("utf-8"), True),
    ("note.txt", "国标编码的文本".encode("gb18030"), True),
    ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32, True),
    ("call.amr", b"#!AMR\n" + b"\x3c" * 40, True),
    ("call.wav", b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 24, True),
    ("page.html", b"<html><script>alert(1)</script></html>", False),
    ("page.txt", b"\x00\x01\x02binary", False),
    ("photo.pdf", PNG, False),  # extension does not match the content
])
def test_attachment_types_are_decided_by_content(complaint, people, name, content, ok):
    upload = SimpleUploadedFile(name, content)
    if ok:
        assert services.add_attachment(complaint.number, actor=people["agent"], uploaded_file=upload).size == len(content)
    else:
        with pytest.raises(services.Invalid):
            services.add_attachment(complaint.number, actor=people["agent"], uploaded_file=upload)


def _office(inner: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr(inner, "<x/>")
    return buf.getvalue()


def test_docx_and_xlsx_need_their_inner_part(complaint, people):
    agent = people["agent"]
    assert services.add_attachment(complaint.number, actor=agent,
                                   uploaded_file=SimpleUploadedFile("说明.docx", _office("word/document.xml"))).content_type.endswith("document")
    assert services.add_attachment(complaint.number, actor=agent,
                                   uploaded_file=SimpleUploadedFile("清单.xlsx", _office("xl/workbook.xml"))).content_type.endswith("sheet")
    with pytest.raises(services.Invalid):
        services.add_attachment(complaint.number, actor=agent, uploaded_file=SimpleUploadedFile("x.docx", _office("evil.js")))


def test_attachment_size_limit(complaint, people, settings):
    from qingting.core.errors import TooLarge

    settings.ATTACHMENT_MAX_BYTES = 100
    with pytest.raises(TooLarge):
        services.add_attachment(complaint.number, actor=people["agent"],
                                uploaded_file=SimpleUploadedFile("big.txt", b"a" * 101))


def test_attachment_api_upload_list_download(api_for, complaint, people):
    from django.test import Client

    from qingting.accounts.models import ApiToken

    _, raw = ApiToken.issue(people["agent"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    client = Client()
    url = f"/api/v1/complaints/{complaint.number}/attachments"
    created = client.post(url, {"file": SimpleUploadedFile("a.png", PNG)}, **auth)
    assert created.status_code == 201, created.content
    att_id = created.json()["id"]
    listed = client.get(url, **auth)
    assert listed.status_code == 200 and [a["id"] for a in listed.json()] == [att_id]
    download = client.get(f"/api/v1/attachments/{att_id}/download", **auth)
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    bad = client.post(url, {"file": SimpleUploadedFile("a.jpg", WINDOWS_EXE)}, **auth)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unsupported_type"
    _, other = ApiToken.issue(people["other_agent"])
    assert client.get(f"/api/v1/attachments/{att_id}/download", HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 404
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 404


def test_language_switch_to_english(client, people, complaint):
    client.force_login(people["agent"])
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = text_of(client.get(detail_url(complaint)))
    assert '<html lang="en">' in page
    compiled = Path(__file__).resolve().parents[2] / "src/qingting/locale/en/LC_MESSAGES/django.mo"
    if compiled.exists():  # compiled by `qingting compilemessages` (needs gettext's msgfmt)
        assert "Timeline" in page and "My queue" in page
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "处理记录" in text_of(client.get(detail_url(complaint)))


def test_a_move_no_longer_allowed_shows_a_message(login, complaint):
    response = login("agent").post(reverse("complaints:transition", args=[complaint.number]), {"to": "close"})
    assert response.status_code == 409
    assert "不能从「受理投诉」直接转到「闭环处理」" in text_of(response)


def test_queue_shows_time_left_and_overdue_in_red(login, complaint):
    """The 剩余时限 column comes from the queue registry (hooks.register("queue")), filled by the SLA app."""
    from django.apps import apps

    if not apps.is_installed("qingting.sla"):
        pytest.skip("the 剩余时限 column needs the sla app (QINGTING_DISABLED_APPS names it)")
    import datetime as dt

    from django.utils import timezone

    from qingting.sla.models import Deadline

    open_rows = Deadline.objects.filter(complaint=complaint, met_at__isnull=True)
    assert open_rows.exists(), "a new complaint gets its deadlines from the SLA policy"
    now = timezone.now()
    open_rows.update(due_at=now + dt.timedelta(hours=5, minutes=30))
    page = text_of(login("agent").get("/"))
    row = re.search(rf'<tr[^>]*>\s*<td[^>]*><a[^>]*>{complaint.number}</a>.*?</tr>', page, re.S)
    assert "剩余时限" in page
    assert row and "time-left" in row.group(0) and "5\xa0小时" in row.group(0) and "已超时" not in row.group(0)
    open_rows.update(due_at=now - dt.timedelta(hours=2))
    page = text_of(login("supervisor").get("/team/"))
    row = re.search(rf'<tr[^>]*>\s*<td[^>]*><a[^>]*>{complaint.number}</a>.*?</tr>', page, re.S)
    assert row and 'class="overdue"' in row.group(0) and "已超时" in row.group(0)
    assert "var(--danger)" in row.group(0)
