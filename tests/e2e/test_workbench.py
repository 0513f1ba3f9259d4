"""An agent takes a phone complaint in a real browser and walks it through the first steps."""
import re

import pytest

from qingting.complaints.models import Complaint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_phone_intake_and_first_steps(live_server, page, people, artifacts):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)

    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=username]", "agent_a")
    page.fill("input[name=password]", "Pass-word-2026")
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    assert page.locator("h1").inner_text() == "我的队列"

    page.click("a.nav-cta")
    page.fill("input[name=mobile]", "13912345678")
    page.fill("input[name=name]", "孙女士")
    page.select_option("select[name=profile]", "auto4s")
    # Only the selected profile's fields are visible once the script runs.
    assert page.locator("input[name=about_auto4s_vin]").is_visible()
    assert not page.locator("input[name=about_ecommerce_order_no]").is_visible()
    page.fill("input[name=about_auto4s_vin]", "LSVAU2180N2183294")
    page.fill("input[name=subject]", "保养后发动机故障灯常亮")
    page.fill("textarea[name=description]", "上周在店里做完保养，第二天发动机故障灯就亮了，来回跑了两次都没解决，很生气。<b>不是加粗</b>")
    page.click("form#intake-form button[type=submit]:not([formmethod])")
    page.wait_for_url(re.compile(r".*/complaints/TS\d{8}-\d{6}/$"))
    number = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert page.locator("h1.mono").inner_text() == number
    assert page.locator(".stepbar .current").inner_text().endswith("受理投诉")
    assert page.locator(".prewrap").first.inner_text().endswith("<b>不是加粗</b>")  # shown as text, not markup
    page.screenshot(path=str(artifacts / "detail-new.png"), full_page=True)

    # 受理投诉 → 安抚情绪 → 真诚道歉 with the step forms
    page.fill("form[data-transition=soothe] textarea[name=note]", "耐心听完，客户情绪缓和")
    page.click("form[data-transition=soothe] button[type=submit]")
    page.wait_for_selector(".stepbar .current >> text=安抚情绪")
    page.click("form[data-transition=apologize] button[type=submit]")
    page.wait_for_selector(".stepbar .current >> text=真诚道歉")

    # 确认问题 without facts: the guard's message is shown next to the form
    page.click("form[data-transition=confirm] button[type=submit]")
    alert = page.locator("form[data-transition=confirm] .alert-error")
    assert "还缺少" in alert.inner_text() and "核实的事实" in alert.inner_text()
    page.select_option("form[data-transition=confirm] select[name=category]", "pq_engine")
    page.fill("form[data-transition=confirm] textarea[name=facts]", "保养工单 R-1029，故障码 P0171，已核实")
    page.click("form[data-transition=confirm] button[type=submit]")
    page.wait_for_selector(".stepbar .current >> text=确认问题")

    timeline = page.locator("#timeline").inner_text()
    assert "登记投诉" in timeline and timeline.count("进入下一环节") == 3
    assert "耐心听完，客户情绪缓和" in timeline
    page.screenshot(path=str(artifacts / "detail-confirmed.png"), full_page=True)

    page.goto(live_server.url + "/complaints/")
    assert number in page.locator("table.queue").inner_text()
    page.screenshot(path=str(artifacts / "queue.png"))

    c = Complaint.objects.get(number=number)
    assert c.step.code == "confirm" and c.category.code == "pq_engine" and c.assignee.username == "agent_a"
    assert c.about == {"vin": "LSVAU2180N2183294"}
    assert errors == []
