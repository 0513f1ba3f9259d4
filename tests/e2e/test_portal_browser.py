"""The portal in a real browser (Playwright + Debian's Chromium): submit with a photo, get a
tracking code, see the status from another browser, answer the survey after resolution."""
from __future__ import annotations

import re

import pytest
from django.utils import timezone


from ..intake.conftest import png_bytes

pytestmark = pytest.mark.e2e


@pytest.fixture
def phone(browser):  # noqa: F811
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_portal_flow_in_a_browser(live_server, phone, browser, tmp_path):  # noqa: F811
    from qingting.complaints.models import Attachment, Complaint, Step
    from qingting.intake.models import SatisfactionSurvey

    photo = tmp_path / "scratch.png"
    photo.write_bytes(png_bytes())
    phone.goto(f"{live_server.url}/portal/")
    phone.fill("#name", "刘女士")
    phone.fill("#mobile", "13600136000")
    phone.fill("#description", "刚买的洗衣机漏水，地板都泡坏了，客服电话一直打不通。")
    phone.set_input_files("#attachments", str(photo))
    phone.click("button[type=submit]")
    code = phone.text_content("#tracking-code").strip()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    c = Complaint.objects.get(tracking_code=code)
    assert Attachment.objects.filter(complaint=c, content_type="image/png").exists()

    other = browser.new_context(locale="zh-CN").new_page()
    other.goto(f"{live_server.url}/portal/status/")
    other.fill("#code", code)
    other.fill("#check", "6000")
    other.click("button[type=submit]")
    assert c.step.customer_text in other.text_content("#step-text")

    c.step = Step.objects.get(variant=c.variant, code="close")
    c.closed_at = timezone.now()
    c.save()
    other.reload()
    other.check("input[name=stars][value='5']")
    other.check("input[name=reasons][value='态度好']")
    other.fill("#comment", "处理得很及时")
    other.click("#survey button[type=submit]")
    assert "感谢您的评价" in other.content()
    s = SatisfactionSurvey.objects.get(complaint=c)
    assert s.stars == 5 and s.reasons == ["态度好"]
