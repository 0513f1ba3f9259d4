"""Issue 9 'Done when' in a real browser: a resolution above the agent's limit goes for approval and
is approved; the follow-up visit records dissatisfaction and the complaint goes back; the
similar-cases panel shows cases; a reply is drafted and the checker flags an edit that blames the
customer; a role-play session runs to its score."""
import pytest

from qingting.complaints import services
from qingting.complaints.models import Complaint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _login(page, base, username):
    page.context.clear_cookies()
    page.goto(base + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "Pass-word-2026")
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_resolve_and_learn(live_server, page, people, artifacts, monkeypatch):
    monkeypatch.setenv("QINGTING_SIMILAR_BACKEND", "tfidf")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    agent = people["agent"]
    c, _ = services.create_complaint(actor=agent, subject="新车机油消耗过大", channel="phone", profile="auto4s",
                                     description="新车每跑一千公里就要补一升机油，来店三次都说正常，太气人了",
                                     customer={"name": "孙女士", "mobile": "13912345678"}, assignee="agent_a")
    for step, data in (("soothe", {}), ("apologize", {}),
                       ("confirm", {"category": "pq_engine", "facts": "机油消耗测试中"}),
                       ("act", {"resolution_type": "compensation", "action_plan": "免费检测并补偿"})):
        services.transition_complaint(c.number, actor=agent, to=step, data=data)

    # 1. a plan above the agent's ¥500 limit goes for approval
    _login(page, base, "agent_a")
    page.goto(f"{base}/resolution/{c.number}/")
    page.select_option("form.plan-form select[name=option]", "compensation")
    page.fill("form.plan-form input[name=amount]", "1200")
    page.check("form.plan-form input[value=free_inspection]")
    page.fill("form.plan-form textarea[name=description]", "免费检测，并给予 1200 元补偿")
    page.fill("form.plan-form input[name=reason]", "客户三次来店")
    page.click("form.plan-form button")
    assert "方案已提交审批" in page.locator(".flash").inner_text()
    assert page.locator(".plan-state").first.inner_text() == "待审批"
    # the similar-cases panel shows cases
    assert page.locator("#similar-cases li.similar-case").count() >= 3
    assert "机油消耗量过大" in page.locator("#similar-cases").inner_text()
    page.screenshot(path=str(artifacts / "resolution-pending.png"), full_page=True)

    # 2. the supervisor approves it
    _login(page, base, "sup_a")
    page.goto(f"{base}/resolution/approvals/")
    assert "¥1200" in page.locator("table").inner_text()
    page.click("button[name=decision][value=approve]")
    assert "已批准" in page.locator(".flash").inner_text()

    # 3. the customer accepts; later the follow-up visit finds them dissatisfied → back to 迅速行动
    _login(page, base, "agent_a")
    page.goto(f"{base}/resolution/{c.number}/")
    page.select_option("form.answer-form select[name=answer]", "accept")
    page.click("form.answer-form button")
    assert "已记录客户意见" in page.locator(".flash").inner_text()
    assert Complaint.objects.get(pk=c.pk).step.code == "negotiate"
    services.transition_complaint(c.number, actor=agent, to="follow_up")
    page.goto(f"{base}/resolution/{c.number}/")
    assert "孙" in page.locator(".script").inner_text()
    page.select_option("form.followup-form select[name=outcome]", "not_satisfied")
    page.fill("form.followup-form textarea[name=notes]", "补偿到了，但机油还是烧得厉害")
    page.click("form.followup-form button")
    assert "投诉已退回重新处理" in page.locator(".flash").inner_text()
    assert Complaint.objects.get(pk=c.pk).step.code == "act"

    # 4. a reply is drafted; the checker flags an edit that blames the customer
    page.goto(f"{base}/coaching/{c.number}/")
    draft = page.locator("#reply-text").input_value()
    assert len(draft) > 20
    page.fill("#reply-text", "机油消耗是您自己驾驶习惯造成的，我们没有责任。")
    page.wait_for_selector(".reply-findings li[data-code*=blam]")
    assert int(page.locator(".reply-score").inner_text()) < 70
    page.screenshot(path=str(artifacts / "reply-checker.png"), full_page=True)

    # 5. a role-play session runs to its score
    page.goto(f"{base}/training/")
    page.locator("table.scenarios button").first.click()
    lines = ["您先别急，我非常理解您的心情，给您添麻烦了，真的非常抱歉。",
             "为了尽快帮您解决，请问具体是什么时候发生的？您手上有相关的单据吗？",
             "经核实情况属实，我们可以为您免费处理，同时提供一次补偿，您看可以吗？",
             "我们明天下午5点前完成，我是专员王明，电话 400-800-1234，有问题随时找我。",
             "感谢您的理解，处理完成后我们会在3天内回访您。"]
    for i in range(12):
        if page.locator("#result").count():
            break
        page.fill("#say textarea[name=text]", lines[min(i, len(lines) - 1)])
        page.click("#say button")
    assert page.locator("#result .training-score").count() == 1
    assert int(page.locator(".training-score").inner_text()) > 0
    page.screenshot(path=str(artifacts / "roleplay-result.png"), full_page=True)
    assert not errors, errors
